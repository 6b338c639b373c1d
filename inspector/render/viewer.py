"""CSS and vanilla JavaScript of the HTML viewer (inlined into every page: no CDN, no network).

Everything from the model (layer names, configs, error messages) reaches the
page as JSON and is put into the DOM with ``textContent`` only, never as HTML,
so a hostile layer name cannot inject markup or script.

One script, one closure: this module holds the core (pan, zoom, the details
panel, search); :mod:`.viewer_nav` (first view, ``fit``, minimap),
:mod:`.viewer_blocks` (nested models and folded groups opening in place) and
:mod:`.viewer_overlay` (``--overlay`` numbers, colour statistic, epoch slider) add
fragments that share its variables, assembled into :data:`JS` below.
"""
from inspector.render import viewer_blocks, viewer_nav, viewer_overlay

CSS = r"""
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%;
             font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
body { display: flex; flex-direction: column; }
header { position: relative; display: flex; gap: 6px; align-items: center; padding: 6px 8px;
         border-bottom: 1px solid #ddd; background: #fafafa; }
#kgi-search { width: 280px; padding: 4px 6px; }
#kgi-title { margin-left: 8px; color: #444; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#kgi-results { position: absolute; top: 34px; left: 8px; z-index: 5; width: 420px; max-height: 60vh; overflow: auto;
               margin: 0; padding: 0; list-style: none; background: #fff; border: 1px solid #bbb;
               box-shadow: 0 4px 12px rgba(0,0,0,.15); }
#kgi-results li { padding: 4px 8px; cursor: pointer; border-bottom: 1px solid #eee; }
#kgi-results li:hover, #kgi-results li.kgi-active { background: #e3f2fd; }
#kgi-results .kgi-cls { color: #777; margin-left: 6px; }
main { flex: 1; display: flex; min-height: 0; }
#kgi-canvas { flex: 1; overflow: hidden; cursor: grab; background: #fff; touch-action: none; }
#kgi-canvas.kgi-drag { cursor: grabbing; }
#kgi-svg { width: 100%; height: 100%; display: block; }
#kgi-panel { width: 380px; overflow: auto; padding: 10px 12px; border-left: 1px solid #ddd; background: #fcfcfc; }
#kgi-panel h2 { font-size: 16px; margin: 0 0 2px; word-break: break-all; }
#kgi-panel h3 { font-size: 13px; margin: 12px 0 4px; color: #555; }
#kgi-panel .kgi-sub { color: #666; margin-bottom: 8px; }
#kgi-panel table { border-collapse: collapse; width: 100%; }
#kgi-panel td, #kgi-panel th { border-bottom: 1px solid #eee; padding: 2px 4px; text-align: left; vertical-align: top;
                              font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
#kgi-panel th { font-family: inherit; color: #555; font-weight: 600; white-space: nowrap; }
#kgi-panel pre { background: #f4f4f4; padding: 6px; overflow: auto; font-size: 11px; max-height: 50vh; }
#kgi-panel button.kgi-link { border: 0; background: none; color: #1565c0; cursor: pointer; padding: 0 4px 0 0;
                             font: inherit; text-decoration: underline; }
#kgi-panel .kgi-error { color: #b71c1c; white-space: pre-wrap; }
.kgi-hint { color: #777; }
#kgi-panel .kgi-diff { font-weight: 600; margin: 4px 0; }
#kgi-panel tr.kgi-member-hit td { background: #fff3e0; font-weight: 600; }
#kgi-panel .kgi-diff-added { color: #2e7d32; }
#kgi-panel .kgi-diff-changed { color: #e65100; }
#kgi-panel .kgi-diff-removed { color: #c62828; }
#kgi-panel .kgi-diff-line { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
g.node.kgi-hit path, g.node.kgi-hit polygon, g.node.kgi-hit rect { stroke: #1e88e5; stroke-width: 3px; }
g.node.kgi-sel path, g.node.kgi-sel polygon, g.node.kgi-sel rect { stroke: #e65100; stroke-width: 5px; }
g.node { cursor: pointer; }
"""

_CORE = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("kgi-data").textContent);
  var nodes = data.nodes;
  var svg = document.getElementById("kgi-svg");
  var canvas = document.getElementById("kgi-canvas");
  var panel = document.getElementById("kgi-panel");
  var search = document.getElementById("kgi-search");
  var results = document.getElementById("kgi-results");
  var w0 = parseFloat(svg.getAttribute("width")) || 800, h0 = parseFloat(svg.getAttribute("height")) || 600;
  if (!svg.getAttribute("viewBox")) svg.setAttribute("viewBox", "0 0 " + w0 + " " + h0);
  svg.removeAttribute("width"); svg.removeAttribute("height");
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  var b = svg.viewBox.baseVal, home = [b.x, b.y, b.width, b.height], vb = home.slice();
  var onView = [];  // called after every change of the view (the minimap follows it)
  function apply() { svg.setAttribute("viewBox", vb.join(" ")); onView.forEach(function (f) { f(); }); }
  function toSvg(cx, cy) {
    var p = svg.createSVGPoint(); p.x = cx; p.y = cy;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  function zoom(f, cx, cy) {
    var r = svg.getBoundingClientRect();
    if (cx === undefined) { cx = r.left + r.width / 2; cy = r.top + r.height / 2; }
    var p = toSvg(cx, cy);
    vb = [p.x - (p.x - vb[0]) * f, p.y - (p.y - vb[1]) * f, vb[2] * f, vb[3] * f]; apply();
  }
  function fit() { vb = home.slice(); apply(); }
  document.getElementById("kgi-fit").onclick = fit;
  document.getElementById("kgi-in").onclick = function () { zoom(1 / 1.4); };
  document.getElementById("kgi-out").onclick = function () { zoom(1.4); };
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault(); zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, e.clientX, e.clientY);
  }, { passive: false });
  var drag = null, moved = false;
  canvas.addEventListener("pointerdown", function (e) {
    drag = { x: e.clientX, y: e.clientY, vb: vb.slice() }; moved = false;
  });
  window.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    moved = true; canvas.classList.add("kgi-drag");
    var r = svg.getBoundingClientRect(), k = Math.max(drag.vb[2] / r.width, drag.vb[3] / r.height);
    vb = [drag.vb[0] - dx * k, drag.vb[1] - dy * k, drag.vb[2], drag.vb[3]]; apply();
  });
  window.addEventListener("pointerup", function () { drag = null; canvas.classList.remove("kgi-drag"); });
  canvas.addEventListener("click", function (e) {
    if (moved) { moved = false; return; }
    if (blockClick(e.target)) return;
    var g = e.target.closest ? e.target.closest("g.node") : null;
    if (g && nodes[g.id]) select(g.id, false);
  });

  function el(tag, text, cls) {
    var x = document.createElement(tag);
    if (text !== undefined && text !== null) x.textContent = String(text);
    if (cls) x.className = cls;
    return x;
  }
  function fmt(n) { return n === null || n === undefined ? "?" : Number(n).toLocaleString("en-US"); }
  function row(t, k, v) {
    if (v === null || v === undefined || v === "") return;
    var tr = el("tr"); tr.appendChild(el("th", k)); tr.appendChild(el("td", v)); t.appendChild(tr);
  }
  function links(title, ids) {
    if (!ids || !ids.length) return;
    panel.appendChild(el("h3", title));
    var p = el("div");
    ids.forEach(function (id) {
      var bt = el("button", nodes[id] ? nodes[id].name : id, "kgi-link");
      bt.onclick = function () { select(id, true); };
      p.appendChild(bt);
    });
    panel.appendChild(p);
  }
  function show(id, member) {
    var d = nodes[id];
    panel.textContent = "";
    panel.appendChild(el("h2", d.name));
    panel.appendChild(el("div", d.class_name + " · " + d.family + (d.output ? " · model output" : ""), "kgi-sub"));
    if (d.error) panel.appendChild(el("div", "failed: " + d.error, "kgi-error"));
    if (d.diff) {
      var against = data.diff ? data.diff.against : "the other model";
      panel.appendChild(el("div", {added: "added: not in " + against, changed: "changed since " + against,
                                   removed: "removed: only in " + against}[d.diff], "kgi-diff kgi-diff-" + d.diff));
      (d.diff_changes || []).forEach(function (c) { panel.appendChild(el("div", c, "kgi-diff-line")); });
    }
    var t = el("table");
    row(t, "input shape", d.input_shapes);
    row(t, "output shape", d.output_shapes);
    row(t, "dtype", d.output_dtypes ? d.output_dtypes.join(", ") : null);
    row(t, "hyper-parameters", d.details && d.details.length ? d.details.join(d.members ? " · " : ", ") : null);
    row(t, "not default", d.details_all && d.details_all.length ? d.details_all.join(d.members ? " · " : ", ") : null);
    row(t, "activation", d.activation);
    row(t, "quantization", d.quantization);
    row(t, "LoRA rank", d.lora_rank);
    row(t, "dtype policy", d.dtype_policy);
    row(t, "trainable", d.trainable === undefined || d.trainable === null ? null : String(d.trainable));
    row(t, "params", d.params === null ? null : fmt(d.params) + " (" + fmt(d.params_trainable) + " trainable, " +
        fmt(d.params_non_trainable) + " non-trainable)");
    row(t, "MACs", d.macs === null ? null : fmt(d.macs));
    row(t, "shared", d.shared);
    row(t, "repeated", d.repeats > 1 ? "×" + d.repeats : null);
    row(t, "module", d.module);
    row(t, "node id", d.id);
    panel.appendChild(t);
    showOverlay(id);  // --overlay numbers (viewer_overlay.py)
    if (d.weights && d.weights.length) {
      panel.appendChild(el("h3", "Weights"));
      var wt = el("table"), hr = el("tr");
      ["name", "shape", "dtype", "trainable"].forEach(function (h) { hr.appendChild(el("th", h)); });
      wt.appendChild(hr);
      d.weights.forEach(function (w) {
        var tr = el("tr");
        tr.appendChild(el("td", w.name));
        var dims = w.shape || [];
        tr.appendChild(el("td", "(" + dims.join(", ") + (dims.length === 1 ? ",)" : ")")));
        tr.appendChild(el("td", w.dtype));
        tr.appendChild(el("td", String(w.trainable)));
        wt.appendChild(tr);
      });
      panel.appendChild(wt);
    }
    links("Inputs from", d.inputs);
    links("Outputs to", d.outputs);
    if (d.members && d.members.length) {
      panel.appendChild(el("h3", "Folded layer calls (" + d.members.length + ")"));
      var mt = el("table");
      d.members.forEach(function (m) {
        var tr = el("tr", null, member && m.name === member ? "kgi-member-hit" : null);
        tr.appendChild(el("td", m.name)); tr.appendChild(el("td", m.class_name));
        tr.appendChild(el("td", m.output_shapes));
        mt.appendChild(tr);
      });
      panel.appendChild(mt);
    }
    if (d.config) {
      panel.appendChild(el("h3", "Config"));
      panel.appendChild(el("pre", JSON.stringify(d.config, null, 1)));
    }
  }
  var selected = null;
  function select(id, centre, member) {
    reveal(id, member);
    if (selected) selected.classList.remove("kgi-sel");
    selected = document.getElementById(id);
    if (selected) selected.classList.add("kgi-sel");
    show(id, member);
    var hit = panel.querySelector(".kgi-member-hit");
    if (hit) hit.scrollIntoView({block: "nearest"});
    if (centre && selected) {
      var bb = selected.getBBox(), m = svg.getScreenCTM().inverse().multiply(selected.getScreenCTM());
      var p = svg.createSVGPoint(); p.x = bb.x + bb.width / 2; p.y = bb.y + bb.height / 2; p = p.matrixTransform(m);
      var w = Math.min(vb[2], Math.max(bb.width * 8, 400)), h = vb[3] * w / vb[2];
      vb = [p.x - w / 2, p.y - h / 2, w, h]; apply();
    }
  }
  var hits = [], via = {};  // via[box id]: the folded layer call a search matched inside a collapsed box
  function clearHits() { hits.forEach(function (g) { g.classList.remove("kgi-hit"); }); hits = []; }
  function find(q) {
    q = q.trim().toLowerCase();
    if (!q) return [];
    var exact = [], starts = [], has = [];
    via = {};
    Object.keys(nodes).forEach(function (id) {
      var d = nodes[id], n = String(d.name).toLowerCase(), c = String(d.class_name || "").toLowerCase();
      if (n === q || c === q) exact.push(id);
      else if (n.indexOf(q) === 0 || c.indexOf(q) === 0) starts.push(id);
      else if (n.indexOf(q) >= 0 || c.indexOf(q) >= 0 || String(d.id).toLowerCase().indexOf(q) >= 0) has.push(id);
      else (d.members || []).some(function (m) {  // a layer folded into a collapsed box finds the box
        var mn = String(m.name).toLowerCase();
        if (mn.indexOf(q) < 0) return false;
        via[id] = m.name; (mn === q ? exact : has).push(id); return true;
      });
    });
    return exact.concat(starts, has);
  }
  function pick(id) { results.hidden = true; select(id, true, via[id]); }
  search.addEventListener("input", function () {
    clearHits(); results.textContent = "";
    var found = find(search.value);
    found.slice(0, 300).forEach(function (id) {
      var g = document.getElementById(id); if (g) { g.classList.add("kgi-hit"); hits.push(g); }
    });
    found.slice(0, 50).forEach(function (id, i) {
      var li = el("li", via[id] ? via[id] + " (in " + nodes[id].name + ")" : nodes[id].name,
                  i === 0 ? "kgi-active" : null);
      li.setAttribute("data-id", id);
      li.appendChild(el("span", nodes[id].class_name, "kgi-cls"));
      li.onclick = function () { pick(id); };
      results.appendChild(li);
    });
    if (found.length > 50) results.appendChild(el("li", "… " + (found.length - 50) + " more"));
    results.hidden = found.length === 0;
  });
  search.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { var f = find(search.value); if (f.length) pick(f[0]); }
    if (e.key === "Escape") { search.value = ""; clearHits(); results.hidden = true; }
  });
  window.kgi = { select: select, find: find, fit: fit, data: data, firstView: firstView,
                 fold: function (cid) { setFolded(cid, true); }, unfold: function (cid) { setFolded(cid, false); },
                 openBox: openBox, closeBox: closeBox };
"""

JS = (_CORE + viewer_nav.JS + viewer_blocks.JS + viewer_overlay.JS + viewer_overlay.START + viewer_blocks.START
      + viewer_nav.START + "})();\n")
CSS += viewer_nav.CSS + viewer_blocks.CSS + viewer_overlay.CSS
