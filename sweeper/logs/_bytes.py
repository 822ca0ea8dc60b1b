"""Numpy helpers over one batch's bytes: gathering fixed-width slices at many offsets, grouping rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

# Bytes gathered per numpy pass when comparing or checksumming records: bounds the copies' memory.
GATHER_BYTES = 16 << 20


def windows(u8: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Copies of ``u8[start:start + width]`` for each start, zero-filled where a start is negative.

    Args:
        u8: The bytes, as a uint8 array.
        starts: Offsets into ``u8``; a negative one reads ``-start`` zeros, then the first bytes.
        width: Bytes per window.

    Returns:
        A ``(len(starts), width)`` uint8 array.
    """
    if width == 0 or not len(starts):
        return np.zeros((len(starts), width), np.uint8)
    inside = starts >= 0
    if inside.all():
        return np.lib.stride_tricks.sliding_window_view(u8, width)[starts]
    rows = np.zeros((len(starts), width), np.uint8)
    if inside.any():
        rows[inside] = np.lib.stride_tricks.sliding_window_view(u8, width)[starts[inside]]
    for row, start in zip(np.flatnonzero(~inside).tolist(), starts[~inside].tolist(), strict=True):
        rows[row, -start:] = u8[: width + start]
    return rows


def gather(u8: np.ndarray, starts: np.ndarray, dtype: str) -> np.ndarray:
    """The little-endian numbers of ``dtype`` stored at ``starts``."""
    return windows(u8, starts, np.dtype(dtype).itemsize).view(dtype).ravel()


def groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    """Row indices of each distinct key, for keys that are small integers (lengths, -1 for none).

    Counts or hashes rather than sorts: np.unique is several times slower here.
    """
    if not len(keys):
        return {}
    small = keys.min() >= -1 and keys.max() < 1 << 16
    unique = np.flatnonzero(np.bincount(keys + 1)) - 1 if small else pd.unique(keys)
    if len(unique) <= 16:
        return {int(key): np.flatnonzero(keys == key) for key in unique}
    indices = pd.Series(np.arange(len(keys))).groupby(keys, sort=False).indices
    return {int(key): rows for key, rows in indices.items()}


def chunks(rows: np.ndarray, width: int) -> Iterator[np.ndarray]:
    """Slices of ``rows`` small enough to gather ``width`` bytes for each at once."""
    step = max(1, GATHER_BYTES // max(width, 1))
    return (rows[i : i + step] for i in range(0, len(rows), step))
