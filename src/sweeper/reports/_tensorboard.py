"""Read TensorBoard scalar logs into one long DataFrame, without TensorFlow.

Importing TensorFlow costs seconds, and TensorBoard's own readers keep only a
sample of each tag unless told otherwise. So this module parses the TFRecord
framing itself and decodes ``Event`` protos with the ``tensorboard`` package's
generated protobuf classes, which never import TensorFlow.

Decoding 10^5-10^6 records one protobuf at a time is too slow, so records are
decoded in bulk with numpy against *templates*: the scalar events of one tag
differ only in ``wall_time``, ``step`` and the value bytes. The first record of
a kind is parsed by protobuf; if it holds one fixed-width scalar, the offset of
its value bytes is proven by re-parsing the record with probe values written
there, and every record equal to it outside ``wall_time``, ``step`` and those
bytes is then decoded by slicing. Records matching no template (file headers,
graphs, histograms, multi-value summaries, ...) go through protobuf.

CRC32C checks (the standard library has none; a pure-Python one is ~100x too
slow) also run vectorised over all records of a batch of files.
"""

from __future__ import annotations

import functools
import logging
import os
import struct
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2, types_pb2

__all__ = ["COLUMNS", "CorruptEventFileWarning", "read_tensorboard"]

COLUMNS = ("run", "tag", "step", "value", "wall_time")

_log = logging.getLogger(__name__)

_SCALARS_PLUGIN = "scalars"
# Files are read and checked in batches of about this many bytes: large enough
# for numpy to amortise its per-call cost, small enough to bound memory.
_BATCH_BYTES = 64 << 20
# Bytes gathered per numpy pass when comparing or checksumming records.
_GATHER_BYTES = 16 << 20
_HEADER_BYTES = 12  # uint64 length + uint32 masked CRC of the length
_FOOTER_BYTES = 4  # uint32 masked CRC of the data
_U64 = struct.Struct("<Q")

_DT = types_pb2
# dtype -> (numpy dtype of the stored value, TensorProto repeated field).
_TENSOR_DTYPES: dict[int, tuple[str, str]] = {
    _DT.DT_FLOAT: ("<f4", "float_val"),
    _DT.DT_DOUBLE: ("<f8", "double_val"),
    _DT.DT_HALF: ("<u2", "half_val"),  # half_val holds the bit patterns
    _DT.DT_BFLOAT16: ("<u2", "half_val"),
    _DT.DT_INT8: ("<i1", "int_val"),
    _DT.DT_UINT8: ("<u1", "int_val"),
    _DT.DT_INT16: ("<i2", "int_val"),
    _DT.DT_UINT16: ("<u2", "int_val"),
    _DT.DT_INT32: ("<i4", "int_val"),
    _DT.DT_INT64: ("<i8", "int64_val"),
    _DT.DT_UINT32: ("<u4", "uint32_val"),
    _DT.DT_UINT64: ("<u8", "uint64_val"),
    _DT.DT_BOOL: ("?", "bool_val"),
}
# Fixed-width encodings that templates decode in place (bool excluded: only 0/1 are valid).
_TEMPLATE_DTYPES = {dtype: np.dtype(np_dtype) for dtype, (np_dtype, _) in _TENSOR_DTYPES.items()}
_TEMPLATE_DTYPES[_DT.DT_HALF] = np.dtype("<f2")
del _TEMPLATE_DTYPES[_DT.DT_BFLOAT16], _TEMPLATE_DTYPES[_DT.DT_BOOL]


class CorruptEventFileWarning(RuntimeWarning):
    """An event file holds a corrupt record; the records before it were kept."""


def read_tensorboard(
    root: str | os.PathLike[str], *, tags: Iterable[str] | None = None
) -> pd.DataFrame:
    """Reads every scalar point of every TensorBoard run under ``root``.

    A run is a directory holding ``*tfevents*`` files; its files are read in name
    order, so a resumed run's points follow the earlier ones. Both scalar
    encodings are read: Keras 3 / TF2 tensor summaries under the ``scalars``
    plugin, and classic ``simple_value`` summaries. Histograms, images, graphs,
    text and hparams data are skipped. Every point is kept, in file order: no
    sampling, sorting or de-duplication of steps.

    Integrity: every record's length header is CRC32C-checked (vectorised with
    numpy, so no CRC package is needed), and so is the
    payload of every record that yields rows or declares a tag's plugin.
    Payloads of other records (graphs, images, ...) are framed but not checked:
    none of their bytes reach the result, and checking them would cost time in
    proportion to their size. An incomplete final record (a trial still
    writing, or killed mid-write) is dropped silently. A corrupt record ends its
    file: a `CorruptEventFileWarning` names the file, and the records before the
    corrupt one are kept.

    Args:
        root: Directory to search recursively for runs.
        tags: Keep only these tags (a single str is one tag). Defaults to None,
            which keeps every tag.

    Returns:
        One row per point, with columns ``run`` (str: the run directory
        relative to ``root``, POSIX style, ``"."`` for ``root`` itself),
        ``tag`` (str), ``step`` (int64), ``value`` (float64) and ``wall_time``
        (float64, seconds since the epoch). Runs come in path order. An empty
        frame with these columns when ``root`` holds no event files.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
    """
    root = os.fspath(root)
    if not os.path.exists(root):
        raise FileNotFoundError(f"TensorBoard log directory not found: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"TensorBoard log root is not a directory: {root!r}")
    if isinstance(tags, str):
        tags = [tags]
    runs = _find_runs(root)
    reader = _Reader(frozenset(tags) if tags is not None else None)
    files = [(run, path) for run, (_, paths) in enumerate(runs) for path in paths]
    parts = [reader.read_batch(batch) for batch in _batches(files)]
    return _frame([name for name, _ in runs], reader.tag_names, parts)


# ------------------------------------------------------------------------------ files


def _find_runs(root: str) -> list[tuple[str, list[str]]]:
    """(run name, sorted event file paths) of each directory holding event files."""
    runs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        names = sorted(name for name in filenames if "tfevents" in name)
        if names:
            run = os.path.relpath(dirpath, root).replace(os.sep, "/")
            runs.append((run, [os.path.join(dirpath, name) for name in names]))
    return sorted(runs)


def _batches(files: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Groups files into batches of about `_BATCH_BYTES`."""
    batch: list[tuple[int, str]] = []
    size = 0
    for item in files:
        batch.append(item)
        size += _file_size(item[1])
        if size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # vanished; _read_bytes reports it


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        # A sweep may delete a trial's logs while we read: lose that file, not the report.
        warnings.warn(
            f"cannot read event file {path}: {error}", CorruptEventFileWarning, stacklevel=2
        )
        return b""


def _frame(
    run_names: list[str], tag_names: list[str], parts: list[dict[str, np.ndarray]]
) -> pd.DataFrame:
    """Assembles the batches' column arrays into the result."""

    def column(key: str, dtype: type) -> np.ndarray:
        return (
            np.concatenate([part[key] for part in parts]).astype(dtype)
            if parts
            else np.zeros(0, dtype)
        )

    return pd.DataFrame(
        {
            "run": pd.Series(np.array(run_names, dtype=object)[column("run", np.int64)], dtype=str),
            "tag": pd.Series(np.array(tag_names, dtype=object)[column("tag", np.int64)], dtype=str),
            "step": column("step", np.int64),
            "value": column("value", np.float64),
            "wall_time": column("wall_time", np.float64),
        }
    )


# ------------------------------------------------------------------------------ bytes


def _windows(u8: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Copies of ``u8[start:start + width]`` for each start, with zeros before offset 0."""
    if width == 0 or not len(starts):
        return np.zeros((len(starts), width), np.uint8)
    inside = starts >= 0
    if inside.all():
        return np.lib.stride_tricks.sliding_window_view(u8, width)[starts]
    rows = np.zeros((len(starts), width), np.uint8)
    if inside.any():
        rows[inside] = np.lib.stride_tricks.sliding_window_view(u8, width)[starts[inside]]
    for row, start in zip(np.flatnonzero(~inside).tolist(), starts[~inside].tolist()):
        rows[row, -start:] = u8[: width + start]
    return rows


def _gather(u8: np.ndarray, starts: np.ndarray, dtype: str) -> np.ndarray:
    """The little-endian numbers of ``dtype`` stored at ``starts``."""
    return _windows(u8, starts, np.dtype(dtype).itemsize).view(dtype).ravel()


def _groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    """Row indices of each distinct key of small integers (lengths, -1 for none).

    Counts or hashes rather than sorts: np.unique is several times slower here.
    """
    if not len(keys):
        return {}
    small = keys.min() >= -1 and keys.max() < 1 << 16
    unique = np.flatnonzero(np.bincount(keys + 1)) - 1 if small else pd.unique(keys)
    if len(unique) <= 16:
        return {int(key): np.flatnonzero(keys == key) for key in unique}
    return {
        int(key): rows
        for key, rows in pd.Series(np.arange(len(keys))).groupby(keys, sort=False).indices.items()
    }


def _chunks(rows: np.ndarray, width: int) -> Iterator[np.ndarray]:
    """Slices of ``rows`` small enough to gather ``width`` bytes each."""
    step = max(1, _GATHER_BYTES // max(width, 1))
    return (rows[i : i + step] for i in range(0, len(rows), step))


# ------------------------------------------------------------------------------ CRC32C


@functools.cache
def _crc_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte table of the reflected Castagnoli polynomial, and two 16-bit slicing-by-4 tables."""
    byte = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        byte = np.where(byte & 1, (byte >> 1) ^ np.uint32(0x82F63B78), byte >> 1).astype(np.uint32)
    slices = [byte]
    for _ in range(3):
        slices.append((slices[-1] >> 8) ^ byte[slices[-1] & 0xFF])
    index = np.arange(1 << 16, dtype=np.uint32)
    low = slices[3][index & 0xFF] ^ slices[2][index >> 8]
    high = slices[1][index & 0xFF] ^ slices[0][index >> 8]
    return byte, low, high


@functools.cache
def _zero_run_states(size: int) -> np.ndarray:
    """CRC register after k zero bytes from the initial 0xFFFFFFFF, for k < size."""
    table = _crc_tables()[0].tolist()
    states = [0xFFFFFFFF]
    for _ in range(size - 1):
        state = states[-1]
        states.append(table[state & 0xFF] ^ (state >> 8))
    return np.array(states, np.uint32)


def _crc32c(u8: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """CRC32C of the byte ranges ``u8[start:start + length]``, all at once.

    Ranges are grouped into buckets of similar length and zero-padded on the
    left to the bucket's width: leading zeros leave a CRC register at 0
    unchanged, and the CRC is linear, so the initial value's contribution is
    added back per length from `_zero_run_states`.
    """
    lengths = lengths.astype(np.int64)
    crc = np.zeros(len(starts), np.uint32)
    if not len(starts):
        return crc
    for width, group in _groups(_bucket_widths(lengths)).items():
        for rows in _chunks(group, width):
            crc[rows] = _raw_crc(u8, starts[rows] + lengths[rows], lengths[rows], width)
    states = _zero_run_states(1 << int(lengths.max()).bit_length())
    return crc ^ states[lengths] ^ np.uint32(0xFFFFFFFF)


def _bucket_widths(lengths: np.ndarray) -> np.ndarray:
    # Multiples of 4 bytes (one 32-bit word per numpy pass). Beyond 256 bytes,
    # multiples of about an eighth of the length, so that long records of
    # varied lengths share a few buckets while padding wastes little.
    bits = np.frexp(np.maximum(lengths, 1).astype(np.float64))[1].astype(np.int64)
    shift = np.where(lengths <= 256, 2, np.maximum(bits - 3, 2))
    return (((lengths - 1) >> shift) + 1) << shift


def _raw_crc(u8: np.ndarray, ends: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """CRC register from 0 over each range ending at ``ends``, zero-padded on the left to ``width``.

    Slicing-by-4 with two 16-bit tables: one numpy pass per 32-bit word.
    """
    _, low, high = _crc_tables()
    data = _windows(u8, ends - width, width)
    pad = width - lengths
    most = int(pad.max())
    if most:
        data[:, :most][np.arange(most) < pad[:, None]] = 0
    crc = np.zeros(len(ends), np.uint32)
    for word in np.ascontiguousarray(data.view("<u4").T):
        crc ^= word
        crc = low[crc & 0xFFFF] ^ high[crc >> 16]
    return crc


def _masked(crc: np.ndarray) -> np.ndarray:
    """TFRecord's CRC masking: rotate right by 15 bits, add a constant."""
    return ((crc >> 15) | (crc << 17)) + np.uint32(0xA282EAD8)


# ------------------------------------------------------------------------------ framing


def _split_records(buf: bytes, start: int, end: int) -> tuple[np.ndarray, int | None]:
    """Header offsets of one file's complete records, and that of an incomplete last one.

    Lengths are trusted here and checked later (`_check_headers`): a corrupt one
    frames garbage records after it, or looks like an incomplete last record.
    The second value is None when no complete header follows the last record.
    """
    offsets: list[int] = []
    append, unpack = offsets.append, _U64.unpack_from
    pos, tail = start, None
    while pos + _HEADER_BYTES <= end:
        stop = pos + _HEADER_BYTES + unpack(buf, pos)[0] + _FOOTER_BYTES
        if stop > end:
            tail = pos
            break
        append(pos)
        pos = stop
    else:
        if pos < end:
            _log.debug("dropping %d trailing bytes: a partly written record header", end - pos)
    return np.array(offsets, np.int64), tail


def _check_headers(
    u8: np.ndarray, paths: list[str], framed: list[tuple[np.ndarray, int | None]]
) -> list[np.ndarray]:
    """Each file's header offsets, cut at the first one whose length CRC fails."""
    headers = (
        np.concatenate([offsets for offsets, _ in framed]) if framed else np.zeros(0, np.int64)
    )
    tails = np.array([tail for _, tail in framed if tail is not None], np.int64)
    checked = np.concatenate([headers, tails])
    ok = _masked(_crc32c(u8, checked, np.full(len(checked), 8))) == _gather(u8, checked + 8, "<u4")
    tail_ok = dict(zip(tails.tolist(), ok[len(headers) :].tolist()))
    kept, first = [], 0
    for path, (offsets, tail) in zip(paths, framed):
        bad = np.flatnonzero(~ok[first : first + len(offsets)])
        first += len(offsets)
        if len(bad):
            _warn_corrupt(path, int(offsets[bad[0]]), int(bad[0]), "record header")
            kept.append(offsets[: bad[0]])
        elif tail is not None and not tail_ok[tail]:
            _warn_corrupt(path, tail, len(offsets), "record header")
            kept.append(offsets)
        else:
            if tail is not None:  # an intact header whose record runs past the end
                _log.debug("dropping the incomplete final record of %s", path)
            kept.append(offsets)
    return kept


def _warn_corrupt(path: str, offset: int, kept: int, what: str) -> None:
    warnings.warn(
        f"corrupt {what} at byte {offset} of {path}; keeping the {kept} record(s) before it",
        CorruptEventFileWarning,
        stacklevel=2,
    )


# ------------------------------------------------------------------------------ records


@dataclass
class _Records:
    """The header-checked records of one batch, in file order, with their Event prefixes."""

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
    def parse(cls, buf: bytes, u8: np.ndarray, per_file: list[np.ndarray]) -> _Records:
        header = np.concatenate(per_file) if per_file else np.zeros(0, np.int64)
        file = np.repeat(np.arange(len(per_file)), [len(offsets) for offsets in per_file])
        start = header + _HEADER_BYTES
        end = start + _gather(u8, header, "<u8").astype(np.int64)
        # Serializers write fields in number order: wall_time (fixed64), step (varint).
        has_wall = (end - start >= 9) & (u8[start] == 0x09)
        wall_time = np.zeros(len(header))
        wall_time[has_wall] = _gather(u8, start[has_wall] + 1, "<f8")
        pos = start + 9 * has_wall
        has_step = (end - pos >= 2) & (u8[np.minimum(pos, len(u8) - 1)] == 0x10)
        step, tail = _varints(u8, pos, end, has_step)
        return cls(buf, u8, header, file, start, end, wall_time, step, tail)

    def tail_length(self) -> np.ndarray:
        return np.where(self.tail >= 0, self.end - self.tail, -1)


def _varints(
    u8: np.ndarray, pos: np.ndarray, end: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
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


# ------------------------------------------------------------------------------ decoding


@dataclass(frozen=True, slots=True, eq=False)
class _Template:
    """The bytes of a one-scalar event after ``wall_time`` and ``step``, value included."""

    key: np.ndarray  # uint8; bytes [value_at, value_at + dtype.itemsize) are the value
    value_at: int
    dtype: np.dtype
    tag: int  # tag id
    keep: bool  # passes the ``tags`` filter
    plugin: str  # plugin name the record carries itself; "" if none
    tensor: bool  # a tensor is a scalar only under the scalars plugin; simple_value always is


class _Rows:
    """Rows and plugin declarations of one batch: bulk arrays plus one-by-one protobuf results."""

    def __init__(self) -> None:
        self._rows: dict[str, list[np.ndarray]] = {name: [] for name in _ROW_COLUMNS}
        self._declared: dict[str, list[np.ndarray]] = {name: [] for name in _DECLARED_COLUMNS}
        self._single_rows: list[tuple] = []
        self._single_declared: list[tuple] = []
        self.undecodable: list[int] = []

    def add(self, record, tag, value, step, wall_time, tensor) -> None:
        for name, column in zip(_ROW_COLUMNS, (record, tag, value, step, wall_time, tensor)):
            self._rows[name].append(column)

    def add_one(
        self, record: int, tag: int, value: float, step: int, wall_time: float, tensor: bool
    ) -> None:
        self._single_rows.append((record, tag, value, step, wall_time, tensor))

    def declare(self, record: np.ndarray, tag: int, plugin: str) -> None:
        """Notes that these records name ``plugin`` as ``tag``'s plugin."""
        count = len(record)
        for name, column in zip(
            _DECLARED_COLUMNS, (record, np.full(count, tag), np.full(count, plugin, object))
        ):
            self._declared[name].append(column)

    def declare_one(self, record: int, tag: int, plugin: str) -> None:
        self._single_declared.append((record, tag, plugin))

    def arrays(self) -> dict[str, np.ndarray]:
        """All columns; a tag's plugin is the first one declared in its run."""
        for parts, singles in (
            (self._rows, self._single_rows),
            (self._declared, self._single_declared),
        ):
            for column, values in zip(parts.values(), zip(*singles)):
                column.append(np.array(values, object if isinstance(values[0], str) else None))
            singles.clear()
        return {
            name: np.concatenate(parts[name]).astype(dtype) if parts[name] else np.zeros(0, dtype)
            for parts, columns in ((self._rows, _ROW_COLUMNS), (self._declared, _DECLARED_COLUMNS))
            for name, dtype in columns.items()
        }


_ROW_COLUMNS = {
    "record": np.int64,
    "tag": np.int64,
    "value": np.float64,
    "step": np.int64,
    "wall_time": np.float64,
    "tensor": bool,
}
_DECLARED_COLUMNS = {
    "declared_record": np.int64,
    "declared_tag": np.int64,
    "declared_plugin": object,
}


class _Reader:
    """Reads batches of event files, learning templates as it goes."""

    def __init__(self, tags: frozenset[str] | None) -> None:
        self._tags = tags
        self._templates: list[_Template] = []
        self._template_keys: set[tuple[int, int, bytes]] = set()
        self._tag_ids: dict[str, int] = {}
        self.tag_names: list[str] = []
        self._plugins: dict[tuple[int, int], str] = {}  # (run, tag id) -> first plugin declared

    def read_batch(self, files: list[tuple[int, str]]) -> dict[str, np.ndarray]:
        """Column arrays (``run`` index, ``tag`` id, ...) of the scalars in ``files``.

        Args:
            files: ``(run index, path)`` pairs, in reading order.

        Returns:
            The batch's ``run``, ``tag``, ``step``, ``value`` and ``wall_time`` arrays.
        """
        paths = [path for _, path in files]
        contents = [_read_bytes(path) for path in paths]
        buf = b"".join(contents)
        u8 = np.frombuffer(buf, np.uint8)
        ends = np.cumsum([len(content) for content in contents]).tolist()
        framed = [
            _split_records(buf, end - len(content), end) for content, end in zip(contents, ends)
        ]
        records = _Records.parse(buf, u8, _check_headers(u8, paths, framed))
        rows = _Rows()
        self._decode(records, rows)
        found = rows.arrays()
        first_bad = _first_bad_records(records, found, rows.undecodable, paths)
        return self._columns(
            records, found, first_bad, np.array([run for run, _ in files], np.int64)
        )

    # -- decoding

    def _decode(self, records: _Records, rows: _Rows) -> None:
        """Decodes every record: by template in bulk, else by protobuf, learning new templates."""
        pending = self._match(records, np.arange(len(records.header)), self._templates, rows)
        chunk = 16
        while len(pending):
            # Protobuf for the next few unmatched records; then, if that taught new
            # templates, bulk-match the rest against them. Chunks double so that
            # logs that teach a template per record stay linear.
            learned = len(self._templates)
            for record in pending[:chunk].tolist():
                self._parse_event(records, record, rows)
            pending = pending[chunk:]
            if len(self._templates) > learned and len(pending):
                pending = self._match(records, pending, self._templates[learned:], rows)
            chunk *= 2

    def _match(
        self, records: _Records, candidates: np.ndarray, templates: list[_Template], rows: _Rows
    ) -> np.ndarray:
        """Decodes the ``candidates`` that match a template; returns the others."""
        by_length = _groups(records.tail_length()[candidates])
        unmatched = np.ones(len(candidates), bool)
        for template in templates:
            width = len(template.key)
            same_length = by_length.get(width, np.zeros(0, np.int64))
            for rows_of in _chunks(same_length[unmatched[same_length]], width):
                hit = _matches(
                    _windows(records.u8, records.tail[candidates[rows_of]], width), template
                )
                unmatched[rows_of[hit]] = False
                self._add_matches(records, candidates[rows_of[hit]], template, rows)
        return candidates[unmatched]

    def _add_matches(
        self, records: _Records, matched: np.ndarray, template: _Template, rows: _Rows
    ) -> None:
        if not len(matched):
            return
        if template.plugin:
            # Only a file's first declaration can come first in its run (``matched`` is sorted).
            firsts = matched[np.flatnonzero(np.diff(records.file[matched], prepend=-1))]
            rows.declare(firsts, template.tag, template.plugin)
        if not template.keep:
            return
        values = _gather(records.u8, records.tail[matched] + template.value_at, template.dtype.str)
        count = len(matched)
        tags, tensor = np.full(count, template.tag), np.full(count, template.tensor)
        rows.add(matched, tags, values, records.step[matched], records.wall_time[matched], tensor)

    def _parse_event(self, records: _Records, record: int, rows: _Rows) -> None:
        """Decodes one record with protobuf, and learns a template from it if it can."""
        start, end = int(records.start[record]), int(records.end[record])
        try:
            event = event_pb2.Event.FromString(records.buf[start:end])
        except DecodeError:
            rows.undecodable.append(record)
            return
        if not event.HasField("summary"):
            return
        values = event.summary.value
        for value in values:
            tag = self._tag_id(value.tag)
            if value.metadata.plugin_data.plugin_name:
                rows.declare_one(record, tag, value.metadata.plugin_data.plugin_name)
            number = _scalar(value)
            if number is not None and (self._tags is None or value.tag in self._tags):
                rows.add_one(
                    record, tag, number, event.step, event.wall_time, value.HasField("tensor")
                )
        tail = int(records.tail[record])
        if len(values) == 1 and tail >= 0:
            self._learn(records.buf[tail:end], event, values[0])

    def _learn(self, tail: bytes, event: event_pb2.Event, value: event_pb2.Summary.Value) -> None:
        """Adds a template for events shaped like this one, if its value offset can be proven."""
        length, body = _varint(tail, 1)
        if tail[:1] != b"\x2a" or body + length != len(tail):
            return  # the tail must be exactly the summary field: no other Event fields
        encoding = _value_encoding(value)
        if encoding is None:
            return
        raw, dtype = encoding
        value_at = _prove_value_offset(tail, event, raw, dtype)
        if value_at is None:
            return
        key = np.frombuffer(tail, np.uint8).copy()
        key[value_at : value_at + len(raw)] = 0
        identity = (value_at, dtype.itemsize, key.tobytes())
        if identity in self._template_keys:
            return
        self._template_keys.add(identity)
        self._templates.append(
            _Template(
                key=key,
                value_at=value_at,
                dtype=dtype,
                tag=self._tag_id(value.tag),
                keep=self._tags is None or value.tag in self._tags,
                plugin=value.metadata.plugin_data.plugin_name,
                tensor=value.HasField("tensor"),
            )
        )

    def _tag_id(self, tag: str) -> int:
        tag_id = self._tag_ids.get(tag)
        if tag_id is None:
            tag_id = self._tag_ids[tag] = len(self.tag_names)
            self.tag_names.append(tag)
        return tag_id

    # -- integrity and output

    def _columns(
        self,
        records: _Records,
        found: dict[str, np.ndarray],
        first_bad: np.ndarray,
        runs: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """The batch's rows, minus those from bad records or after them, in record order."""
        file_of = records.file
        valid = found["record"] < first_bad[file_of[found["record"]]]
        declared = found["declared_record"] < first_bad[file_of[found["declared_record"]]]
        self._note_plugins(
            runs[file_of[found["declared_record"][declared]]],
            found["declared_tag"][declared],
            found["declared_plugin"][declared],
            found["declared_record"][declared],
        )
        row_runs = runs[file_of[found["record"]]]
        keep = valid & (~found["tensor"] | self._is_scalar_tag(row_runs, found["tag"]))
        order = np.argsort(found["record"][keep], kind="stable")
        return {
            "run": row_runs[keep][order],
            "tag": found["tag"][keep][order],
            "step": found["step"][keep][order],
            "value": found["value"][keep][order],
            "wall_time": found["wall_time"][keep][order],
        }

    def _note_plugins(
        self, runs: np.ndarray, tags: np.ndarray, plugins: np.ndarray, records: np.ndarray
    ) -> None:
        """Remembers the first plugin declared for each new (run, tag)."""
        by_record = np.argsort(records, kind="stable")
        # Hash-based duplicated(): np.unique sorts, several times slower here.
        repeated = pd.Series(_pair_keys(runs[by_record], tags[by_record])).duplicated()
        first = by_record[~repeated.to_numpy()]
        for run, tag, plugin in zip(
            runs[first].tolist(), tags[first].tolist(), plugins[first].tolist()
        ):
            self._plugins.setdefault((run, tag), plugin)

    def _is_scalar_tag(self, runs: np.ndarray, tags: np.ndarray) -> np.ndarray:
        """Whether each (run, tag)'s plugin is the scalars plugin."""
        codes, unique = pd.factorize(_pair_keys(runs, tags))
        scalar = [
            self._plugins.get((key >> 32, key & 0xFFFFFFFF)) == _SCALARS_PLUGIN
            for key in unique.tolist()
        ]
        return np.array(scalar, bool)[codes]


def _pair_keys(runs: np.ndarray, tags: np.ndarray) -> np.ndarray:
    return (runs.astype(np.int64) << 32) | tags.astype(np.int64)


def _first_bad_records(
    records: _Records, found: dict[str, np.ndarray], undecodable: list[int], paths: list[str]
) -> np.ndarray:
    """Per file, its first record that is undecodable or fails its data CRC, else one past its last.

    Only records that yielded rows or plugin declarations are checksummed.
    """
    files = np.arange(len(paths))
    file_start = np.searchsorted(records.file, files, side="left")
    file_end = np.searchsorted(records.file, files, side="right")
    used = np.zeros(len(records.header), bool)
    used[found["record"]] = used[found["declared_record"]] = True
    used = np.flatnonzero(used)
    start, length = records.start[used], records.end[used] - records.start[used]
    crc_ok = _masked(_crc32c(records.u8, start, length)) == _gather(
        records.u8, start + length, "<u4"
    )
    bad = np.concatenate([used[~crc_ok], np.array(undecodable, np.int64)])
    first_bad = file_end.copy()
    np.minimum.at(first_bad, records.file[bad], bad)
    for index in np.flatnonzero(first_bad < file_end).tolist():
        record = int(first_bad[index])
        _warn_corrupt(
            paths[index], int(records.header[record]), record - int(file_start[index]), "record"
        )
    return first_bad


def _matches(rows: np.ndarray, template: _Template) -> np.ndarray:
    """Which rows equal the template outside its value bytes."""
    key, value_at = template.key, template.value_at
    after = value_at + template.dtype.itemsize
    return (rows[:, :value_at] == key[:value_at]).all(axis=1) & (
        rows[:, after:] == key[after:]
    ).all(axis=1)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint at ``pos``; (-1, len(buf)) if malformed."""
    result = shift = 0
    for at in range(pos, min(pos + 10, len(buf))):
        result |= (buf[at] & 0x7F) << shift
        if buf[at] < 0x80:
            return result, at + 1
        shift += 7
    return -1, len(buf)


def _scalar(value: event_pb2.Summary.Value) -> float | None:
    """The number of a simple_value or of a one-element numeric tensor, else None.

    Whether such a tensor is a scalar is up to its tag's plugin, decided later.
    """
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return value.simple_value
    if kind == "tensor":
        return _tensor_scalar(value.tensor)
    return None


def _tensor_scalar(tensor) -> float | None:
    """The single number of a one-element numeric ``TensorProto``."""
    spec = _TENSOR_DTYPES.get(tensor.dtype)
    shape = tensor.tensor_shape
    if spec is None or shape.unknown_rank or any(dim.size != 1 for dim in shape.dim):
        return None
    dtype, repeated = spec
    if tensor.tensor_content:
        if len(tensor.tensor_content) != np.dtype(dtype).itemsize:
            return None
        values = np.frombuffer(tensor.tensor_content, dtype)
    else:
        listed = getattr(tensor, repeated)
        if not listed:
            return 0.0  # TensorFlow zero-fills a tensor given no values
        values = np.array(listed[:1]).astype(dtype)
    if tensor.dtype == _DT.DT_HALF:
        values = values.view("<f2")
    elif tensor.dtype == _DT.DT_BFLOAT16:
        values = (values.astype(np.uint32) << 16).view("<f4")
    return float(values[0])


def _value_encoding(value: event_pb2.Summary.Value) -> tuple[bytes, np.dtype] | None:
    """(stored bytes, dtype) of a fixed-width scalar value, else None."""
    if value.WhichOneof("value") == "simple_value":
        return struct.pack("<f", value.simple_value), np.dtype("<f4")
    tensor = value.tensor
    dtype = _TEMPLATE_DTYPES.get(tensor.dtype)
    if value.WhichOneof("value") != "tensor" or dtype is None or _tensor_scalar(tensor) is None:
        return None
    if tensor.tensor_content:
        return (
            (tensor.tensor_content, dtype) if len(tensor.tensor_content) == dtype.itemsize else None
        )
    if tensor.dtype == _DT.DT_FLOAT and len(tensor.float_val) == 1:
        return struct.pack("<f", tensor.float_val[0]), dtype
    if tensor.dtype == _DT.DT_DOUBLE and len(tensor.double_val) == 1:
        return struct.pack("<d", tensor.double_val[0]), dtype
    return None  # varint-encoded values have no fixed width


def _prove_value_offset(
    tail: bytes, event: event_pb2.Event, raw: bytes, dtype: np.dtype
) -> int | None:
    """Offset in ``tail`` of the value bytes ``raw``, proven by re-parsing with probe values.

    An offset is accepted only if writing two other values there changes the
    decoded value and nothing else. Then any record equal to this one outside
    those bytes has the same structure, so its value sits at the same offset.
    """
    probes = [
        probe for probe in (np.array([n], dtype).tobytes() for n in (1, 2, 3)) if probe != raw
    ][:2]
    at = tail.find(raw)
    while at >= 0:
        if all(_probe_matches(tail, event, at, probe, dtype) for probe in probes):
            return at
        at = tail.find(raw, at + 1)
    return None


def _probe_matches(
    tail: bytes, event: event_pb2.Event, at: int, probe: bytes, dtype: np.dtype
) -> bool:
    try:
        parsed = event_pb2.Event.FromString(tail[:at] + probe + tail[at + len(probe) :])
    except DecodeError:
        return False
    expected = event_pb2.Event(summary=event.summary)
    value = expected.summary.value[0]
    number = np.frombuffer(probe, dtype)[0].item()
    if value.WhichOneof("value") == "simple_value":
        value.simple_value = number
    elif value.tensor.tensor_content:
        value.tensor.tensor_content = probe
    elif value.tensor.float_val:
        value.tensor.float_val[0] = number
    else:
        value.tensor.double_val[0] = number
    return parsed == expected
