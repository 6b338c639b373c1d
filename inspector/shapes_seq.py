"""Static output shapes of sequence layers (RNNs, attention) and of the
``keras.ops`` operations that Keras 3 serialises as graph nodes.

Mirrors ``keras/src/layers/rnn/rnn.py``, ``attention/multi_head_attention.py``
and ``attention/attention.py`` plus the ``compute_output_spec`` methods in
``keras/src/ops/numpy.py`` / ``nn.py``.
"""

from __future__ import annotations

from typing import Any

from .shapes_common import (
    Handler,
    Shape,
    ShapeError,
    as_int,
    as_shape,
    canonical_axis,
    first,
    is_int,
    need_rank,
    numpy_broadcast,
    reshape_dims,
    unwrap_layer,
)

# Number of state tensors each recurrent layer returns with return_state.
_RNN_STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2, "CuDNNGRU": 1,
               "CuDNNLSTM": 2}
_CELL_STATES = {"SimpleRNNCell": 1, "GRUCell": 1, "LSTMCell": 2}


def kw_shape(kw: dict, name: str) -> Shape | None:
    """Shape of a tensor passed as call kwarg ``name`` if the caller put it
    in ``call_kwargs`` either as a plain shape or as Keras 3's serialized
    ``__keras_tensor__`` dict (which records the shape)."""
    value = kw.get(name)
    if isinstance(value, dict) and value.get("class_name") == \
            "__keras_tensor__":
        value = (value.get("config") or {}).get("shape")
    if isinstance(value, (list, tuple)) and all(
            v is None or is_int(v) for v in value):
        return as_shape(value)
    return None


def _arg(shapes: list, kw: dict, index: int, name: str) -> Shape | None:
    """Positional input ``index`` or, failing that, kwarg ``name``."""
    if len(shapes) > index and shapes[index] is not None:
        return shapes[index]
    return kw_shape(kw, name)


def rnn(class_name: str, config: dict, shapes: list, kw: dict) -> list[Shape]:
    """SimpleRNN/GRU/LSTM (and ``RNN`` around one of their cells).

    Output is ``(batch, units)`` or ``(batch, time, units)``; with
    ``return_state`` the per-state ``(batch, units)`` shapes follow (LSTM has
    two states h and c).  tf-keras' ``time_major`` swaps batch and time.
    """
    shape = need_rank(first(shapes), 3)
    n_states = _RNN_STATES.get(class_name)
    units_cfg = config
    if class_name == "RNN":
        cell_cls, units_cfg = unwrap_layer(config.get("cell"))
        n_states = _CELL_STATES.get(cell_cls)
    if n_states is None:
        raise ShapeError(f"unsupported recurrent layer {class_name}")
    units = as_int(units_cfg.get("units"), 1)
    if config.get("time_major", False):
        time, batch = shape[0], shape[1]
        seq = (time, batch, units)
    else:
        batch, time = shape[0], shape[1]
        seq = (batch, time, units)
    out = seq if config.get("return_sequences", False) else (batch, units)
    if config.get("return_state", False):
        return [out] + [(batch, units)] * n_states
    return [out]


def _mha_scores(config: dict, query: Shape, key: Shape, heads: int) -> Shape:
    """Attention-score shape following ``_build_attention_equation``: the
    projected tensors are ``(*input[:-1], heads, dim)``; scores are
    ``(non-attention dims incl. batch and heads, query attention dims, key
    attention dims)``.  Keras' symbolic ``compute_output_spec`` reuses the
    query length for the key axis; we return the shape the call really
    produces."""
    rank = len(query) + 1
    axes = config.get("attention_axes")
    if axes is None:
        attn = tuple(range(1, rank - 2))
    else:
        if is_int(axes):
            axes = [axes]
        attn = tuple(a if a >= 0 else (rank - 1) + a
                     for a in (as_int(x) for x in axes))
    if not attn or any(not 0 < a < rank - 2 for a in attn):
        raise ShapeError("unsupported attention_axes")
    if len(key) != len(query):
        raise ShapeError("query/key rank mismatch")
    q_proj = tuple(query[:-1]) + (heads,)
    k_proj = tuple(key[:-1]) + (heads,)
    batch_dims = [i for i in range(rank - 1) if i not in attn]
    return (tuple(q_proj[i] for i in batch_dims)
            + tuple(q_proj[i] for i in attn)
            + tuple(k_proj[i] for i in attn))


def multi_head_attention(class_name: str, config: dict, shapes: list,
                         kw: dict) -> list[Shape]:
    """MultiHeadAttention(query, value, key=None).

    Inputs are read positionally as ``[query, value, key]`` (value/key may
    instead be given in ``call_kwargs``); output keeps the query shape with
    the last axis replaced by ``output_shape`` when configured.
    """
    query = _arg(shapes, kw, 0, "query")
    if query is None or len(query) < 3:
        raise ShapeError("MultiHeadAttention needs a query of rank >= 3")
    out_cfg = config.get("output_shape")
    out = query
    if out_cfg:
        extra = (as_int(out_cfg, 1),) if is_int(out_cfg) else as_shape(out_cfg)
        out = tuple(query[:-1]) + tuple(extra)
    if not kw.get("return_attention_scores", False):
        return [out]
    value = _arg(shapes, kw, 1, "value")
    key = _arg(shapes, kw, 2, "key") or value
    if key is None:
        raise ShapeError("attention scores need the key/value shape")
    heads = as_int(config.get("num_heads"), 1)
    return [out, _mha_scores(config, query, key, heads)]


def dot_attention(class_name: str, config: dict, shapes: list,
                  kw: dict) -> list[Shape]:
    """Attention / AdditiveAttention called on ``[query, value, key?]``:
    output ``(*query[:-1], value[-1])``; scores ``(*query[:-1], key[-2])``."""
    if len(shapes) < 2 or shapes[0] is None or shapes[1] is None:
        raise ShapeError("attention needs query and value shapes")
    query, value = shapes[0], shapes[1]
    key = shapes[2] if len(shapes) > 2 and shapes[2] is not None else value
    out = tuple(query[:-1]) + (value[-1],)
    if kw.get("return_attention_scores", False):
        return [out, tuple(query[:-1]) + (key[-2],)]
    return [out]


# --------------------------------------------------------------------------
# keras.ops nodes (module keras.src.ops.*).  Their shapes include the batch
# axis like any other tensor: ops do not special-case it.
# --------------------------------------------------------------------------

OP_UNARY = frozenset({
    "Absolute", "Abs", "Negative", "Square", "Sqrt", "Rsqrt", "Exp", "Log",
    "Relu", "Relu6", "Sigmoid", "HardSigmoid", "Tanh", "Silu", "Swish",
    "Gelu", "Elu", "Selu", "Softplus", "Softsign", "LeakyRelu", "Softmax",
    "LogSoftmax", "Erf", "Cast", "Sin", "Cos", "Reciprocal", "Sign",
    "StopGradient",
})
OP_BINARY = frozenset({
    "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Power",
    "Maximum", "Minimum",
})


def op_unary(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    return first(shapes)


def op_binary(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Broadcasting binary op.  A single tensor input means the other operand
    was a Python/NumPy constant kept in the node's args; we assume it is a
    scalar (the usual ``x * 0.5`` case) so the tensor shape passes through."""
    if not shapes or any(s is None for s in shapes):
        raise ShapeError("unknown operand shape")
    out = shapes[0]
    for s in shapes[1:]:
        out = numpy_broadcast(out, s)
    return out


def op_reshape(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    return reshape_dims(first(shapes), config.get("newshape"))


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


OP_HANDLERS: dict[str, Handler] = {
    **{name: op_unary for name in OP_UNARY},
    **{name: op_binary for name in OP_BINARY},
    "Reshape": op_reshape,
    "Transpose": op_transpose,
    "Concatenate": op_concatenate,
    "Matmul": op_matmul,
    "ExpandDims": op_expand_dims,
    "Squeeze": op_squeeze,
}


def register(table: dict[str, Handler]) -> None:
    """Add the layer handlers of this module to ``table``."""
    for name in list(_RNN_STATES) + ["RNN"]:
        table[name] = rnn
    table["MultiHeadAttention"] = multi_head_attention
    table["Attention"] = dot_attention
    table["AdditiveAttention"] = dot_attention
