"""Small, defensive helpers shared by the static shape-inference modules.

Layer configs come from files we do not control (Keras 3 ``.keras`` archives,
Keras 2 / tf-keras ``.h5`` files, hand-edited JSON), so every helper here
validates its input and raises :class:`ShapeError` on anything unexpected.
The public entry point (:func:`inspector.layers.shapes.infer_output_shapes`) turns
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


def reduce_shape(shape: Shape, axis: Any, keepdims: bool) -> Shape:
    """``operation_utils.reduce_shape`` (also TF's ``reduce_*``): ``axis``
    None reduces every axis; an int or a list of ints reduces those."""
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    axes = {canonical_axis(a, len(shape))
            for a in ([axis] if is_int(axis) else list(axis))}
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def is_tensor_ref(value: Any) -> bool:
    """A serialized Keras 3 tensor (``__keras_tensor__``) among call args."""
    return isinstance(value, dict) and \
        value.get("class_name") == "__keras_tensor__"


def const_shape(value: Any) -> Shape:
    """Shape of a constant saved among call args: a Python scalar is ``()``,
    a (nested, rectangular) list its NumPy shape, Keras 3's ``__numpy__`` /
    ``__tensor__`` dict the shape of its ``value``.  Strings and anything else raise."""
    if isinstance(value, dict) and value.get("class_name") in ("__numpy__", "__tensor__"):
        value = (value.get("config") or {}).get("value")   # a NumPy array or a backend tensor, saved
    if isinstance(value, (bool, int, float)):
        return ()
    if not isinstance(value, (list, tuple)):
        raise ShapeError(f"not a numeric constant: {value!r:.40}")
    if not value:
        return (0,)
    inner = {const_shape(v) for v in value}
    if len(inner) != 1:
        raise ShapeError("ragged constant")
    return (len(value), *inner.pop())


def pad_pairs(width: Any) -> list[tuple[int, int]]:
    """``Pad._process_pad_width``: ``p``, ``(lo, hi)`` (for every axis) or
    one ``(lo, hi)`` / ``(p,)`` per axis."""
    if is_int(width):
        return [(as_int(width, 0),) * 2]
    if isinstance(width, (list, tuple)) and width and is_int(width[0]):
        return [(as_int(width[0], 0), as_int(width[1], 0))]
    pairs = []
    for pw in width:
        if len(pw) not in (1, 2):
            raise ShapeError("pad widths must be pairs")
        pairs.append((as_int(pw[0], 0), as_int(pw[-1], 0)))
    return pairs


def _key_item(item: Any) -> Any:
    """One saved index: an int, ``None`` (newaxis), ``slice`` (Keras 3's
    ``__slice__`` dict or tf-keras' ``{start, stop, step}``) or ``...``."""
    if item is None or is_int(item):
        return item
    if isinstance(item, dict):
        name = item.get("class_name")
        if name == "__ellipsis__":
            return Ellipsis
        cfg = item.get("config") if name == "__slice__" else item
        if isinstance(cfg, dict) and set(cfg) <= {"start", "stop", "step"}:
            parts = [cfg.get(k) for k in ("start", "stop", "step")]
            if all(p is None or is_int(p) for p in parts) and parts[2] != 0:
                return slice(*parts)
    raise ShapeError(f"unsupported index {item!r:.60}")


def get_item(shape: Shape, key: Any) -> Shape:
    """``GetItem.compute_output_spec`` (TF's strided slice agrees): ints
    drop an axis, slices keep it (size from Python's slice arithmetic when
    known), ``None`` inserts a 1, one ``...`` stands for the axes left."""
    items = [_key_item(k)
             for k in (key if isinstance(key, (list, tuple)) else [key])]
    if items.count(Ellipsis) > 1:
        raise ShapeError("more than one ellipsis")
    if Ellipsis not in items:
        items.append(Ellipsis)
    remaining, out = list(shape), []
    for pos, item in enumerate(items):
        if item is Ellipsis:
            needed = sum(1 for k in items[pos + 1:] if k is not None)
            take = len(remaining) - needed
            if take < 0:
                raise ShapeError("too many indices")
            out += remaining[:take]
            remaining = remaining[take:]
        elif item is None:
            out.append(1)
        else:
            if not remaining:
                raise ShapeError("too many indices")
            size = remaining.pop(0)
            if isinstance(item, slice):
                out.append(None if size is None
                           else len(range(*item.indices(size))))
            elif size is not None and not -size <= item < size:
                raise ShapeError("index out of range")
    return tuple(out)


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------

# Keras 3's type-promotion lattice (``keras/src/backend/common/dtypes.py``,
# JAX's): each dtype's direct supertypes; "int"/"float" are the weak types
# of Python scalars.
_LATTICE = {
    "bool": ("int",), "int": ("uint8", "int8"), "uint8": ("int16", "uint16"),
    "uint16": ("int32", "uint32"), "uint32": ("int64", "uint64"),
    "uint64": ("float",), "int8": ("int16",), "int16": ("int32",),
    "int32": ("int64",), "int64": ("float",), "float": ("float16",
                                                        "bfloat16"),
    "float16": ("float32",), "bfloat16": ("float32",),
    "float32": ("float64",), "float64": (),
}


def _upper(dtype: str) -> set[str]:
    seen, todo = set(), [dtype]
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(_LATTICE[d])
    return seen


def is_floating(dtype: Any) -> bool:
    return isinstance(dtype, str) and "float" in dtype


def result_type(*dtypes: Any) -> str | None:
    """``keras.backend.result_type`` for dtype names and the weak Python
    types "int"/"float" (a Python int/float constant): the least upper
    bound in the lattice, weak results resolved to int32 / float32.  None
    when a dtype is unknown or outside the lattice (strings, complex)."""
    if not dtypes or any(d not in _LATTICE for d in dtypes):
        return None
    common = set.intersection(*(_upper(d) for d in dtypes))
    least = [d for d in common if common <= _upper(d)]
    if len(least) != 1:
        return None
    return {"int": "int32", "float": "float32"}.get(least[0], least[0])


def const_dtype(value: Any) -> str | None:
    """Weak dtype of a Python constant among call args (None otherwise)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return None
