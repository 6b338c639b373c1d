"""Static output shapes of the ``keras.ops`` operations Keras 3 saves as
graph nodes (module ``keras.src.ops.*``), after the ``compute_output_spec``
methods in ``keras/src/ops/numpy.py``, ``nn.py``, ``math.py`` and
``core.py``.  Op shapes include the batch axis like any other tensor: ops do
not special-case it.  tf-keras' TF-op layers reuse these rules
(:data:`inspector.layers.seq.TF_FUNCTIONS`); output dtypes are in :mod:`.shapes_dtypes`.

Where an op gets its arguments: its constructor arguments (``axis``,
``newshape`` ...) are the entry's ``config``; its tensors are the input
shapes, in call order; non-tensor call keyword arguments are ``call_kwargs``;
non-tensor *positional* call arguments (``x[key]``'s key, ``take``'s
indices, the ``1.0`` of ``add(x, 1.0)``) are read from
``call_kwargs["__args__"]``, the node's saved ``args`` list, when the reader
provides it -- without it, rules that need them answer "unknown" and binary
ops assume the constant is a scalar.
"""

from __future__ import annotations

from typing import Any

from inspector.layers.common import (
    Handler,
    Shape,
    ShapeError,
    as_int,
    canonical_axis,
    const_shape,
    first,
    get_item,
    is_int,
    is_tensor_ref,
    numpy_broadcast,
    pad_pairs,
    prod,
    reduce_shape,
    reshape_dims,
)

ARGS_KEY = "__args__"

OP_UNARY = frozenset({
    "Absolute", "Abs", "Negative", "Square", "Sqrt", "Rsqrt", "Exp", "Log",
    "Relu", "Relu6", "Sigmoid", "HardSigmoid", "Tanh", "Silu", "Swish",
    "Gelu", "Elu", "Selu", "Softplus", "Softsign", "LeakyRelu", "Softmax",
    "LogSoftmax", "Erf", "Cast", "Sin", "Cos", "Reciprocal", "Sign",
    "StopGradient", "Floor", "Ceil", "Round", "Trunc", "Log1p", "Expm1",
    "Log2", "Log10", "Tan", "Arctan", "LogicalNot", "Isnan", "Isinf",
    "Isfinite", "Clip", "Flip", "ZerosLike", "OnesLike", "Normalize",
    "LogSigmoid", "HardSilu", "HardTanh", "Celu", "Copy", "NanToNum",
})
OP_BINARY = frozenset({
    "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Power",
    "Maximum", "Minimum", "FloorDivide", "Mod", "Equal", "NotEqual",
    "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd",
    "LogicalOr", "LogicalXor",
})
OP_REDUCE = frozenset({
    "Mean", "Sum", "Max", "Min", "Prod", "Var", "Std", "Any", "All",
    "Logsumexp", "Amax", "Amin", "Norm", "Argmax", "Argmin",
})


def call_args(kw: dict) -> list | None:
    """The node's saved positional args, if the reader passed them."""
    args = kw.get(ARGS_KEY)
    return list(args) if isinstance(args, (list, tuple)) else None


def operands(shapes: list, kw: dict) -> list[Shape]:
    """Shapes of every positional operand: tensors from ``shapes``,
    constants from ``__args__``; without ``__args__`` only the tensors
    (constants are then taken to be scalars, which broadcast away)."""
    if any(s is None for s in shapes):
        raise ShapeError("unknown operand shape")
    args = call_args(kw)
    if args is None:
        return list(shapes)
    out, tensors = [], iter(shapes)
    for arg in args:
        out.append(next(tensors) if is_tensor_ref(arg) else const_shape(arg))
    if next(tensors, None) is not None:
        raise ShapeError("tensor inputs do not match the saved args")
    return out


def op_unary(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Element-wise ops and ops that keep their input's shape (``clip``,
    ``flip``, ``zeros_like`` ...)."""
    return first(shapes)


def op_binary(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Broadcasting binary op (``broadcast_shapes``), also ``where(cond,
    x1, x2)`` whose three operands broadcast together.  A Python/NumPy
    constant operand is sized from ``__args__``; without it a lone tensor
    operand means the constant was a scalar (the usual ``x * 0.5``)."""
    ops = operands(shapes, kw)
    if not ops:
        raise ShapeError("no operand shapes")
    out = ops[0]
    for s in ops[1:]:
        out = numpy_broadcast(out, s)
    return out


def op_reduce(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Reductions, ``argmax``/``argmin``, ``norm`` and ``average`` (whose
    weights do not change the shape): ``reduce_shape`` over ``axis`` (None
    = all axes) with ``keepdims``."""
    return reduce_shape(first(shapes), config.get("axis"),
                        bool(config.get("keepdims", False)))


def op_reshape(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """A traced ``ops.reshape`` whose target held one dynamic size (saved as None) reshapes a
    known input: that size is the one -1 would give."""
    shape, target = first(shapes), config.get("newshape")
    if isinstance(target, (list, tuple)) and shape is not None and None not in shape \
            and sum(d is None for d in target) == 1 and -1 not in target:
        target = [-1 if d is None else d for d in target]
    return reshape_dims(shape, target)


def op_transpose(class_name: str, config: dict, shapes: list,
                 kw: dict) -> Shape:
    shape = first(shapes)
    axes = config.get("axes")
    if axes is None:
        return tuple(reversed(shape))
    axes = [canonical_axis(a, len(shape)) for a in axes]
    if sorted(axes) != list(range(len(shape))):
        raise ShapeError("transpose axes are not a permutation")
    return tuple(shape[a] for a in axes)


def op_concatenate(class_name: str, config: dict, shapes: list,
                   kw: dict) -> Shape:
    if not shapes or any(s is None for s in shapes):
        raise ShapeError("unknown operand shape")
    out = list(shapes[0])
    axis = canonical_axis(config.get("axis", 0), len(out))
    total: int | None = 0
    for s in shapes:
        if len(s) != len(out):
            raise ShapeError("concatenate rank mismatch")
        total = None if total is None or s[axis] is None else total + s[axis]
    out[axis] = total
    return tuple(out)


def op_stack(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """``stack``: a new axis of size ``len(x)``; the other axes are the first
    tensor's (Keras checks the others agree, unknown sizes allowed)."""
    if not shapes or any(s is None for s in shapes):
        raise ShapeError("unknown operand shape")
    out = list(shapes[0])
    for s in shapes[1:]:
        if len(s) != len(out) or any(a is not None and b is not None and a != b
                                     for a, b in zip(s, out)):
            raise ShapeError("stack of different shapes")
    out.insert(canonical_axis(config.get("axis", 0), len(out) + 1),
               len(shapes))
    return tuple(out)


def op_matmul(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """``operation_utils.compute_matmul_output_shape`` (NumPy semantics)."""
    if len(shapes) != 2 or shapes[0] is None or shapes[1] is None:
        raise ShapeError("matmul needs two operand shapes")
    a, b = shapes
    if not a or not b:
        raise ShapeError("matmul of a scalar")
    a_1d, b_1d = len(a) == 1, len(b) == 1
    if a_1d:
        a = (1, a[0])
    if b_1d:
        b = (b[0], 1)
    if a[-1] is not None and b[-2] is not None and a[-1] != b[-2]:
        raise ShapeError("matmul inner dimensions differ")
    out = list(numpy_broadcast(a[:-2], b[:-2])) + [a[-2], b[-1]]
    if a_1d:
        del out[-2]
    if b_1d:
        del out[-1]
    return tuple(out)


def op_expand_dims(class_name: str, config: dict, shapes: list,
                   kw: dict) -> Shape:
    shape = first(shapes)
    axis: Any = config.get("axis")
    axes = [axis] if is_int(axis) else list(axis)
    rank = len(shape) + len(axes)
    axes = [canonical_axis(a, rank) for a in axes]
    it = iter(shape)
    return tuple(1 if i in axes else next(it) for i in range(rank))


def op_squeeze(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = list(first(shapes))
    axis = config.get("axis")
    if axis is None:
        return tuple(d for d in shape if d != 1)
    axes = [axis] if is_int(axis) else list(axis)
    axes = sorted({canonical_axis(a, len(shape)) for a in axes}, reverse=True)
    for a in axes:
        if shape[a] not in (1, None):
            raise ShapeError("cannot squeeze a non-1 axis")
        del shape[a]
    return tuple(shape)


def op_flatten_or_keep(class_name: str, config: dict, shapes: list,
                       kw: dict) -> Shape:
    """``cumsum``/``cumprod`` (default axis None), ``sort``/``argsort``
    (default -1): ``axis=None`` works on the flattened tensor, otherwise the
    shape is kept."""
    shape = first(shapes)
    axis = config.get("axis", None if class_name.startswith("Cum") else -1)
    if axis is None:
        return (prod(shape),)
    canonical_axis(axis, len(shape))
    return shape


def op_split(class_name: str, config: dict, shapes: list,
             kw: dict) -> list[Shape]:
    """``_compute_split_output_spec``: N equal sections (the axis must
    divide) or the pieces between the given indices."""
    shape = list(first(shapes))
    axis = canonical_axis(config.get("axis", 0), len(shape))
    size, sections = shape[axis], config.get("indices_or_sections")
    if is_int(sections):
        n = as_int(sections, 1)
        if size is not None and size % n:
            raise ShapeError("split sections do not divide the axis")
        shape[axis] = None if size is None else size // n
        return [tuple(shape)] * n
    bounds = [0, *(as_int(i) for i in sections), size]
    out = []
    for start, end in zip(bounds, bounds[1:]):
        shape[axis] = None if start is None or end is None else end - start
        out.append(tuple(shape))
    return out


def op_tile(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """``tile``: the shorter of shape / ``repeats`` is padded with 1s."""
    shape = list(first(shapes))
    reps = config.get("repeats")
    reps = [as_int(reps, 0)] if is_int(reps) else [as_int(r, 0) for r in reps]
    n = max(len(shape), len(reps))
    shape = [1] * (n - len(shape)) + shape
    reps = [1] * (n - len(reps)) + reps
    return tuple(None if d is None else d * r for d, r in zip(shape, reps))


def op_repeat(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """``repeat``: ``axis=None`` flattens first; a list of repeats (one per
    element along the axis) sums up."""
    shape = list(first(shapes))
    reps = config.get("repeats")
    reps = [as_int(reps, 0)] if is_int(reps) else [as_int(r, 0) for r in reps]
    axis = config.get("axis")
    if axis is None:
        size = prod(shape)
        if size is None:
            return (None,)
        if len(reps) not in (1, size):
            raise ShapeError("repeats do not match the flattened size")
        return (size * reps[0] if len(reps) == 1 else sum(reps),)
    axis = canonical_axis(axis, len(shape))
    if shape[axis] is None:
        return tuple(shape)
    if len(reps) == 1:
        shape[axis] *= reps[0]
    elif len(reps) == shape[axis]:
        shape[axis] = sum(reps)
    else:
        raise ShapeError("repeats do not match the axis size")
    return tuple(shape)


def op_pad(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = first(shapes)
    pairs = pad_pairs(config.get("pad_width"))
    if len(pairs) == 1:
        pairs = pairs * len(shape)
    if len(pairs) != len(shape):
        raise ShapeError("pad_width does not match the rank")
    return tuple(None if d is None else d + lo + hi
                 for d, (lo, hi) in zip(shape, pairs))


def op_take(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """``take(x, indices, axis)``: the indices' shape replaces the axis
    (``axis=None``: the indices' shape).  Indices are a tensor (second
    input) or a constant in ``__args__``."""
    shape = first(shapes)
    if len(shapes) > 1 and shapes[1] is not None:
        indices = shapes[1]
    else:
        args = call_args(kw)
        if args is None or len(args) < 2:
            raise ShapeError("take indices not available")
        indices = const_shape(args[1])
    axis = config.get("axis")
    if axis is None:
        return indices
    axis = canonical_axis(axis, len(shape))
    return (*shape[:axis], *indices, *shape[axis + 1:])


def op_one_hot(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """``one_hot``: ``num_classes`` appended (axis -1) or inserted at
    ``0 <= axis < rank``, as ``OneHot.compute_output_spec`` allows."""
    shape = list(first(shapes))
    n = as_int(config.get("num_classes"), 1)
    axis = as_int(config.get("axis", -1))
    if axis == -1:
        shape.append(n)
    elif 0 <= axis < len(shape):
        shape.insert(axis, n)
    else:
        raise ShapeError("one_hot axis out of range")
    return tuple(shape)


def op_top_k(class_name: str, config: dict, shapes: list,
             kw: dict) -> list[Shape]:
    """``top_k``: (values, indices), the last axis cut to ``k``."""
    shape = first(shapes)
    if not shape:
        raise ShapeError("top_k of a scalar")
    out = (*shape[:-1], as_int(config.get("k", 1), 1))
    return [out, out]


def op_moveaxis(class_name: str, config: dict, shapes: list,
                kw: dict) -> Shape:
    shape = first(shapes)
    src, dst = config.get("source"), config.get("destination")
    src = [src] if is_int(src) else list(src)
    dst = [dst] if is_int(dst) else list(dst)
    if len(src) != len(dst):
        raise ShapeError("moveaxis source/destination lengths differ")
    src = [canonical_axis(a, len(shape)) for a in src]
    placed = dict(zip((canonical_axis(a, len(shape)) for a in dst), src))
    if len(set(src)) != len(src) or len(placed) != len(src):
        raise ShapeError("repeated moveaxis axis")
    rest = iter(d for i, d in enumerate(shape) if i not in src)
    return tuple(shape[placed[i]] if i in placed else next(rest)
                 for i in range(len(shape)))


def op_swapaxes(class_name: str, config: dict, shapes: list,
                kw: dict) -> Shape:
    shape = list(first(shapes))
    a = canonical_axis(config.get("axis1"), len(shape))
    b = canonical_axis(config.get("axis2"), len(shape))
    shape[a], shape[b] = shape[b], shape[a]
    return tuple(shape)


def _einsum_target(inputs: list[str], output: str | None) -> str:
    """Output spec; without ``->``, ``...`` then the letters used once,
    sorted (NumPy's implicit mode, as Keras computes it)."""
    if output is not None:
        return output
    letters = "".join(inputs).replace(".", "")
    return "..." + "".join(sorted(c for c in set(letters)
                                  if letters.count(c) == 1))


def op_einsum(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """``Einsum.compute_output_spec``: each operand is laid out on the
    output spec (its letters' sizes, 1 for letters it lacks, its ``...``
    axes at the ellipsis) and the results broadcast."""
    spec = str(config.get("subscripts")).replace(" ", "")
    lhs, _, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes) or any(s is None for s in shapes):
        raise ShapeError("einsum operands do not match the subscripts")
    target = _einsum_target(inputs, rhs if "->" in spec else None)
    out: Shape | None = None
    for sub, shape in zip(inputs, shapes):
        pre, dots, post = sub.partition("...")
        if not dots and len(pre) != len(shape):
            raise ShapeError("einsum subscript rank mismatch")
        if len(pre) + len(post) > len(shape):
            raise ShapeError("einsum subscript longer than the operand")
        sizes = dict(zip(pre, shape))
        sizes.update(zip(post, shape[len(shape) - len(post):]))
        wild = shape[len(pre):len(shape) - len(post)] if dots else ()
        t_pre, t_dots, t_post = target.partition("...")
        laid = [sizes.get(c, 1) for c in t_pre if c.isalpha()]
        laid += list(wild) if t_dots else []
        laid += [sizes.get(c, 1) for c in t_post if c.isalpha()]
        out = tuple(laid) if out is None else numpy_broadcast(out, tuple(laid))
    return out if out is not None else ()


def op_get_item(class_name: str, config: dict, shapes: list,
                kw: dict) -> Shape:
    args = call_args(kw)
    if args is None or len(args) != 2 or is_tensor_ref(args[1]):
        raise ShapeError("getitem key not available")
    return get_item(first(shapes), args[1])


def op_dot_product_attention(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """``ops.dot_product_attention(query, key, value)``, tensors laid out (batch, length, heads,
    head dim): the output has the query's layout with the value's head dim."""
    if len(shapes) < 3 or shapes[0] is None or shapes[2] is None or len(shapes[0]) != 4:
        raise ShapeError("dot_product_attention needs query, key and value shapes")
    return tuple(shapes[0][:-1]) + (shapes[2][-1],)


OP_HANDLERS: dict[str, Handler] = {
    **{name: op_unary for name in OP_UNARY},
    **{name: op_binary for name in OP_BINARY},
    **{name: op_reduce for name in OP_REDUCE},
    "Average": op_reduce,
    "Where": op_binary,
    "Reshape": op_reshape,
    "Transpose": op_transpose,
    "Concatenate": op_concatenate,
    "Stack": op_stack,
    "Matmul": op_matmul,
    "ExpandDims": op_expand_dims,
    "Squeeze": op_squeeze,
    "Cumsum": op_flatten_or_keep, "Cumprod": op_flatten_or_keep,
    "Sort": op_flatten_or_keep, "Argsort": op_flatten_or_keep,
    "Split": op_split,
    "Tile": op_tile,
    "Repeat": op_repeat,
    "Pad": op_pad,
    "Take": op_take,
    "OneHot": op_one_hot,
    "TopK": op_top_k,
    "Moveaxis": op_moveaxis,
    "Swapaxes": op_swapaxes,
    "GetItem": op_get_item,
    "ConvertToTensor": op_unary,
}
# Contractions other than Matmul: kept apart because ``inspector.layers.costs``
# counts every op in OP_HANDLERS as zero multiply-accumulates.
CONTRACTION_HANDLERS: dict[str, Handler] = {"Einsum": op_einsum, "DotProductAttention": op_dot_product_attention}
