"""read_tensorboard on real Keras 3 logs, synthetic logs and damaged files.

The oracle is the plain reference reader (sweeper.logs._reference): wherever a
test reads logs, `_read_checked` also asserts that read_tensorboard's frame and
warnings equal the reference reader's. tbparse and explicit expected values
check the reference itself.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tensorboard.compat.proto import event_pb2, types_pb2

# Pure-Python CRC32C from tensorboard's TF stub: an independent reference for the writer below.
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c, masked_crc32c

from sweeper._errors import CorruptEventFileWarning
from sweeper.logs import COLUMNS, _crc32c, _read, read_tensorboard
from sweeper.logs._reference import read_tensorboard_reference

EPOCHS = 5
DTYPES = {"run": "str", "tag": "str", "step": "int64", "value": "float64", "wall_time": "float64"}


def _read_checked(root: Path | str, **kwargs) -> tuple[pd.DataFrame, list[warnings.WarningMessage]]:
    """read_tensorboard's frame and warnings, once they are asserted equal to the reference reader's."""
    frame, caught = _recording(read_tensorboard, root, **kwargs)
    reference, reference_caught = _recording(read_tensorboard_reference, root, **kwargs)
    pd.testing.assert_frame_equal(frame, reference)
    assert _described(caught) == _described(reference_caught)
    return frame, caught


def _recording(read, root, **kwargs) -> tuple[pd.DataFrame, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read(root, **kwargs)
    return frame, caught


def _described(caught: list[warnings.WarningMessage]) -> list[tuple[str, str]]:
    # Sorted: the bulk reader warns about unreadable files of a batch before it decodes any.
    return sorted((warning.category.__name__, str(warning.message)) for warning in caught)


def _corrupt_warning(caught: list[warnings.WarningMessage]) -> str:
    """The message of the one warning in ``caught``, a CorruptEventFileWarning."""
    assert [warning.category for warning in caught] == [CorruptEventFileWarning]
    return str(caught[0].message)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def keras_logs(tmp_path_factory) -> tuple[Path, dict[str, list[float]]]:
    """A real 5-epoch Keras fit on sklearn's digits, logged by keras.callbacks.TensorBoard."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    root = tmp_path_factory.mktemp("keras")
    history = model.fit(
        (x / 16).astype("float32"),
        y,
        epochs=EPOCHS,
        batch_size=64,
        validation_split=0.2,
        verbose=0,
        callbacks=[keras.callbacks.TensorBoard(log_dir=str(root / "trial_0"))],
    )
    return root, history.history


@pytest.fixture(scope="module")
def keras_frame(keras_logs) -> pd.DataFrame:
    frame, caught = _read_checked(keras_logs[0])
    assert not caught
    return frame


def _train_file(root: Path) -> Path:
    (path,) = (root / "trial_0" / "train").glob("events.out.tfevents.*")
    return path


# ------------------------------------------------------------------------------ writing


def _record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


def _write(path: Path, events: list[event_pb2.Event]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(_record(event.SerializeToString()) for event in events))


def _version_event() -> event_pb2.Event:
    return event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")


def _simple(tag: str, step: int, value: float, wall_time: float = 1.7e9) -> event_pb2.Event:
    event = event_pb2.Event(wall_time=wall_time, step=step)
    event.summary.value.add(tag=tag, simple_value=value)
    return event


def _tensor(
    tag: str,
    step: int,
    value: float,
    *,
    dtype: int = types_pb2.DT_FLOAT,
    plugin: str | None = "scalars",
) -> event_pb2.Event:
    """A tensor summary; its value goes in tensor_content (float32), else in double_val."""
    event = event_pb2.Event(wall_time=1.7e9 + step, step=step)
    summary_value = event.summary.value.add(tag=tag)
    summary_value.tensor.dtype = dtype
    summary_value.tensor.tensor_shape.SetInParent()
    if dtype == types_pb2.DT_FLOAT:
        summary_value.tensor.tensor_content = struct.pack("<f", value)
    else:
        summary_value.tensor.double_val.append(value)
    if plugin is not None:
        summary_value.metadata.plugin_data.plugin_name = plugin
    return event


def _histogram(tag: str, step: int) -> event_pb2.Event:
    event = event_pb2.Event(wall_time=1.7e9, step=step)
    histo = event.summary.value.add(tag=tag).histo
    histo.min, histo.max, histo.num = 0.0, 1.0, 3
    histo.bucket_limit.extend([0.5, 1.0])
    histo.bucket.extend([1, 2])
    return event


def _frame_bytes(path: Path) -> list[tuple[int, int]]:
    """(start, end) of each record of an event file, framing included."""
    data, spans, pos = path.read_bytes(), [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        spans.append((pos, pos + 16 + length))
        pos += 16 + length
    return spans


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------------------ real Keras logs


def test_keras_logs_give_every_epoch_of_history(keras_logs, keras_frame):
    _, history = keras_logs
    for run, tag, key in [
        ("trial_0/train", "epoch_loss", "loss"),
        ("trial_0/train", "epoch_accuracy", "accuracy"),
        ("trial_0/validation", "epoch_loss", "val_loss"),
        ("trial_0/validation", "epoch_accuracy", "val_accuracy"),
    ]:
        points = keras_frame[(keras_frame["run"] == run) & (keras_frame["tag"] == tag)]
        assert points["step"].tolist() == list(range(EPOCHS)), (run, tag)
        # Keras logs float32 tensors: equal to the history once it is rounded the same way.
        np.testing.assert_array_equal(points["value"].to_numpy(), np.float32(history[key]).astype(np.float64))


def test_keras_frame_has_the_documented_columns(keras_frame):
    assert tuple(keras_frame.columns) == COLUMNS
    assert {column: str(dtype) for column, dtype in keras_frame.dtypes.items()} == DTYPES
    assert set(keras_frame["run"]) == {"trial_0/train", "trial_0/validation"}
    assert "keras" not in set(keras_frame["tag"])  # the model-config "graph" is not a scalar
    learning_rate = keras_frame[keras_frame["tag"] == "epoch_learning_rate"]
    assert len(learning_rate) == EPOCHS and (learning_rate["value"] > 0).all()
    assert (keras_frame["wall_time"] > 1e9).all()


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside tbparse, with pandas 3
def test_keras_logs_match_tbparse(keras_logs, keras_frame):
    from tbparse import SummaryReader

    reference = SummaryReader(str(keras_logs[0]), pivot=False, extra_columns={"dir_name", "wall_time"}).tensors
    reference = reference[reference["tag"] != "keras"].rename(columns={"dir_name": "run"})
    key = ["run", "tag", "step"]
    ours = keras_frame.sort_values(key, ignore_index=True)
    theirs = reference.sort_values(key, ignore_index=True)
    assert len(ours) == len(theirs) > 0
    assert ours["run"].tolist() == theirs["run"].tolist()
    assert ours["tag"].tolist() == theirs["tag"].tolist()
    assert ours["step"].tolist() == theirs["step"].tolist()
    np.testing.assert_array_equal(ours["value"].to_numpy(), theirs["value"].astype(np.float64).to_numpy())
    np.testing.assert_array_equal(ours["wall_time"].to_numpy(), theirs["wall_time"].to_numpy())


@pytest.mark.parametrize("reader", ["read_tensorboard", "read_tensorboard_reference"])
def test_the_readers_do_not_import_tensorflow(keras_logs, reader):
    code = (
        "import sys; from sweeper.logs._reference import read_tensorboard_reference; "
        "from sweeper.logs import read_tensorboard; "
        f"assert len({reader}({str(keras_logs[0])!r})) > 0; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tags_filter(keras_logs):
    frame, _ = _read_checked(keras_logs[0], tags=["epoch_loss"])
    assert set(frame["tag"]) == {"epoch_loss"} and len(frame) == 2 * EPOCHS
    assert set(_read_checked(keras_logs[0], tags="epoch_loss")[0]["tag"]) == {"epoch_loss"}


def test_small_batches_give_the_same_frame(keras_logs, keras_frame, monkeypatch):
    monkeypatch.setattr(_read, "_BATCH_BYTES", 1)  # one file per batch
    pd.testing.assert_frame_equal(_read_checked(keras_logs[0])[0], keras_frame)


# ------------------------------------------------------------------------------ synthetic logs


def test_every_point_of_both_scalar_encodings_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    steps = 1000
    simple = rng.standard_normal(steps).astype(np.float32)
    tensor = rng.standard_normal(steps).astype(np.float32)
    double = rng.standard_normal(steps)
    events = [_version_event()]
    for step in range(steps):
        events += [
            _simple("loss", step, float(simple[step])),
            _tensor("accuracy", step, float(tensor[step])),
            _tensor("lr", step, float(double[step]), dtype=types_pb2.DT_DOUBLE),
        ]
    _write(tmp_path / "run" / "events.out.tfevents.1.host", events)

    frame, _ = _read_checked(tmp_path)

    assert len(frame) == 3 * steps
    for tag, expected in [("loss", simple), ("accuracy", tensor), ("lr", double)]:
        points = frame[frame["tag"] == tag]
        assert points["step"].tolist() == list(range(steps))
        np.testing.assert_array_equal(points["value"].to_numpy(), expected.astype(np.float64))
    assert (frame["run"] == "run").all()


@pytest.mark.parametrize(
    "dtype, proto_dtype, values",
    [
        ("<f2", types_pb2.DT_HALF, [0.5, -2.0, 3.0, 96.0, 7.0]),
        ("<f8", types_pb2.DT_DOUBLE, [0.1, -2.0, 1e300, 96.0, 7.0]),
        ("<i4", types_pb2.DT_INT32, [0, -2, 3, 2**31 - 1, -7]),
        ("<i8", types_pb2.DT_INT64, [0, -2, 3, 2**40, -7]),
        ("<u1", types_pb2.DT_UINT8, [0, 2, 3, 96, 255]),
        (None, types_pb2.DT_BFLOAT16, [0.5, -2.0, 3.0, 96.0, 7.0]),
    ],
)
def test_tensor_dtypes(tmp_path, dtype, proto_dtype, values):
    events = []
    for step, number in enumerate(values):
        event = _tensor("x", step, 0.0)
        tensor = event.summary.value[0].tensor
        tensor.dtype = proto_dtype
        if dtype is None:  # bfloat16: bit patterns in half_val, as TensorFlow writes them
            tensor.ClearField("tensor_content")
            tensor.half_val.append(int(np.array([number], "<f4").view("<u4")[0] >> 16))
        else:
            tensor.tensor_content = np.array([number], dtype).tobytes()
        events.append(event)
    _write(tmp_path / "events.out.tfevents.1.host", events)

    assert _read_checked(tmp_path)[0]["value"].tolist() == values


def test_plugin_metadata_on_the_first_event_only_is_enough(tmp_path):
    events = [_tensor("acc", 0, 0.5)] + [_tensor("acc", step, step / 10, plugin=None) for step in range(1, 20)]
    _write(tmp_path / "events.out.tfevents.1.host", events)

    frame, _ = _read_checked(tmp_path)

    assert frame["step"].tolist() == list(range(20))
    np.testing.assert_array_equal(frame["value"].to_numpy()[1:], np.float32(np.arange(1, 20) / 10))


@pytest.mark.parametrize("batch_bytes", [1, 64 << 20])
def test_a_plugin_declared_in_a_later_file_applies_to_the_whole_run(tmp_path, monkeypatch, batch_bytes):
    monkeypatch.setattr(_read, "_BATCH_BYTES", batch_bytes)
    _write(tmp_path / "run" / "events.out.tfevents.1.host", [_tensor("acc", 0, 0.5, plugin=None)])
    _write(tmp_path / "run" / "events.out.tfevents.2.host", [_tensor("acc", 1, 0.25)])
    _write(tmp_path / "other" / "events.out.tfevents.1.host", [_tensor("acc", 0, 0.5, plugin=None)])

    frame, _ = _read_checked(tmp_path)

    assert frame[["run", "step", "value"]].values.tolist() == [["run", 0, 0.5], ["run", 1, 0.25]]


def test_non_scalar_summaries_are_skipped(tmp_path):
    events = [_version_event(), _simple("kept", 0, 1.0), _histogram("weights", 0)]
    events += [_tensor("hparams_like", step, 1.0, plugin="hparams") for step in range(3)]
    events += [_tensor("no_plugin", step, 1.0, plugin=None) for step in range(3)]
    merged = _simple("merged_a", 7, 2.0)  # TF1 merged summary: several values in one event
    merged.summary.value.add(tag="merged_b", simple_value=3.0)
    merged.summary.value.add(tag="weights", histo=_histogram("weights", 7).summary.value[0].histo)
    _write(tmp_path / "events.out.tfevents.1.host", events + [merged])

    frame, _ = _read_checked(tmp_path)

    assert frame[["tag", "step", "value"]].values.tolist() == [
        ["kept", 0, 1.0],
        ["merged_a", 7, 2.0],
        ["merged_b", 7, 3.0],
    ]


def test_runs_are_named_by_relative_path_and_files_read_in_name_order(tmp_path):
    _write(tmp_path / "events.out.tfevents.1.host", [_simple("top", 0, 1.0)])
    _write(tmp_path / "a" / "b" / "events.out.tfevents.2.host", [_simple("x", step, step) for step in range(3, 5)])
    _write(tmp_path / "a" / "b" / "events.out.tfevents.1.host", [_simple("x", step, step) for step in range(3)])
    (tmp_path / "a" / "notes.txt").write_text("not an event file")

    frame, _ = _read_checked(str(tmp_path))

    assert frame["run"].tolist() == ["."] + ["a/b"] * 5
    assert frame["step"].tolist() == [0, 0, 1, 2, 3, 4]


@pytest.mark.parametrize("read", [read_tensorboard, read_tensorboard_reference])
def test_missing_root_raises(tmp_path, read):
    with pytest.raises(FileNotFoundError, match="not found"):
        read(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        read(tmp_path / "file")


def test_root_without_points_gives_an_empty_typed_frame(tmp_path):
    (tmp_path / "no_files").mkdir()
    (tmp_path / "just_created").mkdir()
    (tmp_path / "just_created" / "events.out.tfevents.1.host").write_bytes(b"")
    frame, _ = _read_checked(tmp_path)
    assert frame.empty and tuple(frame.columns) == COLUMNS
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == DTYPES


def _random_events(rng: np.random.Generator, file: int) -> list[event_pb2.Event]:
    """A shuffled mix of every kind of record the readers meet, some tags declaring their plugin once."""
    events = [_version_event()]
    for index in range(int(rng.integers(5, 40))):
        step = int(rng.choice([index, -index, index << 40])) + file * 1000
        value = float(np.float32(rng.standard_normal()))
        kind = int(rng.integers(8))
        if kind == 0:
            events.append(_simple(f"simple_{index % 3}", step, value, wall_time=float(rng.random() * 2e9)))
        elif kind == 1:
            events.append(_tensor("tensor_every", step, value))
        elif kind == 2:
            events.append(_tensor("tensor_once", step, value, plugin=None if index > 2 else "scalars"))
        elif kind == 3:
            events.append(_tensor("double", step, value, dtype=types_pb2.DT_DOUBLE))
        elif kind == 4:
            events.append(_tensor("hparams_like", step, value, plugin="hparams"))
        elif kind == 5:
            events.append(_histogram("weights", step))
        elif kind == 6:  # the first plugin declared in the run decides
            events.append(_tensor("contested", step, value, plugin=str(rng.choice(["scalars", "hparams"]))))
        else:
            merged = _simple("merged_a", step, value)
            merged.summary.value.add(tag="merged_b", simple_value=-value)
            events.append(merged)
    return events


@pytest.mark.parametrize("seed", range(24))
def test_random_logs_match_the_reference(tmp_path, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    damage = ["none", "flip", "truncate"][seed % 3]
    paths = []
    for run in range(int(rng.integers(1, 4))):
        for file in range(int(rng.integers(1, 3))):
            paths.append(tmp_path / f"run_{run}" / f"events.out.tfevents.{file}.host")
            _write(paths[-1], _random_events(rng, file))
    damaged = paths[int(rng.integers(len(paths)))]
    size = damaged.stat().st_size
    if damage == "flip":
        _flip(damaged, int(rng.integers(size)))
    elif damage == "truncate":
        with open(damaged, "r+b") as file:
            file.truncate(int(rng.integers(size)))
    if seed % 2:
        monkeypatch.setattr(_read, "_BATCH_BYTES", 1)
    tags = None if seed % 4 < 2 else ["simple_0", "tensor_once", "contested", "merged_b"]

    frame, caught = _read_checked(tmp_path, tags=tags)

    if damage == "none" and tags is None:
        assert len(frame) > 0
    if damage != "flip":
        assert not caught
    if tags is not None:
        assert set(frame["tag"]) <= set(tags)


# ------------------------------------------------------------------------------ CRC32C


def test_crc32c_of_the_check_string():
    assert _crc32c.crc32c(b"123456789") == 0xE3069283
    assert _crc32c.crc32c(b"") == 0
    u8 = np.frombuffer(b"..123456789", np.uint8)
    assert _crc32c.crc32c_ranges(u8, np.array([2, 0]), np.array([9, 0])).tolist() == [0xE3069283, 0]


def test_scalar_crc32c_matches_tensorboards():
    rng = np.random.default_rng(3)
    for length in [1, 7, 8, 100, 1000]:
        data = rng.bytes(length)
        assert _crc32c.crc32c(data) == crc32c(data)
        assert _crc32c.masked_crc32c(data) == masked_crc32c(data)


def test_vectorised_crc32c_matches_the_scalar_one():
    rng = np.random.default_rng(2)
    chunks = [rng.bytes(length) for length in [*range(300), 1000, 4097, 70_000, *rng.integers(0, 3000, 50)]]
    buffer = b"xyz" + b"".join(chunks)
    lengths = np.array([len(chunk) for chunk in chunks])
    starts = 3 + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    crcs = _crc32c.crc32c_ranges(np.frombuffer(buffer, np.uint8), starts, lengths)
    assert crcs.tolist() == [_crc32c.crc32c(chunk) for chunk in chunks]
    assert _crc32c.mask(crcs).tolist() == [_crc32c.masked_crc32c(chunk) for chunk in chunks]


def test_vectorised_crc32c_of_overlapping_ranges():
    data = np.random.default_rng(4).bytes(5000)
    starts = np.array([0, 1, 2, 3, 100, 4990, 0])
    lengths = np.array([5000, 10, 300, 4000, 33, 10, 1])
    crcs = _crc32c.crc32c_ranges(np.frombuffer(data, np.uint8), starts, lengths)
    assert crcs.tolist() == [crc32c(data[s : s + n]) for s, n in zip(starts, lengths, strict=True)]


# ------------------------------------------------------------------------------ damaged files


def _copy_train_file(keras_logs, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    source = _train_file(keras_logs[0])
    target = tmp_path / "run" / source.name
    target.parent.mkdir()
    shutil.copy(source, target)
    return target, _read_checked(tmp_path)[0]


@pytest.mark.parametrize("cut", ["one byte", "mid data", "header only", "mid header"])
def test_a_truncated_last_record_is_dropped_silently(keras_logs, tmp_path, cut):
    path, full = _copy_train_file(keras_logs, tmp_path)
    spans = _frame_bytes(path)
    start, end = spans[-1]
    size = {
        "one byte": end - 1,
        "mid data": (start + 12 + end) // 2,
        "header only": start + 12,
        "mid header": start + 5,
    }[cut]
    with open(path, "r+b") as file:
        file.truncate(size)

    frame, caught = _read_checked(tmp_path)

    assert not caught
    pd.testing.assert_frame_equal(frame, full.iloc[:-1])


@pytest.mark.parametrize("where", ["data", "length", "data crc"])
def test_a_corrupt_record_ends_its_file_with_a_warning(keras_logs, tmp_path, where):
    path, full = _copy_train_file(keras_logs, tmp_path)
    spans = _frame_bytes(path)
    # Records: file version, model-config graph, then one scalar per record.
    corrupt = 2 + len(full) // 2
    start, end = spans[corrupt]
    _flip(path, {"data": (start + 12 + end - 4) // 2, "length": start + 1, "data crc": end - 2}[where])

    frame, caught = _read_checked(tmp_path)

    assert path.name in _corrupt_warning(caught)
    pd.testing.assert_frame_equal(frame, full.iloc[: corrupt - 2])


@pytest.mark.parametrize("where", ["data", "length"])
def test_the_warning_gives_the_offset_in_the_file_even_within_a_batch(tmp_path, where):
    events = [_simple("x", step, step) for step in range(10)]
    _write(tmp_path / "a" / "events.out.tfevents.1.host", events)
    path = tmp_path / "b" / "events.out.tfevents.1.host"
    _write(path, events)
    start, end = _frame_bytes(path)[4]
    _flip(path, end - 6 if where == "data" else start)

    frame, caught = _read_checked(tmp_path)

    kind = "record" if where == "data" else "record header"
    assert f"corrupt {kind} at byte {start} of {path}; keeping the 4 record(s)" in _corrupt_warning(caught)
    assert frame["run"].tolist() == ["a"] * 10 + ["b"] * 4


def test_a_corrupt_record_of_a_filtered_out_tag_is_ignored(tmp_path):
    events = [_tensor(tag, step, step) for step in range(5) for tag in ("kept", "dropped")]
    path = tmp_path / "events.out.tfevents.1.host"
    _write(path, events)
    start, _ = _frame_bytes(path)[5]  # dropped, step 2
    _flip(path, path.read_bytes().index(struct.pack("<f", 2.0), start))  # a value byte: the template still matches

    frame, caught = _read_checked(tmp_path, tags=["kept"])
    assert not caught and frame["step"].tolist() == list(range(5))

    frame, caught = _read_checked(tmp_path)
    assert path.name in _corrupt_warning(caught)
    assert frame["tag"].tolist() == ["kept", "dropped"] * 2 + ["kept"]
