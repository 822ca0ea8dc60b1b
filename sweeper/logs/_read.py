"""`read_tensorboard`: every scalar point of a TensorBoard log directory, as one long DataFrame, without TensorFlow.

Importing TensorFlow costs seconds, and TensorBoard's own readers keep only a
sample of each tag unless told otherwise. So this package parses the TFRecord
framing itself and decodes ``Event`` protos with the ``tensorboard`` package's
generated protobuf classes, which never import TensorFlow; `_fast` does it in
bulk with numpy, and `_reference` states the same result plainly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from sweeper.logs._fast import BulkReader
from sweeper.logs._files import check_root, file_size, find_runs
from sweeper.logs._frame import build_frame

# Files are read and checked in batches of about this many bytes: large enough
# for numpy to amortise its per-call cost, small enough to bound memory.
_BATCH_BYTES = 64 << 20


def read_tensorboard(root: str | os.PathLike[str], *, tags: Iterable[str] | None = None) -> pd.DataFrame:
    """Reads every scalar point of every TensorBoard run under ``root``.

    A run is a directory holding ``*tfevents*`` files; its files are read in name
    order, so a resumed run's points follow the earlier ones. Both scalar
    encodings are read: Keras 3 / TF2 tensor summaries under the ``scalars``
    plugin, and classic ``simple_value`` summaries. Histograms, images, graphs,
    text and hparams data are skipped. Every point is kept, in file order: no
    sampling, sorting or de-duplication of steps.

    Integrity: every record's length header is CRC32C-checked (vectorised with
    numpy, so no CRC package is needed), and so is the
    payload of every record that yields rows or declares a kept tag's plugin.
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
    root = check_root(root)
    if isinstance(tags, str):
        tags = [tags]
    runs = find_runs(root)
    reader = BulkReader(frozenset(tags) if tags is not None else None)
    files = [(run, path) for run, (_, paths) in enumerate(runs) for path in paths]
    columns = reader.read(_batches(files))
    run_names = np.array([name for name, _ in runs], dtype=object)
    tag_names = np.array(reader.tag_names, dtype=object)
    return build_frame(
        run_names[columns["run"]], tag_names[columns["tag"]], columns["step"], columns["value"], columns["wall_time"]
    )


def _batches(files: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Groups ``(run index, path)`` pairs, in order, into batches of about `_BATCH_BYTES`."""
    batch: list[tuple[int, str]] = []
    size = 0
    for item in files:
        batch.append(item)
        size += file_size(item[1])
        if size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
