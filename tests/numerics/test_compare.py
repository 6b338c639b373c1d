"""`run_compare`: a model vs its int8-quantized copy, vs itself, and vs a copy with renamed layers."""
from __future__ import annotations

import warnings

import numpy as np
from numerics_models import small_cnn, ticket_data

from inspector.numerics.compare import match_calls, run_compare
from inspector.readers.source import read


def quantized(build):
    """``build()`` again (same seed, same weights), quantized to int8 by Keras; and the names of
    the layers Keras quantized (the ones whose quantization_mode is int8)."""
    model = build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # "Layer X does not have a `quantize` method": expected
        model.quantize("int8")
    return model, {layer.name for layer in model.layers if getattr(layer, "quantization_mode", None) == "int8"}


def check_quantized(a, data, build) -> None:
    b, q = quantized(build)
    assert q, "Keras quantized no layer of this model"
    r = run_compare(a, b, data, batch_size=8, progress=False)
    g = read(b)
    first_q = min(q, key=g.order().index)
    clean = set(g.ancestors(first_q)) - q           # everything the first quantized call depends on
    for n in g.inputs:
        assert r["layers"][n]["max_abs"] == 0.0 and r["layers"][n]["rel_l2"] == 0.0
    for n in clean:
        assert r["layers"][n]["max_abs"] == 0.0, n
        assert r["layers"][n]["cosine"] == 1.0, n
    for n in q:
        assert r["layers"][n]["max_abs"] > 0, n
        assert 0 < r["layers"][n]["rel_l2"] < 0.2, n    # int8 error: present, and small
    assert r["first_over"]["node"] == first_q


def test_cnn_vs_its_int8_copy_errs_exactly_from_the_quantized_layer(keras):
    x = np.random.default_rng(0).normal(0, 1, (20, 12, 12, 3)).astype("float32")
    check_quantized(small_cnn(), x, small_cnn)


def test_ticket_model_vs_its_int8_copy(keras):
    from samples.seed_models import customer_ticket_model

    check_quantized(customer_ticket_model(), ticket_data(20), customer_ticket_model)


def test_errors_match_numpy_on_keras_outputs(keras):
    from samples.seed_models import customer_ticket_model

    a = customer_ticket_model()
    b, _ = quantized(customer_ticket_model)
    data = ticket_data(20, seed=3)
    r = run_compare(a, b, data, batch_size=5, progress=False)   # the same batches as predict's below
    x = [data["title"], data["text_body"], data["tags"]]
    for name in ("dense", "priority", "department"):
        ya = keras.Model(a.inputs, a.get_layer(name).output).predict(x, batch_size=5, verbose=0).astype(np.float64)
        yb = keras.Model(b.inputs, b.get_layer(name).output).predict(x, batch_size=5, verbose=0).astype(np.float64)
        d = yb - ya
        got = r["layers"][name]
        assert np.isclose(got["max_abs"], np.abs(d).max(), rtol=1e-6)
        assert np.isclose(got["rel_l2"], np.linalg.norm(d) / max(np.linalg.norm(ya), np.linalg.norm(yb)), rtol=1e-6)
        cos = (ya * yb).sum() / (np.linalg.norm(ya) * np.linalg.norm(yb))
        assert np.isclose(got["cosine"], cos, rtol=1e-9)


def test_model_vs_itself_is_all_zero(keras):
    model = small_cnn()
    x = np.random.default_rng(1).normal(0, 1, (11, 12, 12, 3)).astype("float32")
    r = run_compare(model, model, x, batch_size=4, progress=False, threshold=0.0)
    assert len(r["layers"]) == len(read(model).order())
    for v in r["layers"].values():
        assert (v["max_abs"], v["rel_l2"], v["cosine"], v["over"]) == (0.0, 0.0, 1.0, False)
    assert r["first_over"] is None and r["unmatched"] == {"a": [], "b": []}


def test_renamed_layers_are_matched_by_position(keras):
    """The same network built again with other layer names (as Python code meant to rebuild a saved
    model may name them): unmatched names are paired in graph order, class by class."""
    from keras import layers

    def build(names):
        keras.utils.set_random_seed(9)
        i = keras.Input((6,), name="x")
        h = layers.Dense(4, activation="relu", name=names[0])(i)
        return keras.Model(i, layers.Dense(2, name=names[1])(h))

    a, b = build(["enc", "head"]), build(["dense_7", "dense_8"])
    assert match_calls(read(a), read(b)) == [("x", "x"), ("enc", "dense_7"), ("head", "dense_8")]
    r = run_compare(a, b, np.ones((3, 6), "float32"), progress=False)
    assert r["layers"]["dense_7"]["a"] == "enc" and r["layers"]["dense_8"]["rel_l2"] == 0.0
