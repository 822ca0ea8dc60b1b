"""Byte templates: decoding the scalar events of one tag by slicing, once protobuf has proven where the value is.

The scalar events of one tag differ only in ``wall_time``, ``step`` and the
value bytes. The *tail* of a record is its data after ``wall_time`` and
``step`` (`sweeper.logs._framing.Records` decodes those two in bulk). When
protobuf has parsed a record whose tail is one summary holding one
fixed-width scalar, `template_shape` finds the offset of the value bytes in
the tail and proves it by re-parsing the tail with probe values written there.
Every record whose tail equals it outside those bytes then has the same
structure, so its value is read at that offset without protobuf.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2, types_pb2

from sweeper.logs._values import TENSOR_DTYPES, tensor_scalar

_DT = types_pb2
# Fixed-width encodings decoded in place (bool excluded: only bytes 0 and 1 are valid).
_TEMPLATE_DTYPES = {dtype: np.dtype(np_dtype) for dtype, (np_dtype, _) in TENSOR_DTYPES.items()}
_TEMPLATE_DTYPES[_DT.DT_HALF] = np.dtype("<f2")
del _TEMPLATE_DTYPES[_DT.DT_BFLOAT16], _TEMPLATE_DTYPES[_DT.DT_BOOL]
_SUMMARY_TAG = 0x2A  # Event field 5 (summary), length-delimited


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """The tail of a one-scalar event, value bytes zeroed, and what its records yield."""

    key: np.ndarray  # uint8; bytes [value_at, value_at + dtype.itemsize) are the value
    value_at: int
    dtype: np.dtype
    tag: int  # tag id
    keep: bool  # passes the ``tags`` filter
    plugin: str  # plugin name the record carries itself; "" if none
    tensor: bool  # a tensor is a scalar only under the scalars plugin; simple_value always is


def template_shape(
    tail: bytes, event: event_pb2.Event, value: event_pb2.Summary.Value
) -> tuple[np.ndarray, int, np.dtype] | None:
    """The key, value offset and value dtype of a template for records shaped like this one.

    Args:
        tail: The record's data after ``wall_time`` and ``step``.
        event: The record, parsed.
        value: Its summary's only value.

    Returns:
        ``(key, value_at, dtype)`` for `Template`, or None if the tail holds
        more than the summary, the value is no fixed-width scalar, or its
        offset cannot be proven.
    """
    length, body = _varint(tail, 1)
    if tail[:1] != bytes([_SUMMARY_TAG]) or body + length != len(tail):
        return None  # the tail must be exactly the summary field: no other Event fields
    encoding = _value_encoding(value)
    if encoding is None:
        return None
    raw, dtype = encoding
    value_at = _prove_value_offset(tail, event, raw, dtype)
    if value_at is None:
        return None
    key = np.frombuffer(tail, np.uint8).copy()
    key[value_at : value_at + len(raw)] = 0
    return key, value_at, dtype


def matches(rows: np.ndarray, template: Template) -> np.ndarray:
    """Which rows (tails of the template's length, one per row) equal the template outside its value bytes."""
    key, value_at = template.key, template.value_at
    after = value_at + template.dtype.itemsize
    before_ok = (rows[:, :value_at] == key[:value_at]).all(axis=1)
    return before_ok & (rows[:, after:] == key[after:]).all(axis=1)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint at ``pos``; (-1, len(buf)) if malformed."""
    result = shift = 0
    for at in range(pos, min(pos + 10, len(buf))):
        result |= (buf[at] & 0x7F) << shift
        if buf[at] < 0x80:
            return result, at + 1
        shift += 7
    return -1, len(buf)


def _value_encoding(value: event_pb2.Summary.Value) -> tuple[bytes, np.dtype] | None:
    """(stored bytes, dtype) of a fixed-width scalar value, else None."""
    if value.WhichOneof("value") == "simple_value":
        return struct.pack("<f", value.simple_value), np.dtype("<f4")
    tensor = value.tensor
    dtype = _TEMPLATE_DTYPES.get(tensor.dtype)
    if value.WhichOneof("value") != "tensor" or dtype is None or tensor_scalar(tensor) is None:
        return None
    if tensor.tensor_content:
        return (tensor.tensor_content, dtype) if len(tensor.tensor_content) == dtype.itemsize else None
    if tensor.dtype == _DT.DT_FLOAT and len(tensor.float_val) == 1:
        return struct.pack("<f", tensor.float_val[0]), dtype
    if tensor.dtype == _DT.DT_DOUBLE and len(tensor.double_val) == 1:
        return struct.pack("<d", tensor.double_val[0]), dtype
    return None  # varint-encoded values have no fixed width


def _prove_value_offset(tail: bytes, event: event_pb2.Event, raw: bytes, dtype: np.dtype) -> int | None:
    """Offset in ``tail`` of the value bytes ``raw``, proven by re-parsing with probe values.

    An offset is accepted only if writing two other values there changes the
    decoded value and nothing else. Then any record equal to this one outside
    those bytes has the same structure, so its value sits at the same offset.
    """
    probes = [probe for probe in (np.array([n], dtype).tobytes() for n in (1, 2, 3)) if probe != raw][:2]
    at = tail.find(raw)
    while at >= 0:
        if all(_probe_matches(tail, event, at, probe, dtype) for probe in probes):
            return at
        at = tail.find(raw, at + 1)
    return None


def _probe_matches(tail: bytes, event: event_pb2.Event, at: int, probe: bytes, dtype: np.dtype) -> bool:
    """Whether ``tail`` with ``probe`` written at ``at`` parses as ``event``'s summary holding the probe's value."""
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
