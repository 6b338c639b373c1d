"""The graph a submodel is cut from: the live reader's ModelGraph plus the Keras objects behind it.

The DAG the live reader builds (:func:`inspector.readers.live.walk.functional_graph`) decides
*what* a cut keeps (ancestors, needed inputs, boundary tensors); the reverse map from its node
ids to Keras nodes gives the tensors to build the cut from. There is no second walk over
Keras's nodes: node ids, edges and inputs are the reader's, so a reference a user copies from
``inspector summary`` resolves here. Keras is imported lazily.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from inspector.errors import InspectorError
from inspector.graph import ModelGraph


@dataclass
class CutGraph:
    """A functional model's layer calls as the reader's :class:`ModelGraph`, plus the Keras nodes."""

    model: Any                      # the user's model (for model.layers indexes)
    fn: Any                         # the functional graph being cut
    graph: ModelGraph
    nodes: dict[str, Any] = field(default_factory=dict)   # node id -> keras Node
    path: str | None = None
    failure: Any = None             # TraceResult: ``fn`` is the graph up to a failing call
    ids: dict[int, str] = field(default_factory=dict)     # id(keras Node) -> node id

    def tensor(self, nid: str, index: int = 0) -> Any:
        return self.nodes[nid].outputs[index]

    def outputs(self, nid: str) -> Any:
        """The call's output tensor, or the list of them for a multi-output call."""
        outs = self.nodes[nid].outputs
        return outs[0] if len(outs) == 1 else list(outs)

    def ref_of(self, tensor: Any) -> tuple[str, int]:
        """``(node id, tensor index)`` of a KerasTensor of this graph."""
        op, ni, ti = tensor._keras_history
        return self.ids[id(op._inbound_nodes[ni])], ti

    # ---- references
    def resolve(self, ref: Any) -> str:
        """Node id for ``ref``: a node id, ``NAME:INDEX``, a layer name or a ``model.layers`` index.

        A bare name of a layer called several times is refused (Keras's
        ``layer.output`` refuses it too): the user names the call.
        """
        s = str(ref).strip()
        if s not in self.graph and re.fullmatch(r"-?\d+", s):
            s = self._layer_at(int(s))
        if self.failure is not None:
            self._check_before_failure(s)
        try:
            return self.graph.resolve(s)
        except KeyError as e:
            msg = str(e.args[0])
            base, _, idx = s.rpartition(":")
            if idx.isdigit() and self.graph.calls(base):
                msg = f"layer {base!r} has {len(self.graph.calls(base))} calls: " + ", ".join(self.graph.calls(base))
            if self.failure is not None and (base if idx.isdigit() else s) in _layer_names(self.model):
                raise self._not_reached(s) from None
            raise InspectorError(msg, self.path) from None

    def _layer_at(self, i: int) -> str:
        layers = list(self.model.layers)
        if not -len(layers) <= i < len(layers):
            raise InspectorError(f"layer index {i} is out of range: the model has {len(layers)} layers "
                                 f"(model.layers[0] .. model.layers[{len(layers) - 1}])", self.path)
        return layers[i].name

    def _check_before_failure(self, s: str) -> None:
        """Refuse the failing call (and a bare name of its layer, whose calls include it)."""
        failed = self.failure.error.layer
        if failed is None:
            return
        base, _, idx = s.rpartition(":")
        name, k = (base, int(idx)) if idx.isdigit() and base == failed else (s, None)
        if name != failed:
            return
        done = len(self.graph.calls(failed))
        if k is None and done:
            ids = [f"{failed}:{i}" for i in range(done + 1)]
            raise InspectorError(f"{failed!r} is called {done + 1} times: name one call, "
                                 f"{', '.join(ids[:-1])} or {ids[-1]}", self.path)
        if k is None or k >= done:
            raise self._not_reached(s, at=k == done or k is None)

    def _not_reached(self, s: str, at: bool = False) -> InspectorError:
        """The trace's own explanation of the failure (as ``summary`` prints it), for a call it prevents."""
        from inspector.readers.live.trace import TraceFailed

        e = TraceFailed(self.failure, self.path)
        e.message = (f"cannot compute {s!r}, " + ("the call that fails: " if at else
                                                  "the model's call fails before reaching it: ") + e.message)
        return e

    # ---- what a cut keeps
    def closure(self, nids: Sequence[str]) -> set[str]:
        """The given calls and everything they depend on."""
        out: set[str] = set(nids)
        for n in nids:
            out |= self.graph.ancestors(n)
        return out

    def needed_inputs(self, nids: Sequence[str]) -> list[str]:
        """Model inputs (node ids, model order) the given calls depend on."""
        dep = self.closure(nids)
        return [i for i in self.graph.inputs if i in dep]

    def input_structure(self, input_ids: Sequence[str]) -> Any:
        """Keras inputs for ``input_ids`` in the model's own style (dict if the model takes a dict)."""
        tensors = [self.tensor(i) for i in input_ids]
        struct = getattr(self.fn, "_inputs_struct", None)
        if isinstance(struct, dict):
            key_of = {id(t): k for k, t in struct.items()}
            return {key_of.get(id(t), t.name): t for t in tensors}
        return tensors[0] if len(tensors) == 1 else tensors


def _layer_names(model: Any) -> set[str]:
    return {layer.name for layer in model._flatten_layers(include_self=False, recursive=True)}


def cut_graph(model: Any, fn: Any = None, path: str | None = None, failure: Any = None,
              walked: tuple | None = None) -> CutGraph:
    """The live reader's graph of ``fn`` (default: ``model``'s own) with a node id -> Keras node map.

    A Sequential is walked as itself (its functional twin is what Keras runs), so its graph
    is the one ``inspector summary --load`` shows. ``walked`` is a walk of ``fn`` already made
    (the tracer's, for a subclassed model's twin): it is used instead of walking again.
    """
    from inspector.readers.live.walk import functional_graph

    fn = fn if fn is not None else (getattr(model, "_functional", None) or model)
    graph, ids = walked if walked is not None else functional_graph(model if fn is getattr(model, "_functional",
                                                                                        None) else fn)
    nodes = {ids[id(n)]: n for op in fn._operations for n in op._inbound_nodes if id(n) in ids}
    return CutGraph(model=model, fn=fn, graph=graph, nodes=nodes, path=path, failure=failure, ids=ids)


def whole_graph(cg: CutGraph | None, why: str | None, path: str | None, what: str) -> CutGraph:
    """``cg`` when it is the model's whole graph; else the reason ``what`` (a split, a graft) needs one."""
    if cg is None:
        raise InspectorError(f"{what} needs a layer graph, and this model has none: {why}", path)
    if cg.failure is not None:
        from inspector.readers.live.trace import TraceFailed

        raise TraceFailed(cg.failure, path)
    return cg
