"""Small, defensive helpers shared by the static shape-inference modules.

Layer configs come from files we do not control (Keras 3 ``.keras`` archives,
Keras 2 / tf-keras ``.h5`` files, hand-edited JSON), so every helper here
validates its input and raises :class:`ShapeError` on anything unexpected.
The public entry point (:func:`inspector.shapes.infer_output_shapes`) turns
that exception into ``None``; handlers can therefore be written for the happy
path and simply let garbage raise.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

Dim = int | None
Shape = tuple[Dim, ...]
# A handler receives (class_name, config, input_shapes, call_kwargs) and
# returns one shape or a list of shapes.  ``call_kwargs`` is always a dict.
Handler = Callable[[str, dict, list, dict], "Shape | list[Shape]"]


class ShapeError(ValueError):
    """Raised by handlers when a config or an input shape cannot be used."""


def is_int(value: Any) -> bool:
    """True for real integers; ``bool`` is excluded because JSON ``true``
    must never be mistaken for a dimension of size 1."""
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(value: Any, minimum: int | None = None) -> int:
    """Validate an integer config field (optionally with a lower bound)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not is_int(value):
        raise ShapeError(f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ShapeError(f"expected an integer >= {minimum}, got {value}")
    return value


def as_shape(value: Any) -> Shape:
    """Normalise a JSON-ish shape (list/tuple of ints or None) to a tuple."""
    if not isinstance(value, (list, tuple)):
        raise ShapeError(f"not a shape: {value!r}")
    out: list[Dim] = []
    for dim in value:
        if dim is None:
            out.append(None)
        else:
            dim = as_int(dim)
            if dim < 0:
                raise ShapeError(f"negative dimension in {value!r}")
            out.append(dim)
    return tuple(out)


def as_tuple(value: Any, n: int, minimum: int | None = 1) -> tuple[int, ...]:
    """Keras' ``standardize_tuple``: an int is repeated ``n`` times, a
    sequence must have ``n`` integer entries (length 1 is broadcast, which
    old Keras 2 configs such as ``pool_size: [2]`` for 2D occasionally rely
    on)."""
    if is_int(value) or (isinstance(value, float) and value.is_integer()):
        return (as_int(value, minimum),) * n
    if isinstance(value, (list, tuple)):
        vals = tuple(as_int(v, minimum) for v in value)
        if len(vals) == n:
            return vals
        if len(vals) == 1:
            return vals * n
    raise ShapeError(f"expected int or {n}-tuple, got {value!r}")


def pairs(value: Any, n: int) -> tuple[tuple[int, int], ...]:
    """Normalise ZeroPadding/Cropping style arguments to ``n`` (lo, hi) pairs.

    Accepted forms (the ones Keras accepts): ``p`` -> every side ``p``;
    ``(a, b, ...)`` of length ``n`` -> symmetric per axis; ``((a, b), ...)``
    -> explicit.  For the 1D layers ``(lo, hi)`` is the single pair.
    """
    if is_int(value):
        v = as_int(value, 0)
        return ((v, v),) * n
    if not isinstance(value, (list, tuple)):
        raise ShapeError(f"bad padding/cropping {value!r}")
    if n == 1 and len(value) == 2 and all(is_int(v) for v in value):
        return ((as_int(value[0], 0), as_int(value[1], 0)),)
    if len(value) == 1 and n == 1:
        return pairs(value[0], 1)
    if len(value) != n:
        raise ShapeError(f"bad padding/cropping {value!r}")
    out = []
    for item in value:
        if is_int(item):
            out.append((as_int(item, 0), as_int(item, 0)))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((as_int(item[0], 0), as_int(item[1], 0)))
        else:
            raise ShapeError(f"bad padding/cropping {value!r}")
    return tuple(out)


def data_format(config: dict) -> str:
    """``data_format`` with Keras 2's ``null`` meaning channels_last (the
    Keras default image_data_format; the resolved value is what Keras 3 and
    tf-keras write, older Keras 2 files store ``null``)."""
    fmt = config.get("data_format")
    if fmt is None:
        return "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ShapeError(f"unknown data_format {fmt!r}")
    return fmt


def first(shapes: list) -> Shape:
    """The first (main) input shape; required by nearly every layer."""
    if not shapes or shapes[0] is None:
        raise ShapeError("missing input shape")
    return shapes[0]


def need_rank(shape: Shape, *ranks: int) -> Shape:
    if len(shape) not in ranks:
        raise ShapeError(f"rank {len(shape)} not in {ranks}")
    return shape


def mul(a: Dim, b: Dim) -> Dim:
    """Product of two dims where unknown (None) is contagious."""
    return None if a is None or b is None else a * b


def prod(dims: Iterable[Dim]) -> Dim:
    """Product of dims; None if any dim is unknown."""
    dims = list(dims)
    if any(d is None for d in dims):
        return None
    return math.prod(dims)  # type: ignore[arg-type]


def canonical_axis(axis: Any, rank: int) -> int:
    """Resolve a possibly negative axis against ``rank``."""
    axis = as_int(axis)
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} out of range for rank {rank}")
    return axis % rank


def unwrap_layer(entry: Any) -> tuple[str, dict]:
    """Return ``(class_name, config)`` of a nested serialized layer, as used
    by wrappers (``Bidirectional.layer``, ``TimeDistributed.layer``, RNN
    ``cell``).  Both Keras 3 (``module``/``class_name``/``config``) and
    Keras 2 (``class_name``/``config``) forms carry these two keys."""
    if not isinstance(entry, dict):
        raise ShapeError("nested layer is not a dict")
    cls = entry.get("class_name")
    cfg = entry.get("config")
    if not isinstance(cls, str) or not isinstance(cfg, dict):
        raise ShapeError("nested layer lacks class_name/config")
    return cls, cfg


def merge_broadcast(shape1: Shape, shape2: Shape) -> Shape:
    """Keras merge-layer broadcasting (``Merge._compute_elemwise_op_output_
    shape``): right-aligned, unknown stays unknown, 1 broadcasts."""
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    if not shape2:
        return shape1
    out: list[Dim] = list(shape1[: -len(shape2)])
    for i, j in zip(shape1[-len(shape2):], shape2):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ShapeError(f"cannot broadcast {shape1} and {shape2}")
    return tuple(out)


def numpy_broadcast(shape1: Shape, shape2: Shape) -> Shape:
    """``keras.ops`` broadcasting (``operation_utils.broadcast_shapes``):
    unlike merge layers, an unknown dim paired with a known non-1 dim takes
    the known value."""
    n = max(len(shape1), len(shape2))
    s1 = (1,) * (n - len(shape1)) + tuple(shape1)
    s2 = (1,) * (n - len(shape2)) + tuple(shape2)
    out: list[Dim] = []
    for a, b in zip(s1, s2):
        if a == 1:
            out.append(b)
        elif a is None:
            out.append(None if b == 1 else b)
        elif b == 1 or b is None or a == b:
            out.append(a)
        else:
            raise ShapeError(f"cannot broadcast {shape1} and {shape2}")
    return tuple(out)


def reshape_dims(input_dims: Shape, target: Any) -> Shape:
    """``operation_utils.compute_reshape_output_shape``: resolve a single -1
    in ``target`` against ``input_dims`` when everything is known; when the
    input has unknown dims, -1 becomes None."""
    if is_int(target):
        target = [target]
    if not isinstance(target, (list, tuple)):
        raise ShapeError("bad reshape target")
    tgt: list[Dim] = []
    for d in target:
        if d is None:
            tgt.append(None)
            continue
        d = as_int(d, -1)
        tgt.append(d)
    if tgt.count(-1) > 1:
        raise ShapeError("more than one -1 in reshape target")
    if None in input_dims or None in tgt:
        return tuple(None if d == -1 else d for d in tgt)
    size = math.prod(input_dims)  # type: ignore[arg-type]
    if -1 not in tgt:
        if math.prod(tgt) != size:  # type: ignore[arg-type]
            raise ShapeError("reshape changes the number of elements")
        return tuple(tgt)
    known = math.prod(d for d in tgt if d != -1)  # type: ignore[misc]
    if known == 0 or size % known:
        raise ShapeError("reshape target does not divide the input size")
    return tuple(size // known if d == -1 else d for d in tgt)
