"""`render MODEL --overlay FILE|DIR -o page.html` in headless Chromium: numbers, statistic, epoch slider.

Truth: numpy over Keras's own truncated-model outputs (the layers' std, mean, max,
dead units, histogram counts; per epoch of a real `fit`, recorded by a callback
beside `ActivationStats`) and `render.overlay`'s documented scale rule
(`colour(scale_for(by, values), v)`) applied to those numpy values. What is
measured is the page: the computed fill of each box, the text of the panel, the
heights of the histogram's bars.
"""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from conftest import needs_browser
from test_render import needs_dot

import inspector
from tests.numerics.numerics_models import dead_relu_model, small_cnn, ticket_data

pytestmark = [needs_browser, needs_dot]

CNN_LAYERS = ["conv1", "bn", "relu", "pool", "conv2", "gap", "out"]
RELU_OUTPUTS = {"conv1", "relu"}          # relu activation, ReLU layer: the outputs that count dead units
PRECISION = 6e-4                          # the panel prints 4 significant digits
_ALERT_TRAP = "window.__alerts = []; window.alert = window.confirm = window.prompt = " \
              "function (m) { window.__alerts.push(String(m)); };"
_FILLS = """
var out = {};
Object.keys(kgi.data.nodes).forEach(function (id) {
  var g = document.getElementById(id), s = g && g.querySelector('path, polygon, rect'), t = g && g.querySelector('text');
  if (s) out[kgi.data.nodes[id].name] = [getComputedStyle(s).fill, getComputedStyle(t).fill];
});
return out;"""


# --------------------------------------------------------------------------- helpers
def _hex(css: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _open(driver, page) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("file://" + os.path.abspath(page))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !!(window.kgi && document.getElementById('kgi-ov'))"))


def _fills(driver) -> dict[str, tuple[str, str]]:
    """Layer name -> (box fill, label colour) as the browser paints them."""
    return {k: (_hex(f), _hex(t)) for k, (f, t) in driver.execute_script(_FILLS).items()}


def _click(driver, name: str) -> None:
    """Click the box of layer ``name`` in the drawing (whole graph on screen first)."""
    from selenium.webdriver.common.by import By

    ids = driver.execute_script("var name = arguments[0]; return Object.keys(kgi.data.nodes).filter("
                                "function (k) { return kgi.data.nodes[k].name === name; })", name)
    assert len(ids) == 1, (name, ids)
    driver.execute_script("kgi.fit()")
    driver.find_element(By.ID, ids[0]).click()
    assert driver.execute_script("return document.querySelector('#kgi-panel h2').textContent") == name


def _panel_number(driver, stat: str) -> float:
    text = driver.execute_script("var td = document.querySelector('#kgi-ov-numbers tr[data-stat=\"' + arguments[0] +"
                                 " '\"] td'); return td ? td.textContent : null", stat)
    assert text is not None, stat
    return float(text.replace(",", "").rstrip(" %"))


def _expected_colours(by: str, values: dict[str, float | None]) -> dict[str, tuple[str, str]]:
    """The documented scale rule over numpy's values: what every drawing must show."""
    from inspector.render.overlay import colour, scale_for

    scale = scale_for(by, [v for v in values.values() if v is not None])
    return {k: colour(scale, v) for k, v in values.items()}


def _dead_fraction(y: np.ndarray) -> float:
    """Channels (last axis) never > 0 over every row and position."""
    return float((~(y > 0).any(axis=tuple(range(y.ndim - 1)))).mean())


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cnn_page(tmp_path_factory, keras):
    """small_cnn's stats page (coloured by std), numpy's truth per layer, and the first batch (histogram range)."""
    from inspector.numerics import run_stats

    d = tmp_path_factory.mktemp("html_overlay")
    model = small_cnn()
    model.save(d / "cnn.keras")
    x = np.random.default_rng(7).normal(0, 1, (48, 12, 12, 3)).astype("float32")
    (d / "stats.json").write_text(json.dumps(run_stats(str(d / "cnn.keras"), x, batch_size=16, progress=False)))
    outs = keras.Model(model.inputs, [model.get_layer(n).output for n in CNN_LAYERS]).predict(x, verbose=0)
    truth = {"image": x.astype("float64"), **{n: o.astype("float64") for n, o in zip(CNN_LAYERS, outs)}}
    inspector.render(str(d / "cnn.keras"), str(d / "cnn.html"), overlay=str(d / "stats.json"))
    return d / "cnn.html", truth, 16


@pytest.fixture(scope="module")
def epochs_page(tmp_path_factory, keras):
    """The ticket model after a real 3-epoch fit with ActivationStats; numpy's outputs at each epoch's end."""
    from samples.seed_models import customer_ticket_model

    d = tmp_path_factory.mktemp("html_overlay_epochs")
    rows = 48
    x = ticket_data(rows, seed=11)
    rng = np.random.default_rng(12)
    y = {"priority": rng.random((rows, 1)).astype("float32"),
         "department": np.eye(4, dtype="float32")[rng.integers(0, 4, rows)]}
    probe = {k: v[:24] for k, v in x.items()}
    names = ["concatenate", "dense", "priority", "department"]
    seen: list[dict[str, np.ndarray]] = []

    class Record(keras.callbacks.Callback):       # Keras's own outputs with the weights of that epoch's end
        def on_epoch_end(self, epoch, logs=None):
            outs = keras.Model(self.model.inputs, [self.model.get_layer(n).output for n in names]).predict(
                [probe["title"], probe["text_body"], probe["tags"]], verbose=0)
            seen.append({**{k: v.astype("float64") for k, v in probe.items()},
                         **{n: o.astype("float64") for n, o in zip(names, outs)}})

    model = customer_ticket_model()
    model.compile(optimizer="rmsprop", loss=["mean_squared_error", "categorical_crossentropy"])
    stats = inspector.callbacks.ActivationStats(probe, every=1, path=str(d / "stats"), batch_size=24)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[stats, Record()])
    model.save(d / "ticket.keras")
    assert sorted(os.listdir(d / "stats")) == ["epoch_0001.json", "epoch_0002.json", "epoch_0003.json"]
    inspector.render(str(d / "ticket.keras"), str(d / "ticket.html"), overlay=str(d / "stats"))
    return d / "ticket.html", seen


# --------------------------------------------------------------------------- tests
def test_click_shows_numpy_numbers_and_histogram(browser, cnn_page):
    page, truth, first_batch = cnn_page
    _open(browser, page)
    for name in ("conv1", "bn", "gap"):
        _click(browser, name)
        y = truth[name]
        assert _panel_number(browser, "std") == pytest.approx(y.std(), rel=PRECISION)
        assert _panel_number(browser, "mean") == pytest.approx(y.mean(), rel=PRECISION)
        assert _panel_number(browser, "max") == pytest.approx(y.max(), rel=PRECISION)
        assert _panel_number(browser, "rows") == len(y)
        # the histogram: bins over the first batch's range, numpy's counts, bar heights proportional to them
        lo, hi = y[:first_batch].min(), y[:first_batch].max()
        counts, _ = np.histogram(y, bins=np.linspace(lo, hi, 33))
        bars = browser.execute_script("return Array.prototype.map.call(document.querySelectorAll("
                                      "'#kgi-ov-numbers svg.kgi-ov-hist rect.kgi-hbar'), function (r) "
                                      "{ return r.getBBox().height; })")
        assert len(bars) == len(counts) == 32
        assert np.allclose(np.array(bars) / max(bars), counts / counts.max(), atol=1e-3)
        edges = browser.execute_script("return Array.prototype.map.call(document.querySelectorAll("
                                       "'#kgi-ov-numbers svg.kgi-ov-hist text'), function (t) { return t.textContent; })")
        assert float(edges[0]) == pytest.approx(lo, rel=PRECISION, abs=1e-12)
        assert float(edges[-1]) == pytest.approx(hi, rel=PRECISION)
    _click(browser, "conv1")
    assert _panel_number(browser, "dead_fraction") == pytest.approx(100 * _dead_fraction(truth["conv1"]), abs=1e-9)


def test_switching_the_statistic_recolours_as_python_does(browser, cnn_page, tmp_path, keras):
    from selenium.webdriver.support.ui import Select

    from inspector.numerics import run_stats
    from inspector.numerics.overlay import STATS_BY
    from inspector.render.overlay import legend_cells, scale_for

    page, truth, _ = cnn_page
    _open(browser, page)
    std = _fills(browser)
    assert std == _expected_colours("std", {n: y.std() for n, y in truth.items()})
    select = Select(browser.find_element("id", "kgi-ov-by"))
    assert [o.get_attribute("value") for o in select.options] == list(STATS_BY)
    _click(browser, "conv1")
    for by, values in [("max", {n: y.max() for n, y in truth.items()}),
                       ("dead_fraction", {n: _dead_fraction(y) if n in RELU_OUTPUTS else None for n, y in truth.items()})]:
        select.select_by_value(by)
        assert _fills(browser) == _expected_colours(by, values)
        scale = scale_for(by, [v for v in values.values() if v is not None])
        legend = browser.execute_script("return Array.prototype.map.call(document.querySelectorAll("
                                        "'#kgi-ov-legend span'), function (s) { return s.textContent; })")
        assert legend == [c[2] for c in legend_cells(scale)] + ["not measured"]
        svg_text = browser.execute_script("return document.getElementById('kgi-svg').textContent")
        assert all(c[2] in svg_text for c in legend_cells(scale)) and f"colour: {by}" in svg_text.replace(
            "dead-unit fraction", "dead_fraction")
        # the open panel marks the statistic now colouring the boxes
        assert browser.execute_script("return document.querySelector('#kgi-ov-numbers tr.kgi-ov-by').dataset.stat") == by
    assert _fills(browser) != std
    # a model with units that never fire: its dead fraction is a middle bin, the same as Python's
    model = dead_relu_model(dead_units=(0, 3, 4))
    model.save(tmp_path / "dead.keras")
    x = np.random.default_rng(8).normal(0, 1, (64, 5)).astype("float32")
    (tmp_path / "s.json").write_text(json.dumps(run_stats(str(tmp_path / "dead.keras"), x, progress=False)))
    inspector.render(str(tmp_path / "dead.keras"), str(tmp_path / "dead.html"), overlay=str(tmp_path / "s.json"))
    hidden = keras.Model(model.inputs, model.get_layer("hidden").output).predict(x, verbose=0)
    _open(browser, tmp_path / "dead.html")
    Select(browser.find_element("id", "kgi-ov-by")).select_by_value("dead_fraction")
    want = _expected_colours("dead_fraction", {"x": None, "hidden": _dead_fraction(hidden), "head": None})
    assert _fills(browser) == want and want["hidden"][0] not in ("#ffffff", "#ffffb2")


def test_epoch_slider_shows_each_epoch_of_a_real_fit(browser, epochs_page):
    from selenium.webdriver.common.keys import Keys

    page, seen = epochs_page
    want = [_expected_colours("std", {n: y.std() for n, y in epoch.items()}) for epoch in seen]
    assert want[0] != want[2]                      # training moved the activations across bins
    _open(browser, page)
    slider = browser.find_element("id", "kgi-ov-frame")
    label = lambda: browser.find_element("id", "kgi-ov-epoch").text  # noqa: E731
    assert label() == "epoch 3" and _fills(browser) == want[2]      # opens at the newest epoch
    _click(browser, "dense")
    assert _panel_number(browser, "std") == pytest.approx(seen[2]["dense"].std(), rel=PRECISION)
    slider.send_keys(Keys.HOME)
    assert label() == "epoch 1" and "epoch 1" in browser.find_element("id", "kgi-ov-note").text
    assert _fills(browser) == want[0]
    assert _panel_number(browser, "std") == pytest.approx(seen[0]["dense"].std(), rel=PRECISION)
    slider.send_keys(Keys.ARROW_RIGHT)
    assert label() == "epoch 2" and _fills(browser) == want[1]
    assert _panel_number(browser, "mean") == pytest.approx(seen[1]["dense"].mean(), rel=PRECISION)
    assert "epoch 2" in browser.execute_script("return document.getElementById('kgi-svg').textContent")


def test_compare_panel_shows_the_errors(browser, tmp_path, keras):
    from selenium.webdriver.support.ui import Select

    from inspector.numerics import run_compare
    from inspector.numerics.overlay import COMPARE_BY

    a = dead_relu_model()
    a.save(tmp_path / "a.keras")
    b = dead_relu_model()
    kernel, bias = b.get_layer("head").get_weights()
    b.get_layer("head").set_weights([kernel * 1.05, bias])
    b.save(tmp_path / "b.keras")
    x = np.random.default_rng(5).normal(0, 1, (32, 5)).astype("float32")
    r = run_compare(str(tmp_path / "a.keras"), str(tmp_path / "b.keras"), x, progress=False)
    (tmp_path / "c.json").write_text(json.dumps(r))
    inspector.render(str(tmp_path / "b.keras"), str(tmp_path / "b.html"), overlay=str(tmp_path / "c.json"))
    ya, yb = (keras.Model(m.inputs, m.get_layer("head").output).predict(x, verbose=0).astype("float64") for m in (a, b))
    rel_l2 = np.linalg.norm(yb - ya) / max(np.linalg.norm(ya), np.linalg.norm(yb))
    _open(browser, tmp_path / "b.html")
    assert [o.get_attribute("value") for o in Select(browser.find_element("id", "kgi-ov-by")).options] == list(COMPARE_BY)
    _click(browser, "head")
    assert _panel_number(browser, "rel_l2") == pytest.approx(rel_l2, rel=PRECISION)
    assert _panel_number(browser, "max_abs") == pytest.approx(np.abs(yb - ya).max(), rel=PRECISION)
    cos = (ya * yb).sum() / (np.linalg.norm(ya) * np.linalg.norm(yb))
    assert _panel_number(browser, "cosine") == pytest.approx(cos, rel=PRECISION)
    over = browser.execute_script("return document.querySelector('#kgi-ov-numbers tr[data-stat=over] td').textContent")
    assert over == ("yes" if rel_l2 > r["threshold"] else "no") == "yes"
    _click(browser, "hidden")                      # unchanged layer: no error, under the threshold
    assert _panel_number(browser, "rel_l2") == 0
    assert browser.execute_script("return document.querySelector('#kgi-ov-numbers tr[data-stat=over] td').textContent") \
        == "no"


def test_markup_names_show_as_text(browser, tmp_path, keras):
    """Keras builds and saves layers under markup names, but TensorFlow will not run them (scope names):
    the numbers are those of the same model under plain names, keyed by the markup names."""
    from inspector.numerics import run_stats

    names = ["<b>in", "<img src=x onerror=alert(1)>", "&amp;<script>alert(2)<\\script>"]
    for tag, (n0, n1, n2) in (("m", names), ("plain", ["x", "hidden", "head"])):
        keras.utils.set_random_seed(3)
        i = keras.Input((3,), name=n0)
        h = keras.layers.Dense(4, activation="relu", name=n1)(i)
        keras.Model(i, keras.layers.Dense(2, name=n2)(h), name="markup").save(tmp_path / f"{tag}.keras")
    x = np.random.default_rng(1).normal(0, 1, (16, 3)).astype("float32")
    stats = run_stats(str(tmp_path / "plain.keras"), x, progress=False)
    stats["layers"] = {new: {**rec, "name": new} for new, rec in zip(names, stats["layers"].values())}
    stats_name = "<img src=x onerror=alert(3)>.json"
    (tmp_path / stats_name).write_text(json.dumps(stats))
    inspector.render(str(tmp_path / "m.keras"), str(tmp_path / "m.html"), overlay=str(tmp_path / stats_name))
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _ALERT_TRAP})
    _open(browser, tmp_path / "m.html")
    for name in names:
        _click(browser, name)                      # the panel's title is the exact name
        assert browser.execute_script("return document.querySelector('#kgi-ov-numbers') !== null")
        heading = browser.execute_script("return document.querySelector('#kgi-ov-numbers').previousElementSibling"
                                         ".textContent")
        assert stats_name in heading
    assert stats_name in browser.find_element("id", "kgi-ov-note").text
    assert browser.execute_script("return document.querySelectorAll('img, b, iframe, object, embed').length") == 0
    assert browser.execute_script("return document.scripts.length") == 2
    assert browser.execute_script("return window.__alerts") == []
