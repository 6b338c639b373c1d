"""The HTML page's first view, fit, minimap and blocks folding in place, in headless Chromium.

Every expectation is measured in the page (``getBoundingClientRect``, what is displayed) and
compared with the model Keras built: which boxes are its inputs, its last layer, the layers
of a nested model.
"""
from __future__ import annotations

import sys

import pytest
from conftest import needs_browser
from test_render import needs_dot

import inspector
from tests.models.nested_blocks import nested_blocks

pytestmark = [needs_browser, needs_dot]


def _wait(driver, cond, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(cond)


def _open(driver, page: str) -> None:
    driver.get("file://" + page)
    _wait(driver, lambda d: d.execute_script("return !!(window.kgi && document.getElementById('kgi-svg'))"))


def _residual_net(keras):
    """A dilated residual Conv1D net of 16 blocks (BN -> Activation -> Conv1D, twice, then Add), default names:
    125 layers with its stem and head."""
    from keras import layers

    keras.backend.clear_session()
    x = inp = keras.Input((64, 8))
    x = layers.Conv1D(16, 1)(x)
    for k in range(16):
        h = x
        for _ in range(2):
            h = layers.Conv1D(16, 3, padding="same", dilation_rate=2 ** (k % 4))(
                layers.Activation("relu")(layers.BatchNormalization()(h)))
        x = layers.Add()([x, h])
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    for _ in range(2):
        x = layers.Activation("relu")(layers.BatchNormalization()(layers.Conv1D(16, 1)(x)))
    x = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inp, layers.Dense(1)(layers.Dense(8, activation="relu")(x)))
    assert len(model.layers) == 125
    return model


def _long_chain(keras):
    """1,000 layers (Dense, Activation) x 500 after the input: Keras itself recurses per layer to build it."""
    from keras import layers

    keras.backend.clear_session()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        x = inp = keras.Input((4,))
        for _ in range(500):
            x = layers.Activation("relu")(layers.Dense(4)(x))
        return keras.Model(inp, x)
    finally:
        sys.setrecursionlimit(limit)


@pytest.fixture(scope="module")
def big_pages(keras, tmp_path_factory):
    """{name: (model, html page)} for the 125- and the 1,000-layer model (and the 125 drawn left to right)."""
    d = tmp_path_factory.mktemp("first-view")
    pages = {}
    for name, build in (("res125", _residual_net), ("chain1000", _long_chain)):
        model = build(keras)
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20000))
        try:
            model.save(str(d / f"{name}.keras"))
        finally:
            sys.setrecursionlimit(limit)
        inspector.render(str(d / f"{name}.keras"), str(d / f"{name}.html"), collapse=False)  # a box per layer
        pages[name] = (model, str(d / f"{name}.html"))
    inspector.render(str(d / "res125.keras"), str(d / "res125-LR.html"), rankdir="LR", collapse=False)  # inputs on the left
    pages["res125-LR"] = (pages["res125"][0], str(d / "res125-LR.html"))
    return pages


def _box_ids(driver, layer_names: list[str]) -> list[str]:
    """The SVG ids of the boxes of these layers (each drawn once)."""
    ids = driver.execute_script("var by = {}; Object.keys(kgi.data.nodes).forEach(function (k) {"
                                "  var n = kgi.data.nodes[k].name; (by[n] = by[n] || []).push(k); });"
                                "return arguments[0].map(function (n) { return by[n] || []; })", layer_names)
    assert all(len(i) == 1 for i in ids), [(n, i) for n, i in zip(layer_names, ids) if len(i) != 1]
    return [i[0] for i in ids]


def _box_id(driver, layer_name: str) -> str:
    return _box_ids(driver, [layer_name])[0]


# rects of the canvas and of boxes, in CSS px; "on screen" = inside the canvas
_RECTS = """
var c = document.getElementById('kgi-canvas').getBoundingClientRect();
function r(el) { var b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; }
return {canvas: [c.left, c.top, c.right, c.bottom],
        boxes: arguments[0].map(function (id) { return r(document.getElementById(id)); })};
"""


def _on_screen(driver, ids: list[str]) -> list[bool]:
    got = driver.execute_script(_RECTS, ids)
    cl, ct, cr, cb = got["canvas"]
    return [x0 >= cl - 1 and y0 >= ct - 1 and x1 <= cr + 1 and y1 <= cb + 1 and x1 > x0
            for x0, y0, x1, y1 in got["boxes"]]


@pytest.mark.parametrize("name", ["res125", "res125-LR", "chain1000"])
def test_first_view_readable_at_inputs_then_fit(browser, big_pages, name):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    model, page = big_pages[name]
    _open(browser, page)
    first = _box_id(browser, model.layers[0].name)
    sizes = browser.execute_script("return Array.prototype.map.call(document.getElementById(arguments[0])"
                                   ".querySelectorAll('text'), function (t) { return t.getBoundingClientRect().height; })",
                                   first)
    assert sizes and min(sizes) >= 9, sizes
    assert _on_screen(browser, [first]) == [True]
    all_ids = _box_ids(browser, [layer.name for layer in model.layers])
    assert not all(_on_screen(browser, all_ids))  # a readable view of this model cannot hold it all
    browser.find_element(By.ID, "kgi-panel").click()  # focus off the search box: keys go to the page
    ActionChains(browser).send_keys("f").perform()
    assert all(_on_screen(browser, all_ids))
    _open(browser, page)
    browser.find_element(By.ID, "kgi-fit").click()
    assert all(_on_screen(browser, all_ids))


@pytest.mark.parametrize("name", ["res125", "chain1000"])
def test_minimap_click_and_drag_move_the_view(browser, big_pages, name):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    model, page = big_pages[name]
    _open(browser, page)
    first = _box_id(browser, model.layers[0].name)
    last = _box_id(browser, model.layers[-1].name)
    assert _on_screen(browser, [first, last]) == [True, False]  # the first view shows the start
    mini = browser.find_element(By.ID, "kgi-mini")
    assert mini.is_displayed()
    h = mini.size["height"]
    ActionChains(browser).move_to_element_with_offset(mini, 0, h // 2 - 2).click().perform()  # near its bottom
    assert _on_screen(browser, [first, last]) == [False, True]
    ActionChains(browser).move_to_element_with_offset(mini, 0, h // 2 - 2).click_and_hold() \
        .move_by_offset(0, -h // 4).move_by_offset(0, 4 - h * 3 // 4).release().perform()  # drag to the top
    assert _on_screen(browser, [first, last]) == [True, False]


@pytest.fixture(scope="module")
def nested_pages(keras, tmp_path_factory):
    d = tmp_path_factory.mktemp("blocks")
    path = str(d / "transfer.keras")
    model = nested_blocks(keras, path)
    inspector.render(path, str(d / "nested.html"), expand_nested=True, collapse=False)
    inspector.render(path, str(d / "folded.html"), expand_nested=True, collapse=True)
    return model, str(d / "nested.html"), str(d / "folded.html")


def _displayed(driver, ids: list[str]) -> list[bool]:
    """Drawn (on screen or not): a hidden SVG element has an empty bounding box."""
    return driver.execute_script("return arguments[0].map(function (id) {"
                                 "  var b = document.getElementById(id).getBoundingClientRect();"
                                 "  return b.width > 0 && b.height > 0; })", ids)


def _search(driver, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "kgi-search")
    box.clear()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def test_nested_model_folds_and_unfolds_in_place(browser, nested_pages):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    model, page, _ = nested_pages
    backbone = model.get_layer("backbone")
    _open(browser, page)
    browser.execute_script("kgi.fit()")
    inner = _box_ids(browser, [layer.name for layer in backbone.layers])
    outer = _box_ids(browser, ["features", "head"])
    assert all(_displayed(browser, inner + outer))
    header = [t for t in browser.find_elements(By.CSS_SELECTOR, "g.cluster text") if backbone.name in t.text]
    assert len(header) == 1
    header[0].click()
    assert _displayed(browser, inner) == [False] * len(inner) and all(_displayed(browser, outer))
    # what now lies where the title was: a summary box naming the model and its layer count
    on_top = browser.execute_script("var r = arguments[0].getBoundingClientRect();"
                                    "var e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
                                    "return e.closest('g').textContent", header[0])
    assert backbone.name in on_top and f"{len(backbone.layers)} layers" in on_top, on_top
    ActionChains(browser).move_to_element(header[0]).click().perform()  # click the same place again
    assert all(_displayed(browser, inner + outer))
    # folded again, a search for an inner layer unfolds the model and brings the layer on screen
    header[0].click()
    target = backbone.get_layer("block3_bn")
    _search(browser, target.name)
    box = _box_id(browser, target.name)
    assert _displayed(browser, [box]) == [True] and _on_screen(browser, [box]) == [True]
    assert all(_displayed(browser, inner))
    assert browser.find_element(By.CSS_SELECTOR, "#kgi-panel h2").text == target.name


def test_folded_box_opens_in_place_and_search_reveals_a_member(browser, nested_pages):
    from selenium.webdriver.common.by import By

    model, _, page = nested_pages
    backbone = model.get_layer("backbone")
    blocks = [layer.name for layer in backbone.layers if layer.name.startswith("block")]
    _open(browser, page)
    browser.execute_script("kgi.fit()")
    shown = lambda: {t.text.split()[0] for t in browser.find_elements(By.CSS_SELECTOR, "#kgi-svg text")  # noqa: E731
                     if t.is_displayed() and t.text}
    assert not set(blocks) & shown()  # folded: no block layer has its own box
    folded = [g for g in browser.find_elements(By.CSS_SELECTOR, "g.node") if "block1" in g.text]
    assert len(folded) == 1
    folded[0].click()
    assert set(blocks) <= shown()  # every folded layer call is drawn, by its Keras name
    browser.find_element(By.ID, "kgi-panel").click()
    _open(browser, page)
    target = backbone.get_layer("block3_relu")
    _search(browser, target.name)
    cell = [t for t in browser.find_elements(By.CSS_SELECTOR, "#kgi-svg text") if t.text.split()[:1] == [target.name]]
    assert len(cell) == 1 and cell[0].is_displayed()
    rect = browser.execute_script("var b = arguments[0].getBoundingClientRect(), "
                                  "c = document.getElementById('kgi-canvas').getBoundingClientRect();"
                                  "return b.left >= c.left && b.right <= c.right && b.top >= c.top && b.bottom <= c.bottom",
                                  cell[0])
    assert rect
    assert target.name in browser.find_element(By.ID, "kgi-panel").text


def test_small_graph_still_opens_fitted(browser, tmp_path, keras):
    """A graph whose labels are readable when fitted opens fitted: fit changes nothing."""
    from keras import layers

    keras.backend.clear_session()
    i = keras.Input((4,), name="x")
    model = keras.Model(i, layers.Dense(2, name="y")(layers.Dense(3, name="h")(i)))
    path, page = str(tmp_path / "small.keras"), str(tmp_path / "small.html")
    model.save(path)
    inspector.render(path, page, collapse=False)
    _open(browser, page)
    vb = lambda: browser.execute_script("return document.getElementById('kgi-svg').getAttribute('viewBox')")  # noqa: E731
    start = vb()
    ids = _box_ids(browser, [layer.name for layer in model.layers])
    assert all(_on_screen(browser, ids))
    browser.execute_script("kgi.fit()")
    assert vb() == start
    sizes = browser.execute_script("return Array.prototype.map.call(document.querySelectorAll('g.node text'),"
                                   "function (t) { return t.getBoundingClientRect().height; })")
    assert min(sizes) >= 9, sizes
