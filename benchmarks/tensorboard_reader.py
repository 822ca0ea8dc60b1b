"""Benchmark `read_tensorboard` against tbparse, TensorBoard's EventAccumulator and the reference reader.

Writes RUNS x EPOCHS of Keras-3-style logs without running Keras (the scalar
and file-version records are byte-for-byte what Keras 3's TensorBoard callback
writes; the model-config record is a stand-in of similar size), then reads them
with each method and prints a table.

    python benchmarks/tensorboard_reader.py [--runs 1000] [--epochs 100] [--dir DIR] [--repeat 1]
        [--reference-runs 0]

Per run: ``train/`` holds the file_version event, the ``keras`` model-config
graph event and epoch_accuracy / epoch_loss / epoch_learning_rate per epoch;
``validation/`` holds evaluation_accuracy_vs_iterations /
evaluation_loss_vs_iterations / epoch_accuracy / epoch_loss per epoch. So 7
scalar rows per epoch and run.

TensorFlow is imported before any timing: tbparse imports it at import time
and EventAccumulator then uses TF's C++ record reader (its fastest path), so
neither pays the import in its figure. Each method is timed in wall-clock and
CPU seconds (the CPU figure is steadier on a busy machine); with ``--repeat``
the best of the repeats is shown.

The reference reader (`sweeper.logs._reference`: a pure-Python CRC32C and one
protobuf parse per record) takes about 30 s at the default size. With
``--reference-runs N`` it is timed on the first N runs only (the same bytes,
written to a directory of their own), its row shows those times scaled
linearly to all runs, and its values are compared with read_tensorboard's on
that subset.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, types_pb2

from sweeper.logs import read_tensorboard
from sweeper.logs._crc32c import crc32c_ranges, mask
from sweeper.logs._reference import read_tensorboard_reference

TRAIN_TAGS = ("epoch_accuracy", "epoch_loss", "epoch_learning_rate")
VALIDATION_TAGS = (
    "evaluation_accuracy_vs_iterations",
    "evaluation_loss_vs_iterations",
    "epoch_accuracy",
    "epoch_loss",
)
STEPS_PER_EPOCH = 45
# About as long as the JSON Keras 3 writes for a small Sequential model (write_graph=True).
MODEL_CONFIG = json.dumps({"module": "keras", "class_name": "Sequential", "config": {"layers": [{"units": 16}] * 180}})


def main() -> None:
    args = _parse_args()
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="tb-bench-"))
    try:
        _run(root, args.runs, args.epochs, args.repeat, args.reference_runs)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="number of trials. Defaults to 1000.")
    parser.add_argument("--epochs", type=int, default=100, help="epochs per trial. Defaults to 100.")
    parser.add_argument("--dir", help="where to write the logs (kept). Defaults to a temporary directory.")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="timings per method; the best is shown. Defaults to 1.",
    )
    parser.add_argument(
        "--reference-runs",
        type=int,
        default=0,
        help="time the reference reader on this many runs only (0: all). Defaults to 0.",
    )
    return parser.parse_args()


def _run(root: Path, runs: int, epochs: int, repeat: int, reference_runs: int) -> None:
    rows_per_run = epochs * (len(TRAIN_TAGS) + len(VALIDATION_TAGS))
    started = time.perf_counter()
    size = _write_logs(root, runs, epochs)
    print(
        f"wrote {runs} runs x {epochs} epochs ({size / 1e6:.1f} MB) to {root} in {time.perf_counter() - started:.1f} s"
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow  # noqa: F401  (see module docstring)

    results = [
        ("read_tensorboard", *_timed(lambda: _our_values(root), repeat)),
        ("tbparse", *_timed(lambda: _tbparse_values(root), repeat)),
        ("EventAccumulator", *_timed(lambda: _event_accumulator_values(root), repeat)),
    ]
    subset = min(reference_runs or runs, runs)
    if subset == runs:
        reference = (*_timed(lambda: _values(read_tensorboard_reference(root)), repeat), results[0][3])
    else:
        reference = _time_reference_on_subset(root, subset, epochs, repeat)
    _print_table(results, reference, runs, subset, rows_per_run)


def _time_reference_on_subset(
    root: Path, subset: int, epochs: int, repeat: int
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The reference reader's best (wall, CPU) and values on the first ``subset`` runs, and read_tensorboard's there."""
    subset_root = root.with_name(root.name + "-reference")
    try:
        _write_logs(subset_root, subset, epochs)  # the same bytes as those runs under ``root``
        wall, cpu, values = _timed(lambda: _values(read_tensorboard_reference(subset_root)), repeat)
        return wall, cpu, values, np.sort(_our_values(subset_root))
    finally:
        shutil.rmtree(subset_root, ignore_errors=True)


def _timed(read, repeat: int) -> tuple[float, float, np.ndarray]:
    """Best (wall seconds, CPU seconds) over ``repeat`` calls, and the values read."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        values = read()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), np.sort(values)


def _print_table(
    results: list[tuple[str, float, float, np.ndarray]],
    reference: tuple[float, float, np.ndarray, np.ndarray],
    runs: int,
    subset: int,
    rows_per_run: int,
) -> None:
    """One line per method; "same values" compares the sorted values with read_tensorboard's."""
    expected = runs * rows_per_run
    _, wall0, cpu0, values0 = results[0]
    print(f"\n{'method':<18}{'wall s':>9}{'cpu s':>9}{'rows':>10}{'x wall':>8}{'x cpu':>8}", end="")
    print("  rows ok  same values")

    def line(method: str, wall: float, cpu: float, values: np.ndarray, expected: int, same: bool) -> None:
        print(
            f"{method:<18}{wall:>9.2f}{cpu:>9.2f}{len(values):>10}"
            f"{wall / wall0:>8.1f}{cpu / cpu0:>8.1f}  {len(values) == expected!s:<7}  {same}"
        )

    for method, wall, cpu, values in results:
        line(method, wall, cpu, values, expected, _same(values, values0))
    wall, cpu, values, ours = reference
    scale = runs / subset  # the reference's times, scaled to all runs
    method = "reference" if subset == runs else "reference *"
    line(method, wall * scale, cpu * scale, values, subset * rows_per_run, _same(values, ours))
    print(f"(expected rows: {expected})")
    if subset < runs:
        print(
            f"* timed on {subset} of {runs} runs ({wall:.2f} s wall, {cpu:.2f} s cpu), times above x{scale:.3g};"
            f" rows and values compared with read_tensorboard's on those {subset} runs"
        )
    if any(len(values) != expected for *_, values in results) or len(reference[2]) != subset * rows_per_run:
        sys.exit("row count mismatch")
    if not _same(reference[2], reference[3]):
        sys.exit("the reference reader disagrees with read_tensorboard")


def _same(values: np.ndarray, expected: np.ndarray) -> bool:
    return len(values) == len(expected) and bool((values == expected).all())


# --------------------------------------------------------------------------- readers


def _our_values(root: Path) -> np.ndarray:
    return _values(read_tensorboard(root))


def _values(frame) -> np.ndarray:
    return frame["value"].to_numpy()


def _tbparse_values(root: Path) -> np.ndarray:
    from tbparse import SummaryReader

    frame = SummaryReader(str(root), pivot=False, extra_columns={"dir_name"}).tensors
    # tbparse also returns the model-config string tensor.
    return frame.loc[frame["tag"] != "keras", "value"].to_numpy(np.float64)


def _event_accumulator_values(root: Path) -> np.ndarray:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    values = []
    for run_dir in sorted({path.parent for path in root.rglob("*tfevents*")}):
        accumulator = EventAccumulator(str(run_dir), size_guidance={"tensors": 0, "scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["tensors"]:
            if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "scalars":
                values += [make_ndarray(event.tensor_proto).item() for event in accumulator.Tensors(tag)]
        for tag in accumulator.Tags()["scalars"]:
            values += [event.value for event in accumulator.Scalars(tag)]
    return np.array(values, np.float64)


# --------------------------------------------------------------------------- writer


def _write_logs(root: Path, runs: int, epochs: int) -> int:
    rng = np.random.default_rng(0)
    size = 0
    for run in range(runs):
        wall_time = 1.7e9 + run * 600.0
        train, validation = _run_events(rng, epochs, wall_time)
        trial = root / f"trial_{run:04d}"
        size += _write_records(trial / "train" / f"events.out.tfevents.{int(wall_time)}.bench.{run}.0.v2", train)
        size += _write_records(
            trial / "validation" / f"events.out.tfevents.{int(wall_time) + 1}.bench.{run}.1.v2",
            validation,
        )
    return size


def _run_events(rng: np.random.Generator, epochs: int, wall_time: float) -> tuple[list[bytes], list[bytes]]:
    """Serialized events of one trial's train and validation files."""
    version = event_pb2.Event(wall_time=float(int(wall_time)), file_version="brain.Event:2")
    version.source_metadata.writer = "tensorflow.core.util.events_writer"
    train = [version.SerializeToString(), _graph_event(wall_time)]
    validation = [version.SerializeToString()]
    values = rng.random((epochs, len(TRAIN_TAGS) + len(VALIDATION_TAGS)), dtype=np.float32)
    for epoch in range(epochs):
        now = wall_time + epoch
        train += [_scalar_event(tag, epoch, values[epoch, i], now) for i, tag in enumerate(TRAIN_TAGS)]
        iterations = (epoch + 1) * STEPS_PER_EPOCH
        for i, tag in enumerate(VALIDATION_TAGS, len(TRAIN_TAGS)):
            step = iterations if tag.startswith("evaluation_") else epoch
            validation.append(_scalar_event(tag, step, values[epoch, i], now + 0.5))
    return train, validation


def _scalar_event(tag: str, step: int, value: np.float32, wall_time: float) -> bytes:
    """A scalar exactly as Keras 3 writes it: a DT_FLOAT rank-0 tensor under the scalars plugin."""
    event = event_pb2.Event(wall_time=wall_time, step=step)
    summary_value = event.summary.value.add(tag=tag)
    summary_value.tensor.dtype = types_pb2.DT_FLOAT
    summary_value.tensor.tensor_shape.SetInParent()
    summary_value.tensor.tensor_content = struct.pack("<f", value)
    summary_value.metadata.plugin_data.plugin_name = "scalars"
    return event.SerializeToString()


def _graph_event(wall_time: float) -> bytes:
    event = event_pb2.Event(wall_time=wall_time)
    summary_value = event.summary.value.add(tag="keras")
    summary_value.tensor.dtype = types_pb2.DT_STRING
    summary_value.tensor.tensor_shape.SetInParent()
    summary_value.tensor.string_val.append(MODEL_CONFIG.encode())
    summary_value.metadata.plugin_data.plugin_name = "graph_keras_model"
    summary_value.metadata.plugin_data.content = b"1"
    return event.SerializeToString()


def _write_records(path: Path, records: list[bytes]) -> int:
    """Writes TFRecord framing: length, masked CRC of length, data, masked CRC of data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = [struct.pack("<Q", len(record)) for record in records]
    length_crcs = _masked_crcs(lengths)
    data_crcs = _masked_crcs(records)
    with open(path, "wb") as file:
        for length, length_crc, record, data_crc in zip(lengths, length_crcs, records, data_crcs, strict=True):
            file.write(length + struct.pack("<I", length_crc) + record + struct.pack("<I", data_crc))
    return os.path.getsize(path)


def _masked_crcs(chunks: list[bytes]) -> list[int]:
    """Masked CRC32C of each chunk, with the reader's vectorised CRC.

    Not circular: tbparse and EventAccumulator read these files through TF's
    own record reader, which verifies every CRC.
    """
    u8 = np.frombuffer(b"".join(chunks), np.uint8)
    lengths = np.array([len(chunk) for chunk in chunks], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return mask(crc32c_ranges(u8, starts, lengths)).tolist()


if __name__ == "__main__":
    main()
