"""A stand-in for ``tf.summary`` that writes TensorBoard event files with the ``tensorboard`` package alone.

Keras's TensorBoard callback writes through ``tf.summary`` (``create_file_writer``,
``scalar``, ``record_if``, a writer's ``as_default``); this module offers those
calls, for scalars, so the callback runs on JAX or PyTorch with no TensorFlow
installed (or without importing it where it is) and its event files read back as
TensorFlow's do.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

SCALARS_PLUGIN = "scalars"
# Tells apart the files one process opens within a second, as TensorFlow's writer does.
_file_numbers = itertools.count()


def tensorflow_writes_summaries() -> bool:
    """Whether TensorFlow writes this worker's event files: on the TensorFlow backend only.

    On JAX or PyTorch, TensorFlow may be absent; and where it is installed, importing it
    for the logs alone costs each worker seconds and hundreds of MB.
    """
    import keras

    return keras.backend.backend() == "tensorflow"


class EventWriter:
    """One run's event file, the counterpart of ``tf.summary.create_file_writer``.

    Args:
        logdir: The run's folder, created if missing.
        summary: The :class:`EventSummary` whose default writer this becomes in ``as_default``.
    """

    def __init__(self, logdir: str, summary: EventSummary) -> None:
        # Not tensorboard's EventFileWriter: it imports TensorFlow wherever it is installed,
        # seconds and hundreds of MB in a JAX worker. Named as TensorFlow's TF2 writer names them.
        os.makedirs(logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}"
        path = os.path.join(logdir, f"{name}.{next(_file_numbers)}.v2")
        self._file = RecordWriter(open(path, "wb"))  # noqa: SIM115  (closed by close())
        self._summary = summary
        self._add(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    @contextmanager
    def as_default(self, step: int | None = None) -> Iterator[EventWriter]:
        """Makes this the writer :meth:`EventSummary.scalar` writes to, for the ``with`` block."""
        self._summary.writers.append(self)
        try:
            yield self
        finally:
            self._summary.writers.remove(self)
            # Keras writes each epoch's scalars in one such block. Handed to the OS at its end, they
            # outlive a worker killed mid-trial, whose retry reads the epochs it resumes after from here.
            self.flush()

    def write(self, summary: summary_pb2.Summary, step: int) -> None:
        """Appends ``summary`` as an event at ``step``."""
        self._add(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def _add(self, event: event_pb2.Event) -> None:
        self._file.write(event.SerializeToString())

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class EventSummary:
    """The part of ``tf.summary`` Keras's TensorBoard callback uses for scalars; the rest writes nothing."""

    def __init__(self) -> None:
        self.writers: list[EventWriter] = []
        self._conditions: list[Callable[[], bool]] = []

    def create_file_writer(self, logdir: str) -> EventWriter:
        return EventWriter(logdir, self)

    @contextmanager
    def record_if(self, condition: Callable[[], bool] | bool) -> Iterator[None]:
        """Writes only while ``condition`` holds, as ``tf.summary.record_if``."""
        self._conditions.append(condition if callable(condition) else lambda: bool(condition))
        try:
            yield
        finally:
            self._conditions.pop()

    def scalar(self, name: str, data: Any, step: Any = None, description: str | None = None) -> bool:
        """Writes a scalar to the default writer, as ``tf.summary.scalar`` does; ``False`` without one."""
        if not self.writers or step is None or not all(condition() for condition in self._conditions):
            return False
        self.writers[-1].write(scalar_summary(name, float(np.asarray(data))), int(np.asarray(step)))
        return True

    def _nothing(self, *args: Any, **kwargs: Any) -> bool:
        return False

    # What needs TensorFlow (graphs, histograms, images, traces) writes nothing; the
    # TensorBoard spec says so once when the trial's callbacks are built.
    histogram = image = graph = write = trace_on = trace_export = _nothing


def scalar_summary(tag: str, value: float) -> summary_pb2.Summary:
    """A scalar as TensorFlow 2 writes it: a float32 tensor tagged for the scalars plugin.

    Args:
        tag: The scalar's tag, e.g. ``"epoch_loss"``.
        value: The number.

    Returns:
        The summary.
    """
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=SCALARS_PLUGIN)
    )
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(),
        tensor_content=np.float32(value).tobytes(),
    )
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)])
