"""Hyper-parameters in the boxes (``inspector.layers.hparams``) against Keras's own configs.

Expected fields come from the layer's ``get_config()`` and from a default-built layer of the
same class (what Keras itself takes as the default), never from our own earlier output.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from inspector.layers.hparams import IDENTITY, all_params, key_params

#: (class, required arguments, non-default arguments)
CASES = [
    ("Conv1D", {"filters": 8, "kernel_size": 11}, {"dilation_rate": 4, "padding": "same"}),
    ("Conv2D", {"filters": 64, "kernel_size": 3}, {"strides": 2, "activation": "relu", "use_bias": False}),
    ("DepthwiseConv2D", {"kernel_size": 3}, {"depth_multiplier": 2, "padding": "same"}),
    ("SeparableConv2D", {"filters": 16, "kernel_size": 5}, {"dilation_rate": 2}),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 2}, {"strides": 2}),
    ("Dense", {"units": 24}, {"activation": "gelu", "kernel_initializer": "he_normal"}),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (None, 8)}, {"bias_axes": "d"}),
    ("Embedding", {"input_dim": 1000, "output_dim": 64}, {"mask_zero": True}),
    ("MultiHeadAttention", {"num_heads": 3, "key_dim": 16}, {"dropout": 0.1, "value_dim": 8}),
    ("LSTM", {"units": 16}, {"return_sequences": True, "recurrent_dropout": 0.2}),
    ("GRU", {"units": 8}, {"go_backwards": True, "reset_after": False}),
    ("SimpleRNN", {"units": 4}, {"activation": "relu"}),
    ("Dropout", {"rate": 0.3}, {"noise_shape": (None, 1)}),
    ("MaxPooling2D", {}, {"pool_size": 3, "strides": 2, "padding": "same"}),
    ("AveragePooling1D", {"pool_size": 4}, {"padding": "same", "strides": 1}),
    ("GlobalAveragePooling2D", {}, {"keepdims": True}),
    ("BatchNormalization", {}, {"momentum": 0.9, "epsilon": 1e-5, "axis": 1}),
    ("LayerNormalization", {}, {"epsilon": 1e-6}),
    ("GroupNormalization", {}, {"groups": 8}),
    ("Activation", {"activation": "swish"}, {}),
    ("ReLU", {}, {"max_value": 6.0}),
    ("LeakyReLU", {}, {"negative_slope": 0.1}),
    ("Softmax", {}, {"axis": 1}),
    ("Concatenate", {}, {"axis": 1}),
    ("Add", {}, {}),
    ("Reshape", {"target_shape": (4, 4)}, {}),
    ("ZeroPadding2D", {}, {"padding": 3}),
    ("UpSampling2D", {}, {"size": 3, "interpolation": "bilinear"}),
    ("Rescaling", {"scale": 1 / 255}, {"offset": -1.0}),
]


def _layer(keras, cls, kwargs):
    return getattr(keras.layers, cls)(**kwargs)


def _differing(keras, cls, required, extra):
    """Field names whose saved value differs from Keras's default *given the other arguments*: the
    layer built again without that one argument (a pooling layer's strides default to its pool size)."""
    cfg = _layer(keras, cls, {**required, **extra}).get_config()
    want = {k for k in required if k in cfg}
    for k in extra:
        rest = {x: v for x, v in extra.items() if x != k}
        if cfg[k] != _layer(keras, cls, {**required, **rest}).get_config().get(k):
            want.add(k)
    base = _layer(keras, cls, required).get_config()
    assert all(cfg[k] == base[k] for k in cfg if k not in want | IDENTITY)  # nothing else moved
    return cfg, want


@pytest.mark.parametrize("cls, required, extra", CASES, ids=[c[0] for c in CASES])
def test_all_params_are_the_fields_not_at_keras_default(keras, cls, required, extra):
    cfg, want = _differing(keras, cls, required, extra)
    got = [x.split("=", 1)[0] for x in all_params(cls, cfg)]
    assert len(got) == len(set(got))
    assert set(got) == want
    base = _layer(keras, cls, required).get_config()  # a default-built layer: only what was required
    assert {x.split("=", 1)[0] for x in all_params(cls, base)} == {k for k in required if k in base}


def test_dilated_conv1d_names_kernel_and_dilation(keras):
    cfg = keras.layers.Conv1D(filters=32, kernel_size=11, dilation_rate=4).get_config()
    k, d = cfg["kernel_size"][0], cfg["dilation_rate"][0]
    assert (k, d) == (11, 4)
    assert f"k{k} d{d}" in key_params("Conv1D", cfg)
    assert str(cfg["filters"]) in key_params("Conv1D", cfg)
    assert {f"kernel_size={k}", f"dilation_rate={d}"} <= set(all_params("Conv1D", cfg))
    plain = keras.layers.Conv1D(filters=32, kernel_size=11).get_config()
    assert f"k{plain['kernel_size'][0]}" in key_params("Conv1D", plain)
    assert not any(" d" in x for x in key_params("Conv1D", plain))  # dilation 1 is Keras's default


def test_key_params_per_family(keras):
    L = keras.layers

    def key(layer):
        return key_params(type(layer).__name__, layer.get_config())

    c = L.Conv2D(64, 3, strides=2, padding="same", activation="relu").get_config()
    assert key_params("Conv2D", c) == [str(c["filters"]), "×".join(map(str, c["kernel_size"])) + " /2",
                                       c["padding"], c["activation"]]
    d = L.Dense(24, activation="gelu").get_config()
    assert key_params("Dense", d) == [str(d["units"]), d["activation"]]
    assert key(L.Dense(24)) == [str(L.Dense(24).get_config()["units"])]  # "linear" is no activation
    m = L.MultiHeadAttention(num_heads=3, key_dim=16).get_config()
    assert key_params("MultiHeadAttention", m) == [f"{m['num_heads']} heads", f"key {m['key_dim']}"]
    r = L.LSTM(16, return_sequences=True).get_config()
    assert key_params("LSTM", r) == [str(r["units"]), "seq"]  # tanh, LSTM's default, is not repeated
    e = L.Embedding(1000, 64).get_config()
    assert key_params("Embedding", e) == [f"{e['input_dim']}→{e['output_dim']}"]
    assert key(L.Dropout(0.3)) == [f"rate {L.Dropout(0.3).get_config()['rate']:g}"]
    p = L.MaxPooling2D(3, strides=2).get_config()
    assert key_params("MaxPooling2D", p) == ["×".join(map(str, p["pool_size"])) + " /2"]
    assert key(L.MaxPooling2D()) == ["2×2"]  # strides default to the pool size
    assert key(L.Activation("swish")) == [L.Activation("swish").get_config()["activation"]]  # Keras says silu
    b = L.Bidirectional(L.GRU(8, return_sequences=True))
    assert key(b) == ["GRU", str(b.get_config()["layer"]["config"]["units"]), "seq"]
    assert key(L.BatchNormalization(axis=3)) == [] and key(L.Add()) == [] and key(L.Flatten()) == []


@pytest.mark.parametrize("config", [None, "x", [], {"filters": {"x": 1}, "kernel_size": "??"}, {"units": None}])
def test_odd_configs_never_raise(config):
    assert isinstance(key_params("Conv2D", config), list)
    assert isinstance(all_params("Conv2D", config), list)
    assert isinstance(key_params(None, config), list)


def test_no_keras_import():
    code = ("import sys, inspector.layers.hparams as h; h.key_params('Conv1D', {'kernel_size': [3]}); "
            "print('keras' in sys.modules or 'tensorflow' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
