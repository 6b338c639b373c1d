"""Any layer or model name, every output format: nothing of a name is ever read as markup.

Names are drawn by Hypothesis from markup punctuation (HTML, XML, DOT, Markdown), unicode
(RTL marks, combining characters, emoji joined with ZWJ, CJK) and long runs; Keras builds and
saves a model under them (whatever Keras refuses, e.g. ``/``, is skipped; names Keras cannot
produce, such as ``</script>``, are in the hostile-file corpus). Each output must then parse
as its format and carry every name as its exact text: SVG/GraphML/JSON read back, DOT through
``dot -Tcanon``, Markdown cells counted, and the HTML viewer in headless Chromium showing the
name in its details panel and search, with a ``window.alert`` trap left unfired.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from conftest import needs_browser
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import inspector
from inspector.report import summary
from inspector.report.export import export

HAVE_DOT = shutil.which("dot") is not None
TOKENS = ["<", ">", "&", '"', "'", "\\", "{", "}", "|", "[", "]", ";", "=", "`", "*", "_", "]]>", "<script>",
          "<img src=x onerror=alert(1)>", "&amp;", "\\N", "-->", "\u200f", "\u200e", "e\u0301", "\U0001F600",
          "\U0001F468\u200d\U0001F469", "\u4e2d\u6587", "\u05d0\u05d1", " ", "a", "7"]
NAME = st.one_of(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8).map("".join),
                 st.integers(60, 200).map(lambda n: "<&>" * n))


def _build(keras, names: list[str], model_name: str):
    """input -> Dense -> Dense -> Add(both): a model with a merge and shared input, under ``names``."""
    i = keras.Input((4,), name=names[0])
    a = keras.layers.Dense(3, name=names[1])(i)
    b = keras.layers.Dense(3, name=names[2])(i)
    o = keras.layers.Add(name=names[3])([a, b])
    return keras.Model(i, o, name=model_name)


def _check_files(model, path: str, out: str) -> list[str]:
    """Every static output of ``path``; returns the HTML page to check in the browser."""
    names = [layer.name for layer in model.layers]
    g = inspector.read(path)
    assert sorted(g.layers) == sorted(names) and g.name == model.name  # the reader keeps names exactly

    text = summary.render_text(g)
    assert all(n in text for n in names)
    md = summary.render_markdown(g)
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| Layer")]
    assert len(rows) == len(names)
    for row in rows:  # an unescaped | would add a cell; a backslash-escaped one does not
        assert len(re.split(r"(?<!\\)\|", row)) == 8, row
    data = json.loads(summary.render_json(g))
    assert sorted(r["name"] for r in data["layers"]) == sorted(names)

    export(g, out + ".json")
    with open(out + ".json", encoding="utf-8") as f:
        assert sorted(n["name"] for n in json.load(f)["nodes"]) == sorted(names)
    export(g, out + ".graphml")
    import networkx as nx

    back = nx.read_graphml(out + ".graphml")
    assert sorted(back.nodes[n]["name"] for n in back.nodes) == sorted(names)

    inspector.render(g, out + ".dot")
    if HAVE_DOT:
        with open(out + ".dot", encoding="utf-8") as f:
            canon = subprocess.run(["dot", "-Tcanon"], stdin=f, capture_output=True, text=True, timeout=60)
        assert canon.returncode == 0, canon.stderr
        inspector.render(g, out + ".svg")
        root = ET.parse(out + ".svg").getroot()
        titles = {"".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}title")}
        # Graphviz titles each box with its DOT node ID, the layer name (exact unless it holds a
        # backslash, which a quoted DOT ID cannot always keep; see escape.dot_id)
        assert {n for n in names if "\\" not in n} <= titles
        assert not [e for e in root.iter() if e.tag.endswith("}script")
                    or (e.tag.endswith("}a") and any(k.endswith("href") for k in e.attrib))]
        for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
            inspector.render(g, out + suffix)
            with open(out + suffix, "rb") as f:
                assert f.read(4) == magic
    inspector.render(g, out + ".html")
    return [out + ".html"]


_ALERT_TRAP = "window.__alerts = []; window.alert = window.confirm = window.prompt = " \
              "function (m) { window.__alerts.push(String(m)); };"


def _check_page(driver, page: str, model) -> None:
    """Each name is the exact text of its details panel and of its search result; no script ran."""
    driver.get("file://" + os.path.abspath(page))
    driver.execute_script("return 1")
    assert driver.execute_script("return !!(window.kgi && document.getElementById('kgi-svg'))")
    assert driver.execute_script("return window.__alerts") == []
    assert driver.execute_script("return document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert driver.execute_script("return document.scripts.length") == 2  # the data block and the viewer
    for layer in model.layers:
        shown = driver.execute_script(
            "var name = arguments[0];"
            "var ids = Object.keys(kgi.data.nodes).filter(function (k) { return kgi.data.nodes[k].name === name; });"
            "if (ids.length !== 1) return null;"
            "kgi.select(ids[0], true);"
            "var s = document.getElementById('kgi-search'); s.value = name;"
            "s.dispatchEvent(new Event('input'));"
            "var li = document.querySelector('#kgi-results li[data-id=\"' + CSS.escape(ids[0]) + '\"]');"
            "return [document.querySelector('#kgi-panel h2').textContent, li ? li.firstChild.textContent : null];",
            layer.name)
        assert shown == [layer.name, layer.name], (layer.name, shown)
    assert driver.execute_script("return window.__alerts") == []


@pytest.fixture(scope="module")
def trapped_browser(browser):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _ALERT_TRAP})
    return browser


@needs_browser
@settings(max_examples=12, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(names=st.lists(NAME, min_size=5, max_size=5, unique=True))
def test_any_name_any_format(keras, trapped_browser, tmp_path, names):
    keras.backend.clear_session()
    try:
        model = _build(keras, names[:4], names[4])
    except ValueError:  # a name Keras refuses (it contains "/", ...): nothing to render
        return
    d = tmp_path / str(len(os.listdir(tmp_path)))
    d.mkdir()
    path = str(d / "model.keras")
    model.save(path)
    for page in _check_files(model, path, str(d / "out")):
        _check_page(trapped_browser, page, model)


@needs_browser
def test_the_reported_name_renders_everywhere(keras, trapped_browser, tmp_path):
    """The name from the bug report broke DOT (emitted raw, as an HTML label) and so SVG/PNG/HTML."""
    keras.backend.clear_session()
    model = _build(keras, ["x", "<img src=x onerror=alert(1)>", "d", "<b>sum<b>"], "<svg onload=alert(2)>")
    path = str(tmp_path / "m.keras")
    model.save(path)
    with open(path, "rb") as f:
        before = f.read()
    for page in _check_files(model, path, str(tmp_path / "out")):
        _check_page(trapped_browser, page, model)
    with open(path, "rb") as f:
        assert f.read() == before  # the input is never modified
