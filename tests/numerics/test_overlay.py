"""`render --overlay` and `summary --stats`: the numbers of a stats/compare file on the drawn model.

Truth: numpy over Keras's own truncated-model outputs (which layer has the largest
std, the dead-unit fraction, where the NaNs are); the colours must order the boxes
as those numbers do.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import run_cli, user_lines
from numerics_models import dead_relu_model, nan_model, small_cnn


@pytest.fixture(scope="module")
def cnn(tmp_path_factory, keras):
    from inspector.numerics import run_stats

    d = tmp_path_factory.mktemp("overlay")
    model = small_cnn()
    model.save(d / "cnn.keras")
    x = np.random.default_rng(7).normal(0, 1, (48, 12, 12, 3)).astype("float32")
    np.save(d / "x.npy", x)
    stats = run_stats(str(d / "cnn.keras"), x, batch_size=16, progress=False)
    (d / "stats.json").write_text(json.dumps(stats))
    names = ["conv1", "bn", "relu", "pool", "conv2", "gap", "out"]
    outs = keras.Model(model.inputs, [model.get_layer(n).output for n in names]).predict(x, verbose=0)
    truth = {n: o.astype("float64") for n, o in zip(names, outs)}
    truth["image"] = x.astype("float64")          # stats measure the inputs too
    return d, truth


def _view(path, stats_path, by):
    from inspector import read
    from inspector.render import RenderOptions, build_view

    g = read(str(path))
    return build_view(g, RenderOptions(overlay=str(stats_path), overlay_by=by))


@pytest.mark.parametrize("by, fn", [("std", np.std), ("max", np.max), ("abs_mean", lambda o: np.abs(o).mean())])
def test_colours_order_the_boxes_as_numpy_does(cnn, by, fn):
    from inspector.render.overlay import PALETTE

    d, truth = cnn
    view = _view(d / "cnn.keras", d / "stats.json", by)
    numpy_value = {n: float(fn(o)) for n, o in truth.items()}
    for n, v in numpy_value.items():
        assert view.nodes[n].overlay == pytest.approx(v, rel=1e-4, abs=1e-6)
    bins = {n: PALETTE.index(view.nodes[n].overlay_style["fillcolor"]) for n in truth}
    ranked = sorted(truth, key=numpy_value.get)
    assert [bins[n] for n in ranked] == sorted(bins[n] for n in ranked)     # monotone in numpy's values
    assert bins[ranked[-1]] == len(PALETTE) - 1                              # the largest is the darkest
    assert not [n for n in view.nodes.values() if n.overlay is None]     # every call was measured


def test_unmeasured_boxes_stay_white(cnn, tmp_path):
    from inspector.render.overlay import UNMEASURED

    d, _ = cnn
    doc = json.loads((d / "stats.json").read_text())
    del doc["layers"]["image"], doc["layers"]["gap"]
    (tmp_path / "part.json").write_text(json.dumps(doc))
    view = _view(d / "cnn.keras", tmp_path / "part.json", "std")
    assert {n for n, v in view.nodes.items() if v.overlay is None} == {"image", "gap"}
    assert view.nodes["gap"].overlay_style == {"fillcolor": UNMEASURED[0], "fontcolor": "#757575",
                                               "color": UNMEASURED[1]}


def test_dot_output_carries_the_colours_and_the_legend(cnn, tmp_path):
    import inspector

    d, truth = cnn
    out = tmp_path / "cnn.dot"
    inspector.render(str(d / "cnn.keras"), str(out), overlay=str(d / "stats.json"), overlay_by="std")
    dot = out.read_text()
    view = _view(d / "cnn.keras", d / "stats.json", "std")
    for n in truth:
        line = next(s for s in dot.splitlines() if s.startswith(f'"{n}" ') or s.startswith(f"{n} "))
        assert f'fillcolor="{view.nodes[n].overlay_style["fillcolor"]}"' in line
    assert "colour: std of activations (stats.json)" in dot and "not measured" in dot


def test_dead_fraction_bin_follows_numpy(tmp_path, keras):
    from inspector.numerics import run_stats
    from inspector.render.overlay import PALETTE, STEPS

    model = dead_relu_model(dead_units=(0, 3, 4))
    model.save(tmp_path / "dead.keras")
    x = np.random.default_rng(8).normal(0, 1, (64, 5)).astype("float32")
    (tmp_path / "s.json").write_text(json.dumps(run_stats(str(tmp_path / "dead.keras"), x, progress=False)))
    h = keras.Model(model.inputs, model.get_layer("hidden").output).predict(x, verbose=0)
    dead = float((h.max(axis=0) <= 0).mean())                    # units never active over the data
    view = _view(tmp_path / "dead.keras", tmp_path / "s.json", "dead_fraction")
    assert view.nodes["hidden"].overlay == pytest.approx(dead)
    assert view.nodes["hidden"].overlay_style["fillcolor"] == PALETTE[min(STEPS - 1, int(dead * STEPS))]
    assert view.nodes["head"].overlay is None                    # not a ReLU-family output: no dead fraction


def test_nan_overlay_marks_where_the_nans_are(tmp_path, keras):
    from inspector.numerics import run_stats
    from inspector.render.overlay import PALETTE

    model = nan_model()
    model.save(tmp_path / "nan.keras")
    x = np.random.default_rng(9).normal(0, 1, (40, 4)).astype("float32")
    (tmp_path / "s.json").write_text(json.dumps(run_stats(str(tmp_path / "nan.keras"), x, progress=False)))
    log = keras.Model(model.inputs, model.get_layer("post").input).predict(x, verbose=0)
    view = _view(tmp_path / "nan.keras", tmp_path / "s.json", "nan")
    assert view.nodes["log"].overlay == np.isnan(log).sum() > 0
    assert view.nodes["log"].overlay_style["fillcolor"] == PALETTE[-1]
    assert view.nodes["pre"].overlay == 0 and view.nodes["pre"].overlay_style["fillcolor"] == PALETTE[0]


def test_compare_overlay_colours_the_quantized_layers(tmp_path, keras):
    import warnings

    from numerics_models import ticket_data

    from inspector.numerics import run_compare
    from inspector.render.overlay import PALETTE
    from samples.seed_models import customer_ticket_model

    customer_ticket_model().save(tmp_path / "a.keras")
    q = customer_ticket_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q.quantize("int8")
    q.save(tmp_path / "b.keras")
    r = run_compare(str(tmp_path / "a.keras"), str(tmp_path / "b.keras"), ticket_data(20), progress=False)
    (tmp_path / "c.json").write_text(json.dumps(r))
    view = _view(tmp_path / "b.keras", tmp_path / "c.json", None)       # default: rel_l2
    errors = {n: v["rel_l2"] for n, v in r["layers"].items()}
    assert {n for n, e in errors.items() if e == 0} == {"title", "text_body", "tags", "concatenate"}
    for n, e in errors.items():
        assert view.nodes[n].overlay == pytest.approx(e)
        if e == 0:
            assert view.nodes[n].overlay_style["fillcolor"] == PALETTE[0]
    worst = max(errors, key=errors.get)
    assert view.nodes[worst].overlay_style["fillcolor"] == PALETTE[-1]


def test_summary_stats_columns_equal_numpy(cnn):
    d, truth = cnn
    p = run_cli("summary", str(d / "cnn.keras"), "--stats", str(d / "stats.json"), "--format", "json")
    assert p.returncode == 0, p.stderr
    rows = {r["id"]: r for r in json.loads(p.stdout)["layers"]}
    for n, o in truth.items():
        s = rows[n]["stats"]
        assert s["mean"] == pytest.approx(o.mean(), rel=1e-4, abs=1e-6)
        assert s["std"] == pytest.approx(o.std(), rel=1e-4, abs=1e-6)
        assert s["zero_fraction"] == pytest.approx((o == 0).mean())
    p = run_cli("summary", str(d / "cnn.keras"), "--stats", str(d / "stats.json"))
    head = p.stdout.splitlines()[1]
    assert p.returncode == 0 and "Std" in head and "Zeros" in head
    conv1 = next(line for line in p.stdout.splitlines() if line.startswith("conv1 "))
    assert f"{truth['conv1'].std():.3g}" in conv1


def test_epoch_directory_gives_one_frame_per_epoch(cnn, tmp_path):
    from inspector import read
    from inspector.numerics.overlay import load_overlay

    d, _ = cnn
    doc = json.loads((d / "stats.json").read_text())
    for epoch in (1, 2, 3):
        doc["epoch"] = epoch
        doc["layers"]["conv1"]["std"] = float(epoch)
        (tmp_path / f"epoch_{epoch:04d}.json").write_text(json.dumps(doc))
    ov = load_overlay(str(tmp_path), read(str(d / "cnn.keras")), "std")
    assert [f.label for f in ov.frames] == ["epoch 1", "epoch 2", "epoch 3"]
    assert [ov.values(i)["conv1"] for i in range(3)] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("case, message", [
    ("other_model", "this stats file was computed on model 'nan_model', not on 'small_cnn'"),
    ("not_stats", "not a stats or compare file (schema None"),
    ("garbage", "not a stats or compare file (cannot read it as JSON"),
    ("bad_by", "--by rel_l2: a stats file has std, max"),
    ("renamed_layers", "this stats file names layer calls model 'small_cnn' does not have ('conv9')"),
])
def test_bad_overlay_is_one_line_exit_2_and_no_output(cnn, tmp_path, case, message):
    d, _ = cnn
    doc = json.loads((d / "stats.json").read_text())
    extra = []
    if case == "other_model":
        doc["model"] = "nan_model"
    elif case == "not_stats":
        doc = {"layers": {}}
    elif case == "renamed_layers":
        doc["layers"]["conv9"] = doc["layers"].pop("conv1")
    elif case == "bad_by":
        extra = ["--by", "rel_l2"]
    path = tmp_path / "s.json"
    path.write_text("{not json" if case == "garbage" else json.dumps(doc))
    out = tmp_path / "never.svg"
    p = run_cli("render", str(d / "cnn.keras"), "-o", str(out), "--overlay", str(path), *extra)
    lines = user_lines(p.stderr)
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {path}: {message}"), lines
    assert not out.exists() and not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]
