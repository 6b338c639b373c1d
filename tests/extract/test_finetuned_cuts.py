"""extract / graft / features / --load on LoRA and quantized models, checked against Keras.

A cut of a quantized model must stay quantized (its kept layers hold the same int8
kernels and scales, so its features equal the quantized model's own truncated
outputs, not the float model's); a cut of a LoRA model keeps its adapters. The cuts
go through the library (what the CLI commands call; their options are tested in
test_extract/test_graft/test_features), saved and loaded back as the CLI's files are;
--load goes through the CLI.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import run_cli

import inspector


def _model(keras):
    keras.utils.set_random_seed(11)
    i = keras.Input((8,), name="features")
    x = keras.layers.Dense(16, activation="relu", name="d1")(i)
    x = keras.layers.EinsumDense("ab,bc->ac", output_shape=12, bias_axes="c", name="ein")(x)
    x = keras.layers.Dense(6, activation="relu", name="d2")(x)
    return keras.Model(i, keras.layers.Dense(3, name="out")(x), name="tuned")


@pytest.fixture(scope="module")
def files(tmp_path_factory, keras):
    d = tmp_path_factory.mktemp("finetuned_cuts")
    m = _model(keras)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.quantize("int8")
    m.save(d / "int8.keras")
    lora = _model(keras)
    lora.get_layer("d1").enable_lora(4)
    lora.get_layer("ein").enable_lora(2)
    rng = np.random.default_rng(12)
    for layer in (lora.get_layer("d1"), lora.get_layer("ein")):   # non-zero adapters: they change the output
        layer.lora_kernel_b.assign(rng.normal(0, 0.5, layer.lora_kernel_b.shape).astype("float32"))
    lora.save(d / "lora.keras")
    x = rng.normal(0, 1, (20, 8)).astype("float32")
    np.save(d / "x.npy", x)
    return d, x


def _truth(keras, path, layer, x):
    m = keras.models.load_model(path)
    return m, keras.Model(m.inputs, m.get_layer(layer).output).predict(x, verbose=0)


@pytest.mark.parametrize("name", ["int8", "lora"])
def test_extract_keeps_quantization_and_adapters(files, keras, name):
    d, x = files
    path, out = d / f"{name}.keras", d / f"{name}_cut.keras"
    inspector.feature_extractor(str(path), "d2").save(out)
    full, want = _truth(keras, path, "d2", x)
    sub = keras.models.load_model(out)
    for layer in sub.layers:
        if layer.weights:
            orig = full.get_layer(layer.name)
            assert getattr(layer, "quantization_mode", None) == getattr(orig, "quantization_mode", None)
            assert getattr(layer, "lora_rank", None) == getattr(orig, "lora_rank", None)
            assert layer.count_params() == orig.count_params()
    assert np.allclose(sub.predict(x, verbose=0), want, atol=1e-5)
    assert "out" not in [layer.name for layer in sub.layers]


def test_quantized_cut_computes_in_int8_not_in_float(files, keras):
    """The int8 cut's features are the quantized model's, measurably off the float model it came from."""
    d, x = files
    out = d / "int8_d2.keras"
    inspector.feature_extractor(str(d / "int8.keras"), "d2").save(out)
    sub = keras.models.load_model(out)
    float_model = _model(keras)                      # the same seed: the weights before quantize()
    float_feats = keras.Model(float_model.inputs, float_model.get_layer("d2").output).predict(x, verbose=0)
    got = sub.predict(x, verbose=0)
    assert sub.get_layer("d1").kernel.dtype == "int8"
    assert not np.allclose(got, float_feats, atol=1e-6)             # quantization error is there ...
    assert np.allclose(got, float_feats, atol=0.05 * np.abs(float_feats).max())   # ... and small


@pytest.mark.parametrize("name", ["int8", "lora"])
def test_features_equal_the_truncated_model(files, keras, name):
    d, x = files
    out = d / f"{name}_feats.npy"
    inspector.extract_features(str(d / f"{name}.keras"), "ein", str(d / "x.npy"), str(out))
    _, want = _truth(keras, d / f"{name}.keras", "ein", x)
    assert np.allclose(np.load(out), want, atol=1e-5)


@pytest.mark.parametrize("name", ["int8", "lora"])
def test_graft_keeps_the_tuned_layers(files, keras, name):
    d, x = files
    out = d / f"{name}_graft.keras"
    inspector.graft(str(d / f"{name}.keras"), "d1", ["difficulty:3:softmax"]).save(out)
    full = keras.models.load_model(d / f"{name}.keras")
    g = keras.models.load_model(out)
    assert [o.shape[-1] for o in g.outputs] == [3, 3]
    for layer in full.layers:
        if layer.weights:
            new = g.get_layer(layer.name)
            assert getattr(new, "quantization_mode", None) == getattr(layer, "quantization_mode", None)
            assert getattr(new, "lora_rank", None) == getattr(layer, "lora_rank", None)
    out0 = g.predict(x, verbose=0)
    assert np.allclose(out0[0] if isinstance(out0, list) else out0["out"], full.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("name", ["int8", "lora"])
def test_load_summary_equals_the_static_one(files, name):
    import json

    d, _ = files
    static = json.loads(run_cli("summary", str(d / f"{name}.keras"), "--format", "json").stdout)
    p = run_cli("summary", str(d / f"{name}.keras"), "--load", "--format", "json")
    assert p.returncode == 0, p.stderr
    live = json.loads(p.stdout)
    keys = ("params_trainable", "params_non_trainable", "params_lora", "params_quantization")
    assert {k: live["totals"][k] for k in keys} == {k: static["totals"][k] for k in keys}
    rows = {r["id"]: (r["quantization"], r["lora_rank"]) for r in live["layers"]}
    assert rows == {r["id"]: (r["quantization"], r["lora_rank"]) for r in static["layers"]}
