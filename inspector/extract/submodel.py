"""Feature-extraction submodels cut out of a model's layer-call DAG.

Two cuts, both sharing the original layer objects (hence weights):

* :func:`feature_extractor`: outputs are chosen layer calls, inputs are only the
  model inputs those calls depend on (the DAG's ancestors), so an extractor fed
  only by ``title`` never asks for ``text_body``.
* :func:`split`: a head (model inputs -> a named layer's output plus whatever else
  the rest of the graph still needs, e.g. a residual shortcut) and a tail (those
  tensors -> the model outputs) with ``tail(head(x)) == model(x)``. The tail is
  built by *replaying* the remaining layer calls on new ``keras.Input``s, which is
  what Keras users would have to do by hand to avoid "Graph disconnected".

Layer references are a node id of :class:`~inspector.graph.model_graph.ModelGraph` (``name``
or ``name:k`` for the k-th call of a shared layer) or an integer index into
``model.layers`` (Keras's ``model.layers[4]``).

Subclassed models are cut through the traced functional twin
(``inspector.readers.live.trace``) when that is available; otherwise a
:class:`HookExtractor` captures the layer outputs during a normal forward pass.
Keras is imported lazily: importing this module does not import TensorFlow.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from inspector.errors import InspectorError
from inspector.graph import ModelGraph, node_id
from inspector.readers.live.twins import HookExtractor, functional_of, partial_twin  # noqa: F401  (re-exported)


# --------------------------------------------------------------------------- opening
def open_model(source: Any, *, unsafe: bool = False, input_specs: Any = None,
               args: Sequence[str] = ()) -> tuple[Any, str | None]:
    """``(keras.Model, path or None)`` for a model object or a path/spec.

    Paths and ``file.py:NAME`` specs go through ``inspector.readers.live.resolve.open_keras_model``
    (safe mode unless ``unsafe``); subclassed models come back as they are, since
    :func:`functional_of` traces them itself, keeping the eager-hook fallback.
    """
    from inspector.readers.live.loading import import_keras

    if isinstance(source, (str, os.PathLike)):
        from inspector.readers.live.resolve import open_keras_model

        path = os.fspath(source)
        specs = tuple(input_specs) if isinstance(input_specs, (list, tuple)) else ()
        model = open_keras_model(path, unsafe=unsafe, inputs=tuple(x for x in specs if isinstance(x, str)),
                                 args=tuple(args), functional=False)
        return model, path
    keras = import_keras()
    if isinstance(source, keras.Model):
        return source, None
    raise InspectorError(f"expected a keras.Model or a path to a model file, got {type(source).__name__}")


# --------------------------------------------------------------------------- call map
@dataclass
class CallMap:
    """A functional model's layer calls as a :class:`ModelGraph` plus the Keras objects.

    Node ids follow the reader's scheme (``name`` / ``name:k``), so references a
    user copies from ``inspector summary`` resolve here.
    """

    model: Any                      # the user's model (for model.layers indexes)
    fn: Any                         # the functional graph being cut
    graph: ModelGraph
    nodes: dict[str, Any] = field(default_factory=dict)   # node id -> keras Node
    path: str | None = None
    failure: Any = None             # TraceResult: ``fn`` is the graph up to a failing call
    _node_ids: dict[int, str] = field(default_factory=dict)

    def tensor(self, nid: str, index: int = 0) -> Any:
        return self.nodes[nid].outputs[index]

    def ref_of(self, tensor: Any) -> tuple[str, int]:
        """``(node id, tensor index)`` of a KerasTensor of this graph."""
        op, ni, ti = tensor._keras_history
        return self._node_ids[id(op._inbound_nodes[ni])], ti

    # ---- references
    def resolve(self, ref: Any) -> str:
        """Node id for ``ref``: a node id, ``NAME:INDEX``, a layer name or a ``model.layers`` index.

        A bare name of a layer called several times is refused (Keras's
        ``layer.output`` refuses it too): the user names the call.
        """
        s = str(ref).strip()
        if s not in self.graph and re.fullmatch(r"-?\d+", s):
            layers = list(self.model.layers)
            i = int(s)
            if not -len(layers) <= i < len(layers):
                raise InspectorError(f"layer index {i} is out of range: the model has {len(layers)} layers "
                                     f"(model.layers[0] .. model.layers[{len(layers) - 1}])", self.path)
            s = layers[i].name
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


def call_map(model: Any, fn: Any, path: str | None = None) -> CallMap:
    """Walk a functional model's Keras nodes into a :class:`CallMap`."""
    node_set = {id(n) for nodes in fn._nodes_by_depth.values() for n in nodes}
    cm = CallMap(model=model, fn=fn, graph=ModelGraph(name=fn.name, class_name=type(model).__name__), path=path)
    ordered: list[tuple[str, Any]] = []
    seen_ops: set[int] = set()
    ops = list(fn._operations)
    for t in fn.inputs:  # Sequential's functional twin lists no InputLayer operation
        if id(t._keras_history[0]) not in {id(o) for o in ops}:
            ops.insert(0, t._keras_history[0])
    for op in ops:
        if id(op) in seen_ops:
            continue
        seen_ops.add(id(op))
        mine = [n for n in op._inbound_nodes if id(n) in node_set]
        for k, node in enumerate(mine):
            nid = node_id(op.name, k, len(mine))
            cm._node_ids[id(node)] = nid
            cm.nodes[nid] = node
            ordered.append((nid, node))
    keras = __import__("keras")
    for nid, node in ordered:
        op = node.operation
        kind = ("input" if node.is_input else "model" if isinstance(op, keras.Model)
                else "layer" if isinstance(op, keras.layers.Layer) else "op")
        cm.graph.add_node(nid, name=op.name, class_name=type(op).__name__, kind=kind,
                          output_shapes=[tuple(t.shape) for t in node.outputs])
    for nid, node in ordered:
        for arg_index, t in enumerate(node.input_tensors):
            src, ti = cm.ref_of(t)
            cm.graph.add_edge(src, nid, shape=tuple(t.shape), dtype=str(t.dtype), tensor_index=ti,
                              arg_index=arg_index)
    cm.graph.inputs = [cm.ref_of(t)[0] for t in fn.inputs]
    cm.graph.outputs = [cm.ref_of(t) for t in fn.outputs]
    return cm


def _outputs(cm: CallMap, nid: str) -> Any:
    outs = cm.nodes[nid].outputs
    return outs[0] if len(outs) == 1 else list(outs)


# --------------------------------------------------------------------------- extractor
def _open_cut(model_or_path: Any, unsafe: bool, input_specs: Any, args: Sequence[str] = ()
              ) -> tuple[Any, CallMap | None, str | None, str | None]:
    model, path = open_model(model_or_path, unsafe=unsafe, input_specs=input_specs, args=args)
    fn, why, failure = functional_of(model, input_specs)
    if fn is None:
        if failure is not None:   # the call fails at once: the trace's own explanation
            from inspector.readers.live.trace import TraceFailed

            raise TraceFailed(failure, path)
        return model, None, path, why
    cm = call_map(model, fn, path)
    cm.failure = failure
    return model, cm, path, why


def whole_graph(cm: CallMap | None, why: str | None, path: str | None, what: str) -> CallMap:
    """``cm`` when it is the model's whole graph; else the reason ``what`` (a split, a graft) needs one."""
    if cm is None:
        raise InspectorError(f"{what} needs a layer graph, and this model has none: {why}", path)
    if cm.failure is not None:
        from inspector.readers.live.trace import TraceFailed

        raise TraceFailed(cm.failure, path)
    return cm


@dataclass
class InputSpec:
    """One input an extractor needs: the name data must use, shape (batch dim included), dtype."""

    name: str
    shape: tuple
    dtype: str
    aliases: tuple[str, ...] = ()


@dataclass
class Extraction:
    """An extractor plus what it needs to be fed (used by :mod:`inspector.extract.features`)."""

    model: Any                      # keras.Model, or HookExtractor without a graph
    keys: list[str]                 # output keys (node ids)
    inputs: list[InputSpec]         # [] when unknown (hook path, model never built)
    structure: str                  # "single" | "list" | "dict": how the extractor takes its inputs
    path: str | None = None

    def feed(self, arrays: dict[str, Any]) -> Any:
        """Arrange named arrays (keyed by InputSpec.name) the way the extractor takes them."""
        if not self.inputs:
            return next(iter(arrays.values())) if len(arrays) == 1 else dict(arrays)
        if self.structure == "dict":
            return {s.name: arrays[s.name] for s in self.inputs}
        vals = [arrays[s.name] for s in self.inputs]
        return vals[0] if self.structure == "single" else vals


def build_extractor(model_or_path: Any, layers: Sequence[Any] | str | int, *, unsafe: bool = False,
                    input_specs: Any = None, args: Sequence[str] = ()) -> Extraction:
    """:func:`feature_extractor` plus the input names/shapes data must match."""
    refs = [layers] if isinstance(layers, (str, int)) else list(layers)
    if not refs:
        raise InspectorError("name at least one layer to extract")
    model, cm, path, why = _open_cut(model_or_path, unsafe, input_specs, args)
    if cm is None:
        hook = HookExtractor(model, refs, path, why or "")
        specs = [InputSpec(n, s, d) for n, s, d in hook.input_specs]
        return Extraction(hook, hook.keys, specs, "dict" if len(specs) > 1 else "single", path)
    nids = list(dict.fromkeys(cm.resolve(r) for r in refs))
    outputs = _outputs(cm, nids[0]) if len(nids) == 1 else {n: _outputs(cm, n) for n in nids}
    keras = __import__("keras")
    struct = cm.input_structure(cm.needed_inputs(nids))
    ext = keras.Model(struct, outputs, name=f"{cm.fn.name}_features")
    items = list(struct.items()) if isinstance(struct, dict) else [(None, t) for t in keras.tree.flatten(struct)]
    specs = []
    for key, t in items:
        nid = cm.ref_of(t)[0]
        specs.append(InputSpec(key or nid, tuple(t.shape), str(t.dtype),
                               tuple(dict.fromkeys(a for a in (key, nid, t.name) if a))))
    kind = "dict" if isinstance(struct, dict) else "list" if isinstance(struct, list) else "single"
    return Extraction(ext, nids, specs, kind, path)


def feature_extractor(model_or_path: Any, layers: Sequence[Any] | str | int, *, unsafe: bool = False,
                      input_specs: Any = None, args: Sequence[str] = ()) -> Any:
    """A model from the inputs the named layer calls need to their outputs.

    One layer: its output tensor; several: a dict keyed by node id. The result
    shares weights with the original. For a subclassed model that cannot be
    traced, returns a :class:`HookExtractor` (callable, not saveable).
    """
    return build_extractor(model_or_path, layers, unsafe=unsafe, input_specs=input_specs, args=args).model


# --------------------------------------------------------------------------- split
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


def split(model_or_path: Any, at: Sequence[Any] | str, to: Sequence[Any] | str | None = None, *,
          unsafe: bool = False, input_specs: Any = None, args: Sequence[str] = ()) -> Split:
    """Cut a model in two at ``at`` (one or more layer calls).

    The tail takes a ``keras.Input`` per boundary tensor (dict keyed by
    :attr:`Boundary.key`) and replays every remaining call with the original
    layers; the head returns exactly that dict. ``to`` limits the tail's outputs
    to some layers (default: the model's outputs, in the model's structure).
    """
    at_refs = [at] if isinstance(at, (str, int)) else list(at)
    model, cm, path, why = _open_cut(model_or_path, unsafe, input_specs, args)
    cm = whole_graph(cm, why, path, "splitting")
    keras = __import__("keras")
    cut = list(dict.fromkeys(cm.resolve(r) for r in at_refs))
    head_set = cm.closure(cut)
    if to is None:
        targets = list(cm.graph.outputs)
    else:
        to_refs = [to] if isinstance(to, (str, int)) else list(to)
        ends = list(dict.fromkeys(cm.resolve(r) for r in to_refs))
        for n in ends:   # a tail ending upstream of the cut would compute nothing
            if not any(c in cm.graph.ancestors(n) for c in cut):
                raise InspectorError(f"{n!r} is not downstream of {' or '.join(map(repr, cut))}: the tail from "
                                     "there cannot end at it", path)
        targets = [(n, i) for n in ends for i in range(len(cm.nodes[n].outputs))]
    tail_set = cm.closure([n for n, _ in targets]) - head_set
    g = cm.graph.nx

    crossing: dict[tuple[str, int], list[str]] = {}
    for n in cut:
        for i in range(len(cm.nodes[n].outputs)):
            crossing.setdefault((n, i), [])
    for u, v, d in g.edges(data=True):
        if v in tail_set and (u in head_set or g.nodes[u]["kind"] == "input"):
            crossing.setdefault((u, d.get("tensor_index") or 0), []).append(v)
    for ref in targets:
        if ref[0] in head_set:
            crossing.setdefault(ref, [])
    for n in tail_set:
        if g.nodes[n]["kind"] == "input":
            crossing.setdefault((n, 0), [])

    boundary = []
    for (n, i), consumers in crossing.items():
        role = "cut" if n in cut else ("input" if g.nodes[n]["kind"] == "input" else "extra")
        key = n if len(cm.nodes[n].outputs) == 1 else f"{n}#{i}"
        boundary.append(Boundary(key, n, i, role, sorted(set(consumers)), tuple(cm.tensor(n, i).shape)))
    order = {"cut": 0, "extra": 1, "input": 2}
    rank = {n: i for i, n in enumerate(cm.graph.order())}
    boundary.sort(key=lambda b: (order[b.role], cut.index(b.node) if b.role == "cut" else rank[b.node], b.tensor_index))

    head_inputs = cm.needed_inputs([b.node for b in boundary])
    head = keras.Model(cm.input_structure(head_inputs), {b.key: cm.tensor(b.node, b.tensor_index) for b in boundary},
                       name=f"{cm.fn.name}_head")

    new_inputs = {b.key: keras.Input(shape=b.shape[1:], batch_size=b.shape[0], name=b.key,
                                     dtype=cm.tensor(b.node, b.tensor_index).dtype) for b in boundary}
    values: dict[int, Any] = {id(cm.tensor(b.node, b.tensor_index)): new_inputs[b.key] for b in boundary}
    for nid in cm.graph.order():
        node = cm.nodes[nid]
        if nid not in tail_set or node.is_input:
            continue
        call_args, call_kwargs = node.arguments.fill_in(values)
        out = node.operation(*call_args, **call_kwargs)
        for ref_t, new_t in zip(node.outputs, keras.tree.flatten(out)):
            values[id(ref_t)] = new_t
    if to is None:
        outputs = keras.tree.map_structure(lambda t: values[id(t)], cm.fn._outputs_struct)
    else:
        picked = {n: [values[id(cm.tensor(n, i))] for m, i in targets if m == n] for n, _ in targets}
        picked = {n: (v[0] if len(v) == 1 else v) for n, v in picked.items()}
        outputs = next(iter(picked.values())) if len(picked) == 1 else picked
    tail = keras.Model(new_inputs, outputs, name=f"{cm.fn.name}_tail")
    return Split(head=head, tail=tail, boundary=boundary)
