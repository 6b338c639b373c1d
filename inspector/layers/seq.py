"""Static output shapes of sequence layers (RNNs, attention) and of the
TF-op layers tf-keras saves between layers (``TFOpLambda``,
``SlicingOpLambda``).

Mirrors ``keras/src/layers/rnn/rnn.py``, ``attention/multi_head_attention.py``
and ``attention/attention.py``.  A TF-op layer's TF function is named in its
config (``"function": "math.reduce_mean"``) and its call arguments are the
node's kwargs (tf-keras binds positional ones to their names too: ``{"axis":
1}``, ``{"y": 1.0}``); its shape follows the matching ``keras.ops`` rule of
:mod:`inspector.layers.ops`, TF's own conventions (``argmax`` over axis 0 by
default, ``int64`` indices, no dtype promotion) applied on top.
"""

from __future__ import annotations

from typing import Any

from inspector.layers.common import (
    Handler,
    Shape,
    ShapeError,
    as_int,
    as_shape,
    canonical_axis,
    const_shape,
    first,
    get_item,
    is_int,
    is_tensor_ref,
    need_rank,
    numpy_broadcast,
    unwrap_layer,
)
from inspector.layers.ops import ARGS_KEY, OP_HANDLERS  # OP_HANDLERS: also re-exported

_TENSOR = {"class_name": "__keras_tensor__"}  # stands for a tensor operand

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


def grouped_query_attention(class_name: str, config: dict, shapes: list, kw: dict) -> list[Shape]:
    """GroupedQueryAttention(query, value, key=None): the output keeps the query shape (Keras
    projects back to the query's feature size); scores are (batch, query heads, T, S)."""
    query = _arg(shapes, kw, 0, "query")
    if query is None or len(query) != 3:
        raise ShapeError("GroupedQueryAttention needs a query of rank 3")
    if not kw.get("return_attention_scores", False):
        return [tuple(query)]
    value = _arg(shapes, kw, 1, "value")
    key = _arg(shapes, kw, 2, "key") or value
    if key is None:
        raise ShapeError("attention scores need the key/value shape")
    return [tuple(query), (query[0], as_int(config.get("num_query_heads"), 1), query[1], key[1])]


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
# tf-keras TF-op layers
# --------------------------------------------------------------------------

_TF_UNARY = frozenset("""
    nn.relu nn.relu6 nn.elu nn.selu nn.gelu nn.silu nn.swish nn.leaky_relu
    nn.softmax nn.log_softmax nn.softplus nn.softsign nn.sigmoid nn.tanh
    nn.bias_add nn.l2_normalize math.l2_normalize math.sigmoid math.tanh
    math.exp math.log math.log1p math.sqrt math.rsqrt math.square math.abs
    math.negative math.sign math.sin math.cos math.erf math.reciprocal
    math.softplus math.round math.floor math.ceil math.logical_not
    math.is_nan math.is_inf math.is_finite math.cumsum math.cumprod identity
    stop_gradient clip_by_value reverse sort argsort zeros_like ones_like
    cast saturate_cast nn.dropout
""".split())
_TF_BINARY = frozenset("""
    __operators__.add math.add math.subtract math.multiply math.truediv
    math.divide math.floordiv compat.v1.floor_div math.floormod math.pow
    math.maximum math.minimum math.squared_difference math.add_n
    math.equal math.not_equal math.greater math.greater_equal math.less
    math.less_equal math.logical_and math.logical_or math.logical_xor
    __operators__.eq __operators__.ne
""".split())
_TF_REDUCE = frozenset(f"math.reduce_{r}" for r in (
    "mean", "sum", "max", "min", "prod", "std", "variance", "any", "all",
    "logsumexp", "euclidean_norm")) | {"compat.v1.norm", "norm",
                                       "linalg.norm"}
_TF_BOOL = frozenset("""
    math.equal math.not_equal math.greater math.greater_equal math.less
    math.less_equal math.logical_and math.logical_or math.logical_xor
    __operators__.eq __operators__.ne math.logical_not math.is_nan
    math.is_inf math.is_finite math.reduce_any math.reduce_all
""".split())
# TF function -> (keras.ops class, {tf kwarg: op config key}, defaults)
_TF_AS_OP: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "concat": ("Concatenate", {"axis": "axis"}, {}),
    "stack": ("Stack", {"axis": "axis"}, {}),
    "reshape": ("Reshape", {"shape": "newshape"}, {}),
    "expand_dims": ("ExpandDims", {"axis": "axis"}, {}),
    "tile": ("Tile", {"multiples": "repeats"}, {}),
    "repeat": ("Repeat", {"repeats": "repeats", "axis": "axis"}, {}),
    "math.argmax": ("Argmax", {"axis": "axis"}, {"axis": 0}),
    "math.argmin": ("Argmin", {"axis": "axis"}, {"axis": 0}),
    "math.top_k": ("TopK", {"k": "k"}, {}),
    "nn.top_k": ("TopK", {"k": "k"}, {}),
    **{f: ("Transpose", {"perm": "axes"}, {})
       for f in ("transpose", "compat.v1.transpose")},
    **{f: ("Squeeze", {"squeeze_dims": "axis", "axis": "axis"}, {})
       for f in ("squeeze", "compat.v1.squeeze")},
    **{f: ("Pad", {"paddings": "pad_width"}, {})
       for f in ("pad", "compat.v1.pad")},
}


def _tf_const_operands(kw: dict, names: tuple[str, ...]) -> list:
    """Constant (non-tensor) operands: the call kwargs ``names`` and a
    leading constant (tf-keras' ``_CONSTANT_VALUE`` of ``1.0 - x``) if the
    reader passes it in ``__args__``."""
    consts = [kw[n] for n in names if n in kw and kw[n] is not None]
    args = kw.get(ARGS_KEY)
    if isinstance(args, list):
        consts += [a for a in args if not is_tensor_ref(a)]
    return consts


def _tf_binary(fn: str, shapes: list, kw: dict) -> Shape:
    """Broadcast the tensor operands with the constant ones.  An operand
    that was not saved leaves the shape unknown: ``x == y`` keeps neither
    ``y``, and ``1.0 - x``'s leading constant needs ``__args__``."""
    consts = _tf_const_operands(kw, ("x", "y"))
    if fn != "math.add_n" and len(shapes) + len(consts) < 2:
        raise ShapeError("an operand of the TF op was not saved")
    args = [_TENSOR] * len(shapes) + consts
    return OP_HANDLERS["Add"]("Add", {}, shapes, {ARGS_KEY: args})


def _tf_reduce(fn: str, shapes: list, kw: dict) -> Shape:
    axis = kw.get("axis")
    return OP_HANDLERS["Sum"]("Sum", {"axis": axis,
                                      "keepdims": bool(kw.get("keepdims"))},
                              shapes, {})


def _tf_matmul(fn: str, shapes: list, kw: dict) -> Shape:
    """``tf.linalg.matmul`` with ``transpose_*`` / ``adjoint_*``."""
    if len(shapes) != 2 or any(s is None or len(s) < 2 for s in shapes):
        raise ShapeError("matmul needs two operands of rank >= 2")
    a, b = (tuple(s) for s in shapes)
    if kw.get("transpose_a") or kw.get("adjoint_a"):
        a = (*a[:-2], a[-1], a[-2])
    if kw.get("transpose_b") or kw.get("adjoint_b"):
        b = (*b[:-2], b[-1], b[-2])
    return OP_HANDLERS["Matmul"]("Matmul", {}, [a, b], {})


def _tf_split(fn: str, shapes: list, kw: dict) -> list[Shape]:
    """``tf.split``: N equal parts or the given sizes (one may be -1)."""
    shape = first(shapes)
    axis = canonical_axis(kw.get("axis", 0), len(shape))
    sizes = kw.get("num_or_size_splits")
    if is_int(sizes):
        return OP_HANDLERS["Split"]("Split", {"indices_or_sections": sizes,
                                              "axis": axis}, shapes, {})
    sizes = [as_int(n, -1) for n in sizes]
    if sizes.count(-1) > 1:
        raise ShapeError("more than one -1 in size_splits")
    rest = sum(n for n in sizes if n != -1)
    if -1 in sizes:
        sizes[sizes.index(-1)] = (None if shape[axis] is None
                                  else shape[axis] - rest)
    elif shape[axis] is not None and rest != shape[axis]:
        raise ShapeError("split sizes do not add up to the axis")
    return [(*shape[:axis], n, *shape[axis + 1:]) for n in sizes]


def _tf_gather(fn: str, shapes: list, kw: dict) -> Shape:
    """``tf.gather(params, indices, axis, batch_dims)``."""
    params = first(shapes)
    if len(shapes) > 1 and shapes[1] is not None:
        indices = shapes[1]
    elif "indices" in kw:
        indices = const_shape(kw["indices"])
    else:
        raise ShapeError("gather indices not available")
    batch_dims = as_int(kw.get("batch_dims") or 0)
    axis = kw.get("axis")
    axis = canonical_axis(batch_dims if axis is None else axis, len(params))
    return (*params[:axis], *indices[batch_dims:], *params[axis + 1:])


def _tf_one_hot(fn: str, shapes: list, kw: dict) -> Shape:
    """``tf.one_hot``: ``depth`` at ``axis`` (-1 or ``rank`` = last)."""
    shape = first(shapes)
    axis = as_int(kw.get("axis") if kw.get("axis") is not None else -1)
    if axis == len(shape):
        axis = -1
    return OP_HANDLERS["OneHot"]("OneHot", {"num_classes": kw.get("depth"),
                                            "axis": axis}, shapes, {})


def _tf_where(fn: str, shapes: list, kw: dict) -> Shape:
    """``tf.where(c)`` gives the ``(n, rank)`` coordinates of the true
    elements; ``tf.where(c, x, y)`` broadcasts the three."""
    consts = _tf_const_operands(kw, ("x", "y"))
    if len(shapes) == 1 and not consts:
        return (None, len(first(shapes)))
    args = [_TENSOR] * len(shapes) + consts
    return OP_HANDLERS["Where"]("Where", {}, shapes, {ARGS_KEY: args})


def _tf_as_op(fn: str, shapes: list, kw: dict) -> Shape | list[Shape]:
    op, keys, defaults = _TF_AS_OP[fn]
    config = dict(defaults)
    config.update({dst: kw[src] for src, dst in keys.items()
                   if kw.get(src) is not None})
    return OP_HANDLERS[op](op, config, shapes, {})


_TF_RULES: dict[str, Any] = {
    **{f: lambda fn, shapes, kw: first(shapes) for f in _TF_UNARY},
    **{f: _tf_binary for f in _TF_BINARY},
    **{f: _tf_reduce for f in _TF_REDUCE},
    **{f: _tf_as_op for f in _TF_AS_OP},
    "linalg.matmul": _tf_matmul, "matmul": _tf_matmul,
    "split": _tf_split,
    "gather": _tf_gather, "compat.v1.gather": _tf_gather,
    "one_hot": _tf_one_hot,
    "where": _tf_where,
    "__operators__.getitem": lambda fn, shapes, kw: get_item(
        first(shapes), kw["slice_spec"]),
    "compat.v1.shape": lambda fn, shapes, kw: (len(first(shapes)),),
    "shape": lambda fn, shapes, kw: (len(first(shapes)),),
    "broadcast_to": lambda fn, shapes, kw: numpy_broadcast(
        first(shapes), as_shape(kw["shape"])),
    "rank": lambda fn, shapes, kw: (),
    "compat.v1.size": lambda fn, shapes, kw: (),
    "size": lambda fn, shapes, kw: (),
}
TF_FUNCTIONS = frozenset(_TF_RULES)
# Functions of one tensor: another tensor input means an argument (an axis,
# a shape ...) was a tensor, which the reader drops from the kwargs; the
# rule would then read a default in its place.
_ONE_TENSOR = (TF_FUNCTIONS - _TF_BINARY - {
    "concat", "stack", "where", "linalg.matmul", "matmul", "gather",
    "compat.v1.gather", "nn.bias_add", "clip_by_value"})


def tf_op_layer(class_name: str, config: dict, shapes: list,
                kw: dict) -> Shape | list[Shape]:
    """``TFOpLambda`` / ``SlicingOpLambda``: the rule of the TF function
    named in the config, fed with the call kwargs."""
    fn = config.get("function")
    if fn not in _TF_RULES:
        raise ShapeError(f"unsupported TF function {fn!r:.60}")
    if any(is_tensor_ref(v) for k, v in kw.items() if k != ARGS_KEY):
        raise ShapeError("tensor among the constant call arguments")
    if fn in _ONE_TENSOR and len(shapes) != 1:
        raise ShapeError(f"{fn} called with a tensor argument")
    return _TF_RULES[fn](fn, shapes, kw)


def register(table: dict[str, Handler]) -> None:
    """Add the layer handlers of this module to ``table``."""
    for name in list(_RNN_STATES) + ["RNN"]:
        table[name] = rnn
    table["MultiHeadAttention"] = multi_head_attention
    table["GroupedQueryAttention"] = grouped_query_attention
    table["Attention"] = dot_attention
    table["AdditiveAttention"] = dot_attention
    table["TFOpLambda"] = tf_op_layer
    table["SlicingOpLambda"] = tf_op_layer
