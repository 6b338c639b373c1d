"""The per-class registry against Keras itself: every class in ``keras.layers`` has a shape rule
or is listed as deliberately unknown with a reason; the operation list is what Keras defines;
one op rule serves the reader and the rule tables; new rules give Keras's own shapes."""
from __future__ import annotations

import inspect

import keras
import pytest

from inspector.layers import registry, shapes
from inspector.layers.gen_op_names import keras_op_classes
from inspector.layers.kinds import RENAMED_OP_CLASSES, is_op
from inspector.layers.op_names import OP_CLASSES
from inspector.layers.seq import OP_HANDLERS


def _keras_layer_classes() -> set[str]:
    """Names Keras saves as ``class_name`` for every public class in ``keras.layers``."""
    return {c.__name__ for c in vars(keras.layers).values()
            if inspect.isclass(c) and issubclass(c, keras.layers.Layer)}


def test_every_keras_layer_class_has_a_rule_or_a_reason():
    classes = _keras_layer_classes()
    assert len(classes) > 100
    missing = sorted(c for c in classes if c not in registry.known_classes() and c not in registry.UNKNOWN)
    assert not missing, f"Keras layer classes with no shape rule and no reason in registry.UNKNOWN: {missing}"
    for name, why in registry.UNKNOWN.items():
        assert why and registry.rule(name).shape is None, name  # listed as unknown, yet ruled: stale
        assert registry.rule(name).unknown_why == why


def test_op_names_is_what_keras_defines():
    version, names = keras_op_classes()
    assert version == keras.__version__
    assert names == set(OP_CLASSES), ("regenerate with `python -m inspector.layers.gen_op_names`: "
                                      f"new {sorted(names - OP_CLASSES)}, gone {sorted(OP_CLASSES - names)}")


def test_op_rules_are_for_op_classes():
    assert set(OP_HANDLERS) <= OP_CLASSES | RENAMED_OP_CLASSES


def test_one_op_rule_tells_ops_from_layers():
    # Keras 3 entries say so by module; legacy entries by class and a config without `trainable`
    assert is_op({"module": "keras.src.ops.numpy", "class_name": "Add", "config": {"name": "add"}})
    assert not is_op({"module": "keras.layers", "class_name": "Add", "config": {"name": "add", "trainable": True}})
    assert is_op({"class_name": "Add", "config": {"name": "add"}})
    assert not is_op({"class_name": "Add", "config": {"name": "add", "trainable": True}})
    assert not is_op({"class_name": "MyLayer", "config": {"name": "m"}})  # a custom layer skipping super()
    # the shape rules use the same rule: an Add *layer* and an `add` op of one tensor and a number differ
    assert shapes.infer_output_shapes("Add", {"name": "a", "trainable": True}, [(None, 3), (None, 3)]) == [(None, 3)]


def test_family_of_every_ruled_class_is_known():
    """Every class with a shape rule is coloured by a family rule, or deliberately left 'other'."""
    unfamilied = sorted(c for c in registry.known_classes() if registry.family(c) is None)
    # shape-only plumbing with no family of its own: listed so a new class is a conscious choice
    assert set(unfamilied) <= {"InputLayer", "TFOpLambda", "SlicingOpLambda", "SpectralNormalization",
                               "CategoryEncoding", "HashedCrossing", "AutoContrast", "Equalization", "AugMix",
                               "RandAugment", "CutMix", "MixUp", "Solarization", "ActivityRegularization",
                               "ContrastLimitedAdaptiveHistogramEqualization", "Bidirectional", "Resizing",
                               "Hashing", "Discretization", "StringLookup", "IntegerLookup", "CenterCrop",
                               "Rescaling"} | {c for c in unfamilied if c.startswith(("Random", "Global"))}, unfamilied


def _keras_shapes(layer, *args, **kwargs) -> list[tuple]:
    out = layer(*args, **kwargs)
    return [tuple(t.shape) for t in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.mark.parametrize("scores", [False, True])
def test_grouped_query_attention_shapes(scores):
    layer = keras.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
    q, v = keras.Input((5, 6)), keras.Input((7, 6))
    want = _keras_shapes(layer, q, v, return_attention_scores=scores)
    kw = {"return_attention_scores": True} if scores else {}
    assert shapes.infer_output_shapes(type(layer).__name__, layer.get_config(), [(None, 5, 6), (None, 7, 6)],
                                      kw) == want


@pytest.mark.parametrize("reverse", [False, True])
def test_reversible_embedding_shapes(reverse):
    layer = keras.layers.ReversibleEmbedding(10, 6)
    ids = keras.Input((5,), dtype="int32")
    x = layer(ids)
    want = _keras_shapes(layer, x, reverse=True) if reverse else [tuple(x.shape)]
    given = [(None, 5, 6)] if reverse else [(None, 5)]
    assert shapes.infer_output_shapes("ReversibleEmbedding", layer.get_config(), given,
                                      {"reverse": True} if reverse else {}) == want


def test_clahe_keeps_the_image_shape():
    layer = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(value_range=(0, 255))
    want = _keras_shapes(layer, keras.Input((8, 8, 3)))
    assert shapes.infer_output_shapes(type(layer).__name__, layer.get_config(), [(None, 8, 8, 3)]) == want
