"""`run_stats` against numpy on Keras's own layer outputs: every statistic, several layers, three kinds of model."""
from __future__ import annotations

import numpy as np
import pytest
from numerics_models import assert_matches, dead_relu_model, expected, nan_model, small_cnn, ticket_data, truth

from inspector.numerics.stats import run_stats


def first_batch_edges(y: np.ndarray, batch: int, bins: int = 32) -> np.ndarray:
    """The histogram range rule, from Keras's output: the first batch's finite min and max."""
    f = y[:batch][np.isfinite(y[:batch])].astype(np.float64)
    lo, hi = f.min(), f.max()
    return np.linspace(lo - 0.5, hi + 0.5, bins + 1) if lo == hi else np.linspace(lo, hi, bins + 1)


def check_layer(report: dict, model, layer: str, x, batch: int, relu: bool = False) -> None:
    y = truth(model, layer, x)
    got = report["layers"][layer]
    edges = first_batch_edges(y, batch)
    np.testing.assert_array_equal(got["hist"]["edges"], edges)
    assert_matches(got, expected(y, edges, -1 if relu else None))
    assert got["shape"] == [None, *y.shape[1:]]
    if not relu:
        assert got["dead_fraction"] is None


def test_cnn_every_statistic_matches_numpy(keras):
    model = small_cnn()
    x = np.random.default_rng(0).normal(0, 1, (37, 12, 12, 3)).astype("float32")
    report = run_stats(model, x, batch_size=8, progress=False)     # 37 rows: a last, short batch
    assert report["rows"] == 37 and report["first_nonfinite"] is None
    assert list(report["layers"]) == ["image", "conv1", "bn", "relu", "pool", "conv2", "gap", "out"]
    for layer, relu in [("conv1", True), ("bn", False), ("relu", True), ("pool", False), ("conv2", False),
                        ("out", False)]:
        check_layer(report, model, layer, x, 8, relu)
    inp = report["layers"]["image"]
    assert_matches(inp, expected(x, first_batch_edges(x, 8)))


def test_ticket_model_every_statistic_matches_numpy(keras):
    from samples.seed_models import customer_ticket_model

    model = customer_ticket_model()
    data = ticket_data(45)
    report = run_stats(model, data, batch_size=16, progress=False)
    assert list(report["layers"]) == ["title", "text_body", "tags", "concatenate", "dense", "priority", "department"]
    x = [data["title"], data["text_body"], data["tags"]]
    for layer, relu in [("concatenate", False), ("dense", True), ("priority", False), ("department", False)]:
        check_layer(report, model, layer, x, 16, relu)
    # the inputs' statistics are the data's own
    assert_matches(report["layers"]["tags"], expected(data["tags"], first_batch_edges(data["tags"], 16)))


def test_subclassed_model_through_its_traced_graph(keras):
    from samples.seed_models import customer_ticket_subclassed

    model = customer_ticket_subclassed()
    data = ticket_data(30, seed=1)
    report = run_stats(model, data, batch_size=7, progress=False)
    assert {"concatenate", "mixing", "priority", "department"} <= set(report["layers"])
    # Keras's own outputs: a functional model made of the subclassed model's layers, predicting
    inputs = [keras.Input((n,), name=k) for k, n in (("title", 10000), ("text_body", 10000), ("tags", 100))]
    mixing_t = model.mixing_layer(model.concat_layer(inputs))
    x = [data["title"], data["text_body"], data["tags"]]
    mixing, priority = keras.Model(inputs, [mixing_t, model.priority_scorer(mixing_t)]).predict(x, verbose=0)
    for layer, y, relu in [("mixing", mixing, True), ("priority", priority, False)]:
        got = report["layers"][layer]
        edges = first_batch_edges(y, 7)
        assert_matches(got, expected(y, edges, -1 if relu else None))


def test_first_nan_layer_is_named(keras):
    model = nan_model()
    x = np.random.default_rng(5).normal(0, 1, (40, 4)).astype("float32")
    x[3] = 0.0                 # Dense(0) = bias = 0 -> log(0) = -inf on this row
    model.get_layer("pre").set_weights([model.get_layer("pre").get_weights()[0], np.zeros(6, "float32")])
    report = run_stats(model, x, batch_size=16, progress=False)
    log_t = model.get_layer("post").input                          # the log op's output tensor
    log = keras.Model(model.inputs, log_t).predict(x, verbose=0)   # Keras's own log output
    assert np.isnan(log).any() and np.isinf(log).any()
    first = report["first_nonfinite"]
    assert first["node"] == "log" == log_t._keras_history.operation.name
    assert (first["nan"], first["inf"]) == (int(np.isnan(log).sum()), int(np.isinf(log).sum()))
    assert report["layers"]["pre"]["nan"] == report["layers"]["pre"]["inf"] == 0
    assert_matches(report["layers"]["log"], expected(log))           # statistics over the finite values
    assert report["layers"]["post"]["nan"] > 0                       # downstream, but not the first


def test_dead_relu_fraction_equals_numpy(keras):
    model = dead_relu_model()
    x = np.random.default_rng(6).normal(0, 1, (50, 5)).astype("float32")
    report = run_stats(model, x, ["hidden", "head"], batch_size=9, progress=False)
    y = truth(model, "hidden", x)
    dead = ~(y > 0).any(axis=0)
    assert dead.sum() >= 3                                           # the three biased units at least
    assert report["layers"]["hidden"]["dead_fraction"] == dead.mean()
    assert report["layers"]["hidden"]["dead_units"] == dead.sum()
    assert report["layers"]["head"]["dead_fraction"] is None         # linear output: no dead units
    assert list(report["layers"]) == ["hidden", "head"]


def test_later_batches_outside_the_first_range_are_under_and_over(keras):
    model = dead_relu_model(dead_units=())
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(0, 0.1, (10, 5)), rng.normal(0, 5, (30, 5))]).astype("float32")
    report = run_stats(model, x, ["head"], batch_size=10, progress=False)
    y = truth(model, "head", x)
    got = report["layers"]["head"]
    edges = first_batch_edges(y, 10)
    want = expected(y, edges)
    assert want["hist"]["under"] > 0 and want["hist"]["over"] > 0
    assert_matches(got, want)
    assert sum(got["hist"]["counts"]) + got["hist"]["under"] + got["hist"]["over"] == y.size


def test_data_that_does_not_fit_the_model_is_one_clear_error(keras):
    from inspector.errors import InspectorError

    model = dead_relu_model()
    with pytest.raises(InspectorError, match=r"input 'x': expected shape \(None, 5\).*given \(4, 3\)"):
        run_stats(model, np.zeros((4, 3), "float32"), progress=False)
    with pytest.raises(InspectorError, match="no layer named 'nope'|'nope'"):
        run_stats(model, np.zeros((4, 5), "float32"), ["nope"], progress=False)
