"""Layer references of ``--highlight`` and ``--layer-range``, resolved against the drawn view.

A user names what they see in the diagram, and with ``--expand-nested`` that
includes layers *inside* nested models (``block_3_expand`` inside a MobileNetV2
backbone). So a reference may be:

* a top-level layer name or call (``dense``, ``shared_dense:1``), as before;
* a nested path, the box's display id (``backbone/block_3_expand``,
  ``outer/middle/inner_seq/s_dense1``);
* a bare name found at exactly one place inside the expanded nested models;
* an expanded nested model (a cluster): it stands for all its boxes.

Resolution works on the view (after expansion), so highlight ancestry and range
order follow the drawn edges across nested-model boundaries. A layer that lives
in a nested model that is *not* expanded gets an error saying which option draws it.
"""
from __future__ import annotations

import difflib
from collections import deque
from typing import Any

from inspector.errors import InspectorError
from inspector.graph import ModelGraph
from inspector.render.view import View


def _members(view: View, cid: str) -> list[str]:
    """Display ids of the boxes drawn inside cluster ``cid`` (any depth), in view order."""
    pre = cid + "/"
    return [d for d in view.nodes if d.startswith(pre)]


def _leaf(did: str) -> str:
    return did.rsplit("/", 1)[-1]


def _by_name(view: View, ref: str) -> list[str]:
    """Nested boxes and clusters whose own id or layer name is ``ref`` (its calls when shared)."""
    hits = [d for d, n in view.nodes.items() if "/" in d and (_leaf(d) == ref or n.attrs.get("name") == ref)]
    hits += [c for c in view.clusters if "/" in c and _leaf(c) == ref]
    return hits


def targets(view: View, g: ModelGraph, ref: str, what: str, many: bool = False) -> list[str]:
    """Display ids of the boxes ``ref`` names; ``many`` allows all calls of a shared layer.

    Raises one clear InspectorError naming ``what`` (the option) when ``ref`` names nothing
    drawn, a shared layer where one call is needed, or layers in several nested models."""
    if ref in view.nodes:
        return [ref]
    if ref in view.clusters:
        return _members(view, ref)
    if g.calls(ref) or ref in g or ":" in ref and g.calls(ref.rpartition(":")[0]):
        if many and len(g.calls(ref)) > 1:
            return [d for c in g.calls(ref) for d in ([c] if c in view.nodes else _members(view, c))]
        try:
            nid = g.resolve(ref)
        except KeyError as e:
            raise InspectorError(f"{what}: {e.args[0]}") from None
        found = [nid] if nid in view.nodes else _members(view, nid)
        if not found:
            raise InspectorError(f"{what}: {ref!r} has no drawn box")
        return found
    hits = _by_name(view, ref)
    places = sorted({h.rsplit("/", 1)[0] for h in hits})
    if len(places) > 1:
        shown = [h for h in hits if _leaf(h) == ref or h in view.clusters] or hits
        raise InspectorError(f"{what}: {ref!r} is in {len(places)} nested models: name one as a path, "
                             + ", ".join(sorted(shown)[:6]))
    if len(hits) > 1 and not many:
        raise InspectorError(f"{what}: {ref!r} is called {len(hits)} times: name one call, "
                             + ", ".join(sorted(hits)))
    if hits:
        return [d for h in hits for d in ([h] if h in view.nodes else _members(view, h))]
    raise InspectorError(f"{what}: {_not_found(view, g, ref)}")


def _not_found(view: View, g: ModelGraph, ref: str) -> str:
    """Why ``ref`` names nothing drawn: inside a nested model that is not expanded, or a typo."""
    where = _nested_home(g, ref, "")
    if where is not None:
        path, level = where
        drawn = max((c for c in view.clusters if path == c or path.startswith(c + "/")), key=len, default=None)
        hint = (f"--expand-nested --depth {level}" if view.clusters else "--expand-nested")
        inside = f" (drawn as the box {drawn}/{path[len(drawn) + 1:].split('/')[0]})" if drawn else \
            f" (drawn as the box {path.split('/')[0]})"
        return f"{ref!r} is inside the nested model {path}, which is not expanded{inside}; add {hint}"
    names = set(g.layers) | {_leaf(d) for d in view.nodes} | {n.attrs.get("name") for n in view.nodes.values()}
    close = difflib.get_close_matches(ref, sorted(str(x) for x in names if x), n=3)
    return f"no layer named {ref!r}" + (f"; did you mean {', '.join(close)}?" if close else "")


def _nested_home(g: ModelGraph, ref: str, prefix: str, level: int = 1) -> tuple[str, int] | None:
    """(path of the nested model holding ``ref``, its nesting level), searching all subgraphs."""
    for nid, a in g.nodes():
        sub = g.subgraphs.get(a.get("subgraph")) if a.get("subgraph") is not None else None
        if sub is None:
            continue
        here = prefix + nid
        rest = ref[len(nid) + 1:] if ref.startswith(nid + "/") else ref
        if rest in sub or sub.calls(rest):
            return here, level
        found = _nested_home(sub, rest, here + "/", level + 1)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- --highlight
def apply_highlight(view: View, g: ModelGraph, refs: tuple[str, ...]) -> None:
    """Mark the named boxes and everything they depend on (along the drawn edges)."""
    preds: dict[str, list[str]] = {}
    for e in view.edges:
        preds.setdefault(e.dst, []).append(e.src)
    lit: set[str] = set()
    todo: deque[str] = deque()
    for ref in refs:
        for did in targets(view, g, ref, "--highlight"):
            if did not in lit:
                lit.add(did)
                todo.append(did)
    while todo:
        for p in preds.get(todo.popleft(), ()):
            if p not in lit:
                lit.add(p)
                todo.append(p)
    for did, n in view.nodes.items():
        n.highlighted = did in lit


# --------------------------------------------------------------------------- --layer-range
def trim_range(view: View, g: ModelGraph, layer_range: Any) -> bool:
    """Keep the boxes from FIRST's first call to LAST's last call (view order, which is model
    order with nested models' insides at their place). Returns whether anything was cut."""
    first, last = split_range(view, g, layer_range) if isinstance(layer_range, str) else layer_range
    ids = list(view.nodes)
    pos = {d: i for i, d in enumerate(ids)}
    lo = min(pos[d] for d in targets(view, g, first, "--layer-range", many=True)) if first else 0
    hi = max(pos[d] for d in targets(view, g, last, "--layer-range", many=True)) if last else len(ids) - 1
    if lo > hi:
        raise InspectorError(f"--layer-range: {first!r} comes after {last!r} in the model")
    if lo == 0 and hi == len(ids) - 1:
        return False
    keep = set(ids[lo:hi + 1])
    view.nodes = {d: n for d, n in view.nodes.items() if d in keep}
    view.edges = [e for e in view.edges if e.src in keep and e.dst in keep]
    for cid in [c for c in view.clusters if not _members(view, c)]:
        del view.clusters[cid]
    view.notes.append(f"layers {ids[lo]} … {ids[hi]} ({hi - lo + 1} of {len(ids)} layer calls)")
    return True


def split_range(view: View, g: ModelGraph, text: str) -> tuple[str | None, str | None]:
    """Split ``FIRST:LAST`` at the ':' that leaves a known layer (or nothing) on both sides
    (layer calls have ':' in their ids: ``shared_dense:1:head``)."""
    def known(ref: str) -> bool:
        if ref == "":
            return True
        try:
            return bool(targets(view, g, ref, "--layer-range", many=True))
        except InspectorError:
            return False

    splits = [i for i, c in enumerate(text) if c == ":"]
    for i in splits:
        a, b = text[:i], text[i + 1:]
        if known(a) and known(b):
            return a or None, b or None
    i = splits[len(splits) // 2]
    for ref in (text[:i], text[i + 1:]):  # report the side that does not resolve, with suggestions
        if ref and not known(ref):
            targets(view, g, ref, "--layer-range", many=True)
    raise InspectorError(f"--layer-range: cannot split {text!r} into FIRST:LAST")
