"""Inbound nodes of a saved functional config: which tensors each layer call takes, in both
dialects, and the model's input/output references.

* Keras 3: each inbound node is ``{"args": [...], "kwargs": {...}}`` where tensors are
  ``{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history":
  [layer, node_index, tensor_index]}}``.
* Keras 2 / tf-keras: each inbound node is a list of ``[layer, node_index, tensor_index,
  kwargs]`` (one-tensor TF-op calls written unwrapped; ``_CONSTANT_VALUE`` for a constant
  standing where a tensor would).

Walks are iterative: a hostile config may nest deeply. Node indices are returned as saved;
:mod:`inspector.readers.config_graph` maps them onto calls.
"""
from __future__ import annotations

from typing import Any

from inspector.errors import BadGraph, quote
from inspector.readers.audit import check_shape

Ref = tuple[str, int, int]


def _is_ref(v: Any, names: set[str]) -> bool:
    return (isinstance(v, list) and len(v) in (3, 4) and isinstance(v[0], str) and v[0] in names
            and isinstance(v[1], int) and isinstance(v[2], int))


def parse_call(call: Any, names: set[str], path: str, layer: str) -> tuple[list[tuple[Ref, Any, Any]], dict]:
    """Tensor inputs [(ref, shape, dtype)] of one inbound node, and its non-tensor kwargs."""
    tensors: list[tuple[Ref, Any, Any]] = []
    kwargs: dict = {}
    if isinstance(call, dict):  # Keras 3
        kwargs = {k: v for k, v in (call.get("kwargs") or {}).items() if not _has_tensor(v)} if isinstance(call.get("kwargs"), dict) else {}
        args, constant = stub_tensors(call.get("args"))
        if constant:  # x[key], take(x, [1, 2]), add(x, 1.5): shape rules read them (shapes_ops)
            kwargs["__args__"] = args
        stack: list[Any] = [call.get("kwargs") or {}, call.get("args") or []]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                if v.get("class_name") == "__keras_tensor__":
                    c = v.get("config") if isinstance(v.get("config"), dict) else {}
                    h = c.get("keras_history")
                    if not (isinstance(h, list) and len(h) == 3 and isinstance(h[0], str)
                            and isinstance(h[1], int) and isinstance(h[2], int)):
                        raise BadGraph(f"layer {layer!r} has a malformed tensor reference {h!r}", path)
                    check_shape(c.get("shape"), f"a tensor passed to layer {quote(layer)}", path)
                    tensors.append(((h[0], h[1], h[2]), c.get("shape"), c.get("dtype")))
                else:
                    stack.extend(reversed(list(v.values())))
            elif isinstance(v, (list, tuple)):
                stack.extend(reversed(v))
    elif isinstance(call, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        if call and isinstance(call[0], str):  # tf-keras writes a one-tensor TF-op call unwrapped
            call = [call]
        args: list[Any] = []
        for item in call:
            if not (isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str)):
                raise BadGraph(f"layer {layer!r} has a malformed inbound node {item!r:.80}", path)
            if item[0] == "_CONSTANT_VALUE":  # tf-keras's `1.0 - x`: the constant first, x among its kwargs
                args.append(item[2])
            elif not (isinstance(item[1], int) and isinstance(item[2], int)):
                raise BadGraph(f"layer {layer!r} has a malformed inbound node {item!r:.80}", path)
            else:
                tensors.append(((item[0], item[1], item[2]), None, None))
                args.append(dict(TENSOR_STUB))
            kw = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
            for k, v in kw.items():
                stack2 = [v]
                found = False
                while stack2:
                    x = stack2.pop()
                    if _is_ref(x, names):
                        tensors.append(((x[0], x[1], x[2]), None, None))
                        found = True
                    elif isinstance(x, (list, dict)):
                        stack2.extend(x.values() if isinstance(x, dict) else x)
                if not found:
                    kwargs[k] = v
        if any(a != TENSOR_STUB for a in args):
            kwargs["__args__"] = args
    else:
        raise BadGraph(f"layer {layer!r} has an inbound node that is neither a list nor an object", path)
    return tensors, kwargs


#: What a tensor among a call's saved positional args becomes in ``call_kwargs["__args__"]``.
TENSOR_STUB = {"class_name": "__keras_tensor__"}


def stub_tensors(args: Any) -> tuple[list, bool]:
    """A Keras 3 call's positional args with each tensor cut to :data:`TENSOR_STUB`, and whether
    any constant (a key, indices, a number) is among them. Iterative: configs can nest deep."""
    if not isinstance(args, list):
        return [], False
    out: list = []
    constant = False
    stack: list[tuple[Any, list]] = [(a, out) for a in reversed(args)]
    while stack:
        v, into = stack.pop()
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            into.append(dict(TENSOR_STUB))
        elif isinstance(v, list):
            inner: list = []
            into.append(inner)
            stack.extend((x, inner) for x in reversed(v))
        else:
            constant = True
            into.append(v)
    return out, constant


def _has_tensor(v: Any) -> bool:
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if x.get("class_name") == "__keras_tensor__":
                return True
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return False


def refs(v: Any) -> list[Ref]:
    """input_layers/output_layers in any saved form: [n,i,j] | [[n,i,j], ...] | {key: [n,i,j]}."""
    if isinstance(v, dict):  # Keras flattens dicts in sorted key order (model.inputs / outputs)
        v = [v[k] for k in sorted(v, key=str)]
    if isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and isinstance(v[1], int):
        return [(v[0], v[1], v[2])]
    out: list[Ref] = []
    for item in v if isinstance(v, list) else []:
        out.extend(refs(item))
    return out
