"""The number a TensorBoard ``Summary.Value`` holds, if it holds exactly one."""

from __future__ import annotations

import numpy as np
from tensorboard.compat.proto import event_pb2, tensor_pb2, types_pb2

SCALARS_PLUGIN = "scalars"

_DT = types_pb2
# TensorProto dtype -> (numpy dtype of the stored value, the repeated field listing values).
TENSOR_DTYPES: dict[int, tuple[str, str]] = {
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


def scalar_value(value: event_pb2.Summary.Value) -> float | None:
    """The number of a ``simple_value`` or of a one-element numeric tensor, else None.

    Whether such a tensor is a scalar is up to its tag's plugin, which the caller decides.

    Args:
        value: One value of an event's summary.

    Returns:
        The number as a float, or None for histograms, images, strings, multi-element tensors, ...
    """
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return value.simple_value
    if kind == "tensor":
        return tensor_scalar(value.tensor)
    return None


def tensor_scalar(tensor: tensor_pb2.TensorProto) -> float | None:
    """The single number of a one-element numeric ``TensorProto``, else None.

    Args:
        tensor: The tensor, of any rank whose dimensions all have size 1.

    Returns:
        Its one number as a float, or None if it has another shape, no numeric dtype, or
        ``tensor_content`` of the wrong size.
    """
    spec = TENSOR_DTYPES.get(tensor.dtype)
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
        values = (values.astype(np.uint32) << 16).view("<f4")  # the high half of a float32
    return float(values[0])
