"""The facts of a graph built from a config: shapes and dtypes propagated along its edges
(what the file saved first, then the layer rules), weights from the weights file checked
against each layer's config, and costs. Run in that order by ``config_graph``."""
from __future__ import annotations

from typing import Any

from inspector.errors import BadGraph, InspectorError
from inspector.graph import ModelGraph
from inspector.layers import finetune
from inspector.layers.costs import activation_bytes, count_macs
from inspector.layers.shapes import infer_output_dtypes, infer_output_shapes
from inspector.layers.weight_layout import check_weights, mark_trainable, name_weights, numel
from inspector.readers.config_values import _dtype, _shape


def propagate(g: ModelGraph, observed: dict) -> None:
    """Every call's input and output shapes and dtypes, in graph order: an observed (saved)
    tensor first, else the layer's rule, else unknown."""
    observed_outputs: dict[str, int] = {}  # node -> 1 + highest output index a consumer saw
    for src, t in observed:
        observed_outputs[src] = max(observed_outputs.get(src, 0), t + 1)
    for nid in g.order():
        a = g.store.nodes[nid]
        ins = sorted(g.store.in_edges(nid, keys=True, data=True), key=lambda t: t[3].get("arg_index") or 0)
        in_shapes, in_dtypes = [], []
        for u, _, _, d in ins:
            ti = d.get("tensor_index") or 0
            outs = g.store.nodes[u]["output_shapes"]
            s = d.get("shape") or (outs[ti] if ti < len(outs) else None)
            if d.get("shape") is None:
                d["shape"] = s
            dts = g.store.nodes[u]["output_dtypes"]
            dt = d.get("dtype") or (dts[ti] if ti < len(dts) else None)
            d["dtype"] = dt
            in_shapes.append(s)
            in_dtypes.append(dt)
        a["input_shapes"] = in_shapes
        cfg = a["config"]
        if a["kind"] == "input":
            shape = _shape(cfg.get("batch_shape")) or _shape(cfg.get("batch_input_shape"))
            if shape is None and _shape(cfg.get("shape")) is not None:
                shape = (None,) + _shape(cfg.get("shape"))
            inferred = [shape]
        elif a["kind"] == "model":
            sub = g.subgraphs[a["subgraph"]]
            inferred = [sub.store.nodes[o]["output_shapes"][t] if t < len(sub.store.nodes[o]["output_shapes"]) else None
                        for o, t in sub.outputs]
        else:
            try:
                inferred = infer_output_shapes(a["class_name"], cfg, in_shapes, a.get("call_kwargs") or {}) or []
            except Exception:  # a rule that trips on odd config: shape unknown, not a crash
                inferred = []
        n_out = max(observed_outputs.get(nid, 0), len(inferred), 1)
        outs, dts = [], []
        own_dtype = _dtype(cfg) if a["kind"] != "op" else None
        ruled: list = []
        if a["kind"] in ("layer", "op"):
            try:
                ruled = infer_output_dtypes(a["class_name"], cfg, in_dtypes, a.get("call_kwargs") or {}) or []
            except Exception:  # like shapes: an odd config gives no rule, not a crash
                ruled = []
        for t in range(n_out):
            obs = observed.get((nid, t))
            outs.append(obs[0] if obs else (inferred[t] if t < len(inferred) else None))
            dts.append((obs[1] if obs and obs[1] else None) or (ruled[t] if t < len(ruled) else None) or own_dtype
                       or (in_dtypes[0] if in_dtypes else None) or "float32")
        a["output_shapes"] = outs
        a["output_dtypes"] = dts


def attach_weights(g: ModelGraph, container: Any, path: str) -> None:
    """Weights (first call of each layer) from the container, checked against the config."""
    for nid, a in g.store.nodes(data=True):
        if a["kind"] == "layer":  # every call, as the live reader gives them
            _fine_tuning_fields(a, path)
        if a["call_index"] != 0:
            continue
        if a["kind"] == "model":
            sub = g.subgraphs[a["subgraph"]]
            t = sub.totals()
            a["params_trainable"], a["params_non_trainable"] = t["params_trainable"], t["params_non_trainable"]
            a["weights"] = [w for _, sa in sub.nodes() for w in (sa.get("weights") or [])]
            continue
        if a["kind"] == "op" or a.get("synthetic"):
            a["params_trainable"], a["params_non_trainable"], a["weights"] = 0, 0, []
            continue
        ws = None
        if container is not None:
            try:
                ws = container.weights(a["name"])
                if not a.get("custom"):
                    in_shape = a["input_shapes"][0] if a["input_shapes"] else None
                    check_weights(a["name"], a["class_name"], a["config"], ws, in_shape,
                                  strict=getattr(container, "strict", False))
            except InspectorError as err:
                if err.path is None:
                    err.path = path
                raise
            except ValueError as err:
                raise BadGraph(str(err), path) from None
        if ws is None:
            a["params_trainable"] = a["params_non_trainable"] = None
            a["weights"] = None
            continue
        name_weights(a["class_name"], a["config"], ws)
        mark_trainable(a["class_name"], a["config"], ws, a["trainable"])
        ws = _fine_tuning(a, ws, path)
        if ws is None:
            a["params_trainable"] = a["params_non_trainable"] = None
            a["weights"] = None
            continue
        a["weights"] = [w.as_dict() for w in ws]
        a["params_trainable"] = sum(numel(w.shape) for w in ws if w.trainable)
        a["params_non_trainable"] = sum(numel(w.shape) for w in ws if not w.trainable)


def _fine_tuning_fields(a: dict, path: str) -> None:
    """``quantization``, ``lora_rank`` and ``dtype_policy`` of a layer, from its config."""
    cfg = a["config"]
    try:
        a["lora_rank"] = finetune.lora_rank(cfg)
    except ValueError as err:
        raise BadGraph(f"layer {a['name']!r}: {err}", path) from None
    a["quantization"] = finetune.quantization_mode(cfg)
    a["dtype_policy"] = finetune.dtype_policy(cfg)


def _fine_tuning(a: dict, ws: list, path: str) -> list | None:
    """Quantized variables' trainable split and the LoRA adapters Keras adds on load (see
    :mod:`inspector.layers.finetune`); None when the adapters' shapes cannot be known."""
    cfg, cls = a["config"], a["class_name"]
    rank, mode = a.get("lora_rank"), a.get("quantization")
    if mode:
        try:
            finetune.check_quantized(a["name"], cls, cfg, ws, mode)
        except ValueError as err:
            raise BadGraph(str(err), path) from None
        finetune.mark_quantized(cls, cfg, ws, mode)
    if rank:
        in_shape = a["input_shapes"][0] if a["input_shapes"] else None
        adapters = finetune.lora_adapters(cls, cfg, ws, in_shape, rank, mode)
        if adapters is None:
            return None
        for w in adapters:
            w.stored, w.trainable = False, bool(a["trainable"])
        ws = ws + adapters
    return ws


def add_costs(g: ModelGraph) -> None:
    """MACs and activation bytes of every call (a nested model's totals for its node)."""
    for nid, a in g.store.nodes(data=True):
        first = g.store.nodes[g.calls(a["name"])[0]] if a["call_index"] else a
        wshapes = [tuple(w["shape"]) for w in (first.get("weights") or [])]
        if a["kind"] == "model":
            a["macs"] = g.subgraphs[a["subgraph"]].totals()["macs"] if g.subgraphs[a["subgraph"]].totals()["macs_known"] else None
        elif a["kind"] == "input":
            a["macs"] = 0
        else:
            try:
                a["macs"] = count_macs(a["class_name"], a["config"], a["input_shapes"], a["output_shapes"], wshapes)
            except Exception:
                a["macs"] = None
        try:
            a["activation_bytes"] = activation_bytes(a["output_shapes"], a["output_dtypes"])
        except Exception:
            a["activation_bytes"] = None
