"""The HTML viewer's navigation: the first view, ``fit``, keys and the overview minimap.

Why the page does not open fitted: a fitted 125-layer model is a column of
boxes a few pixels high, so the reader's first action would always be to zoom
in and hunt for the start. The page opens at a readable scale (the boxes'
smallest label font at least :data:`READABLE_PX` on screen) at the model's
first input, which with the viewport clamped to the drawing puts the inputs at
the top of a TB graph and at the left of an LR one. A graph that fits readably
opens fitted, as before. ``fit`` (button or key ``f``) shows the whole graph.

The minimap is a scaled copy of the boxes only (one ``<rect>`` per box, read
from the drawing's own geometry once, no labels, no edges), with a rectangle
for the part of the graph on screen; a click or drag in it centres the view
there, the way a scrollbar maps: the point clicked stays on screen and the view never leaves
the drawing; the last few pixels at each end of the minimap reach that end (a pixel of a
1,000-layer graph's minimap is hundreds of points). It is built with ``createElementNS`` and attributes: no model string
reaches it.

These are fragments of the one script of :mod:`.viewer`: they share its
closure (``svg``, ``vb``, ``home``, ``apply``, ``fit``, ``zoom``, ``nodes``).
"""

#: smallest on-screen size (CSS px) of the boxes' smallest label font at the first view
READABLE_PX = 9

CSS = r"""
#kgi-canvas { position: relative; }
#kgi-mini { position: absolute; right: 10px; bottom: 10px; background: rgba(255,255,255,.92);
            border: 1px solid #bbb; box-shadow: 0 2px 8px rgba(0,0,0,.15); cursor: crosshair; touch-action: none; }
#kgi-mini .kgi-mini-view { fill: rgba(30,136,229,.12); stroke: #1e88e5; stroke-width: 2px;
                           vector-effect: non-scaling-stroke; }
#kgi-mini rect.kgi-hidden { display: none; }
"""

JS = r"""
  // ---- navigation: first view, fit, keys, minimap (viewer_nav.py)
  var READABLE_PX = %(readable)d, SNAP_PX = 4, SVGNS = "http://www.w3.org/2000/svg";
  var graph = svg.querySelector("g.graph") || svg;  // the boxes' coordinate space (Graphviz's graph0)
  function boxOf(g) {  // an element's box in the root <svg>'s viewBox coordinates
    var bb = g.getBBox(), m = svg.getScreenCTM().inverse().multiply(g.getScreenCTM());
    var p = svg.createSVGPoint(); p.x = bb.x; p.y = bb.y; p = p.matrixTransform(m);
    return {x: p.x, y: p.y, w: bb.width * m.a, h: bb.height * m.d};
  }
  function scaleNow() { var r = svg.getBoundingClientRect(); return Math.min(r.width / vb[2], r.height / vb[3]); }
  function labelFont() {  // the smallest font of the boxes' labels, in SVG units (Graphviz: 9 or 10)
    var t = svg.querySelectorAll("g.node text"), s = Infinity;
    for (var i = 0; i < t.length && i < 400; i++) {
      var f = parseFloat(t[i].getAttribute("font-size")); if (f > 0 && f < s) s = f;
    }
    return s === Infinity ? 10 : s;
  }
  function clamp(v, lo, hi) { return hi < lo ? (lo + hi) / 2 : Math.max(lo, Math.min(hi, v)); }
  function firstInput() {  // the first box, in model order, that nothing feeds
    var ids = Object.keys(nodes);
    for (var i = 0; i < ids.length; i++) {
      if (!nodes[ids[i]].inputs.length && document.getElementById(ids[i])) return ids[i];
    }
    return ids[0];
  }
  function firstView() {
    fit();
    var need = READABLE_PX / labelFont(), start = document.getElementById(firstInput() || "");
    if (scaleNow() >= need || !start) return;  // fits readably: the whole graph
    var r = svg.getBoundingClientRect(), w = r.width / need, h = r.height / need, c = boxOf(start);
    if (r.width < 1 || r.height < 1) return;  // not laid out (a hidden frame): stay fitted
    vb = [clamp(c.x + c.w / 2 - w / 2, home[0], home[0] + home[2] - w),
          clamp(c.y + c.h / 2 - h / 2, home[1], home[1] + home[3] - h), w, h];
    apply();
  }
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA"))) return;
    if (e.key === "f") fit();
    else if (e.key === "+" || e.key === "=") zoom(1 / 1.4);
    else if (e.key === "-") zoom(1.4);
  });

  var mini = document.getElementById("kgi-mini"), miniView = null, miniRects = {}, miniDrag = false;
  function buildMini() {
    if (!mini) return;
    var L = 180, ar = home[2] / home[3];
    mini.setAttribute("viewBox", home.join(" "));
    mini.style.width = Math.max(48, ar >= 1 ? L : L * ar) + "px";
    mini.style.height = Math.max(48, ar >= 1 ? L / ar : L) + "px";
    var g = document.createElementNS(SVGNS, "g");
    if (graph !== svg && graph.getAttribute("transform")) g.setAttribute("transform", graph.getAttribute("transform"));
    Object.keys(nodes).forEach(function (id) {
      var n = document.getElementById(id); if (!n) return;
      var bb = n.getBBox(), shape = n.querySelector("path, polygon, rect, ellipse"), r = document.createElementNS(SVGNS, "rect");
      r.setAttribute("x", bb.x); r.setAttribute("y", bb.y); r.setAttribute("width", bb.width); r.setAttribute("height", bb.height);
      r.setAttribute("fill", (shape && shape.getAttribute("fill")) || "#cfd8dc");
      r.setAttribute("stroke", "#607d8b"); r.setAttribute("stroke-width", "0.5"); r.setAttribute("vector-effect", "non-scaling-stroke");
      g.appendChild(r); miniRects[id] = r;
    });
    mini.appendChild(g);
    miniView = document.createElementNS(SVGNS, "rect"); miniView.setAttribute("class", "kgi-mini-view");
    mini.appendChild(miniView);
    function move(e) {  // like a scrollbar: the point clicked stays on screen, the ends are a few px wide
      var p = mini.createSVGPoint(); p.x = e.clientX; p.y = e.clientY;
      p = p.matrixTransform(mini.getScreenCTM().inverse());
      var r = mini.getBoundingClientRect(), m = SNAP_PX * Math.max(home[2] / r.width, home[3] / r.height);
      function at(v, i) {
        var f = clamp((v - home[i] - m) / (home[i + 2] - 2 * m), 0, 1);
        return vb[i + 2] >= home[i + 2] ? home[i] + (home[i + 2] - vb[i + 2]) / 2 : home[i] + f * (home[i + 2] - vb[i + 2]);
      }
      vb = [at(p.x, 0), at(p.y, 1), vb[2], vb[3]]; apply();
    }
    mini.addEventListener("pointerdown", function (e) {
      e.stopPropagation(); e.preventDefault(); miniDrag = true;
      if (mini.setPointerCapture) mini.setPointerCapture(e.pointerId);
      move(e);
    });
    mini.addEventListener("pointermove", function (e) { if (miniDrag) { e.stopPropagation(); move(e); } });
    mini.addEventListener("pointerup", function () { miniDrag = false; });
    mini.addEventListener("click", function (e) { e.stopPropagation(); });
    mini.addEventListener("wheel", function (e) { e.stopPropagation(); e.preventDefault(); }, { passive: false });
  }
  function updateMini() {  // the part of the graph on screen (wider than vb on one axis: the page keeps aspect)
    if (!miniView) return;
    var r = svg.getBoundingClientRect(), k = Math.max(vb[2] / r.width, vb[3] / r.height);
    var w = r.width * k, h = r.height * k;
    miniView.setAttribute("x", vb[0] + vb[2] / 2 - w / 2); miniView.setAttribute("y", vb[1] + vb[3] / 2 - h / 2);
    miniView.setAttribute("width", w); miniView.setAttribute("height", h);
    var all = w >= home[2] - 1e-6 * home[2] && h >= home[3] - 1e-6 * home[3] &&
      vb[0] + vb[2] / 2 - w / 2 <= home[0] + 1e-6 * home[2] && vb[1] + vb[3] / 2 - h / 2 <= home[1] + 1e-6 * home[3] &&
      vb[0] + vb[2] / 2 + w / 2 >= home[0] + home[2] * (1 - 1e-6) && vb[1] + vb[3] / 2 + h / 2 >= home[1] + home[3] * (1 - 1e-6);
    mini.style.visibility = all ? "hidden" : "visible";  // nothing to show when the whole graph is on screen
  }
  onView.push(updateMini);
""" % {"readable": READABLE_PX}

#: run once the rest of the script is set up
START = r"""
  buildMini();
  firstView();
  window.addEventListener("resize", updateMini);
"""
