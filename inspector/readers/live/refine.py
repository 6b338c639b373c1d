"""Shapes Keras leaves open inside a traced layer, filled in by the layer's own shape rule.

Inside ``MultiHeadAttention`` the projections are ``EinsumDense`` layers built with
``output_shape=(None, heads, key_dim)``; their ``compute_output_shape`` answers from that,
so on a symbolic call Keras reports ``(None, None, 2, 16)`` for a query of 10 tokens,
whereas the tensor that flows when the model runs is ``(batch, 10, 2, 16)``. Every
call after it inherits the open dimension, and its MACs become unknown. This pass walks
a traced graph in order and, for each call, asks the rule tables
(:func:`inspector.layers.shapes.infer_output_shapes`) for the output shape from the
(refined) input shapes; a dimension Keras left open and the rule knows is taken from the
rule, a dimension Keras knows is never changed. Then the costs are recomputed.
"""
from __future__ import annotations

from typing import Any

from inspector.graph import ModelGraph
from inspector.layers.shapes import infer_output_shapes
from inspector.readers.live.nodes import _sublayers


def refine_shapes(g: ModelGraph) -> bool:
    """Fill open dimensions of ``g``'s shapes from the shape rules; True when any changed."""
    changed = False
    for nid in g.order():
        a = g.store.nodes[nid]
        ins = sorted(g.store.in_edges(nid, keys=True, data=True), key=lambda t: t[3].get("arg_index") or 0)
        shapes = []
        for u, _, _, d in ins:
            outs = g.store.nodes[u].get("output_shapes") or []
            t = d.get("tensor_index") or 0
            s = outs[t] if t < len(outs) else d.get("shape")
            if s is not None and d.get("shape") != s:
                d["shape"] = s
            shapes.append(s)
        if ins:
            a["input_shapes"] = shapes
        if a.get("kind") not in ("layer", "op") or not a.get("output_shapes"):
            continue
        try:
            ruled = infer_output_shapes(a["class_name"], a.get("config") or {}, shapes, a.get("call_kwargs") or {})
        except Exception:  # a rule that trips on odd config: Keras's shapes stand
            ruled = None
        if not ruled:
            continue
        merged = [_merge(k, r) for k, r in zip(a["output_shapes"], ruled)] + list(a["output_shapes"][len(ruled):])
        if merged != list(a["output_shapes"]):
            a["output_shapes"] = merged
            changed = True
    return changed


def _merge(keras_shape: Any, rule_shape: Any) -> Any:
    """Keras's shape with its open dimensions taken from the rule, when both have the same rank."""
    if keras_shape is None:
        return tuple(rule_shape) if rule_shape is not None else None
    if rule_shape is None or len(rule_shape) != len(keras_shape):
        return keras_shape
    return tuple(k if k is not None else r for k, r in zip(keras_shape, rule_shape))


def measure_shapes(layer: Any, node_args: tuple, g: ModelGraph) -> bool:
    """Shapes the symbolic call left open, measured: call ``layer`` once, eagerly, on zeros shaped
    like the replay's inputs (a batch of 1), recording what each of its sub-layers really
    returns; those shapes (batch shown open) replace the open ones of the matching calls, and
    the rules carry them on through the ops between. Only when the inputs are concrete apart
    from the batch and some traced shape is not. True when something was measured.

    This is the truth the rules cannot give for custom layers (a rotary embedding that keras-hub
    declares as ``(None, None, heads, dim)``): what Keras computes when the layer runs."""
    import keras
    import numpy as np

    args, kwargs, inputs = node_args
    if any(None in tuple(t.shape)[1:] for t in inputs):
        return False
    if not any(s is not None and None in tuple(s)[1:] for _, a in g.store.nodes(data=True)
               for s in a.get("output_shapes") or [None]):
        return False
    zeros = {id(t): np.zeros((1, *tuple(t.shape)[1:]), dtype=t.dtype) for t in inputs}

    def concrete(x: Any) -> Any:
        return zeros.get(id(x), x) if isinstance(x, keras.KerasTensor) else x

    seen: dict[str, list] = {}
    patched = []
    for sub in _sublayers(layer):
        def wrap(*a: Any, _sub: Any = sub, _call: Any = sub.call, **k: Any) -> Any:
            out = _call(*a, **k)
            seen.setdefault(_sub.name, []).append([tuple(t.shape) for t in keras.tree.flatten(out)
                                                   if hasattr(t, "shape")])
            return out
        patched.append(sub)
        sub.call = wrap
    try:
        layer(*keras.tree.map_structure(concrete, args), **keras.tree.map_structure(concrete, kwargs))
    except Exception:  # a call that needs real values (or fails on zeros): the symbolic shapes stand
        return False
    finally:
        for sub in patched:
            del sub.call
    measured = False
    for name, calls in seen.items():
        for k, shapes in enumerate(calls):
            nid = name if name in g and len(calls) == 1 else f"{name}:{k}"
            if nid not in g:
                continue
            a = g.store.nodes[nid]
            new = [_merge(old, (None, *s[1:])) for old, s in zip(a.get("output_shapes") or [], shapes)]
            if new and new != a.get("output_shapes"):
                a["output_shapes"] = new
                measured = True
    if measured:
        refine_shapes(g)     # edges, input shapes and the ops between follow the measured outputs
    return measured
