"""Pieces shared by the live walk, the tracer and the eager fallback: a Keras
object's config, kind and weights as ModelGraph node attributes, tensor
references, costs, and the failed-call node of a broken model.

Keras is imported inside the functions that need it.
"""
from __future__ import annotations

import re
from typing import Any

from inspector.graph import ModelGraph, node_id
from inspector.layers.costs import activation_bytes, count_macs
from inspector.layers.weight_layout import numel
from inspector.readers.config_graph import _activation, is_model_config


def saved_args(node: Any) -> Any:
    """A node's positional args as ``model.save`` writes them (JSON: tuples become lists)."""
    import json

    from keras.src.models.functional import serialize_node

    try:
        saved = serialize_node(node) or {}
        return json.loads(json.dumps(saved.get("args") or []))
    except Exception:  # an argument Keras cannot save: no constants to offer the shape rules
        return []


def tensor_ref(t: Any, ids: dict[int, str]) -> tuple[str, int]:
    """(node id, tensor index) of a KerasTensor in a graph walked by :func:`functional_graph`."""
    op, ni, ti = t._keras_history
    return ids[id(op._inbound_nodes[ni])], ti


def _call_index(nid: str) -> int:
    base, sep, idx = nid.rpartition(":")
    return int(idx) if sep and idx.isdigit() else 0


# --------------------------------------------------------------------------- node attributes
def serialize(obj: Any) -> dict:
    """What ``model.save`` writes for one operation; a best-effort stand-in if it cannot be serialised."""
    import keras

    try:
        e = keras.saving.serialize_keras_object(obj)
        if isinstance(e, dict) and isinstance(e.get("config"), dict):
            return e
    except Exception:  # custom classes without get_config: still a node, just less config
        pass
    cls = type(obj)
    try:
        registered = keras.saving.get_registered_name(cls)
    except Exception:
        registered = None
    return {"class_name": cls.__name__, "module": cls.__module__,
            "registered_name": registered if registered != cls.__name__ else None,
            "config": {"name": getattr(obj, "name", cls.__name__), "trainable": getattr(obj, "trainable", True)}}


def node_kind(op: Any, entry: dict) -> str:
    import keras

    if isinstance(op, keras.layers.InputLayer):
        return "input"
    if not isinstance(op, keras.layers.Layer):
        return "op"
    if is_model_config(entry) and has_graph(op):
        return "model"
    return "layer"


def base_attrs(op: Any, entry: dict, kind: str, trainable: bool) -> dict[str, Any]:
    """Attributes every node carries, as the static reader fills them from a config entry."""
    from inspector.readers.audit import _is_known, code_flags

    cfg = entry.get("config") or {}
    extra: dict[str, Any] = {}
    if kind != "input":  # the static reader's code/custom flags
        extra.update(code_flags(entry))
        if not _is_known(entry):
            extra["custom"] = True
    if kind == "layer":  # what the static reader reads from the config, from the layer itself
        policy = getattr(op, "dtype_policy", None)
        extra.update(quantization=getattr(op, "quantization_mode", None),
                     lora_rank=getattr(op, "lora_rank", None) if getattr(op, "lora_enabled", False) else None,
                     dtype_policy=getattr(policy, "name", None))
    return dict(name=op.name, class_name=str(entry.get("class_name") or type(op).__name__),
                module=entry.get("module"), registered_name=entry.get("registered_name"), kind=kind,
                config=cfg, activation=_activation(cfg),
                trainable=trainable and cfg.get("trainable", True) is not False,
                input_shapes=[], output_shapes=[], output_dtypes=[], **extra)


def _weight_role(name: str, quantization: str | None) -> str | None:
    """As the static reader marks them: LoRA adapters, and a quantized layer's scales and statistics."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith("lora_"):
        return "lora"
    if quantization and any(k in base for k in ("scale", "zero", "amax", "g_idx")):
        return "quantization"
    return None


def layer_weights(layer: Any) -> list[dict[str, Any]]:
    """Weights of a layer object in Keras's order, named relative to the layer (``kernel``, ``dense/bias``)."""
    trainable_ids = {id(w) for w in getattr(layer, "trainable_weights", [])}
    prefix = (getattr(layer, "path", None) or layer.name) + "/"
    out = []
    for w in getattr(layer, "weights", []):
        path = str(getattr(w, "path", None) or w.name)
        name = path[len(prefix):] if path.startswith(prefix) else path
        entry = {"name": name, "shape": [int(d) for d in w.shape], "dtype": str(w.dtype),
                 "trainable": id(w) in trainable_ids}
        role = _weight_role(name, getattr(layer, "quantization_mode", None))
        if role:
            entry["role"] = role
        out.append(entry)
    return out


def costs(g: ModelGraph) -> None:
    """MACs and activation bytes of every node (nested graphs' totals for models)."""
    for nid, a in g.nx.nodes(data=True):
        first = g.nx.nodes[g.calls(a["name"])[0]] if a.get("call_index") else a
        wshapes = [tuple(w["shape"]) for w in (first.get("weights") or [])]
        if a["kind"] == "input":
            a["macs"] = 0
        elif a.get("failed"):
            a["macs"] = None
        else:
            a["macs"] = count_macs(a["class_name"], a["config"], a["input_shapes"], a["output_shapes"], wshapes)
            sub = g.subgraphs.get(a.get("subgraph") or "")
            if a["macs"] is None and sub is not None:
                t = sub.totals()
                a["macs"] = t["macs"] if t["macs_known"] else None
        a["activation_bytes"] = activation_bytes(a["output_shapes"], a["output_dtypes"])


def _attach(g: ModelGraph, nid: str, a: dict, sub: ModelGraph, params: bool = True) -> None:
    g.subgraphs[nid] = sub
    for other in g.calls(a["name"]):
        g.nx.nodes[other]["subgraph"] = nid
    if params:
        t = sub.totals()
        a["params_trainable"], a["params_non_trainable"] = t["params_trainable"], t["params_non_trainable"]
        a["weights"] = [w for _, sa in sub.nodes() for w in (sa.get("weights") or [])]


def is_custom(layer: Any) -> bool:
    """A layer from outside Keras (a user's, keras-hub's, a notebook's ``__main__``): its code
    is the only description of what it does, so its inside is traced."""
    return is_custom_class(type(layer))


def is_custom_class(cls: type) -> bool:
    module = cls.__module__ or ""
    return not (module == "keras" or module.startswith("keras."))


def _sublayers(layer: Any, recursive: bool = False) -> list:
    """The layers ``layer`` holds (every level below with ``recursive``); none for an op."""
    try:
        return list(layer._flatten_layers(include_self=False, recursive=recursive))
    except Exception:
        return []


# --------------------------------------------------------------------------- failed calls (tracing)
def add_failed_call(g: ModelGraph, layer: Any, refs: list) -> str:
    """Add (or mark, for eager graphs that already hold it) the failing call; renumber earlier calls."""
    existing = g.calls(layer.name)
    if existing and g.nx.nodes[existing[-1]].get("output_shapes") == [] and not refs:
        nid = existing[-1]
    else:
        n = len(existing) + 1
        mapping = {old: node_id(layer.name, i, n) for i, old in enumerate(existing)}
        if any(k != v for k, v in mapping.items()):
            relabel(g, mapping)
            g.inputs = [mapping.get(i, i) for i in g.inputs]
            g.subgraphs = {mapping.get(k, k): v for k, v in g.subgraphs.items()}
            for _, a in g.nx.nodes(data=True):
                if a.get("subgraph") in mapping:
                    a["subgraph"] = mapping[a["subgraph"]]
        for i, old in enumerate(existing):
            g.nx.nodes[mapping[old]].update(call_index=i, num_calls=n)
        nid = node_id(layer.name, n - 1, n)
        e = serialize(layer)
        g.add_node(nid, **base_attrs(layer, e, node_kind(layer, e), True))
        g.nx.nodes[nid].update(call_index=n - 1, num_calls=n)
        for j, (src, ti, shape, dtype) in enumerate(refs):
            g.add_edge(mapping.get(src, src), nid, arg_index=j, tensor_index=ti, shape=_shape(shape), dtype=str(dtype))
        g.nx.nodes[nid]["input_shapes"] = [_shape(s) for _, _, s, _ in refs]
        if n == 1:
            ws = layer_weights(layer)
            g.nx.nodes[nid].update(weights=ws, params_trainable=sum(numel(w["shape"]) for w in ws if w["trainable"]),
                                   params_non_trainable=sum(numel(w["shape"]) for w in ws if not w["trainable"]))
    g.nx.nodes[nid].update(failed=True, macs=None, activation_bytes=None)
    return nid


def relabel(g: ModelGraph, mapping: dict[str, str]) -> None:
    """Rename nodes keeping the model order (rebuilt through ModelGraph's own API)."""
    fresh = ModelGraph()
    for n, a in g.nx.nodes(data=True):
        fresh.add_node(mapping.get(n, n), **a)
    for u, v, d in g.nx.edges(data=True):
        fresh.add_edge(mapping.get(u, u), mapping.get(v, v), **d)
    if "store" in vars(g):
        g.store = fresh.store
    else:
        g.nx = fresh.nx


# --------------------------------------------------------------------------- helpers
def call_tensors(args: Any, kwargs: Any) -> list:
    """Tensor arguments of a call in the order the static reader numbers them (args, then kwargs)."""
    from keras import KerasTensor

    out: list = []
    stack: list[Any] = [kwargs or {}, args or ()]
    while stack:
        v = stack.pop()
        if isinstance(v, KerasTensor):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
    return out


def _has_tensor(v: Any) -> bool:
    return bool(call_tensors((v,), None))


def _struct_list(struct: Any) -> list:
    """Model inputs/outputs as saved: a dict's values in order, a list flattened, one tensor alone."""
    out: list = []
    stack = [struct]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
        elif v is not None:
            out.append(v)
    return out


def _shape(shape: Any) -> tuple | None:
    if shape is None:
        return None
    return tuple(None if d is None else int(d) for d in shape)


def tensors(x: Any) -> list:
    """Every tensor-like leaf (KerasTensor, eager tensor, array) of a nested call structure."""
    return [t for t in _struct_list(x) if hasattr(t, "shape") and hasattr(t, "dtype") and not isinstance(t, (int, float))]


def dtype_name(t: Any) -> str:
    from keras import backend

    try:
        return backend.standardize_dtype(t.dtype)
    except Exception:
        return str(t.dtype)


def snake(name: str) -> str:
    """``AddV2`` -> ``add_v2``: TensorFlow op types as node names in Keras's style."""
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()


def unique_name(base: str, used: set) -> str:
    name, i = base, 0
    while name in used:
        i += 1
        name = f"{base}_{i}"
    used.add(name)
    return name


def has_graph(model: Any) -> bool:
    """True for Functional models (incl. subclasses built from inputs/outputs) and built Sequentials."""
    from keras.src.models.functional import Functional
    from keras.src.models.sequential import Sequential

    if isinstance(model, Sequential):
        return model._functional is not None
    return isinstance(model, Functional)
