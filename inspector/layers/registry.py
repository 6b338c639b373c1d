"""What the inspector knows about each layer class, asked in one place.

The rules themselves live in per-family modules (shapes: ``shapes``, ``conv``, ``seq``,
``ops``; dtypes: ``dtypes``; multiply-accumulates: ``costs``); this module puts them
together per class (:func:`rule`), holds the diagram family of a class (:func:`family`),
and lists the Keras layer classes that deliberately have no shape rule, with the reason
(:data:`UNKNOWN`). ``tests/layers/test_registry.py`` checks that every class in
``keras.layers`` is either ruled here or listed there, so a new Keras class cannot slip
by unnoticed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from inspector.layers import costs, shapes
from inspector.layers.kinds import short_name

#: Keras layer classes with no output-shape rule, and why. Their nodes still show the shapes
#: the file saved (Keras 3 saves every tensor's shape), their parameters and their config.
UNKNOWN: dict[str, str] = {
    "Layer": "the base class: a subclass's output is whatever its call computes",
    "Wrapper": "abstract base of TimeDistributed/Bidirectional, which have rules",
    "Lambda": "arbitrary Python; shown with the output_shape the file saved, if any",
    "TFSMLayer": "loads an external SavedModel; refused by the static reader",
    "FlaxLayer": "wraps JAX/Flax code: the shape is that code's",
    "JaxLayer": "wraps JAX code: the shape is that code's",
    "TorchModuleWrapper": "wraps a PyTorch module: the shape is that module's",
    "GRUCell": "an RNN cell returns (output, states) inside an RNN layer, which has the rule",
    "LSTMCell": "an RNN cell returns (output, states) inside an RNN layer, which has the rule",
    "SimpleRNNCell": "an RNN cell returns (output, states) inside an RNN layer, which has the rule",
    "StackedRNNCells": "cells stacked inside an RNN layer, which has the rule",
    "Pipeline": "a chain of preprocessing layers given as objects, not a graph",
    "MaxNumBoundingBoxes": "works on bounding-box dictionaries, not tensors",
    "MelSpectrogram": "frame count depends on padding and hop rules not modelled yet",
    "STFTSpectrogram": "frame count depends on padding and hop rules not modelled yet",
    "TextVectorization": "output length and mode depend on the vocabulary and on strings",
}

#: Ordered (family, pattern) rules on the class name; first match wins. Patterns, not a
#: closed list, so custom and future classes get a family too.
_FAMILY_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("attention", re.compile(r"Attention")),
    ("recurrent", re.compile(r"LSTM|GRU|RNN|Bidirectional|TimeDistributed|Cell$")),
    ("conv", re.compile(r"Conv")),
    ("norm", re.compile(r"Normalization$|^LayerNorm|^RMSNorm|^GroupNorm")),
    ("pool", re.compile(r"Pool")),
    ("merge", re.compile(r"^(Add|Subtract|Multiply|Average|Maximum|Minimum|Concatenate|Dot)$")),
    ("activation", re.compile(r"^(Activation|ReLU|LeakyReLU|PReLU|ELU|Softmax|ThresholdedReLU)$")),
    ("dense", re.compile(r"Dense$|Embedding$|^Linear$")),
    ("regularization", re.compile(r"Dropout|Noise$|ActivityRegularization")),
    ("reshape", re.compile(r"^(Reshape|Flatten|Permute|RepeatVector|Cropping\w*|ZeroPadding\w*|UpSampling\w*|"
                           r"Identity|Masking|Lambda)$")),
    ("preprocessing", re.compile(r"^(Rescaling|Resizing|CenterCrop|Random\w+|StringLookup|IntegerLookup|"
                                 r"TextVectorization|Hashing|CategoryEncoding|Discretization|Normalization)$")),
]


@dataclass(frozen=True)
class LayerRule:
    """Everything known about one class: ``shape`` is its output-shape rule (None: unknown,
    see :data:`UNKNOWN`); ``macs`` is ``"zero"`` (no multiply-accumulates), ``"rule"`` or
    ``None`` (unknown); ``family`` colours its boxes."""

    class_name: str
    shape: Any | None
    macs: str | None
    family: str | None
    unknown_why: str | None = None


def family(class_name: str) -> str | None:
    """The diagram family of a class name (None: no rule matched)."""
    cls = short_name(class_name)
    for fam, pattern in _FAMILY_RULES:
        if pattern.search(cls):
            return fam
    return None


def rule(class_name: str) -> LayerRule:
    name = short_name(class_name)
    macs = "zero" if name in costs.ZERO_MACS else "rule" if name in costs.MAC_RULES else None
    return LayerRule(name, shapes.LAYER_SHAPE_RULES.get(name), macs, family(name), UNKNOWN.get(name))


def known_classes() -> set[str]:
    """Layer classes with an output-shape rule."""
    return set(shapes.LAYER_SHAPE_RULES)
