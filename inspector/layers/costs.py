"""Static compute and memory estimates for one call of a serialized layer.

``count_macs`` returns multiply-accumulates for ONE sample: the leading
(batch) axis of every shape is taken as 1, and any other unknown axis makes
the answer ``None`` (we never guess sequence lengths or image sizes).

Counting conventions (chosen to match what FLOP profilers report as
"2 FLOPs per MAC" for the dominant contraction, and documented so users can
compare numbers with other tools):

* Dense / EinsumDense / Conv* / Dot / ``keras.ops`` Matmul: one MAC per
  product term of the contraction.  Bias additions and activations are NOT
  counted (they are additions / element-wise functions, not MACs).
* Transposed convolutions: every input element is multiplied by the whole
  kernel, ``prod(input spatial) * C_in * prod(kernel) * filters``; this
  equals TensorFlow's ``Conv2DBackpropInput`` FLOP estimate / 2 whenever the
  output is ``input * stride`` ("same" padding).
* Depthwise: ``prod(output spatial) * C_in * depth_multiplier *
  prod(kernel)``.  Separable = depthwise part + 1x1 pointwise part.
* Embedding: 0 -- a table lookup performs no arithmetic.
* BatchNormalization, LayerNormalization, GroupNormalization,
  RMSNormalization, UnitNormalization, Rescaling, Normalization: one MAC per
  output element (inference form ``x * scale + offset`` with the statistics
  folded in; the per-row mean/variance reductions of layer/group norm are
  ignored).
* Pooling (max, average, global, adaptive), padding, cropping, up-sampling,
  resizing, reshapes, dropout/noise, activations, element-wise merges
  (Add, Multiply, ...) and shape-only ``keras.ops``: 0.
* MultiHeadAttention: Q/K/V projections + QK^T + attention-weighted V +
  output projection.  Attention (Luong/additive): scores + weighted sum.
* SimpleRNN/GRU/LSTM: ``time * gates * (features * units + units**2)``
  with gates 1/3/4.  Bidirectional = both directions; TimeDistributed =
  time * inner layer.
* Anything else (Lambda, custom layers, unsupported ops): ``None``.

``weight_shapes`` (the layer's variables in save order, e.g. Dense
``[kernel, bias]``) are only used to fill in values the config and tensor
shapes leave unknown; config + shapes take precedence because quantized
layers store packed kernels whose shapes do not describe the arithmetic.
"""

from __future__ import annotations

import math
import re
from typing import Any

from inspector.layers import conv as shapes_conv
from inspector.layers.common import (
    Shape,
    ShapeError,
    as_int,
    as_shape,
    as_tuple,
    canonical_axis,
    data_format,
    is_int,
    unwrap_layer,
)
from inspector.layers.kinds import is_op_call
from inspector.layers.seq import OP_HANDLERS
from inspector.layers.shapes import (
    _IDENTITY_LAYERS,
    _LAYERS,
    _OP_NAME_CLASHES,
    _short_name,
    infer_output_shapes,
    parse_einsum_equation,
)

__all__ = ["count_macs", "activation_bytes"]


def count_macs(
    class_name: str,
    config: dict,
    input_shapes: list[Shape | None],
    output_shapes: list[Shape | None],
    weight_shapes: list[tuple[int, ...]],
) -> int | None:
    """Multiply-accumulates of one call for a single sample (see module
    docstring for what is counted); ``None`` when unknown.  Never raises."""
    try:
        if not isinstance(class_name, str) or not isinstance(config, dict):
            return None
        name = _short_name(class_name)
        ins = [None if s is None else as_shape(s)
               for s in (input_shapes or [])]
        outs = [None if s is None else as_shape(s)
                for s in (output_shapes or [])]
        if not outs or any(s is None for s in outs):
            outs = infer_output_shapes(class_name, config, ins) or outs
        weights = [as_shape(w) for w in (weight_shapes or [])]
        if is_op_call(name, config) and (name in OP_HANDLERS
                               or name in _OP_NAME_CLASHES):
            return _op_macs(name, ins, outs)
        if name in _ZERO:
            return 0
        handler = _HANDLERS.get(name)
        if handler is None:
            return None
        result = handler(name, config, ins, outs, weights)
        return None if result is None else int(result)
    except Exception:  # garbage in -> None
        return None


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _known(shape: Shape | None) -> tuple[int, ...]:
    """Per-sample dims (batch axis dropped); unknown -> ShapeError."""
    if shape is None or not shape:
        raise ShapeError("unknown shape")
    dims = shape[1:]
    if any(d is None for d in dims):
        raise ShapeError("unknown non-batch dimension")
    return dims  # type: ignore[return-value]


def _numel(shape: Shape | None) -> int:
    return math.prod(_known(shape))


def _at(shapes: list, i: int) -> Shape | None:
    return shapes[i] if len(shapes) > i else None


def _weight(weights: list, i: int) -> tuple | None:
    w = _at(weights, i)
    return w if w and all(d is not None for d in w) else None


# --------------------------------------------------------------------------
# per-class formulas
# --------------------------------------------------------------------------

def _per_element(name, config, ins, outs, weights) -> int:
    return _numel(_at(outs, 0) or _at(ins, 0))


def _dense(name, config, ins, outs, weights) -> int | None:
    """``rows * in_features * units``; the kernel ``(in, units)`` only fills
    in what an unknown input shape or a missing ``units`` leaves open."""
    kernel = _weight(weights, 0)
    x, y = _at(ins, 0), _at(outs, 0)
    dims = _known(x if x is not None else y)
    rows = math.prod(dims[:-1])
    features = dims[-1] if x is not None else (kernel[0] if kernel else None)
    units = config.get("units")
    units = as_int(units, 1) if units is not None else (
        kernel[-1] if kernel else None)
    if features is None or units is None:
        return None
    return rows * features * units


def _einsum_dense(name, config, ins, outs, weights) -> int | None:
    """Product of the sizes of all distinct einsum letters (the batch letter
    or batch axis counts 1) times the elided (``...``) axes: every
    combination of index values is one multiply-accumulate."""
    x, y = _at(ins, 0), _at(outs, 0)
    in_spec, w_spec, out_spec, left = parse_einsum_equation(
        str(config.get("equation")))
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
    kernel = _weight(weights, 0)
    if kernel is not None and len(kernel) == len(w_spec):
        # fallback only: letters already known from shapes win
        bind("".join(c for c in w_spec if c not in sizes),
             tuple(k for c, k in zip(w_spec, kernel) if c not in sizes))
    if set(in_spec + w_spec + out_spec) - set(sizes) or None in extra:
        return None
    return math.prod(sizes.values()) * math.prod(extra)  # type: ignore


def _spatial(shape: Shape, fmt: str) -> tuple[tuple[int, ...], int]:
    dims = _known(shape)
    if fmt == "channels_last":
        return dims[:-1], dims[-1]
    return dims[1:], dims[0]


def _conv(name, config, ins, outs, weights) -> int | None:
    """Conv*, DepthwiseConv*, SeparableConv* (per-sample)."""
    y = _at(outs, 0)
    if y is None:
        return None
    fmt = data_format(config)
    out_spatial, out_ch = _spatial(y, fmt)
    n = len(out_spatial)
    kernel = as_tuple(config.get("kernel_size"), n)
    positions = math.prod(out_spatial) * math.prod(kernel)
    x = _at(ins, 0)
    in_ch = _spatial(x, fmt)[1] if x is not None else None
    w0 = _weight(weights, 0)
    if name.startswith(("Depthwise", "Separable")):
        mult = as_int(config.get("depth_multiplier", 1), 1)
        if in_ch is None and w0 is not None:
            in_ch = w0[-2]
        if in_ch is None:
            return None
        depthwise = positions * in_ch * mult
        if name.startswith("Depthwise"):
            return depthwise
        return depthwise + math.prod(out_spatial) * in_ch * mult * out_ch
    groups = as_int(config.get("groups", 1) or 1, 1)
    if in_ch is None and w0 is not None:
        in_ch = w0[-2] * groups
    if in_ch is None:
        return None
    return positions * out_ch * (in_ch // groups)


def _conv_transpose(name, config, ins, outs, weights) -> int | None:
    x = _at(ins, 0)
    if x is None:
        return None
    fmt = data_format(config)
    in_spatial, in_ch = _spatial(x, fmt)
    kernel = as_tuple(config.get("kernel_size"), len(in_spatial))
    filters = as_int(config.get("filters"), 1)
    return math.prod(in_spatial) * in_ch * math.prod(kernel) * filters


def _mha(name, config, ins, outs, weights) -> int | None:
    query, value = _at(ins, 0), _at(ins, 1)
    key = _at(ins, 2) or value
    if query is None or value is None or key is None:
        return None
    q, v, k = _known(query), _known(value), _known(key)
    heads = as_int(config.get("num_heads"), 1)
    key_dim = as_int(config.get("key_dim"), 1)
    vd = config.get("value_dim")
    value_dim = key_dim if vd is None else as_int(vd, 1)
    out_cfg = config.get("output_shape")
    if not out_cfg:
        out_feat = q[-1]
    elif is_int(out_cfg):
        out_feat = out_cfg
    else:
        out_feat = math.prod(as_tuple(out_cfg, len(out_cfg)))
    n_q, n_k, n_v = math.prod(q[:-1]), math.prod(k[:-1]), math.prod(v[:-1])
    # Attention-axis split (defaults to every non-batch, non-feature axis).
    rank = len(query) + 1
    axes = config.get("attention_axes")
    if axes is None:
        attn = list(range(1, rank - 2))
    else:
        axes = [axes] if is_int(axes) else axes
        attn = [a if a >= 0 else (rank - 1) + a for a in map(as_int, axes)]
    other = [i for i in range(1, rank - 2) if i not in attn]
    q_att = math.prod(query[i] for i in attn)
    k_att = math.prod(key[i] for i in attn)
    shared = math.prod(query[i] for i in other)
    scores = shared * heads * q_att * k_att
    return (n_q * q[-1] * heads * key_dim
            + n_k * k[-1] * heads * key_dim
            + n_v * v[-1] * heads * value_dim
            + scores * key_dim
            + scores * value_dim
            + n_q * heads * value_dim * out_feat)


def _attention(name, config, ins, outs, weights) -> int | None:
    query, value = _at(ins, 0), _at(ins, 1)
    key = _at(ins, 2) or value
    if query is None or value is None or key is None:
        return None
    q, v, k = _known(query), _known(value), _known(key)
    rows = math.prod(q[:-1])
    return rows * k[-2] * q[-1] + rows * k[-2] * v[-1]


def _dot(name, config, ins, outs, weights) -> int | None:
    a, y = _at(ins, 0), _at(outs, 0)
    if a is None or y is None:
        return None
    axes = config.get("axes", -1)
    axis = axes if is_int(axes) else as_int(list(axes)[0])
    contracted = a[canonical_axis(axis, len(a))]
    if contracted is None:
        return None
    return _numel(y) * contracted


_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4, "CuDNNGRU": 3,
          "CuDNNLSTM": 4, "SimpleRNNCell": 1, "GRUCell": 3, "LSTMCell": 4}


def _rnn(name, config, ins, outs, weights) -> int | None:
    x = _at(ins, 0)
    if x is None or len(x) != 3:
        return None
    cfg = config
    if name == "RNN":
        name, cfg = unwrap_layer(config.get("cell"))
    gates = _GATES.get(name)
    units = as_int(cfg.get("units"), 1)
    steps = x[0] if config.get("time_major", False) else x[1]
    features = x[2]
    if gates is None or steps is None or features is None:
        return None
    return steps * gates * (features * units + units * units)


def _bidirectional(name, config, ins, outs, weights) -> int | None:
    total = 0
    for key in ("layer", "backward_layer"):
        entry = config.get(key)
        if key == "backward_layer" and not isinstance(entry, dict):
            entry = config.get("layer")
        cls, cfg = unwrap_layer(entry)
        macs = count_macs(cls, cfg, ins[:1], [], [])
        if macs is None:
            return None
        total += macs
    return total


def _time_distributed(name, config, ins, outs, weights) -> int | None:
    x, y = _at(ins, 0), _at(outs, 0)
    if x is None or len(x) < 3 or x[1] is None:
        return None
    cls, cfg = unwrap_layer(config.get("layer"))
    child_out = [(y[0], *y[2:])] if y is not None and len(y) >= 2 else []
    macs = count_macs(cls, cfg, [(x[0], *x[2:])], child_out, weights)
    return None if macs is None else x[1] * macs


def _op_macs(name: str, ins: list, outs: list) -> int | None:
    """``keras.ops`` nodes: Matmul contracts, shape/element-wise ops are 0,
    anything else unknown."""
    if name == "Matmul":
        a, y = _at(ins, 0), _at(outs, 0)
        if a is None or y is None or a[-1] is None:
            return None
        return _numel(y) * a[-1] if len(y) else a[-1]
    return 0 if name in OP_HANDLERS else None


_PER_ELEMENT = ("BatchNormalization", "SyncBatchNormalization",
                "LayerNormalization", "GroupNormalization", "RMSNormalization",
                "UnitNormalization", "Rescaling", "Normalization")
_SHAPE_ONLY_HANDLERS = {
    shapes_conv.pooling, shapes_conv.global_pooling,
    shapes_conv.adaptive_pooling, shapes_conv.zero_padding,
    shapes_conv.cropping, shapes_conv.upsampling, shapes_conv.resize_like,
}
# Layers doing no multiply-accumulates: derived from the shape registry so
# the two modules agree on which classes exist.
_ZERO = frozenset(
    {n for n, h in _LAYERS.items() if h in _SHAPE_ONLY_HANDLERS}
    | (set(_IDENTITY_LAYERS) - set(_PER_ELEMENT))
    | {"InputLayer", "Reshape", "Flatten", "Permute", "RepeatVector",
       "Concatenate", "Embedding", "Add", "Subtract", "Multiply", "Average",
       "Maximum", "Minimum", "StringLookup", "IntegerLookup", "Hashing",
       "Discretization"}
)

#: class name -> MAC rule (see :mod:`.registry`); ZERO_MACS: classes doing no multiply-accumulates
_HANDLERS: dict[str, Any] = {
    **{n: _per_element for n in _PER_ELEMENT},
    "Dense": _dense,
    "EinsumDense": _einsum_dense,
    "MultiHeadAttention": _mha,
    "Attention": _attention,
    "AdditiveAttention": _attention,
    "Dot": _dot,
    "RNN": _rnn,
    "Bidirectional": _bidirectional,
    "TimeDistributed": _time_distributed,
    **{n: _rnn for n in ("SimpleRNN", "GRU", "LSTM", "CuDNNGRU",
                         "CuDNNLSTM")},
    **{f"{kind}{n}D": _conv for n in (1, 2, 3) for kind in (
        "Conv", "Convolution", "DepthwiseConv", "SeparableConv",
        "SeparableConvolution")},
    **{f"{kind}{n}DTranspose": _conv_transpose for n in (1, 2, 3)
       for kind in ("Conv", "Convolution")},
}
MAC_RULES = _HANDLERS
ZERO_MACS = _ZERO


# --------------------------------------------------------------------------
# activation memory
# --------------------------------------------------------------------------

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
