"""Static output-shape inference for serialized Keras layers.

Given a layer's ``class_name`` and ``config`` (as stored in a ``.keras`` or
``.h5`` model config) plus the shapes of the tensors it is called on, compute
the shapes it produces -- without importing TensorFlow or Keras, so that
untrusted or huge model files can be inspected cheaply.

Both config dialects are understood: Keras 3 (``InputLayer.batch_shape``,
``DTypePolicy`` dicts, ``keras.ops`` nodes) and Keras 2 / tf-keras
(``batch_input_shape``, ``data_format: null``).  The arithmetic follows each
layer's ``compute_output_shape`` in Keras itself; deviations are documented
where Keras' symbolic shape is known to be wrong at run time.

Spatial and categorical preprocessing layers live in
:mod:`inspector.layers.conv`, RNN/attention and tf-keras TF-op layers in
:mod:`inspector.layers.seq`, ``keras.ops`` nodes in
:mod:`inspector.layers.ops`, shared parsing helpers in
:mod:`inspector.layers.common`.
"""

from __future__ import annotations

import re

from inspector.layers import conv as shapes_conv
from inspector.layers import dtypes as shapes_dtypes
from inspector.layers import ops as shapes_ops
from inspector.layers import seq as shapes_seq
from inspector.layers.common import (
    Handler,
    Shape,
    ShapeError,
    as_int,
    as_shape,
    canonical_axis,
    first,
    is_int,
    merge_broadcast,
    need_rank,
    prod,
    reshape_dims,
    unwrap_layer,
)
from inspector.layers.kinds import is_op_call, short_name

__all__ = ["Shape", "infer_output_shapes", "infer_output_dtypes"]


def infer_output_shapes(
    class_name: str,
    config: dict,
    input_shapes: list[Shape | None],
    call_kwargs: dict | None = None,
) -> list[Shape] | None:
    """Output shapes (batch axis included, ``None`` = unknown) of one call.

    ``input_shapes`` are the shapes of the tensors the layer was called on,
    in call order (positional tensors, then tensor kwargs; e.g.
    MultiHeadAttention ``[query, value, key]``).  ``call_kwargs`` holds the
    non-tensor call arguments (``return_attention_scores`` ...); tensors may
    also be given there as a shape or serialized ``__keras_tensor__``.

    Returns ``None`` -- never raises -- for unknown classes (``Lambda``,
    custom layers), missing input shapes, unsupported ``keras.ops`` and TF
    functions (``TFOpLambda``) and any config that does not make sense,
    because a wrong shape is worse than an honest "unknown" for a static
    inspector.  ``call_kwargs["__args__"]`` may carry a Keras 3 node's saved
    positional args (see :mod:`inspector.layers.ops`).
    """
    try:
        if not isinstance(class_name, str) or not isinstance(config, dict):
            return None
        shapes = [None if s is None else as_shape(s)
                  for s in (input_shapes or [])]
        kw = call_kwargs if isinstance(call_kwargs, dict) else {}
        handler = _lookup(class_name, config)
        if handler is None:
            return None
        result = handler(_short_name(class_name), config, shapes, kw)
        if isinstance(result, tuple):
            result = [result]
        if not isinstance(result, list) or not result:
            return None
        return [as_shape(s) for s in result]
    except Exception:  # garbage in -> None, whatever the failure was
        return None


def infer_output_dtypes(
    class_name: str,
    config: dict,
    input_dtypes: list[str | None],
    call_kwargs: dict | None = None,
) -> list[str | None] | None:
    """Output dtypes of one call where they are not simply the layer's compute dtype or its
    input's (index lookups give int64, ``argmax`` int32, ``one_hot`` float32 ...).

    ``None`` (or ``None`` entries) means "no rule": the reader then uses the layer's own
    dtype policy, else the first input's dtype. Never raises.
    """
    try:
        if not isinstance(class_name, str) or not isinstance(config, dict):
            return None
        name = _short_name(class_name)
        dtypes = [d if isinstance(d, str) else None
                  for d in (input_dtypes or [])]
        kw = call_kwargs if isinstance(call_kwargs, dict) else {}
        if is_op_call(name, config) and name in _OPS:
            out = shapes_dtypes.op_dtypes(name, config, dtypes, kw)
        elif name in ("TFOpLambda", "SlicingOpLambda"):
            out = shapes_dtypes.tf_op_dtypes(config, dtypes, kw)
        else:
            out = [shapes_conv.preprocessing_dtype(name, config,
                                                   _policy(config))]
        if not isinstance(out, list) or all(d is None for d in out):
            return None
        return [d if isinstance(d, str) else None for d in out]
    except Exception:  # garbage in -> no rule
        return None


def _policy(config: dict) -> str | None:
    """A layer's dtype policy name (Keras 2 string or Keras 3 dict)."""
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    return dtype if isinstance(dtype, str) else None


_short_name = short_name


def _lookup(class_name: str, config: dict) -> Handler | None:
    name = _short_name(class_name)
    if is_op_call(name, config) and (name in _OPS or name in _OP_NAME_CLASHES):
        return _OPS.get(name)
    return _LAYERS.get(name)


_OPS = {**shapes_ops.OP_HANDLERS, **shapes_ops.CONTRACTION_HANDLERS}


# Layer names that are also keras.ops class names with other semantics.
_OP_NAME_CLASHES = frozenset({"Dot", "Average"})


# --------------------------------------------------------------------------
# core layers
# --------------------------------------------------------------------------

def _input_layer(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Keras 3 ``batch_shape`` / Keras 2 ``batch_input_shape`` (or the
    pre-batching ``shape`` + ``batch_size`` form)."""
    for key in ("batch_shape", "batch_input_shape"):
        if config.get(key) is not None:
            return as_shape(config[key])
    for key in ("shape", "input_shape"):
        if config.get(key) is not None:
            batch = config.get("batch_size")
            return (None if batch is None else as_int(batch, 1),
                    *as_shape(config[key]))
    raise ShapeError("InputLayer without a shape")


def _identity(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Element-wise layers: output shape == (first) input shape."""
    return first(shapes)


def _dense(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = first(shapes)
    if len(shape) < 2:  # Dense's InputSpec(min_ndim=2)
        raise ShapeError("Dense needs a batched input of rank >= 2")
    return (*shape[:-1], as_int(config.get("units"), 1))


_EINSUM_FORMS = (
    (re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"), False),
    (re.compile(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)"), True),
    (re.compile(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0"), False),
)


def parse_einsum_equation(equation: str) -> tuple[str, str, str, bool]:
    """Split an EinsumDense equation into (input, weight, output,
    left_elided); ``...`` may lead or trail, as in Keras."""
    dotted = equation.replace("...", "0")
    for pattern, left in _EINSUM_FORMS:
        match = pattern.fullmatch(dotted)
        if match:
            return match.group(1), match.group(2), match.group(3), left
    raise ShapeError(f"unsupported einsum equation {equation!r}")


def _einsum_dense(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    """EinsumDense, after ``_analyze_split_string``: the configured partial
    ``output_shape`` excludes the batch axis and the elided (``...``) axes,
    which are copied from the input.  An unknown (None) entry of the partial
    shape whose letter also appears in the input takes the input's size:
    that is what the einsum produces and what tf-keras reports, while Keras
    3's symbolic shape leaves it None.  (Keras 3 also reverses leading
    elided axes when there are more than two; we use the einsum's order.)"""
    shape = first(shapes)
    in_spec, w_spec, out_spec, left = parse_einsum_equation(
        str(config.get("equation")))
    partial = config.get("output_shape")
    partial = [as_int(partial, 1)] if is_int(partial) else list(
        as_shape(partial))
    elided = len(shape) - len(in_spec)
    if elided < 0:
        raise ShapeError("input rank below equation rank")
    if elided > 0 and left:
        out = [shape[0], *shape[1:elided], *partial]
        in_map = {d: i + elided - len(shape) for i, d in enumerate(in_spec)}
        out_map = {d: i + elided for i, d in enumerate(out_spec)}
    else:
        out = [shape[0], *partial]
        if elided > 0:
            out += list(shape[len(shape) - elided:])
        in_map = {d: i for i, d in enumerate(in_spec)}
        out_map = {d: i for i, d in enumerate(out_spec)}
    for dim in in_spec:
        if dim in out_map:
            o, i = out[out_map[dim]], shape[in_map[dim]]
            if o is not None and i is not None and o != i:
                raise ShapeError("einsum output disagrees with input")
            out[out_map[dim]] = i if o is None else o
    for dim in out_spec:
        if dim not in in_spec and dim not in w_spec:
            raise ShapeError("einsum output axis without a source")
    for dim in w_spec:
        if dim not in in_map and dim not in out_map:
            raise ShapeError("einsum weight axis without a source")
    return tuple(out)


def _embedding(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    return (*first(shapes), as_int(config.get("output_dim"), 1))


def _reversible_embedding(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    """keras-hub's tied embedding: token ids -> vectors, or with ``reverse=True`` vectors -> logits."""
    if kw.get("reverse"):
        return (*first(shapes)[:-1], as_int(config.get("input_dim"), 1))
    return _embedding(cn, config, shapes, kw)


def _flatten(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = first(shapes)
    rest = shape[1:]
    return (shape[0], prod(rest) if rest else 1)


def _reshape(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = first(shapes)
    return (shape[0], *reshape_dims(shape[1:], config.get("target_shape")))


def _permute(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = first(shapes)
    dims = [as_int(d, 1) for d in config.get("dims")]
    if sorted(dims) != list(range(1, len(shape))):
        raise ShapeError("Permute dims are not a permutation")
    return (shape[0], *(shape[d] for d in dims))


def _repeat_vector(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = need_rank(first(shapes), 2)
    return (shape[0], as_int(config.get("n"), 1), shape[1])


def _all_known(shapes: list, minimum: int) -> list[Shape]:
    if len(shapes) < minimum or any(s is None for s in shapes):
        raise ShapeError("merge layer with missing input shapes")
    return shapes


def _concatenate(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Concatenate layer: sizes along ``axis`` add up (unknown if any is
    unknown); other axes are taken from the first input, as Keras does."""
    shapes = _all_known(shapes, 1)
    out = list(shapes[0])
    axis = canonical_axis(config.get("axis", -1), len(out))
    for s in shapes[1:]:
        if len(s) != len(out):
            raise ShapeError("Concatenate rank mismatch")
        if out[axis] is None or s[axis] is None:
            out[axis] = None
            break
        out[axis] += s[axis]
    return tuple(out)


def _merge(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Add/Subtract/Multiply/Average/Maximum/Minimum: broadcast the
    non-batch axes; the batch axis is known only if the inputs agree."""
    shapes = _all_known(shapes, 1)
    if cn == "Subtract" and len(shapes) != 2:
        raise ShapeError("Subtract takes exactly two inputs")
    out = shapes[0][1:]
    for s in shapes[1:]:
        out = merge_broadcast(out, s[1:])
    batches = {s[0] for s in shapes} - {None}
    return ((batches.pop() if len(batches) == 1 else None), *out)


def _dot(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Dot layer: drop the contracted axis of both inputs and the batch axis
    of the second; a lone remaining axis becomes ``(batch, 1)``."""
    s1, s2 = (list(s) for s in _all_known(shapes, 2)[:2])
    axes = config.get("axes", -1)
    if is_int(axes):
        axes = ([axes % len(s1), axes % len(s2)] if axes < 0
                else [axes, axes])
    axes = [as_int(a) for a in axes]
    if len(axes) != 2:
        raise ShapeError("Dot axes must be an int or a pair")
    a1, a2 = (canonical_axis(a, len(s)) for a, s in zip(axes, (s1, s2)))
    if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
        raise ShapeError("Dot axes have different sizes")
    s1.pop(a1)
    s2.pop(a2)
    s2.pop(0)
    out = s1 + s2
    return tuple(out + [1] if len(out) == 1 else out)


# --------------------------------------------------------------------------
# wrappers (recursive)
# --------------------------------------------------------------------------

def _inner(config: dict, key: str, shapes: list, kw: dict) -> list[Shape]:
    cls, cfg = unwrap_layer(config.get(key))
    out = infer_output_shapes(cls, cfg, shapes, kw)
    if out is None:
        raise ShapeError(f"cannot infer wrapped layer {cls}")
    return out


def _time_distributed(cn: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Apply the wrapped layer to ``(batch, *input[2:])`` and re-insert the
    time axis, as ``TimeDistributed.compute_output_shape``."""
    shape = first(shapes)
    if len(shape) < 3:
        raise ShapeError("TimeDistributed needs rank >= 3")
    child = _inner(config, "layer", [(shape[0], *shape[2:])], {})
    if len(child) != 1:
        raise ShapeError("TimeDistributed of a multi-output layer")
    return (child[0][0], shape[1], *child[0][1:])


def _bidirectional(cn: str, config: dict, shapes: list,
                   kw: dict) -> list[Shape]:
    """Bidirectional RNN: merge forward/backward outputs per ``merge_mode``
    ("concat" adds last axes, "sum"/"mul"/"ave" keep it, None returns both);
    with ``return_state`` forward states then backward states follow."""
    seq = [first(shapes)]
    fwd = _inner(config, "layer", seq, {})
    bwd = (_inner(config, "backward_layer", seq, {})
           if isinstance(config.get("backward_layer"), dict) else fwd)
    _, layer_cfg = unwrap_layer(config.get("layer"))
    states = len(fwd) > 1 and layer_cfg.get("return_state", False)
    f_out, b_out = fwd[0], bwd[0]
    mode = config.get("merge_mode", "concat")
    if mode == "concat":
        last = (None if f_out[-1] is None or b_out[-1] is None
                else f_out[-1] + b_out[-1])
        outputs = [(*f_out[:-1], last)]
    elif mode in ("sum", "mul", "ave"):
        outputs = [f_out]
    elif mode is None:
        outputs = [f_out, b_out]
    else:
        raise ShapeError(f"unknown merge_mode {mode!r}")
    if states:
        outputs += list(fwd[1:]) + list(bwd[1:])
    return outputs


def _wrapped_identity(cn: str, config: dict, shapes: list,
                      kw: dict) -> list[Shape]:
    """SpectralNormalization only reparametrises the wrapped layer's kernel,
    so its output is the wrapped layer's output."""
    return _inner(config, "layer", shapes, kw)


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------

_IDENTITY_LAYERS = (
    # normalisation
    "BatchNormalization", "SyncBatchNormalization", "LayerNormalization",
    "GroupNormalization", "UnitNormalization", "RMSNormalization",
    # activations
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "ThresholdedReLU",
    # regularisation / noise
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianDropout", "GaussianNoise", "AlphaDropout",
    "ActivityRegularization",
    # misc
    "Identity", "Masking", "Rescaling", "Normalization",
    # augmentation (shape preserving)
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
    "RandomContrast", "RandomBrightness", "RandomShear", "RandomHue",
    "RandomSaturation", "RandomSharpness", "RandomGrayscale",
    "RandomColorJitter", "RandomColorDegeneration", "RandomPosterization",
    "RandomInvert", "RandomErasing", "RandomGaussianBlur",
    "RandomPerspective", "RandomElasticTransform", "Solarization",
    "AutoContrast", "Equalization", "AugMix", "RandAugment", "CutMix",
    "ContrastLimitedAdaptiveHistogramEqualization",
    "MixUp",
)

_LAYERS: dict[str, Handler] = {
    **{name: _identity for name in _IDENTITY_LAYERS},
    "InputLayer": _input_layer,
    "Dense": _dense,
    "EinsumDense": _einsum_dense,
    "Embedding": _embedding,
    "ReversibleEmbedding": _reversible_embedding,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Permute": _permute,
    "RepeatVector": _repeat_vector,
    "Concatenate": _concatenate,
    "Add": _merge, "Subtract": _merge, "Multiply": _merge,
    "Average": _merge, "Maximum": _merge, "Minimum": _merge,
    "Dot": _dot,
    "TimeDistributed": _time_distributed,
    "Bidirectional": _bidirectional,
    "SpectralNormalization": _wrapped_identity,
}
shapes_conv.register(_LAYERS)
shapes_seq.register(_LAYERS)
#: class name -> output-shape rule of every layer class with one (see :mod:`.registry`)
LAYER_SHAPE_RULES = _LAYERS
