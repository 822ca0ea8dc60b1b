"""What decoding one batch yields: points and plugin declarations, from templates in bulk and protobuf one by one."""

from __future__ import annotations

import numpy as np

# Each point: the record it came from, tag id, value, step, wall time, and whether it is a tensor
# (which makes it a scalar only under the scalars plugin).
ROW_COLUMNS = {
    "record": np.int64,
    "tag": np.int64,
    "value": np.float64,
    "step": np.int64,
    "wall_time": np.float64,
    "tensor": bool,
}
# Each declaration: the record naming a tag's plugin, the tag id, and the plugin name.
DECLARED_COLUMNS = {
    "declared_record": np.int64,
    "declared_tag": np.int64,
    "declared_plugin": object,
}


class Rows:
    """Collects one batch's points and plugin declarations, in any order, keyed by record index."""

    def __init__(self) -> None:
        self._rows: dict[str, list[np.ndarray]] = {name: [] for name in ROW_COLUMNS}
        self._declared: dict[str, list[np.ndarray]] = {name: [] for name in DECLARED_COLUMNS}
        self._single_rows: list[tuple] = []
        self._single_declared: list[tuple] = []
        self.undecodable: list[int] = []  # records protobuf could not parse

    def add(
        self,
        record: np.ndarray,
        tag: np.ndarray,
        value: np.ndarray,
        step: np.ndarray,
        wall_time: np.ndarray,
        tensor: np.ndarray,
    ) -> None:
        """Adds one point per element of these equally long arrays."""
        for name, column in zip(ROW_COLUMNS, (record, tag, value, step, wall_time, tensor), strict=True):
            self._rows[name].append(column)

    def add_one(self, record: int, tag: int, value: float, step: int, wall_time: float, tensor: bool) -> None:
        """Adds one point."""
        self._single_rows.append((record, tag, value, step, wall_time, tensor))

    def declare(self, record: np.ndarray, tag: int, plugin: str) -> None:
        """Notes that these records name ``plugin`` as ``tag``'s plugin."""
        count = len(record)
        columns = (record, np.full(count, tag), np.full(count, plugin, object))
        for name, column in zip(DECLARED_COLUMNS, columns, strict=True):
            self._declared[name].append(column)

    def declare_one(self, record: int, tag: int, plugin: str) -> None:
        """Notes that ``record`` names ``plugin`` as ``tag``'s plugin."""
        self._single_declared.append((record, tag, plugin))

    def arrays(self) -> dict[str, np.ndarray]:
        """Every column of `ROW_COLUMNS` and `DECLARED_COLUMNS`, each one array."""
        for parts, singles in ((self._rows, self._single_rows), (self._declared, self._single_declared)):
            for column, values in zip(parts.values(), zip(*singles, strict=True), strict=False):
                column.append(np.array(values, object if isinstance(values[0], str) else None))
            singles.clear()
        return {
            name: np.concatenate(parts[name]).astype(dtype) if parts[name] else np.zeros(0, dtype)
            for parts, columns in ((self._rows, ROW_COLUMNS), (self._declared, DECLARED_COLUMNS))
            for name, dtype in columns.items()
        }
