"""``inspector compare A B``: two models on the same inputs, layer call by layer call.

For a float model and its ``model.quantize("int8")`` copy, a model before and
after fine-tuning, or a saved file and the Python code meant to build it: where
do their activations part?

Layer calls are matched as ``inspector diff`` matches them
(:func:`inspector.report.diff.diff`: by node id, i.e. layer name and call index);
the calls only one side has are then paired by position, in graph order, when
their classes agree (a model rebuilt from code whose layers got other
auto-generated names). Per matched output, over every element of every row:

* ``max_abs``: max |b - a|;
* ``rel_l2``: ||b - a|| / max(||a||, ||b||) (0 when both are all zeros; bounded
  by 2, symmetric, and ||b - a|| / ||a|| to first order when the error is small);
* ``cosine``: <a, b> / (||a|| ||b||) (1 when both are all zeros, 0 when one is).

Positions where either side is NaN or Inf are left out of those and counted in
``nonfinite_mismatch`` unless both sides hold the same non-finite value.
``first_over`` names the first matched call in B's graph order whose
``rel_l2`` exceeds ``threshold``. Schema ``inspector.compare/1``, keyed by B's
node ids (so ``render B --overlay compare.json`` colours B's boxes)::

    {"schema": "inspector.compare/1", "a": {"model": ..., "source": ...}, "b": {...},
     "rows": N, "batch_size": 32, "metric": "rel_l2", "threshold": 0.001,
     "first_over": null | {"node": B_ID, "a": A_ID, "rel_l2": 0.02},
     "layers": {B_ID: {"name", "a": A_ID, "class_name", "shape", "max_abs", "rel_l2", "cosine",
                       "nonfinite_mismatch", "over": bool, "error": null | "why not compared"}},
     "unmatched": {"a": [A_ID ...], "b": [B_ID ...]}}
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from inspector.errors import InspectorError
from inspector.graph import ModelGraph
from inspector.numerics.data import batches, total_rows
from inspector.numerics.probes import Probe, make_probes, select
from inspector.numerics.runner import WORKERS, LayerRunner, finish, progress_bar

SCHEMA = "inspector.compare/1"
#: Default threshold on rel_l2: float32 round-off across a deep model stays well below it.
THRESHOLD = 1e-3


def match_calls(a: ModelGraph, b: ModelGraph) -> list[tuple[str, str]]:
    """``(node of a, node of b)`` pairs: the diff's matching (node ids), then the calls left over
    on each side paired by position in graph order when their classes agree. B's graph order."""
    from inspector.report.diff import diff

    d = diff(a, b)
    removed = [n["id"] for n in d["removed"]]
    added = [n["id"] for n in d["added"]]
    gone = set(removed)
    pairs = [(n, n) for n in a.order() if n not in gone]
    j = 0
    for n in removed:
        cls = a.node(n).get("class_name")
        k = next((k for k in range(j, len(added)) if b.node(added[k]).get("class_name") == cls), None)
        if k is not None:
            pairs.append((n, added[k]))
            j = k + 1
    rank = {n: i for i, n in enumerate(b.order())}
    return sorted(pairs, key=lambda p: rank[p[1]])


class PairErrors:
    """Running error sums of one matched output pair."""

    def __init__(self) -> None:
        self.max_abs = 0.0
        self.d2 = self.a2 = self.b2 = self.ab = 0.0
        self.nonfinite = 0
        self.shape: tuple | None = None
        self.error: str | None = None

    def update(self, xa: Any, xb: Any) -> None:
        if self.error is not None:
            return
        a, b = np.asarray(xa), np.asarray(xb)
        if a.shape[1:] != b.shape[1:]:
            self.error = f"output shapes differ: {(None, *a.shape[1:])} vs {(None, *b.shape[1:])}"
            return
        if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
            self.error = f"not numeric ({a.dtype} vs {b.dtype})"
            return
        self.shape = (None, *a.shape[1:])
        a, b = a.astype(np.float64).reshape(-1), b.astype(np.float64).reshape(-1)
        fin = np.isfinite(a) & np.isfinite(b)
        if not fin.all():
            same = (np.isnan(a) & np.isnan(b)) | (~np.isfinite(a) & (a == b))
            self.nonfinite += int(np.count_nonzero(~fin & ~same))
            a, b = a[fin], b[fin]
        if not a.size:
            return
        d = b - a
        self.max_abs = max(self.max_abs, float(np.abs(d).max()))
        self.d2 += float(np.dot(d, d))
        self.a2 += float(np.dot(a, a))
        self.b2 += float(np.dot(b, b))
        self.ab += float(np.dot(a, b))

    def result(self) -> dict[str, Any]:
        na, nb, nd = math.sqrt(self.a2), math.sqrt(self.b2), math.sqrt(self.d2)
        top = max(na, nb)
        rel = nd / top if top > 0 else 0.0
        if self.d2 == 0:               # identical (both all zeros included): not 0.9999999999999998
            cos = 1.0
        else:
            cos = 0.0 if na == 0 or nb == 0 else max(-1.0, min(1.0, self.ab / (na * nb)))
        bad = self.error is not None
        return {"shape": list(self.shape) if self.shape else None, "max_abs": None if bad else self.max_abs,
                "rel_l2": None if bad else rel, "cosine": None if bad else cos,
                "nonfinite_mismatch": self.nonfinite, "error": self.error}


def run_compare(a: Any, b: Any, data: Any, *, threshold: float = THRESHOLD, batch_size: int = 32,
                progress: bool = True, unsafe: bool = False, input_specs: Any = None,
                args: Sequence[str] = ()) -> dict[str, Any]:
    """Run models ``a`` and ``b`` (paths, Python specs or live models) on ``data`` and compare
    every matched layer call; see the module docstring for the result."""
    if not threshold >= 0:
        raise InspectorError(f"threshold must be >= 0, got {threshold}")
    ra = LayerRunner(a, "all", unsafe=unsafe, input_specs=input_specs, args=args)
    rb = LayerRunner(b, "all", unsafe=unsafe, input_specs=input_specs, args=args)
    pairs = match_calls(ra.graph, rb.graph)
    acc: dict[tuple[str, str], PairErrors] = {}
    rows, kinds = _feed_both(ra, rb, data, batch_size, progress, pairs, acc)
    layers: dict[str, Any] = {}
    first = None
    for pa, pb in kinds:
        r = acc[(pa.key, pb.key)].result()
        over = r["rel_l2"] is not None and r["rel_l2"] > threshold
        layers[pb.key] = {"name": pb.name, "a": pa.key, "class_name": pb.class_name, **r, "over": over}
        if over and first is None:
            first = {"node": pb.key, "a": pa.key, "rel_l2": r["rel_l2"]}
    matched_a, matched_b = {x for x, _ in pairs}, {y for _, y in pairs}
    return {"schema": SCHEMA, "a": {"model": ra.name, "source": ra.source},
            "b": {"model": rb.name, "source": rb.source}, "rows": rows, "batch_size": batch_size,
            "metric": "rel_l2", "threshold": threshold, "first_over": first, "layers": layers,
            "unmatched": {"a": [n for n in ra.graph.order() if n not in matched_a],
                          "b": [n for n in rb.graph.order() if n not in matched_b]}}


def _feed_both(ra: LayerRunner, rb: LayerRunner, data: Any, batch_size: int, progress: bool,
               pairs: list[tuple[str, str]], acc: dict) -> tuple[int, list[tuple[Probe, Probe]]]:
    """Both models over the same rows, batch by batch; errors folded on worker threads."""
    sa, sb = ra.open(data), rb.open(data)
    rows = total_rows(sa)
    if total_rows(sb) != rows:
        raise InspectorError(f"the data gives model A {rows} rows and model B {total_rows(sb)}")
    bs = min(batch_size, rows)
    kinds: list[tuple[Probe, Probe]] = []
    done = 0
    with ThreadPoolExecutor(WORKERS) as pool, progress_bar(progress, rows, "compare") as advance:
        pending: list[Any] = []
        for (n, fa), (_, fb) in zip(batches(ra.ext, sa, bs), batches(rb.ext, sb, bs)):
            oa, ob = ra.outputs(fa), rb.outputs(fb)
            if not kinds:
                kinds = _pair_probes(ra, rb, pairs, oa, ob)
                for pa, pb in kinds:
                    acc[(pa.key, pb.key)] = PairErrors()
            finish(pending)
            pending = [pool.submit(acc[(pa.key, pb.key)].update, select(oa, pa, n), select(ob, pb, n)) for pa, pb in kinds]
            done += n
            advance(n)
        finish(pending)
    return done, kinds


def _pair_probes(ra: LayerRunner, rb: LayerRunner, pairs: list[tuple[str, str]], oa: dict, ob: dict
                 ) -> list[tuple[Probe, Probe]]:
    """Output-by-output pairs of the matched calls (a call's i-th output with the other's i-th)."""
    pa, pb = _by_node(ra, oa), _by_node(rb, ob)
    return [(x, y) for na, nb in pairs if na in pa and nb in pb for x, y in zip(pa[na], pb[nb])]


def _by_node(runner: LayerRunner, outs: dict) -> dict[str, list[Probe]]:
    grouped: dict[str, list[Probe]] = {}
    for p in make_probes(runner.graph, list(outs), outs):
        grouped.setdefault(p.node, []).append(p)
    return grouped


def render_text(r: dict[str, Any]) -> str:
    """The comparison as a table: one row per matched output, ``>`` marking those over the threshold."""
    def side(s: dict) -> str:
        return f"{s['model']}" + (f" ({s['source']})" if s.get("source") else "")

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.3g}"

    rows = [(("> " if v["over"] else "  ") + k + (f" (A: {v['a']})" if v["a"] != k else ""), v["class_name"] or "",
             num(v["max_abs"]), num(v["rel_l2"]), num(v["cosine"]), v["error"] or "")
            for k, v in r["layers"].items()]
    head = ("  layer call (B)", "class", "max_abs", "rel_l2", "cosine", "")
    widths = [max(len(h), *(len(x[i]) for x in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = [f"--- A: {side(r['a'])}", f"+++ B: {side(r['b'])}",
             f"{r['rows']} rows; a layer call is over the threshold when rel_l2 > {r['threshold']:g}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(x, widths)).rstrip() for x in [head, *rows]]
    f = r["first_over"]
    lines.append(f"first layer call over the threshold: {f['node']} (rel_l2 {f['rel_l2']:.3g})" if f
                 else "no layer call over the threshold")
    for s, label in (("a", "only in A"), ("b", "only in B")):
        if r["unmatched"][s]:
            lines.append(f"{label}: {', '.join(r['unmatched'][s])}")
    return "\n".join(lines) + "\n"
