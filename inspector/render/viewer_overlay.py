"""The HTML viewer's ``--overlay`` part: the numbers in the details panel, the colour
statistic and the epoch slider.

The page embeds, per statistic of the file's kind and per frame (epoch), each
box's colour bin and the legend, all computed in Python by the functions that
colour the SVG (:mod:`.overlay_data`); switching the ``<select>`` or moving the
slider only looks them up, so the page shows exactly what ``render --by STAT``
would have drawn for that statistic and epoch. The boxes, the minimap, the
drawing's own legend and title line, and a legend in the bar above the drawing
follow; the details panel shows the selected box's statistics (or errors) in the
current frame, with each output's histogram drawn as bars.

Which boxes are recoloured: those the drawing gave an overlay colour (not a
failed or faded box), and in them the shapes with a fill and the texts in the
overlay's font colour. Every string (layer call keys, file names, labels) goes
in with ``textContent`` or ``setAttribute``; the histogram is built with
``createElementNS`` (``svgEl`` of :mod:`.viewer_blocks`).

Fragments of the one script of :mod:`.viewer`, sharing its closure (``data``,
``nodes``, ``svg``, ``panel``, ``el``, ``fmt``, ``show``, ``selected``,
``svgEl``, ``miniRects``).
"""

#: the most outputs of one box whose numbers the panel lists (a folded box may hold hundreds)
MAX_RECORDS = 24

CSS = r"""
#kgi-ov { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; padding: 4px 8px;
          border-bottom: 1px solid #ddd; background: #fffdf5; }
#kgi-ov label { white-space: nowrap; }
#kgi-ov-frame { width: 180px; vertical-align: middle; }
#kgi-ov-epoch { font-weight: 600; min-width: 5em; }
#kgi-ov-note { color: #555; }
#kgi-ov-legend { display: flex; gap: 2px; }
#kgi-ov-legend span { padding: 0 4px; border: 1px solid #9e9e9e; font-size: 11px; white-space: nowrap; }
#kgi-panel tr.kgi-ov-by th, #kgi-panel tr.kgi-ov-by td { background: #fff3e0; font-weight: 600; }
#kgi-panel .kgi-ov-over { color: #b71c1c; font-weight: 600; }
svg.kgi-ov-hist { display: block; margin: 6px 0 2px; overflow: visible; }
svg.kgi-ov-hist rect.kgi-hbar { fill: #fd8d3c; }
svg.kgi-ov-hist rect.kgi-hbar:hover { fill: #b10026; }
svg.kgi-ov-hist line { stroke: #555; stroke-width: 1px; }
svg.kgi-ov-hist text { font: 10px ui-monospace, Menlo, Consolas, monospace; fill: #444; }
"""

JS = r"""
  // ---- overlay: numbers in the panel, colour statistic, epoch slider (viewer_overlay.py)
  var ov = data.overlay || null, ovBy = ov ? ov.by : null, ovFrame = ov ? ov.index : 0;
  var ovBoxes = {}, ovSvgLegend = [], ovSvgNote = null, MAX_RECORDS = %(max_records)d;
  var OV_FIELDS = {count: "values", rows: "rows", over: "over the threshold",
                   nonfinite_mismatch: "non-finite mismatches", a: "model A's layer call", error: "not compared"};
  function ovLabel(k) {
    var c = (ov.choices || []).filter(function (x) { return x[0] === k; })[0];
    return c ? c[1] : (OV_FIELDS[k] || k);
  }
  function ovColour(ch) { return ov.colours[ch === "." ? ov.colours.length - 1 : Number(ch)]; }
  function ovFilled(x) { var f = x.getAttribute("fill"); return f && f !== "none" && f !== "transparent"; }
  function ovMeasure() {  // once: each recoloured box's filled shapes, its overlay-coloured texts, its outline
    var bins = ov.bins[ov.by][ov.index];
    ov.painted.forEach(function (id) {
      var g = document.getElementById(id); if (!g) return;
      var i = Number(id.slice(1)), ch = bins.charAt(i), font = ovColour(ch)[1].toLowerCase();
      var shapes = Array.prototype.filter.call(g.querySelectorAll("path, polygon, rect, ellipse"), ovFilled);
      var texts = Array.prototype.filter.call(g.querySelectorAll("text"), function (t) {
        return (t.getAttribute("fill") || "#000000").toLowerCase() === font;
      });
      var pen = shapes.length ? shapes[0].getAttribute("stroke") : null;
      if (ch === "." && pen === ov.unmeasured_pen) pen = ov.measured_pen;
      ovBoxes[id] = {i: i, shapes: shapes, texts: texts, pen: pen};
    });
  }
  function ovFindSvgLegend() {  // the drawing's own legend cells and title line, to keep them true
    var want = ov.legend[ov.by][ov.index], note = ov.notes[ov.by][ov.index], k = 0;
    Array.prototype.forEach.call(svg.querySelectorAll("text"), function (t) {
      if (t.closest("g.node, g.edge, g.cluster")) return;
      if (t.textContent === note && !ovSvgNote) ovSvgNote = t;
      else if (k < want.length && t.textContent === want[k][2]) {
        var cell = t.previousElementSibling;
        while (cell && !(cell.tagName === "polygon" && ovFilled(cell))) cell = cell.previousElementSibling;
        ovSvgLegend.push({text: t, cell: cell}); k++;
      }
    });
    if (k < want.length) ovSvgLegend = [];  // not found in order (another drawing): leave it alone
  }
  function ovBuildBar() {
    var bar = el("div"); bar.id = "kgi-ov";
    var lab = el("label", "colour by ");
    var sel = el("select"); sel.id = "kgi-ov-by"; sel.setAttribute("aria-label", "Colour the boxes by");
    ov.choices.forEach(function (c) { var o = el("option", c[1]); o.value = c[0]; sel.appendChild(o); });
    sel.value = ovBy;
    sel.addEventListener("change", function () { ovBy = sel.value; ovUpdate(); });
    lab.appendChild(sel); bar.appendChild(lab);
    if (ov.frames.length > 1) {
      var sl = el("input"); sl.id = "kgi-ov-frame"; sl.type = "range"; sl.min = "0";
      sl.max = String(ov.frames.length - 1); sl.step = "1"; sl.value = String(ovFrame);
      sl.setAttribute("aria-label", "Epoch");
      sl.addEventListener("input", function () { ovFrame = Number(sl.value); ovUpdate(); });
      bar.appendChild(sl); bar.appendChild(el("span", null)).id = "kgi-ov-epoch";
    }
    bar.appendChild(el("span")).id = "kgi-ov-note";
    bar.appendChild(el("span")).id = "kgi-ov-legend";
    document.body.insertBefore(bar, document.querySelector("main"));
  }
  function ovPaint() {
    var bins = ov.bins[ovBy][ovFrame];
    Object.keys(ovBoxes).forEach(function (id) {
      var b = ovBoxes[id], ch = bins.charAt(b.i), c = ovColour(ch);
      b.shapes.forEach(function (s) {
        s.setAttribute("fill", c[0]);
        if (b.pen) s.setAttribute("stroke", ch === "." ? ov.unmeasured_pen : b.pen);
      });
      b.texts.forEach(function (t) { t.setAttribute("fill", c[1]); });
      if (miniRects[id]) miniRects[id].setAttribute("fill", c[0]);
    });
  }
  function ovLegend() {
    var cells = ov.legend[ovBy][ovFrame], note = ov.notes[ovBy][ovFrame], box = document.getElementById("kgi-ov-legend");
    box.textContent = "";
    cells.concat([ov.colours[ov.colours.length - 1].concat([ov.unmeasured_text])]).forEach(function (c) {
      var s = el("span", c[2], "kgi-ov-cell"); s.style.background = c[0]; s.style.color = c[1]; box.appendChild(s);
    });
    document.getElementById("kgi-ov-note").textContent = note;
    var ep = document.getElementById("kgi-ov-epoch");
    if (ep) ep.textContent = ov.frames[ovFrame];
    ovSvgLegend.forEach(function (x, i) {
      x.text.textContent = cells[i][2]; x.text.setAttribute("fill", cells[i][1]);
      if (x.cell) x.cell.setAttribute("fill", cells[i][0]);
    });
    if (ovSvgNote) ovSvgNote.textContent = note;
  }
  function ovUpdate() {
    ovPaint(); ovLegend();
    if (selected && nodes[selected.id]) show(selected.id);
  }
  function ovNum(v) {  // 4 significant digits, exponent far from 1
    if (v === null || v === undefined) return null;
    if (typeof v !== "number") return String(v);
    if (v === 0) return "0";
    var a = Math.abs(v);
    return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }
  function ovPct(v) { return v === null || v === undefined ? null : ovNum(v * 100) + " %%"; }
  function ovRow(t, k, v, cls) {
    if (v === null || v === undefined || v === "") return;
    var tr = el("tr", null, (k === ovBy ? "kgi-ov-by" : "") + (cls ? " " + cls : ""));
    tr.setAttribute("data-stat", k);
    tr.appendChild(el("th", ovLabel(k))); tr.appendChild(el("td", v)); t.appendChild(tr);
  }
  function ovStatRows(t, r) {
    ["mean", "std", "min", "max", "abs_mean"].forEach(function (k) { ovRow(t, k, ovNum(r[k])); });
    ovRow(t, "zero_fraction", ovPct(r.zero_fraction));
    ovRow(t, "dead_fraction", ovPct(r.dead_fraction));
    ["nan", "inf", "count", "rows"].forEach(function (k) { ovRow(t, k, r[k] === undefined ? null : fmt(r[k])); });
  }
  function ovCompareRows(t, r) {
    ["max_abs", "rel_l2", "cosine"].forEach(function (k) { ovRow(t, k, ovNum(r[k])); });
    if (r.over !== undefined) ovRow(t, "over", r.over ? "yes" : "no", r.over ? "kgi-ov-over" : null);
    ovRow(t, "nonfinite_mismatch", r.nonfinite_mismatch ? fmt(r.nonfinite_mismatch) : null);
    ovRow(t, "a", r.a);
    ovRow(t, "error", r.error);
  }
  function ovHistogram(h) {  // one bar per bin, heights proportional to the counts; the range's edges on the axis
    var W = 330, H = 60, n = h.counts.length, top = Math.max.apply(null, h.counts.concat([0]));
    var s = svgEl("svg", {"class": "kgi-ov-hist", width: W, height: H + 16, viewBox: "0 0 " + W + " " + (H + 16),
                          role: "img", "aria-label": "histogram of the values"});
    h.counts.forEach(function (c, i) {
      var bh = top > 0 ? H * c / top : 0, a = h.lo + (h.hi - h.lo) * i / n, b = h.lo + (h.hi - h.lo) * (i + 1) / n;
      var r = svgEl("rect", {"class": "kgi-hbar", x: W * i / n, y: H - bh, width: Math.max(W / n - 1, 0.5), height: bh}, s);
      svgEl("title", {}, r, fmt(c) + " values in [" + ovNum(a) + ", " + ovNum(b) + (i === n - 1 ? "]" : ")"));
    });
    svgEl("line", {x1: 0, y1: H + 0.5, x2: W, y2: H + 0.5}, s);
    [[0, "start", h.lo], [W / 2, "middle", (h.lo + h.hi) / 2], [W, "end", h.hi]].forEach(function (e) {
      svgEl("line", {x1: e[0], y1: H, x2: e[0], y2: H + 4}, s);
      svgEl("text", {x: e[0], y: H + 14, "text-anchor": e[1], "class": "kgi-ov-edge"}, s, ovNum(e[2]));
    });
    return s;
  }
  function showOverlay(id) {  // called by show(): the box's numbers in the current frame
    if (!ov) return;
    var recs = (ov.records[ovFrame] || {})[id], where = ov.source + (ov.frames[ovFrame] !== ov.source ? ", " + ov.frames[ovFrame] : "");
    panel.appendChild(el("h3", (ov.kind === "compare" ? "Errors" : "Activations") + " (" + where + ")"));
    if (!recs) { panel.appendChild(el("div", "not measured in " + where, "kgi-hint")); return; }
    var box = el("div"); box.id = "kgi-ov-numbers";
    recs.slice(0, MAX_RECORDS).forEach(function (r) {
      var sec = el("div", null, "kgi-ov-rec");
      if (recs.length > 1) sec.appendChild(el("div", r.key, "kgi-sub"));
      var t = el("table");
      if (ov.kind === "compare") ovCompareRows(t, r); else ovStatRows(t, r);
      sec.appendChild(t);
      if (r.hist) {
        sec.appendChild(ovHistogram(r.hist));
        if (r.hist.under || r.hist.over) {
          sec.appendChild(el("div", fmt(r.hist.under) + " below and " + fmt(r.hist.over) +
                             " above the histogram's range (the first batch's)", "kgi-hint"));
        }
      }
      box.appendChild(sec);
    });
    if (recs.length > MAX_RECORDS) box.appendChild(el("div", "… " + (recs.length - MAX_RECORDS) + " more outputs", "kgi-hint"));
    panel.appendChild(box);
  }
""" % {"max_records": MAX_RECORDS}

#: run once, before the blocks and the navigation start (the bar takes its height first)
START = r"""
  if (ov) { ovMeasure(); ovFindSvgLegend(); ovBuildBar(); ovPaint(); ovLegend(); }
"""
