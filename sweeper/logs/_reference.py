"""A plain TensorBoard scalar reader: one record, one checksum and one protobuf at a time.

It states what `read_tensorboard` returns in code short enough to check by
reading, and the tests hold the fast reader to it on the same files. It is
slow (a pure-Python CRC32C, one protobuf parse per record); that is its only
difference. It shares with the fast reader only what is plain already:
finding runs (`_files`), the number a summary value holds (`_values`) and the
frame's dtypes (`_frame`).

A TFRecord file is a sequence of records, each framed as::

    uint64 length | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data

and each record's data is one serialized ``Event`` proto.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import pandas as pd
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2

from sweeper.logs._crc32c import masked_crc32c
from sweeper.logs._files import check_root, find_runs, read_event_file, warn_corrupt
from sweeper.logs._frame import COLUMNS, build_frame
from sweeper.logs._values import SCALARS_PLUGIN, scalar_value

_HEADER = struct.Struct("<QI")  # length, masked CRC of the length's 8 bytes
_FOOTER = struct.Struct("<I")  # masked CRC of the data


class _Point(NamedTuple):
    tag: str
    step: int
    value: float
    wall_time: float
    tensor: bool  # a tensor is a scalar only under the scalars plugin; a simple_value always is


def read_tensorboard_reference(root: str | os.PathLike[str], *, tags: Iterable[str] | None = None) -> pd.DataFrame:
    """Reads every scalar point of every run under ``root``: `read_tensorboard`'s result, slowly.

    Args:
        root: Directory to search recursively for runs.
        tags: Keep only these tags (a single str is one tag). Defaults to None,
            which keeps every tag.

    Returns:
        The frame `read_tensorboard` returns: columns ``run``, ``tag``,
        ``step``, ``value`` and ``wall_time``, one row per point.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
    """
    root = check_root(root)
    wanted = None if tags is None else frozenset([tags] if isinstance(tags, str) else tags)
    rows = [(run, *point) for run, paths in find_runs(root) for point in _run_points(paths, wanted)]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
    return build_frame(*columns)


def _run_points(paths: list[str], tags: frozenset[str] | None) -> list[tuple[str, int, float, float]]:
    """``(tag, step, value, wall_time)`` of each scalar point of one run, its files read in order.

    A tag's plugin is the first one declared for it anywhere in the run:
    TensorFlow writes the summary metadata with a tag's first point only.
    """
    plugins: dict[str, str] = {}
    points = [point for path in paths for point in _file_points(path, tags, plugins)]
    return [point[:4] for point in points if not point.tensor or plugins.get(point.tag) == SCALARS_PLUGIN]


def _file_points(path: str, tags: frozenset[str] | None, plugins: dict[str, str]) -> list[_Point]:
    """The candidate points of one file, up to its first corrupt record; notes the plugins it declares.

    A corrupt record ends the file with a warning. Its data CRC is checked only
    if the record holds a point of a kept tag or declares a kept tag's plugin,
    as `read_tensorboard` does: the bytes of other records (graphs, images,
    filtered-out tags, ...) never reach the result.
    """
    points: list[_Point] = []
    for index, (offset, data, data_crc) in enumerate(_records(path)):
        event = _parse(data)
        if event is None:
            warn_corrupt(path, offset, index, "record")
            break
        found, declared = _points(event, tags), _declarations(event)
        reaches_result = found or any(tags is None or tag in tags for tag, _ in declared)
        if reaches_result and masked_crc32c(data) != data_crc:
            warn_corrupt(path, offset, index, "record")
            break
        for tag, plugin in declared:
            plugins.setdefault(tag, plugin)
        points += found
    return points


def _records(path: str) -> Iterator[tuple[int, bytes, int]]:
    """``(offset, data, stored masked CRC of data)`` of each record of ``path``, in order.

    A corrupt length header ends the file with a warning. An incomplete last
    record (its writer still writing, or killed mid-write) ends it silently.
    """
    buf = read_event_file(path)
    pos = count = 0
    while pos + _HEADER.size <= len(buf):
        length, length_crc = _HEADER.unpack_from(buf, pos)
        if masked_crc32c(buf[pos : pos + 8]) != length_crc:
            warn_corrupt(path, pos, count, "record header")
            return
        start = pos + _HEADER.size
        end = start + length
        if end + _FOOTER.size > len(buf):
            return
        (data_crc,) = _FOOTER.unpack_from(buf, end)
        yield pos, buf[start:end], data_crc
        pos, count = end + _FOOTER.size, count + 1


def _parse(data: bytes) -> event_pb2.Event | None:
    try:
        return event_pb2.Event.FromString(data)
    except DecodeError:
        return None


def _points(event: event_pb2.Event, tags: frozenset[str] | None) -> list[_Point]:
    """The numbers of the event's summary values whose tags are kept, in value order."""
    points = []
    for value in event.summary.value:
        number = scalar_value(value)
        if number is not None and (tags is None or value.tag in tags):
            points.append(_Point(value.tag, event.step, number, event.wall_time, value.HasField("tensor")))
    return points


def _declarations(event: event_pb2.Event) -> list[tuple[str, str]]:
    """``(tag, plugin name)`` of each summary value that names its plugin, in value order."""
    return [
        (value.tag, value.metadata.plugin_data.plugin_name)
        for value in event.summary.value
        if value.metadata.plugin_data.plugin_name
    ]
