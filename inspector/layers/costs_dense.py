"""MAC rules of the contractions outside convolutions and attention: Dense (any rank),
EinsumDense, Dot, ReversibleEmbedding's reverse call, and the ``keras.ops`` / tf-keras
``TFOpLambda`` matmuls and einsums.

One MAC per product term of the contraction; bias additions and activations are not
multiply-accumulates and are not counted.
"""
from __future__ import annotations

import math

from inspector.layers.common import ShapeError, as_int, canonical_axis, is_int
from inspector.layers.costs_common import at, known, numel, weight
from inspector.layers.seq import TF_FUNCTIONS
from inspector.layers.shapes import parse_einsum_equation


def dense(name, config, ins, outs, weights) -> int | None:
    """``rows * in_features * units`` (rows: every axis but the last, so a Dense on
    ``(batch, 16, 64)`` applies its kernel 16 times); the kernel ``(in, units)`` only fills
    in what an unknown input shape or a missing ``units`` leaves open."""
    kernel = weight(weights, 0)
    x, y = at(ins, 0), at(outs, 0)
    dims = known(x if x is not None else y)
    rows = math.prod(dims[:-1])
    features = dims[-1] if x is not None else (kernel[0] if kernel else None)
    units = config.get("units")
    units = as_int(units, 1) if units is not None else (kernel[-1] if kernel else None)
    if features is None or units is None:
        return None
    return rows * features * units


def einsum_dense(name, config, ins, outs, weights) -> int | None:
    """Product of the sizes of all distinct einsum letters (the batch letter
    or batch axis counts 1) times the elided (``...``) axes: every
    combination of index values is one multiply-accumulate."""
    x, y = at(ins, 0), at(outs, 0)
    in_spec, w_spec, out_spec, left = parse_einsum_equation(str(config.get("equation")))
    if x is None:
        return None
    x = (1, *x[1:])
    elided = len(x) - len(in_spec)
    if elided < 0:
        return None
    sizes: dict[str, int] = {}

    def bind(letters: str, dims: tuple) -> None:
        for letter, size in zip(letters, dims):
            if size is not None and letter not in sizes:
                sizes[letter] = size
            elif size is not None and sizes[letter] != size:
                raise ShapeError("inconsistent einsum sizes")

    bind(in_spec, x[elided:] if left else x[:len(in_spec)])
    extra = x[:elided] if left else x[len(in_spec):]
    if y is not None:
        y = (1, *y[1:])
        bind(out_spec, y[elided:] if left else y[:len(out_spec)])
    kernel = weight(weights, 0)
    if kernel is not None and len(kernel) == len(w_spec):
        # fallback only: letters already known from shapes win
        bind("".join(c for c in w_spec if c not in sizes),
             tuple(k for c, k in zip(w_spec, kernel) if c not in sizes))
    if set(in_spec + w_spec + out_spec) - set(sizes) or None in extra:
        return None
    return math.prod(sizes.values()) * math.prod(extra)  # type: ignore[arg-type]


def reversible_embedding(name, config, ins, outs, weights) -> int | None:
    """``ReversibleEmbedding``: a lookup (0) called forward; called with ``reverse=True`` it
    multiplies ``(..., output_dim)`` by the ``(output_dim, input_dim)`` table, which the shapes
    tell apart (same rank in and out, the last axis turned from output_dim into input_dim)."""
    x, y = at(ins, 0), at(outs, 0)
    out_dim, vocab = as_int(config.get("output_dim"), 1), as_int(config.get("input_dim"), 1)
    if x is None or y is None or len(x) != len(y) or x[-1] != out_dim or y[-1] != vocab:
        return 0 if x is not None and y is not None and len(y) == len(x) + 1 else None
    return numel(x) * vocab


def dot(name, config, ins, outs, weights) -> int | None:
    """``Dot``: every output element is a dot product along the contracted axis."""
    a, y = at(ins, 0), at(outs, 0)
    if a is None or y is None:
        return None
    axes = config.get("axes", -1)
    axis = axes if is_int(axes) else as_int(list(axes)[0])
    contracted = a[canonical_axis(axis, len(a))]
    if contracted is None:
        return None
    return numel(y) * contracted


def op_matmul(ins: list, outs: list) -> int | None:
    """``matmul(a, b)``: output elements times the contracted size. Which axis of ``a`` is
    contracted (``transpose_a`` in TF) is read from the shapes: the other one is the output's
    row axis."""
    a, y = at(ins, 0), at(outs, 0)
    if a is None or y is None or not a:
        return None
    inner = a[-1] if len(a) < 2 or len(y) < 2 or a[-2] == y[-2] else a[-2]
    if inner is None:
        return None
    return numel(y) * inner if len(y) else inner


def op_einsum(config: dict, ins: list) -> int | None:
    """``keras.ops.einsum``: the product of every letter's size (and of the ``...`` axes,
    broadcast). A ``None`` first axis of an operand is the batch axis: 1 for one sample."""
    lhs = str(config.get("subscripts")).replace(" ", "").partition("->")[0]
    subs = lhs.split(",")
    if len(subs) != len(ins) or any(s is None for s in ins):
        return None
    sizes: dict[str, int | None] = {}
    wild: list = []
    for sub, shape in zip(subs, ins):
        shape = tuple(shape)
        if shape and shape[0] is None:
            shape = (1, *shape[1:])
        pre, dots, post = sub.partition("...")
        dims = list(zip(pre, shape)) + list(zip(post, shape[len(shape) - len(post):]))
        for letter, size in dims:
            old = sizes.get(letter, 1)
            sizes[letter] = None if size is None or old is None else max(old, size)
        rest = list(shape[len(pre):len(shape) - len(post)]) if dots else []
        wild = [None if a is None or b is None else max(a, b) for a, b in
                zip([1] * (len(rest) - len(wild)) + wild, [1] * (len(wild) - len(rest)) + rest)]
    if None in sizes.values() or None in wild:
        return None
    return math.prod(sizes.values()) * math.prod(wild)  # type: ignore[arg-type]


def tf_op_lambda(name, config, ins, outs, weights) -> int | None:
    """tf-keras ``TFOpLambda``: ``tf.matmul`` contracts; the other TF functions the shape
    rules know are element-wise, reductions or shape ops (0); any other function is unknown."""
    fn = config.get("function")
    if fn in ("linalg.matmul", "matmul"):
        return op_matmul(ins, outs)
    return 0 if fn in TF_FUNCTIONS else None
