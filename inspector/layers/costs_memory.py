"""Activation memory of one call: bytes of its outputs for one sample.

Kept apart from the MAC rules: it depends only on output shapes and dtypes, never on the class.
"""
from __future__ import annotations

import math
import re
from typing import Any

from inspector.layers.common import Shape, as_shape

_DTYPE_BYTES = {
    "float16": 2, "half": 2, "bfloat16": 2, "float32": 4, "float": 4,
    "float64": 8, "double": 8, "int8": 1, "uint8": 1, "bool": 1,
    "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8,
    "uint64": 8, "complex64": 8, "complex128": 16,
    "float8_e4m3fn": 1, "float8_e5m2": 1,
}


def dtype_size(dtype: Any) -> int | None:
    """Bytes per element of a Keras/TF dtype name.  Mixed-precision policy
    names map to their *compute* dtype (activations are stored in it);
    a serialized ``DTypePolicy`` dict is accepted too."""
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if not isinstance(dtype, str):
        return None
    name = dtype.strip().lower()
    name = re.sub(r"^(tf\.|np\.|torch\.)|^<dtype: '|'>$", "", name)
    if name.startswith("mixed_"):
        name = name[len("mixed_"):]
    return _DTYPE_BYTES.get(name)


def activation_bytes(output_shapes: list[Shape | None],
                     dtypes: list[str | None]) -> int | None:
    """Bytes held by the layer's outputs for one sample (batch axis = 1).

    ``dtypes`` pairs with ``output_shapes``; a single dtype is applied to
    every output.  ``None`` if any shape dimension (other than batch) or
    dtype is unknown, so totals are never silently under-counted.
    """
    try:
        if not output_shapes:
            return None
        dtypes = list(dtypes or [])
        if len(dtypes) == 1:
            dtypes = dtypes * len(output_shapes)
        if len(dtypes) != len(output_shapes):
            return None
        total = 0
        for shape, dtype in zip(output_shapes, dtypes):
            size = dtype_size(dtype)
            if shape is None or size is None:
                return None
            shape = as_shape(shape)
            dims = shape[1:]
            if any(d is None for d in dims):
                return None
            total += math.prod(dims) * size  # type: ignore[arg-type]
        return total
    except Exception:
        return None
