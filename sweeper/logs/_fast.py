"""The bulk reader behind `read_tensorboard`: batches of event files decoded with numpy against byte templates.

Decoding 10^5-10^6 records one protobuf at a time is too slow, so each batch
is framed and header-checked in bulk (`_framing`), records matching a learned
template are decoded by slicing (`_templates`), and only the others go through
protobuf: file headers, graphs, histograms, multi-value summaries, and the
first record of each kind, from which templates are learned. The result
equals `sweeper.logs._reference`'s, record for record.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2

from sweeper.logs._bytes import chunks, gather, groups, windows
from sweeper.logs._crc32c import crc32c_ranges, mask
from sweeper.logs._files import read_event_file, warn_corrupt
from sweeper.logs._framing import Fault, Records, check_headers, split_records
from sweeper.logs._rows import Rows
from sweeper.logs._templates import Template, matches, template_shape
from sweeper.logs._values import SCALARS_PLUGIN, scalar_value

# What each batch yields per point; ``tensor`` is dropped once plugins are known.
_BATCH_COLUMNS = {
    "run": np.int64,
    "tag": np.int64,
    "step": np.int64,
    "value": np.float64,
    "wall_time": np.float64,
    "tensor": bool,
}


class BulkReader:
    """Reads batches of event files in order, learning templates as it goes.

    Args:
        tags: Keep only points of these tags; None keeps every tag.
    """

    def __init__(self, tags: frozenset[str] | None) -> None:
        self._tags = tags
        self._templates: list[Template] = []
        self._template_keys: set[tuple[int, int, bytes]] = set()
        self._tag_ids: dict[str, int] = {}
        self.tag_names: list[str] = []  # by tag id
        self._plugins: dict[tuple[int, int], str] = {}  # (run, tag id) -> first plugin declared

    def read(self, batches: Iterable[list[tuple[int, str]]]) -> dict[str, np.ndarray]:
        """The scalar points of the files in ``batches``, as column arrays.

        Args:
            batches: Lists of ``(run index, path)`` pairs, in reading order.

        Returns:
            Arrays ``run`` (run index), ``tag`` (an index into `tag_names`),
            ``step``, ``value`` and ``wall_time``, one element per point.
        """
        parts = [self._read_batch(batch) for batch in batches]
        columns = {
            name: np.concatenate([part[name] for part in parts]) if parts else np.zeros(0, dtype)
            for name, dtype in _BATCH_COLUMNS.items()
        }
        # Decided only now: a tag's plugin may be declared in any file of its run.
        scalar = ~columns.pop("tensor") | self._is_scalar_tag(columns["run"], columns["tag"])
        return {name: column[scalar] for name, column in columns.items()}

    def _read_batch(self, files: list[tuple[int, str]]) -> dict[str, np.ndarray]:
        """`_BATCH_COLUMNS` of the candidate points in ``files``, ``(run index, path)`` pairs."""
        paths = [path for _, path in files]
        contents = [read_event_file(path) for path in paths]
        buf = b"".join(contents)
        u8 = np.frombuffer(buf, np.uint8)
        offsets = np.cumsum([0] + [len(content) for content in contents])[:-1].tolist()
        framed = [
            split_records(buf, start, start + len(content)) for start, content in zip(offsets, contents, strict=True)
        ]
        per_file, header_faults = check_headers(u8, paths, framed, offsets)
        records = Records.parse(buf, u8, per_file)
        rows = Rows()
        self._decode(records, rows)
        found = rows.arrays()
        used = self._used_records(records, found)
        first_bad = _first_bad_records(records, used, rows.undecodable, paths, offsets, header_faults)
        return self._columns(records, found, first_bad, np.array([run for run, _ in files], np.int64))

    # -- decoding

    def _decode(self, records: Records, rows: Rows) -> None:
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

    def _match(self, records: Records, candidates: np.ndarray, templates: list[Template], rows: Rows) -> np.ndarray:
        """Decodes the ``candidates`` that match a template; returns the others."""
        by_length = groups(records.tail_length()[candidates])
        unmatched = np.ones(len(candidates), bool)
        for template in templates:
            width = len(template.key)
            same_length = by_length.get(width, np.zeros(0, np.int64))
            for rows_of in chunks(same_length[unmatched[same_length]], width):
                hit = matches(windows(records.u8, records.tail[candidates[rows_of]], width), template)
                unmatched[rows_of[hit]] = False
                self._add_matches(records, candidates[rows_of[hit]], template, rows)
        return candidates[unmatched]

    def _add_matches(self, records: Records, matched: np.ndarray, template: Template, rows: Rows) -> None:
        if not len(matched):
            return
        if template.plugin:
            # Only a file's first declaration can come first in its run (``matched`` is sorted).
            firsts = matched[np.flatnonzero(np.diff(records.file[matched], prepend=-1))]
            rows.declare(firsts, template.tag, template.plugin)
        if not template.keep:
            return
        values = gather(records.u8, records.tail[matched] + template.value_at, template.dtype.str)
        count = len(matched)
        tags, tensor = np.full(count, template.tag), np.full(count, template.tensor)
        rows.add(matched, tags, values, records.step[matched], records.wall_time[matched], tensor)

    def _parse_event(self, records: Records, record: int, rows: Rows) -> None:
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
            number = scalar_value(value)
            if number is not None and self._keeps(value.tag):
                rows.add_one(record, tag, number, event.step, event.wall_time, value.HasField("tensor"))
        tail = int(records.tail[record])
        if len(values) == 1 and tail >= 0:
            self._learn(records.buf[tail:end], event, values[0])

    def _learn(self, tail: bytes, event: event_pb2.Event, value: event_pb2.Summary.Value) -> None:
        """Adds a template for events shaped like this one, if its value offset can be proven."""
        shape = template_shape(tail, event, value)
        if shape is None:
            return
        key, value_at, dtype = shape
        identity = (value_at, dtype.itemsize, key.tobytes())
        if identity in self._template_keys:
            return
        self._template_keys.add(identity)
        template = Template(
            key=key,
            value_at=value_at,
            dtype=dtype,
            tag=self._tag_id(value.tag),
            keep=self._keeps(value.tag),
            plugin=value.metadata.plugin_data.plugin_name,
            tensor=value.HasField("tensor"),
        )
        self._templates.append(template)

    def _keeps(self, tag: str) -> bool:
        return self._tags is None or tag in self._tags

    def _tag_id(self, tag: str) -> int:
        tag_id = self._tag_ids.get(tag)
        if tag_id is None:
            tag_id = self._tag_ids[tag] = len(self.tag_names)
            self.tag_names.append(tag)
        return tag_id

    # -- integrity and output

    def _used_records(self, records: Records, found: dict[str, np.ndarray]) -> np.ndarray:
        """The records whose bytes reach the result: those holding points, or declaring a kept tag's plugin."""
        kept_tag = np.array([self._keeps(tag) for tag in self.tag_names], bool)
        used = np.zeros(len(records.header), bool)
        used[found["record"]] = True
        used[found["declared_record"][kept_tag[found["declared_tag"]]]] = True
        return np.flatnonzero(used)

    def _columns(
        self, records: Records, found: dict[str, np.ndarray], first_bad: np.ndarray, runs: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The batch's candidate points, minus those from bad records or after them, in record order."""
        file_of = records.file
        valid = found["record"] < first_bad[file_of[found["record"]]]
        declared = found["declared_record"] < first_bad[file_of[found["declared_record"]]]
        self._note_plugins(
            runs[file_of[found["declared_record"][declared]]],
            found["declared_tag"][declared],
            found["declared_plugin"][declared],
            found["declared_record"][declared],
        )
        order = np.flatnonzero(valid)[np.argsort(found["record"][valid], kind="stable")]
        columns = {name: found[name][order] for name in ("tag", "step", "value", "wall_time", "tensor")}
        return {"run": runs[file_of[found["record"][order]]], **columns}

    def _note_plugins(self, runs: np.ndarray, tags: np.ndarray, plugins: np.ndarray, records: np.ndarray) -> None:
        """Remembers the first plugin declared for each new (run, tag)."""
        by_record = np.argsort(records, kind="stable")
        # Hash-based duplicated(): np.unique sorts, several times slower here.
        repeated = pd.Series(_pair_keys(runs[by_record], tags[by_record])).duplicated()
        first = by_record[~repeated.to_numpy()]
        for run, tag, plugin in zip(runs[first].tolist(), tags[first].tolist(), plugins[first].tolist(), strict=True):
            self._plugins.setdefault((run, tag), plugin)

    def _is_scalar_tag(self, runs: np.ndarray, tags: np.ndarray) -> np.ndarray:
        """Whether each (run, tag)'s plugin is the scalars plugin."""
        codes, unique = pd.factorize(_pair_keys(runs, tags))
        plugins = [self._plugins.get((key >> 32, key & 0xFFFFFFFF)) for key in unique.tolist()]
        return np.array([plugin == SCALARS_PLUGIN for plugin in plugins], bool)[codes]


def _pair_keys(runs: np.ndarray, tags: np.ndarray) -> np.ndarray:
    return (runs.astype(np.int64) << 32) | tags.astype(np.int64)


def _first_bad_records(
    records: Records,
    used: np.ndarray,
    undecodable: list[int],
    paths: list[str],
    offsets: list[int],
    header_faults: list[Fault | None],
) -> np.ndarray:
    """Per file, its first record that is undecodable or fails its data CRC, else one past its last.

    Warns once for each damaged file, naming its first corrupt record: that
    one, or else the corrupt length header that cut the file's records short.
    """
    files = np.arange(len(paths))
    first_record = np.searchsorted(records.file, files, side="left")
    end_record = np.searchsorted(records.file, files, side="right")
    bad = np.concatenate([_failing_data_crcs(records, used), np.array(undecodable, np.int64)])
    first_bad = end_record.copy()
    np.minimum.at(first_bad, records.file[bad], bad)
    for index, path in enumerate(paths):
        record = int(first_bad[index])
        if record < end_record[index]:
            offset = int(records.header[record]) - offsets[index]
            warn_corrupt(path, offset, record - int(first_record[index]), "record")
        elif header_faults[index] is not None:
            warn_corrupt(path, *header_faults[index], "record header")
    return first_bad


def _failing_data_crcs(records: Records, used: np.ndarray) -> np.ndarray:
    """The ``used`` records that fail their data CRC.

    Others are not checked: none of their bytes reach the result, and checking
    them would cost time in proportion to their size (graphs, images, ...).
    """
    start, length = records.start[used], records.end[used] - records.start[used]
    ok = mask(crc32c_ranges(records.u8, start, length)) == gather(records.u8, start + length, "<u4")
    return used[~ok]
