"""The HTML viewer's blocks: nested models and folded groups open and close in place.

The design, and why: the page holds the one drawing the command made (Graphviz
lays out a graph in seconds; the page cannot re-run it, and embedding a drawing
per expansion state would multiply the file by 2^blocks). So:

* **Nested models / traced sub-layers** (``--expand-nested``, ``--depth``) are
  drawn as clusters. Clicking a cluster's header folds it *in place*: its
  boxes, the edges between them and the frames of clusters inside it are
  hidden (``display: none``) and a summary box covering the cluster's frame
  ("name (Class), N layers") is drawn on top, so edges from outside visibly
  end at it. Clicking the summary box unfolds it. The layout never moves, so
  the minimap and every coordinate stay valid.
* **Folded boxes** (``--collapse``) hold layer calls the drawing never placed.
  Clicking one opens it in place as an overlay on the box: its layer calls in
  model order, one column per repeated block (``×N``), each a small box
  (name, class) that selects the folded box with that call highlighted; the
  overlay's header closes it. The wiring inside a block is not redrawn (the
  page only has the folded drawing; render without ``--collapse`` for that).

Search reveals what it finds: selecting a box inside folded clusters unfolds
them, and a layer call found inside a folded box opens the box with the call
marked. Every label is set with ``textContent``; geometry comes from the
drawing (``getBBox``), measured once before anything is hidden.

Fragments of the one script of :mod:`.viewer`, sharing its closure (``nodes``,
``data``, ``graph``, ``select``, ``SVGNS``, ``miniRects``).
"""

CSS = r"""
.kgi-hidden { display: none; }
g.cluster > g > a > text, g.cluster > text { cursor: pointer; }
g.kgi-cover, g.kgi-unfold-head, g.kgi-cell { cursor: pointer; }
g.kgi-cover rect { fill: #eceff1; stroke: #78909c; stroke-width: 1.5px; }
g.kgi-cover:hover rect { fill: #e3f2fd; }
g.kgi-unfold > rect.kgi-unfold-bg { fill: #fff; stroke: #546e7a; stroke-width: 1.2px;
                                    filter: drop-shadow(0 2px 4px rgba(0,0,0,.3)); }
g.kgi-unfold-head rect { fill: #546e7a; }
g.kgi-unfold-head text { fill: #fff; }
g.kgi-cell rect { stroke: #78909c; stroke-width: .8px; }
g.kgi-cell.kgi-hit rect { stroke: #e65100; stroke-width: 2.5px; }
g.kgi-cell:hover rect { stroke: #1e88e5; stroke-width: 2px; }
"""

JS = r"""
  // ---- blocks: clusters fold in place, folded boxes open in place (viewer_blocks.py)
  var clusters = data.clusters || {}, edgeEnds = data.edges || [], folded = {}, frames = {}, unfolded = {};
  function svgEl(tag, attrs, parent, text) {
    var x = document.createElementNS(SVGNS, tag);
    Object.keys(attrs).forEach(function (k) { x.setAttribute(k, attrs[k]); });
    if (text !== undefined) x.textContent = String(text);
    if (parent) parent.appendChild(x);
    return x;
  }
  function union(a, b) {
    if (!a) return b;
    var x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
    return {x: x, y: y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y};
  }
  function measureFrames() {  // each cluster's frame in graph coordinates, before anything is hidden
    Object.keys(nodes).forEach(function (id) {
      var n = document.getElementById(id), c = nodes[id].cluster; if (!n) return;
      var bb = n.getBBox();
      for (; c; c = clusters[c].parent) frames[c] = union(frames[c], {x: bb.x - 8, y: bb.y - 22, width: bb.width + 16, height: bb.height + 30});
    });
    Object.keys(clusters).forEach(function (cid) {
      var f = document.getElementById(cid); if (f) frames[cid] = f.getBBox();
    });
  }
  function foldOf(c) {  // the outermost folded cluster holding cluster c (itself included), or null
    var out = null;
    for (; c; c = clusters[c].parent) if (folded[c]) out = c;
    return out;
  }
  function display(el, on) { if (el) el.classList.toggle("kgi-hidden", !on); }
  function refreshBlocks() {
    Array.prototype.slice.call(graph.querySelectorAll("g.kgi-cover")).forEach(function (g) { g.remove(); });
    Object.keys(nodes).forEach(function (id) {
      var hide = foldOf(nodes[id].cluster) !== null;
      display(document.getElementById(id), !hide); display(miniRects[id], !hide);
      if (hide && unfolded[id]) closeBox(id);
    });
    edgeEnds.forEach(function (e, i) {
      var a = foldOf(nodes[e[0]].cluster);
      display(document.getElementById("e" + i), a === null || a !== foldOf(nodes[e[1]].cluster));
    });
    Object.keys(clusters).forEach(function (cid) {
      var outer = foldOf(clusters[cid].parent);
      display(document.getElementById(cid), outer === null);
      if (folded[cid] && outer === null) drawCover(cid);
    });
  }
  function drawCover(cid) {
    var f = frames[cid], c = clusters[cid]; if (!f) return;
    var g = svgEl("g", {"class": "kgi-cover", "data-cluster": cid}, graph);
    svgEl("rect", {x: f.x, y: f.y, width: f.width, height: f.height, rx: 6}, g);
    svgEl("text", {x: f.x + 8, y: f.y + 15, "font-size": 11, "font-family": "Helvetica,sans-serif",
                   "font-weight": "bold"}, g, "\u25b8 " + c.label);
    svgEl("text", {x: f.x + f.width / 2, y: f.y + Math.min(f.height / 2 + 4, 34), "font-size": 10,
                   "text-anchor": "middle", "font-family": "Helvetica,sans-serif", fill: "#455a64"}, g,
          c.layers + (c.layers === 1 ? " layer" : " layers") + " folded: click to unfold");
  }
  function setFolded(cid, on) {
    if (!clusters[cid] || !!folded[cid] === on) return;
    if (on) folded[cid] = true; else delete folded[cid];
    refreshBlocks();
  }
  function reveal(id, member) {  // unfold every folded cluster around box id; open a folded box at member
    var changed = false;
    for (var c = nodes[id] && nodes[id].cluster; c; c = clusters[c].parent) if (folded[c]) { delete folded[c]; changed = true; }
    if (changed) refreshBlocks();
    if (member && nodes[id].members) openBox(id, member);
  }

  function openBox(id, member) {  // a folded box's layer calls, drawn over it in model order
    var d = nodes[id], box = document.getElementById(id);
    if (!d.members || !d.members.length || !box) return;
    if (unfolded[id]) closeBox(id);
    var reps = d.repeats > 1 && d.members.length % d.repeats === 0 ? d.repeats : 1;
    var per = d.members.length / reps, cols = per === 1 ? 1 : reps, rows = per === 1 ? reps : per;
    var g = svgEl("g", {"class": "kgi-unfold", "data-box": id}, graph), bg = svgEl("rect", {"class": "kgi-unfold-bg", rx: 4}, g);
    var head = svgEl("g", {"class": "kgi-unfold-head"}, g), hr = svgEl("rect", {height: 18, rx: 3}, head);
    var ht = svgEl("text", {"font-size": 10, "font-weight": "bold", "font-family": "Helvetica,sans-serif"}, head,
                   "\u25be " + d.name + (reps > 1 ? " \u00d7" + reps : "") + " \u2014 click to fold");
    var cells = d.members.map(function (m) {
      var c = svgEl("g", {"class": "kgi-cell" + (member && m.name === member ? " kgi-hit" : "")}, g);
      c.setAttribute("data-member", m.name);
      svgEl("rect", {height: 16, rx: 2, fill: "#f5f5f5"}, c);
      svgEl("text", {"font-size": 9, "font-family": "Helvetica,sans-serif"}, c, m.name + "  " + (m.class_name || ""));
      return c;
    });
    var cw = 40;
    cells.forEach(function (c) { cw = Math.max(cw, c.lastChild.getComputedTextLength() + 10); });
    var bb = box.getBBox(), W = Math.max(cols * (cw + 4) + 4, ht.getComputedTextLength() + 12), H = 22 + rows * 20 + 2;
    var x0 = bb.x + bb.width / 2 - W / 2, y0 = bb.y;
    [bg, hr].forEach(function (r) { r.setAttribute("x", x0); r.setAttribute("y", y0); r.setAttribute("width", W); });
    bg.setAttribute("height", H);
    ht.setAttribute("x", x0 + 6); ht.setAttribute("y", y0 + 13);
    cells.forEach(function (c, i) {
      var col = per === 1 ? 0 : Math.floor(i / per), row = per === 1 ? i : i % per;
      var x = x0 + 4 + col * (cw + 4), y = y0 + 22 + row * 20;
      c.firstChild.setAttribute("x", x); c.firstChild.setAttribute("y", y); c.firstChild.setAttribute("width", cw);
      c.lastChild.setAttribute("x", x + 5); c.lastChild.setAttribute("y", y + 11.5);
    });
    unfolded[id] = g;
  }
  function closeBox(id) { if (unfolded[id]) { unfolded[id].remove(); delete unfolded[id]; } }
  function blockClick(t) {  // a click on a block's header, summary box or layer call; true if handled
    if (!t.closest) return false;
    var cover = t.closest("g.kgi-cover"), open = t.closest("g.kgi-unfold"), frame = t.closest("g.cluster");
    if (cover) { setFolded(cover.getAttribute("data-cluster"), false); return true; }
    if (open) {
      var id = open.getAttribute("data-box"), cell = t.closest("g.kgi-cell");
      if (cell) {
        Array.prototype.slice.call(open.querySelectorAll("g.kgi-cell.kgi-hit")).forEach(function (c) { c.classList.remove("kgi-hit"); });
        cell.classList.add("kgi-hit"); select(id, false, cell.getAttribute("data-member"));
      } else closeBox(id);
      return true;
    }
    if (frame && t.tagName === "text" && clusters[frame.id]) { setFolded(frame.id, true); return true; }
    var box = t.closest("g.node");
    if (box && nodes[box.id] && nodes[box.id].members) { select(box.id, false); openBox(box.id); return true; }
    return false;
  }
"""

START = r"""
  measureFrames();
"""
