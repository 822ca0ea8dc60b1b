"""TFRecord framing of a batch of event files, in bulk: record offsets, header checks, Event prefixes.

A record is framed as ``uint64 length | uint32 masked CRC32C of the length |
data | uint32 masked CRC32C of the data``; `sweeper.logs._reference` reads
the same framing one record at a time.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sweeper.logs._bytes import gather
from sweeper.logs._crc32c import crc32c_ranges, mask

HEADER_BYTES = 12  # uint64 length + uint32 masked CRC of the length
FOOTER_BYTES = 4  # uint32 masked CRC of the data
_U64 = struct.Struct("<Q")

_log = logging.getLogger(__name__)


class Fault(NamedTuple):
    """Where a file's first corrupt record is."""

    offset: int  # byte offset of its length header in the file
    kept: int  # records before it


def split_records(buf: bytes, start: int, end: int) -> tuple[np.ndarray, int | None]:
    """Header offsets of the complete records in ``buf[start:end]``, and that of an incomplete last one.

    Lengths are trusted here and checked later (`check_headers`): a corrupt one
    frames garbage records after it, or looks like an incomplete last record.

    Args:
        buf: The batch's bytes.
        start: Where one file starts in ``buf``.
        end: Where it ends.

    Returns:
        The offsets in ``buf`` of the complete records' headers, and that of a
        whole header whose record runs past ``end`` (None if there is none).
    """
    offsets: list[int] = []
    append, unpack = offsets.append, _U64.unpack_from
    pos = start
    while pos + HEADER_BYTES <= end:
        stop = pos + HEADER_BYTES + unpack(buf, pos)[0] + FOOTER_BYTES
        if stop > end:
            return np.array(offsets, np.int64), pos
        append(pos)
        pos = stop
    if pos < end:
        _log.debug("dropping %d trailing bytes: a partly written record header", end - pos)
    return np.array(offsets, np.int64), None


def check_headers(
    u8: np.ndarray, paths: list[str], framed: list[tuple[np.ndarray, int | None]], file_starts: list[int]
) -> tuple[list[np.ndarray], list[Fault | None]]:
    """Cuts each file's records at the first whose length header fails its CRC.

    Args:
        u8: The batch's bytes.
        paths: The batch's files.
        framed: `split_records` of each file.
        file_starts: Where each file starts in ``u8``.

    Returns:
        Per file, the header offsets of its records before the first bad
        header, and where that bad header is (None if every header is good).
        An intact header whose record runs past the end is dropped silently.
    """
    headers = np.concatenate([offsets for offsets, _ in framed]) if framed else np.zeros(0, np.int64)
    tails = np.array([tail for _, tail in framed if tail is not None], np.int64)
    checked = np.concatenate([headers, tails])
    ok = mask(crc32c_ranges(u8, checked, np.full(len(checked), 8))) == gather(u8, checked + 8, "<u4")
    tail_ok = dict(zip(tails.tolist(), ok[len(headers) :].tolist(), strict=True))
    kept, faults, first = [], [], 0
    for path, file_start, (offsets, tail) in zip(paths, file_starts, framed, strict=True):
        bad = np.flatnonzero(~ok[first : first + len(offsets)])
        first += len(offsets)
        if len(bad):
            kept.append(offsets[: bad[0]])
            faults.append(Fault(int(offsets[bad[0]]) - file_start, int(bad[0])))
            continue
        kept.append(offsets)
        if tail is not None and not tail_ok[tail]:
            faults.append(Fault(tail - file_start, len(offsets)))
            continue
        if tail is not None:
            _log.debug("dropping the incomplete final record of %s", path)
        faults.append(None)
    return kept, faults


@dataclass
class Records:
    """The header-checked records of one batch, in file order, with their Event prefixes decoded."""

    buf: bytes
    u8: np.ndarray
    header: np.ndarray  # offset of each record's length header
    file: np.ndarray  # index of each record's file in the batch
    start: np.ndarray  # data range
    end: np.ndarray
    wall_time: np.ndarray  # Event field 1, or 0.0
    step: np.ndarray  # Event field 2, or 0
    tail: np.ndarray  # where the bytes after wall_time and step start; -1 if malformed

    @classmethod
    def parse(cls, buf: bytes, u8: np.ndarray, per_file: list[np.ndarray]) -> Records:
        """The records at the header offsets ``per_file`` (one array per file) of ``buf``."""
        header = np.concatenate(per_file) if per_file else np.zeros(0, np.int64)
        file = np.repeat(np.arange(len(per_file)), [len(offsets) for offsets in per_file])
        start = header + HEADER_BYTES
        end = start + gather(u8, header, "<u8").astype(np.int64)
        # Serializers write fields in number order: wall_time (fixed64, tag 0x09), step (varint, tag 0x10).
        has_wall = (end - start >= 9) & (u8[start] == 0x09)
        wall_time = np.zeros(len(header))
        wall_time[has_wall] = gather(u8, start[has_wall] + 1, "<f8")
        pos = start + 9 * has_wall
        has_step = (end - pos >= 2) & (u8[np.minimum(pos, len(u8) - 1)] == 0x10)
        step, tail = _varints(u8, pos, end, has_step)
        return cls(buf, u8, header, file, start, end, wall_time, step, tail)

    def tail_length(self) -> np.ndarray:
        """Bytes from each record's tail to its end; -1 where the tail is malformed."""
        return np.where(self.tail >= 0, self.end - self.tail, -1)


def _varints(u8: np.ndarray, pos: np.ndarray, end: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decodes the field-tagged varint at ``pos`` where ``present``.

    Returns:
        The int64 values (0 where absent) and the positions after them (``pos``
        where absent, -1 where malformed).
    """
    value = np.zeros(len(pos), np.uint64)
    after = pos.copy()
    rows = np.flatnonzero(present)
    for index in range(10):
        at = pos[rows] + 1 + index
        inside = at < end[rows]
        after[rows[~inside]] = -1
        rows, at = rows[inside], at[inside]
        byte = u8[at]
        value[rows] |= (byte & 0x7F).astype(np.uint64) << np.uint64(7 * index)
        last = byte < 0x80
        after[rows[last]] = at[last] + 1
        rows = rows[~last]
    after[rows] = -1  # more than 10 bytes
    return value.view(np.int64), after
