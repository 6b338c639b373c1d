"""Multiply-accumulates (MACs) of one call of a serialized layer: the dispatcher.

``count_macs`` returns multiply-accumulates for ONE sample: the leading (batch) axis of every
shape is taken as 1, and any other unknown axis makes the answer ``None`` (we never guess
sequence lengths or image sizes). The per-family rules live in ``costs_dense``,
``costs_conv``, ``costs_attention``, ``costs_recurrent`` and ``costs_wrappers``; activation
memory in ``costs_memory``.

Counting conventions, chosen so that total MACs * 2 is what TensorFlow's FLOP profiler counts
for the forward pass, up to the element-wise work below (``tests/layers/test_macs_profiler.py``
holds the two within 10 % on a transformer block, a CNN and an RNN):

* A contraction (Dense on any rank, EinsumDense, Conv*, Dot, attention products, recurrent
  kernels, ``keras.ops`` matmul/einsum): one MAC per product term. Bias additions and
  activations are not MACs and are not counted.
* Normalization (Batch/Layer/Group/RMS/Unit/Sync) and Rescaling, Normalization: one MAC per
  output element, the inference form ``x * scale + offset`` with the statistics folded in
  (the mean/variance reductions of layer and group norm are not counted).
* Every other element-wise or data-movement layer is 0, for the reason :data:`ZERO_REASONS`
  gives per class: activations, merges (Add, Multiply ...), pooling, padding, cropping,
  resizing, reshapes, lookups, and dropout/noise/augmentation (identity at inference).
* Anything else (Lambda, custom classes without a traced inside, unsupported ops): ``None``,
  with the reason in :data:`NO_MAC_RULE` for Keras's own classes.

``weight_shapes`` (the layer's variables in save order, e.g. Dense ``[kernel, bias]``) only
fill in values the config and tensor shapes leave unknown; config + shapes take precedence
because quantized layers store packed kernels whose shapes do not describe the arithmetic.
"""
from __future__ import annotations

from typing import Any

from inspector.layers import conv as shapes_conv
from inspector.layers.common import Shape, as_shape
from inspector.layers.costs_attention import attention_rules, dot_product_attention
from inspector.layers.costs_common import per_element
from inspector.layers.costs_conv import conv_rules
from inspector.layers.costs_dense import (
    dense,
    dot,
    einsum_dense,
    op_einsum,
    op_matmul,
    reversible_embedding,
    tf_op_lambda,
)
from inspector.layers.costs_memory import activation_bytes, dtype_size
from inspector.layers.costs_recurrent import recurrent_rules
from inspector.layers.costs_wrappers import wrapper_rules
from inspector.layers.kinds import is_op_call
from inspector.layers.seq import OP_HANDLERS
from inspector.layers.shapes import _LAYERS, _OP_NAME_CLASHES, _short_name, infer_output_shapes

__all__ = ["count_macs", "activation_bytes", "dtype_size", "MAC_RULES", "ZERO_MACS", "ZERO_REASONS",
           "NO_MAC_RULE"]


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
        ins = [None if s is None else as_shape(s) for s in (input_shapes or [])]
        outs = [None if s is None else as_shape(s) for s in (output_shapes or [])]
        if not outs or any(s is None for s in outs):
            outs = infer_output_shapes(class_name, config, ins) or outs
        weights = [as_shape(w) for w in (weight_shapes or [])]
        if is_op_call(name, config) and (name in OP_HANDLERS or name in _OP_NAME_CLASHES
                                         or name in ("Einsum", "DotProductAttention")):
            return _op_macs(name, config, ins, outs)
        if name in ZERO_MACS:
            return 0
        rule = MAC_RULES.get(name)
        if rule is None:
            return None
        result = rule(name, config, ins, outs, weights)
        return None if result is None else int(result)
    except Exception:  # garbage in -> None
        return None


def _op_macs(name: str, config: dict, ins: list, outs: list) -> int | None:
    """``keras.ops`` nodes: Matmul and Einsum contract; the other ops the shape rules know
    are element-wise, reductions or shape ops (0); anything else is unknown."""
    if name == "Matmul":
        return op_matmul(ins, outs)
    if name == "Einsum":
        return op_einsum(config, ins)
    if name == "DotProductAttention":
        return dot_product_attention(ins)
    return 0 if name in OP_HANDLERS else None


_PER_ELEMENT = ("BatchNormalization", "SyncBatchNormalization", "LayerNormalization",
                "GroupNormalization", "RMSNormalization", "UnitNormalization", "Rescaling",
                "Normalization")
_SHAPE_ONLY_HANDLERS = {
    shapes_conv.pooling, shapes_conv.global_pooling, shapes_conv.adaptive_pooling,
    shapes_conv.zero_padding, shapes_conv.cropping, shapes_conv.upsampling, shapes_conv.resize_like,
}
_AUGMENTATION = (
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness", "RandomShear", "RandomHue", "RandomSaturation", "RandomSharpness",
    "RandomGrayscale", "RandomColorJitter", "RandomColorDegeneration", "RandomPosterization",
    "RandomInvert", "RandomErasing", "RandomGaussianBlur", "RandomPerspective",
    "RandomElasticTransform", "AugMix", "RandAugment", "CutMix", "MixUp")

#: reason -> classes doing no multiply-accumulates (counted 0)
ZERO_GROUPS: dict[str, frozenset[str]] = {
    "pooling, padding, cropping, up-sampling and resizing move, compare or average values: "
    "no products to accumulate (interpolation weights are not counted)":
        frozenset(n for n, h in _LAYERS.items() if h in _SHAPE_ONLY_HANDLERS),
    "moves or copies values (layout, concatenation, the model's inputs)":
        frozenset({"InputLayer", "Reshape", "Flatten", "Permute", "RepeatVector", "Concatenate",
                   "Identity"}),
    "element-wise activation, merge or mask: one function or operation per element, not a "
    "multiply-accumulate": frozenset({
        "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU", "Add",
        "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Masking"}),
    "a table lookup, hash, bucket or count: no arithmetic on the values": frozenset({
        "Embedding", "StringLookup", "IntegerLookup", "Hashing", "HashedCrossing",
        "Discretization", "CategoryEncoding"}),
    "identity at inference (dropout, noise, regularization, random augmentation)":
        frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                   "GaussianDropout", "GaussianNoise", "AlphaDropout", "ActivityRegularization",
                   *_AUGMENTATION}),
    "image adjustment by per-pixel lookup or comparison (histograms, thresholds)": frozenset({
        "AutoContrast", "Equalization", "Solarization",
        "ContrastLimitedAdaptiveHistogramEqualization"}),
}
ZERO_MACS = frozenset().union(*ZERO_GROUPS.values())
#: class -> why it counts 0 MACs
ZERO_REASONS = {name: why for why, names in ZERO_GROUPS.items() for name in names}

#: Keras classes with no MAC rule, and why (their count is ``None``, shown as ``?``); a node
#: whose inside is known (a nested model, a traced custom layer) gets its inside's sum instead.
NO_MAC_RULE: dict[str, str] = {
    "Layer": "the base class: a subclass computes whatever its call does",
    "Wrapper": "abstract base of the wrappers, which have rules",
    "Lambda": "arbitrary Python, never run by the static reader",
    "TFSMLayer": "an external SavedModel",
    "FlaxLayer": "JAX/Flax code", "JaxLayer": "JAX code", "TorchModuleWrapper": "a PyTorch module",
    "SlicingOpLambda": "tf-keras slicing: data movement, but its arguments may be tensors",
    "GRUCell": "counted by the RNN layer that runs it", "LSTMCell": "counted by the RNN layer that runs it",
    "SimpleRNNCell": "counted by the RNN layer that runs it",
    "StackedRNNCells": "counted by the RNN layer that runs it",
    "Pipeline": "a chain of preprocessing layers given as objects, not a graph",
    "MaxNumBoundingBoxes": "bounding-box dictionaries, not tensors",
    "MelSpectrogram": "an FFT with a frame count that depends on padding rules not modelled",
    "STFTSpectrogram": "an FFT with a frame count that depends on padding rules not modelled",
    "TextVectorization": "string processing; its output length depends on the vocabulary",
}

#: class name -> MAC rule (see :mod:`.registry`); ZERO_MACS: classes doing no multiply-accumulates
MAC_RULES: dict[str, Any] = {
    **{n: per_element for n in _PER_ELEMENT},
    "Dense": dense,
    "EinsumDense": einsum_dense,
    "ReversibleEmbedding": reversible_embedding,
    "Dot": dot,
    "TFOpLambda": tf_op_lambda,
    **attention_rules(),
    **recurrent_rules(),
    **wrapper_rules(count_macs),
    **conv_rules(),
    # keras-hub layers met inside traced blocks (their inside has no sub-layers to sum)
    **{n: lambda *a: 2 * per_element(*a)                 # x·cos + rotate_half(x)·sin per element
       for n in ("RotaryEmbedding", "LlamaRotaryEmbedding")},
    "PositionEmbedding": lambda *a: 0,                    # a slice of a learned table: no arithmetic
    **{n: per_element for n in ("LlamaLayerNorm", "MistralLayerNormalization", "QwenLayerNorm")},  # RMS norms
}
_HANDLERS = MAC_RULES  # read by readers.audit for the classes the inspector knows
_ZERO = ZERO_MACS
