"""Models and numpy truths for the numerics tests (built in code, never downloaded).

Every expected value comes from Keras computing the layer outputs itself
(``keras.Model(model.inputs, layer.output).predict`` or calling the layers) and
numpy computing the statistic over them.
"""
from __future__ import annotations

import numpy as np


def small_cnn():
    """Conv (relu) -> BN -> ReLU layer -> pool -> Conv -> GAP -> Dense softmax, 12x12x3 images."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    i = keras.Input((12, 12, 3), name="image")
    x = layers.Conv2D(8, 3, activation="relu", name="conv1")(i)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Conv2D(6, 3, name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(5, activation="softmax", name="out")(x)
    model = keras.Model(i, x, name="small_cnn")
    bn = model.get_layer("bn")   # non-trivial moving statistics, so BN really shifts and scales
    rng = np.random.default_rng(2)
    bn.set_weights([rng.uniform(0.5, 2, 8), rng.normal(0, 1, 8), rng.normal(0, 0.5, 8), rng.uniform(0.5, 2, 8)])
    return model


def nan_model():
    """x -> Dense(6) -> log (NaN where the Dense output is negative, -Inf at 0) -> Dense(3)."""
    import keras
    from keras import layers, ops

    keras.backend.clear_session()       # the op's auto-generated name is "log" in a fresh session
    keras.utils.set_random_seed(3)
    i = keras.Input((4,), name="x")
    h = layers.Dense(6, name="pre")(i)
    h = ops.log(h)                      # a keras.ops node named "log"
    out = layers.Dense(3, name="post")(h)
    return keras.Model(i, out, name="nan_model")


def dead_relu_model(dead_units=(0, 3, 4)):
    """x -> Dense(8, relu) whose listed units have a bias of -100 (never active) -> Dense(2)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(4)
    i = keras.Input((5,), name="x")
    h = layers.Dense(8, activation="relu", name="hidden")(i)
    out = layers.Dense(2, name="head")(h)
    model = keras.Model(i, out, name="dead_relu")
    kernel, bias = model.get_layer("hidden").get_weights()
    bias[list(dead_units)] = -100.0
    model.get_layer("hidden").set_weights([kernel, bias])
    return model


def truth(model, layer: str, x) -> np.ndarray:
    """Keras's own output of ``layer`` for ``x``: the truncated model's predict."""
    import keras

    return np.asarray(keras.Model(model.inputs, model.get_layer(layer).output).predict(x, verbose=0))


def ticket_data(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Sparse bag-of-words data for the seed's customer-ticket model."""
    rng = np.random.default_rng(seed)
    return {"title": (rng.random((rows, 10000)) < 0.01).astype("float32"),
            "text_body": (rng.random((rows, 10000)) < 0.02).astype("float32"),
            "tags": (rng.random((rows, 100)) < 0.1).astype("float32")}


def expected(y: np.ndarray, edges: np.ndarray | None = None, channel_axis: int | None = None) -> dict:
    """Every statistic of ``y`` computed by numpy over the whole array (finite values)."""
    y = np.asarray(y, dtype=np.float64)
    f = y[np.isfinite(y)]
    out = {"count": f.size, "nan": int(np.isnan(y).sum()), "inf": int(np.isinf(y).sum()),
           "mean": f.mean(), "std": f.std(), "min": f.min(), "max": f.max(), "abs_mean": np.abs(f).mean(),
           "zero_fraction": float((f == 0).mean())}
    if edges is not None:
        counts, _ = np.histogram(f, bins=edges)
        out["hist"] = {"counts": counts.tolist(), "under": int((f < edges[0]).sum()),
                       "over": int((f > edges[-1]).sum())}
    if channel_axis is not None:
        other = tuple(a for a in range(y.ndim) if a != channel_axis % y.ndim)
        out["dead_fraction"] = float((~(y > 0).any(axis=other)).mean())
    return out


def assert_matches(got: dict, want: dict, rtol: float = 1e-5) -> None:
    """Counts and min/max exactly, float statistics to ``rtol`` (float32 outputs, float64 sums)."""
    for k in ("count", "nan", "inf"):
        assert got[k] == want[k], (k, got[k], want[k])
    for k in ("min", "max"):
        assert got[k] == want[k], (k, got[k], want[k])
    scale = 1e-6 * max(1e-3, want["abs_mean"])    # a mean near 0 is compared to the values' size
    for k in ("mean", "std", "abs_mean", "zero_fraction"):
        assert np.isclose(got[k], want[k], rtol=rtol, atol=scale), (k, got[k], want[k])
    if "hist" in want:
        assert got["hist"]["counts"] == want["hist"]["counts"]
        assert (got["hist"]["under"], got["hist"]["over"]) == (want["hist"]["under"], want["hist"]["over"])
    if "dead_fraction" in want:
        assert got["dead_fraction"] == want["dead_fraction"]
