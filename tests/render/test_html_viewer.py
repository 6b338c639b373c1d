"""The HTML viewer in a real headless browser (Debian's chromium + chromium-driver, via selenium).

`make test` installs both (`make browser`); where they cannot be installed the
tests are skipped with the reason. No browser or driver is ever downloaded:
selenium is given the system paths and Selenium Manager is kept offline.
Expected shapes and weight shapes come from the Keras layers themselves.
"""
from __future__ import annotations

import os

import pytest
from conftest import needs_browser
from test_render import needs_dot

import inspector
from tests.models.nested_blocks import nested_blocks

pytestmark = needs_browser


def _wait(driver, cond, timeout=10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(cond)


def _render_and_open(driver, model_path, out) -> dict:
    """Render ``model_path`` to the HTML page ``out`` and load it; returns render's info."""
    info = inspector.render(model_path, out)
    driver.get("file://" + os.path.abspath(out))
    _wait(driver, lambda d: d.execute_script("return !!(window.kgi && document.getElementById('kgi-svg'))"))
    return info


def _search_and_click(driver, query, layer_name):
    """Type in the search box, pick the result for ``layer_name``, then click its box in the diagram."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, "kgi-search")
    box.clear()
    box.send_keys(query)
    items = _wait(driver, lambda d: [li for li in d.find_elements(By.CSS_SELECTOR, "#kgi-results li")
                                     if li.get_attribute("data-id")])
    hit = [li for li in items if li.text.split("\n")[0].startswith(layer_name) and
           driver.execute_script("return kgi.data.nodes[arguments[0]].name", li.get_attribute("data-id")) == layer_name]
    assert hit, [li.text for li in items]
    node_id = hit[0].get_attribute("data-id")
    hit[0].click()
    node = driver.find_element(By.ID, node_id)
    assert "kgi-sel" in node.get_attribute("class")
    driver.find_element(By.ID, "kgi-panel").click()  # clear focus, then click the box itself
    driver.execute_script("kgi.fit()")
    _wait(driver, lambda d: d.find_element(By.ID, node_id).is_displayed())
    node.click()
    return driver.find_element(By.ID, "kgi-panel").text


@needs_dot
def test_search_click_shows_shapes(browser, sample_dir, tmp_path):
    model, path = sample_dir["customer_ticket_with_difficulty"]
    _render_and_open(browser, path, str(tmp_path / "viewer.html"))
    layer = model.get_layer("dense")
    panel = _search_and_click(browser, "den", layer.name)
    assert layer.name in panel
    assert str(tuple(layer.output.shape)) in panel          # (None, 64)
    assert str(tuple(layer.input.shape)) in panel           # (None, 20100)
    assert f"{layer.count_params():,}" in panel
    for w in layer.weights:                                 # weight shapes from Keras, as Python prints them
        assert str(tuple(w.shape)) in panel                 # (20100, 64), and (64,) for the bias
    assert layer.get_config()["activation"] in panel        # full config shown
    # search by class name finds the merge layer; the panel shows Keras's shape for it
    concat = model.get_layer("concatenate")
    panel = _search_and_click(browser, "Concatenate", concat.name)
    assert str(tuple(concat.output.shape)) in panel
    # nothing was fetched: a self-contained page loads no resources
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


@needs_dot
def test_pan_and_zoom(browser, sample_dir, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _, path = sample_dir["customer_ticket_model"]
    _render_and_open(browser, path, str(tmp_path / "pz.html"))
    vb = lambda: [float(x) for x in browser.execute_script(  # noqa: E731
        "return document.getElementById('kgi-svg').getAttribute('viewBox')").split()]
    start = vb()
    browser.find_element(By.ID, "kgi-in").click()
    zoomed = vb()
    assert zoomed[2] < start[2] and zoomed[3] < start[3]
    canvas = browser.find_element(By.ID, "kgi-canvas")
    ActionChains(browser).move_to_element(canvas).click_and_hold().move_by_offset(80, 40).release().perform()
    panned = vb()
    assert panned[0] < zoomed[0] and panned[2] == pytest.approx(zoomed[2])
    browser.find_element(By.ID, "kgi-fit").click()
    assert vb() == pytest.approx(start)


def test_viewer_without_graphviz(browser, sample_dir, tmp_path, monkeypatch):
    """No `dot`: the page uses the built-in layout and still searches and shows shapes."""
    model, path = sample_dir["shared_layer_model"]
    monkeypatch.setenv("INSPECTOR_DOT", str(tmp_path / "missing-dot"))
    assert _render_and_open(browser, path, str(tmp_path / "nodot.html"))["layout"] == "builtin"
    layer = model.get_layer("concatenate")
    panel = _search_and_click(browser, "concat", layer.name)
    assert str(tuple(layer.output.shape)) in panel


@needs_dot
def test_nested_and_collapsed_viewer(browser, keras, tmp_path):
    """Search reaches a layer folded into a collapsed box inside a nested model; the box's panel
    lists its members with Keras's shapes; a nested layer's panel shows Keras's weight shapes."""
    from selenium.webdriver.common.by import By

    path = str(tmp_path / "transfer.keras")
    model = nested_blocks(keras, path)
    inner = model.get_layer("backbone").get_layer("block2_bn")
    out = str(tmp_path / "collapsed.html")
    inspector.render(path, out, expand_nested=True, collapse=True)
    browser.get("file://" + out)
    _wait(browser, lambda d: d.execute_script("return !!window.kgi"))
    box = browser.find_element(By.ID, "kgi-search")
    box.send_keys(inner.name)
    items = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#kgi-results li[data-id]"))
    assert items[0].text.startswith(inner.name), [li.text for li in items]
    items[0].click()
    panel = browser.find_element(By.ID, "kgi-panel").text
    assert "Folded layer calls" in panel
    for layer in model.get_layer("backbone").layers[1:]:
        if layer.name.startswith(("block2", "block3")):
            assert layer.name in panel
    assert f"{inner.name} BatchNormalization {tuple(inner.output.shape)}" in panel
    # expanded, not collapsed: the nested Dense's panel has Keras's weight shapes, (8,) for the bias
    dense = model.get_layer("backbone").get_layer("block3_dense")
    out = str(tmp_path / "nested.html")
    inspector.render(path, out, expand_nested=True)
    browser.get("file://" + out)
    _wait(browser, lambda d: d.execute_script("return !!window.kgi"))
    panel = _search_and_click(browser, dense.name, dense.name)
    assert str(tuple(dense.output.shape)) in panel
    for w in dense.weights:
        assert str(tuple(w.shape)) in panel
