"""`ModelGraph`: the one graph model every reader produces and every consumer takes.

A thin, documented wrapper over a :class:`networkx.MultiDiGraph`.

* Nodes are *layer calls* (and ``keras.ops`` operation calls), not layers: a
  layer applied twice is two nodes (``dense:0`` and ``dense:1``), so the graph
  stays a DAG even when a layer is applied to its own output.
* Edges are tensors: one edge per tensor argument of a call, so
  ``Add()([x, x])`` has two parallel edges from ``x`` (hence *Multi*DiGraph).

The node and edge attribute schema is documented in the README
("Graph schema") and in :data:`NODE_FIELDS` / :data:`EDGE_FIELDS`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from inspector.graph.store import LiteMultiDiGraph, ancestors, topological_order

Shape = tuple  # tuple[int | None, ...]; batch dimension included

#: Node attributes, with what they mean. Values absent from a reader are None.
NODE_FIELDS: dict[str, str] = {
    "name": "layer (or operation) name",
    "class_name": "Keras class name, e.g. Dense",
    "module": "module the class comes from (config 'module'), e.g. keras.layers",
    "registered_name": "registered serialisation name for custom classes",
    "kind": "input | layer | op | model (nested model) | unknown",
    "call_index": "which call of the layer this node is (0 for the first)",
    "num_calls": "how many times the layer is called in this graph",
    "config": "the layer's config dict as saved",
    "input_shapes": "list of input tensor shapes (batch dim included, None = unknown)",
    "output_shapes": "list of output tensor shapes",
    "output_dtypes": "list of output dtypes",
    "activation": "activation name from config, if any",
    "trainable": "config 'trainable' flag",
    "params_trainable": "trainable parameter count of the layer (on call 0 only)",
    "params_non_trainable": "non-trainable parameter count (on call 0 only)",
    "weights": "list of {name, shape, dtype, trainable} (on call 0 only); 'stored': False for variables Keras "
               "creates on load that the file does not hold (LoRA adapters); 'role': 'lora' or 'quantization' "
               "(scales, zero points, amax histories)",
    "quantization": "the layer's quantization mode (int8, int4, float8), as layer.quantization_mode says",
    "lora_rank": "the layer's LoRA rank (config lora_rank), as layer.lora_rank says",
    "dtype_policy": "the layer's dtype policy name (float32, mixed_bfloat16, int8_from_float32)",
    "macs": "multiply-accumulates of this call for one sample (None = unknown)",
    "activation_bytes": "bytes of this call's outputs for one sample",
    "subgraph": "for nested models: key into ModelGraph.subgraphs",
    "traced": "True when the node comes from tracing rather than a saved graph",
    "call_kwargs": "the call's non-tensor keyword arguments; '__args__' holds its positional arguments "
                   "when a constant is among them (tensors as {'class_name': '__keras_tensor__'})",
    "custom": "True for a class from outside Keras",
    "code": "True for a Lambda holding Python bytecode (never decoded or run)",
    "function": "a named Python function the layer calls (module.name)",
    "synthetic": "True for an InputLayer the file did not list (a Sequential's)",
    "failed": "True for the call where a traced model failed ('error' says why)",
    "error": "why a traced call failed (on the 'failed' node)",
    "attribute": "traced models: the attribute of the model holding the layer (self.priority_scorer); weight "
                 "trees: the layer's path relative to its parent layer (layers/dense, attention)",
    "opaque": "True for the one node of a model whose file holds no layer graph (a custom model class); its "
              "'subgraph' holds the weight tree",
    "stats": "with summary --stats: the call's record from the stats file (mean, std, min, max, zero and dead "
             "fractions, NaN/Inf counts, histogram; 'outputs' lists every output's when it has several)",
    "params_in": "live graphs: a layer of a nested model called again outside it (a task's LM head reusing "
                 "the backbone's embedding): the node whose subtree counts its weights (its own count is 0)",
    "weight_tree": "True for a node of a weight tree (a model with no layer graph, a keras-hub preset, a "
                   "weights-only file): a layer and its weights, no edges (a weights file holds no data flow); "
                   "a block's params and weights are its whole subtree's",
    "path": "weight trees: the layer's group in the weights file (layers/gemma_decoder_block/attention; '' = "
            "the model)",
    "parent": "weight trees: the 'path' of the enclosing layer (None for the model)",
    "params_own": "weight trees: parameters of the layer's own variables, without its sub-layers'",
    "class_key": "weight trees: the snake_case class a layers-list key gives (batch_normalization_3 -> "
                 "batch_normalization); 'class_name' stays None unless a config names the class",
}

#: Edge attributes.
EDGE_FIELDS: dict[str, str] = {
    "shape": "tensor shape (batch dim included)",
    "dtype": "tensor dtype",
    "tensor_index": "which output of the source call this tensor is",
    "arg_index": "position of this tensor among the destination call's tensor inputs",
}


def node_id(name: str, call_index: int, num_calls: int) -> str:
    """Node id of a layer call: the bare name for a layer called once, else ``name:k``."""
    return name if num_calls <= 1 else f"{name}:{call_index}"


@dataclass
class ModelGraph:
    """A Keras model as a DAG of layer calls.

    Attributes:
        nx: the underlying ``networkx.MultiDiGraph`` (node ids are strings). Readers
            build into a networkx-compatible light store (importing networkx costs
            more than reading a model); the first access to ``.nx`` converts it.
        name: model name.
        class_name: the model's class (Functional, Sequential, or a custom class).
        inputs: node ids of the model inputs, in model order.
        outputs: ``(node id, tensor index)`` of the model outputs, in model order.
        meta: file-level facts: source path, format, keras_version, backend, notes.
        subgraphs: nested models' own graphs, keyed by the nesting node's id.
    """

    name: str = ""
    class_name: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[tuple[str, int]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    subgraphs: dict[str, "ModelGraph"] = field(default_factory=dict)
    store: Any = field(default_factory=LiteMultiDiGraph, repr=False)

    @property
    def nx(self) -> Any:
        """The graph as a ``networkx.MultiDiGraph`` (converted once, then shared)."""
        if isinstance(self.store, LiteMultiDiGraph):
            self.store = self.store.to_networkx()
        return self.store

    # ----- building -------------------------------------------------------
    def add_node(self, nid: str, **attrs: Any) -> None:
        self.store.add_node(nid, **attrs)

    def add_edge(self, src: str, dst: str, **attrs: Any) -> None:
        self.store.add_edge(src, dst, key=attrs.get("arg_index"), **attrs)

    # ----- queries --------------------------------------------------------
    def __len__(self) -> int:
        return self.store.number_of_nodes()

    def __contains__(self, nid: object) -> bool:
        return nid in self.store

    def node(self, nid: str) -> dict[str, Any]:
        """Attributes of one node (raises KeyError naming close matches)."""
        try:
            return self.store.nodes[nid]
        except KeyError:
            raise KeyError(f"no node {nid!r} in model {self.name!r}") from None

    def nodes(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, attrs) of every node in model order (topological, stable)."""
        for nid in self.order():
            yield nid, self.store.nodes[nid]

    def order(self) -> list[str]:
        """Node ids in a topological order that keeps the model's own layer order."""
        return topological_order(self.store)

    def in_edges(self, nid: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(src, nid, attrs) of the tensors ``nid`` consumes, in argument order."""
        edges = self.store.in_edges(nid, data=True)
        return sorted(edges, key=lambda e: e[2].get("arg_index") or 0)

    @property
    def layers(self) -> list[str]:
        """Distinct layer names in model order (no ops, no synthesised inputs)."""
        seen: list[str] = []
        for _, a in self.store.nodes(data=True):
            if a.get("kind") == "op" or a.get("synthetic"):
                continue
            if a.get("call_index", 0) == 0:
                seen.append(a["name"])
        return seen

    def calls(self, layer: str) -> list[str]:
        """Node ids of every call of ``layer``, in call order."""
        found = [(a.get("call_index", 0), n) for n, a in self.store.nodes(data=True) if a.get("name") == layer]
        return [n for _, n in sorted(found)]

    def resolve(self, ref: str) -> str:
        """Node id for a user's layer reference: a node id, a layer name or ``NAME:INDEX``.

        A bare name of a layer called several times names no single call: KeyError, as
        Keras's ``layer.output`` refuses such a layer ("has multiple inbound nodes")."""
        if ref in self.store:
            return ref
        calls = self.calls(ref)
        if len(calls) > 1:
            raise KeyError(f"{ref!r} is called {len(calls)} times: name one call, "
                           f"{', '.join(calls[:-1])} or {calls[-1]}")
        if calls:
            return calls[0]
        if ":" in ref:
            base, _, idx = ref.rpartition(":")
            calls = self.calls(base)
            if idx.isdigit() and int(idx) < len(calls):
                return calls[int(idx)]
        names = sorted(set(a.get("name", n) for n, a in self.store.nodes(data=True)))
        import difflib

        close = difflib.get_close_matches(ref, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no layer named {ref!r}{hint}")

    def ancestors(self, layer: str) -> set[str]:
        """Node ids the given layer call depends on (what a feature extractor at it computes)."""
        return ancestors(self.store, self.resolve(layer))

    def totals(self) -> dict[str, Any]:
        """Parameter totals (each layer counted once), bytes, MACs (None if any unknown)."""
        trainable = non_trainable = 0
        nbytes = 0
        by_role = {"lora": 0, "quantization": 0}
        unknown_params = False
        macs = 0
        macs_known = True
        for _, a in self.store.nodes(data=True):
            if a.get("call_index", 0) == 0 and a.get("kind") not in ("input", "op"):
                pt, pn = a.get("params_trainable"), a.get("params_non_trainable")
                if pt is None and pn is None:
                    unknown_params = True
                trainable += pt or 0
                non_trainable += pn or 0
                for w in a.get("weights") or []:
                    nbytes += _numel(w["shape"]) * _dtype_size(w.get("dtype"))
                    if w.get("role") in by_role:
                        by_role[w["role"]] += _numel(w["shape"])
            if a.get("kind") != "input":
                if a.get("macs") is None:
                    macs_known = False
                else:
                    macs += a["macs"]
        return {
            "params_trainable": trainable,
            "params_non_trainable": non_trainable,
            "params_total": trainable + non_trainable,
            "params_bytes": nbytes,
            "params_known": not unknown_params,
            "params_lora": by_role["lora"],
            "params_quantization": by_role["quantization"],
            "macs": macs,
            "macs_known": macs_known,
        }

    # ----- export ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: model facts, nodes (model order), edges, nested graphs."""
        nodes = []
        for nid, a in self.nodes():
            d = {"id": nid}
            d.update({k: _jsonable(v) for k, v in a.items()})
            nodes.append(d)
        edges = [
            {"source": u, "target": v, **{k: _jsonable(x) for k, x in a.items()}}
            for u, v, a in self.store.edges(data=True)
        ]
        return {
            "format": "keras-graph-inspector/1",
            "name": self.name,
            "class_name": self.class_name,
            "inputs": list(self.inputs),
            "outputs": [list(o) for o in self.outputs],
            "meta": _jsonable(self.meta),
            "totals": self.totals(),
            "nodes": nodes,
            "edges": edges,
            "subgraphs": {k: g.to_dict() for k, g in self.subgraphs.items()},
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_graphml(self) -> str:
        """GraphML text; list/dict attributes are stored as JSON strings (GraphML has only scalars)."""
        import networkx as nx

        g = nx.MultiDiGraph(name=self.name)
        for nid, a in self.nodes():
            g.add_node(nid, **{k: _scalar(v) for k, v in a.items() if v is not None})
        for u, v, k, a in self.store.edges(keys=True, data=True):
            g.add_edge(u, v, key=k, **{x: _scalar(y) for x, y in a.items() if y is not None})
        return "\n".join(nx.generate_graphml(g))

    def __repr__(self) -> str:
        return f"<ModelGraph {self.name!r} ({self.class_name}): {len(self)} nodes, {self.store.number_of_edges()} edges>"


def _numel(shape: Iterable[int | None] | None) -> int:
    n = 1
    for d in shape or ():
        n *= int(d or 0)
    return n


_DTYPE_SIZES = {"float64": 8, "int64": 8, "uint64": 8, "complex64": 8, "float32": 4, "int32": 4, "uint32": 4,
                "float16": 2, "bfloat16": 2, "int16": 2, "uint16": 2, "int8": 1, "uint8": 1, "bool": 1}


def _dtype_size(dtype: str | None) -> int:
    return _DTYPE_SIZES.get(str(dtype or "float32"), 4)


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _scalar(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)):
        return v
    return json.dumps(_jsonable(v))
