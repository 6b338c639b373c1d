"""Cutting a model in two at a layer call: a head and a tail with ``tail(head(x)) == model(x)``.

The head maps the model inputs to a named layer's output plus whatever else the rest of
the graph still needs (e.g. a residual shortcut); the tail maps those tensors to the model
outputs. Which tensors cross the cut is read off the live reader's DAG
(:mod:`inspector.extract.cut_graph`); the tail is built by *replaying* the remaining layer
calls on new ``keras.Input``s, which is what Keras users would have to do by hand to avoid
"Graph disconnected". Both halves share the original layer objects (hence weights).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from inspector.errors import InspectorError
from inspector.extract.cut_graph import CutGraph, whole_graph
from inspector.extract.opening import open_cut


@dataclass
class Boundary:
    """One tensor crossing the cut: produced by the head, consumed by the tail."""

    key: str            # dict key in head outputs / tail inputs
    node: str           # producing node id
    tensor_index: int
    role: str           # "cut" (asked for), "extra" (also needed by the tail), "input" (model input passed on)
    consumers: list[str]
    shape: tuple


@dataclass
class Split:
    """``tail(head(x)) == model(x)``; ``boundary`` lists what flows between them."""

    head: Any
    tail: Any
    boundary: list[Boundary]

    @property
    def extras(self) -> list[Boundary]:
        return [b for b in self.boundary if b.role != "cut"]


def _as_list(refs: Sequence[Any] | str | int) -> list[Any]:
    return [refs] if isinstance(refs, (str, int)) else list(refs)


def _targets(cg: CutGraph, cut: list[str], to: Sequence[Any] | str | int | None) -> list[tuple[str, int]]:
    """``(node id, tensor index)`` the tail ends at: the model outputs, or every output of ``to``."""
    if to is None:
        return list(cg.graph.outputs)
    ends = list(dict.fromkeys(cg.resolve(r) for r in _as_list(to)))
    for n in ends:   # a tail ending upstream of the cut would compute nothing
        if not any(c in cg.graph.ancestors(n) for c in cut):
            raise InspectorError(f"{n!r} is not downstream of {' or '.join(map(repr, cut))}: the tail from "
                                 "there cannot end at it", cg.path)
    return [(n, i) for n in ends for i in range(len(cg.nodes[n].outputs))]


def _boundary(cg: CutGraph, cut: list[str], head_set: set[str], tail_set: set[str],
              targets: list[tuple[str, int]]) -> list[Boundary]:
    """The tensors crossing from head to tail (cut first, then extras and inputs in model order)."""
    kind = {n: a["kind"] for n, a in cg.graph.nodes()}
    crossing: dict[tuple[str, int], list[str]] = {}
    for n in cut:
        for i in range(len(cg.nodes[n].outputs)):
            crossing.setdefault((n, i), [])
    for u, v, d in cg.graph.store.edges(data=True):
        if v in tail_set and (u in head_set or kind[u] == "input"):
            crossing.setdefault((u, d.get("tensor_index") or 0), []).append(v)
    for ref in targets:
        if ref[0] in head_set:
            crossing.setdefault(ref, [])
    for n in tail_set:
        if kind[n] == "input":
            crossing.setdefault((n, 0), [])
    boundary = []
    for (n, i), consumers in crossing.items():
        role = "cut" if n in cut else ("input" if kind[n] == "input" else "extra")
        key = n if len(cg.nodes[n].outputs) == 1 else f"{n}#{i}"
        boundary.append(Boundary(key, n, i, role, sorted(set(consumers)), tuple(cg.tensor(n, i).shape)))
    order = {"cut": 0, "extra": 1, "input": 2}
    rank = {n: i for i, n in enumerate(kind)}
    boundary.sort(key=lambda b: (order[b.role], cut.index(b.node) if b.role == "cut" else rank[b.node],
                                 b.tensor_index))
    return boundary


def _tail(cg: CutGraph, boundary: list[Boundary], tail_set: set[str], targets: list[tuple[str, int]],
          to_model_outputs: bool) -> Any:
    """Replay the tail's calls, in model order, on a ``keras.Input`` per boundary tensor."""
    import keras

    new_inputs = {b.key: keras.Input(shape=b.shape[1:], batch_size=b.shape[0], name=b.key,
                                     dtype=cg.tensor(b.node, b.tensor_index).dtype) for b in boundary}
    values: dict[int, Any] = {id(cg.tensor(b.node, b.tensor_index)): new_inputs[b.key] for b in boundary}
    for nid in cg.graph.order():
        node = cg.nodes[nid]
        if nid not in tail_set or node.is_input:
            continue
        call_args, call_kwargs = node.arguments.fill_in(values)
        out = node.operation(*call_args, **call_kwargs)
        for ref_t, new_t in zip(node.outputs, keras.tree.flatten(out)):
            values[id(ref_t)] = new_t
    if to_model_outputs:
        outputs = keras.tree.map_structure(lambda t: values[id(t)], cg.fn._outputs_struct)
    else:
        picked = {n: [values[id(cg.tensor(n, i))] for m, i in targets if m == n] for n, _ in targets}
        picked = {n: (v[0] if len(v) == 1 else v) for n, v in picked.items()}
        outputs = next(iter(picked.values())) if len(picked) == 1 else picked
    return keras.Model(new_inputs, outputs, name=f"{cg.fn.name}_tail")


def split_graph(cg: CutGraph, at: Sequence[Any] | str | int, to: Sequence[Any] | str | int | None = None) -> Split:
    """:func:`split` on an opened :class:`CutGraph` (the model's whole graph)."""
    import keras

    cut = list(dict.fromkeys(cg.resolve(r) for r in _as_list(at)))
    head_set = cg.closure(cut)
    targets = _targets(cg, cut, to)
    tail_set = cg.closure([n for n, _ in targets]) - head_set
    boundary = _boundary(cg, cut, head_set, tail_set, targets)
    head_inputs = cg.needed_inputs([b.node for b in boundary])
    head = keras.Model(cg.input_structure(head_inputs),
                       {b.key: cg.tensor(b.node, b.tensor_index) for b in boundary}, name=f"{cg.fn.name}_head")
    return Split(head=head, tail=_tail(cg, boundary, tail_set, targets, to is None), boundary=boundary)


def split(model_or_path: Any, at: Sequence[Any] | str, to: Sequence[Any] | str | None = None, *,
          unsafe: bool = False, input_specs: Any = None, args: Sequence[str] = ()) -> Split:
    """Cut a model in two at ``at`` (one or more layer calls).

    The tail takes a ``keras.Input`` per boundary tensor (dict keyed by
    :attr:`Boundary.key`) and replays every remaining call with the original
    layers; the head returns exactly that dict. ``to`` limits the tail's outputs
    to some layers (default: the model's outputs, in the model's structure).
    """
    refs = _as_list(at) + ([] if to is None else _as_list(to))
    _, cg, path, why = open_cut(model_or_path, unsafe=unsafe, input_specs=input_specs, args=args, refs=refs)
    return split_graph(whole_graph(cg, why, path, "splitting"), at, to)
