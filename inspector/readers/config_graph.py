"""Model config (as saved by Keras) → :class:`ModelGraph`, with no Keras import.

Understands both config dialects (Keras 3 and Keras 2 / tf-keras); their inbound nodes are
parsed by :mod:`inspector.readers.inbound`, and the node-index conventions of nested models are
resolved here (:func:`_node_offsets`).

Every loop here is iterative (walks lists and work stacks), so a model of
tens of thousands of layers never meets Python's recursion limit; only model
*nesting* recurses, and it is capped at :data:`MAX_NESTING`.

Untrusted configs are checked by :mod:`inspector.readers.audit` (names read as text,
shapes and hyper-parameters bounded). Lambda bytecode is never decoded: such layers carry a
``code`` flag. Classes from outside Keras are shown with ``custom=True``.
"""
from __future__ import annotations

from typing import Any

from inspector.errors import BadGraph, InspectorError, TooLarge, displayable, quote
from inspector.graph import ModelGraph, node_id
from inspector.graph.store import topological_order
from inspector.readers.audit import MAX_LAYERS, _check_hyperparameters, _is_known, check_shape, code_flags, is_op
from inspector.readers.audit import entry_name as _entry_name
from inspector.readers.config_values import _d, _dtype, _shape
from inspector.readers.graph_facts import add_costs, attach_weights, propagate
from inspector.readers.inbound import parse_call, refs

MAX_NESTING = 32
#: Most calls (inbound nodes) of one layer.
MAX_CALLS = 10_000


def is_model_config(obj: Any) -> bool:
    """True for a Functional/Sequential(-like) config that carries a layer list."""
    return isinstance(obj, dict) and isinstance(obj.get("config"), dict) and isinstance(obj["config"].get("layers"), list)


def is_sequential(obj: dict) -> bool:
    """Sequential, or a layer list with no functional wiring (read as a chain)."""
    cfg = obj["config"]
    return obj.get("class_name") == "Sequential" or ("input_layers" not in cfg and "output_layers" not in cfg)


def model_class(obj: dict) -> str:
    """The class a config entry names, as Keras 3 and tf-keras report it once loaded: Keras 2
    (up to 2.3) saved a functional model as ``Model``, which both load as ``Functional``."""
    cls = obj.get("class_name")
    if cls == "Model" and is_model_config(obj) and not is_sequential(obj):
        return "Functional"
    return cls


def saved_layers(entries: list, sequential: bool) -> list[tuple[str, str]]:
    """(name, class) of the entries Keras writes weight groups for, in ``model.layers`` order:
    ops never have one, and Sequential's ``model.layers`` leaves out its InputLayer."""
    return [(_entry_name(e, i), e.get("class_name", "")) for i, e in enumerate(entries)
            if isinstance(e, dict) and not is_op(e) and not (sequential and e.get("class_name") == "InputLayer")]


def _names_within(obj: dict) -> set[str]:
    """Names of every layer inside a nested model config, at any depth (iterative)."""
    names: set[str] = set()
    stack = [obj]
    while stack and len(names) <= MAX_LAYERS:
        for i, x in enumerate(stack.pop()["config"]["layers"]):
            if isinstance(x, dict):
                names.add(_entry_name(x, i))
                if is_model_config(x):
                    stack.append(x)
    return names


def build_graph(obj: dict, weights: Any | None, path: str, depth: int = 0, trainable: bool = True) -> ModelGraph:
    """Build the graph of one model config object (``{"class_name", "config", ...}``)."""
    if depth > MAX_NESTING:
        raise TooLarge(f"models nested more than {MAX_NESTING} deep", path)
    cfg = obj["config"]
    cls = obj.get("class_name")
    g = ModelGraph(name=str(cfg.get("name") or cls or "model"), class_name=str(model_class(obj)))
    trainable = trainable and cfg.get("trainable", True) is not False
    if is_sequential(obj):
        _sequential(g, cfg, weights, path, depth, trainable)
    else:
        _functional(g, cfg, weights, path, depth, trainable)
    return g


# --------------------------------------------------------------------------- entries
def _check_entries(entries: list, path: str, sequential: bool) -> None:
    if len(entries) > MAX_LAYERS:
        raise BadGraph(f"model lists {len(entries)} layers (limit {MAX_LAYERS})", path)
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("class_name"), str):
            raise BadGraph(f"layer entry {i} is not a layer config (no class_name)", path)
        if not isinstance(e.get("config", {}), dict):
            raise BadGraph(f"layer entry {i} ({e['class_name']}) has a config that is not an object", path)
        name = _entry_name(e, i)
        if not displayable(name) or not displayable(e["class_name"]):
            raise BadGraph(f"layer entry {i} has control characters or bidirectional overrides in its name or class "
                           f"({quote(name)}, {quote(e['class_name'])})", path)
        if name in seen:
            raise BadGraph(f"two layers are named {quote(name)}", path)
        seen.add(name)
        cfg = e.get("config") or {}
        if e["class_name"] == "InputLayer":
            for key in ("batch_shape", "batch_input_shape", "shape"):
                check_shape(cfg.get(key), f"input {quote(name)}", path)
        bc = e.get("build_config")
        if isinstance(bc, dict):
            check_shape(bc.get("input_shape"), f"layer {quote(name)}'s build_config", path)
        if _is_known(e):
            _check_hyperparameters(e, name, path)


def _kind(e: dict) -> str:
    if e["class_name"] == "InputLayer":
        return "input"
    if is_op(e):
        return "op"
    if is_model_config(e):
        return "model"
    return "layer"


def _activation(cfg: dict) -> str | None:
    act = cfg.get("activation")
    if isinstance(act, str):
        return act
    if isinstance(act, dict):
        inner = act.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
        return str(act.get("class_name") or "custom")
    return None


# --------------------------------------------------------------------------- functional
def _functional(g: ModelGraph, cfg: dict, weights: Any, path: str, depth: int, trainable: bool) -> None:
    entries = cfg["layers"]
    _check_entries(entries, path, sequential=False)
    names = [_entry_name(e, i) for i, e in enumerate(entries)]
    name_set = set(names)
    calls: dict[str, list[tuple[list, dict]]] = {}
    for name, e in zip(names, entries):
        inbound = e.get("inbound_nodes") or []
        if not isinstance(inbound, list):
            raise BadGraph(f"layer {quote(name)} has inbound_nodes that is not a list", path)
        if len(inbound) > MAX_CALLS:
            raise TooLarge(f"layer {quote(name)} is called {len(inbound)} times (limit {MAX_CALLS})", path)
        calls[name] = [parse_call(c, name_set, path, name) for c in inbound]

    # nodes, in model order
    for name, e in zip(names, entries):
        n = max(1, len(calls[name]))
        for k in range(n):
            _add_layer_node(g, e, name, k, n, trainable)

    # edges
    keras2 = any(isinstance(c, list) for e in entries for c in (e.get("inbound_nodes") or ()))
    arg_offset, io_offset = _node_offsets(entries, names, keras2)
    observed: dict[tuple[str, int], tuple[Any, Any]] = {}
    for name in names:
        n = max(1, len(calls[name]))
        for k, (tensors, kwargs) in enumerate(calls[name]):
            dst = node_id(name, k, n)
            g.store.nodes[dst]["call_kwargs"] = kwargs or None
            for j, ((src, ni, ti), shape, dtype) in enumerate(tensors):
                src_id = _resolve(src, ni, calls, path, name, arg_offset.get(src, 0))
                if ti < 0 or ti > 10_000:
                    raise BadGraph(f"layer {quote(name)} refers to output {ti} of {quote(src)}, "
                                   "which is out of range", path)
                g.add_edge(src_id, dst, arg_index=j, tensor_index=ti, shape=_shape(shape), dtype=dtype)
                if _shape(shape) is not None:
                    observed[(src_id, ti)] = (_shape(shape), dtype)
    _check_acyclic(g, path)

    g.inputs = [_resolve(n, i, calls, path, "input_layers", io_offset.get(n, 0))
                for n, i, _ in refs(cfg.get("input_layers"))]
    g.outputs = [(_resolve(n, i, calls, path, "output_layers", io_offset.get(n, 0)), t)
                 for n, i, t in refs(cfg.get("output_layers"))]
    for o, t in g.outputs:
        if not isinstance(t, int) or isinstance(t, bool) or t < 0 or t > 10_000:
            raise BadGraph(f"output_layers refers to output {quote(t)} of {quote(o)}, which is out of range", path)
    _finish(g, entries, names, weights, observed, path, depth, trainable, sequential=False)


def _node_offsets(entries: list, names: list[str], keras2: bool) -> tuple[dict[str, int], dict[str, int]]:
    """How far saved node indices of nested models are shifted: (in layers' inbound nodes,
    in input_layers/output_layers).

    A nested Functional model owns one call before it is used (the one linking its own
    inputs to its outputs), and the saved indices count it. Keras 3 counts it in
    ``input_layers``/``output_layers`` only (``Functional.get_config``'s reindexing map)
    and not in tensors passed between layers (``serialize_node`` drops it); a Keras 3
    Sequential is no Functional. tf-keras counts it everywhere, for Functional models and
    for Sequential ones that start with an InputLayer (``_should_skip_first_node``).
    """
    arg_offset: dict[str, int] = {}
    io_offset: dict[str, int] = {}
    for name, e in zip(names, entries):
        if not is_model_config(e):
            continue
        if keras2:
            layers = e["config"]["layers"]
            own_call = not is_sequential(e) or bool(
                layers and isinstance(layers[0], dict) and layers[0].get("class_name") == "InputLayer")
            if own_call:
                arg_offset[name] = io_offset[name] = 1
        elif not is_sequential(e):
            io_offset[name] = 1
    return arg_offset, io_offset


def _resolve(src: Any, ni: Any, calls: dict, path: str, user: str, offset: int = 0) -> str:
    """Node id of call ``ni`` of layer ``src`` (``ni`` as saved: ``offset`` is subtracted)."""
    who = user if user in ("input_layers", "output_layers") else f"layer {quote(user)}"
    if not isinstance(src, str) or src not in calls:
        raise BadGraph(f"{who} refers to unknown layer {quote(src)}", path)
    n = max(1, len(calls[src]))
    k = ni - offset if isinstance(ni, int) and not isinstance(ni, bool) else -1
    if not 0 <= k < n:
        raise BadGraph(f"{who} refers to call (node index) {quote(ni)} of {quote(src)}, which has {n} "
                       "(index out of range)", path)
    return node_id(src, k, n)


def _check_acyclic(g: ModelGraph, path: str) -> None:
    try:
        topological_order(g.store)
    except ValueError as e:
        chain = " -> ".join(str(n) for n in e.args[0])
        raise BadGraph(f"inbound nodes form a cycle ({chain})", path) from None


def _add_layer_node(g: ModelGraph, e: dict, name: str, k: int, n: int, trainable: bool, **extra: Any) -> str:
    cfg = e.get("config") or {}
    nid = node_id(name, k, n)
    if e["class_name"] != "InputLayer":
        extra.update(code_flags(e))
        if not _is_known(e):
            extra["custom"] = True
    g.add_node(
        nid, name=name, class_name=model_class(e), module=e.get("module"),
        registered_name=e.get("registered_name"), kind=_kind(e), call_index=k, num_calls=n,
        config=cfg, activation=_activation(cfg),
        trainable=trainable and cfg.get("trainable", True) is not False,
        input_shapes=[], output_shapes=[], output_dtypes=[], **extra,
    )
    return nid


# --------------------------------------------------------------------------- sequential
def _sequential(g: ModelGraph, cfg: dict, weights: Any, path: str, depth: int, trainable: bool) -> None:
    entries = cfg["layers"]
    _check_entries(entries, path, sequential=True)
    names = [_entry_name(e, i) for i, e in enumerate(entries)]
    observed: dict[tuple[str, int], tuple[Any, Any]] = {}
    prev: str | None = None
    check_shape(cfg.get("build_input_shape"), "the model's build_input_shape", path)
    if entries and entries[0]["class_name"] == "InputLayer":
        prev = _add_layer_node(g, entries[0], names[0], 0, 1, trainable, synthetic=True)
        body = list(zip(names[1:], entries[1:]))
    else:
        body = list(zip(names, entries))
        first_cfg = _d(entries[0].get("config")) if entries else {}
        shape = (_shape(cfg.get("build_input_shape")) or _shape(first_cfg.get("batch_input_shape"))
                 or _shape(first_cfg.get("batch_shape"))
                 or _shape(_d(entries[0].get("build_config")).get("input_shape") if entries else None))
        if shape is not None and entries:
            prev = f"{names[0]}_input"
            while prev in names:  # never merge into a real layer's node
                prev += "_"
            g.add_node(prev, name=prev, class_name="InputLayer", module="keras.layers", registered_name=None,
                       kind="input", call_index=0, num_calls=1, synthetic=True,
                       config={"batch_shape": list(shape), "dtype": _dtype(first_cfg) or "float32"},
                       activation=None, trainable=True, input_shapes=[], output_shapes=[], output_dtypes=[])
    if prev is not None:
        g.inputs = [prev]
    for name, e in body:
        nid = _add_layer_node(g, e, name, 0, 1, trainable)
        if prev is not None:
            in_shape = _shape(_d(e.get("build_config")).get("input_shape"))
            g.add_edge(prev, nid, arg_index=0, tensor_index=0, shape=in_shape, dtype=None)
            if in_shape is not None:
                observed[(prev, 0)] = (in_shape, None)
        prev = nid
    if prev is not None:
        g.outputs = [(prev, 0)]
    _finish(g, entries, names, weights, observed, path, depth, trainable, sequential=True)


# --------------------------------------------------------------------------- shapes, weights, costs
def _finish(g: ModelGraph, entries: list, names: list[str], weights: Any, observed: dict,
            path: str, depth: int, trainable: bool, sequential: bool) -> None:
    """Nested graphs, then shapes and dtypes along the graph, weights, and costs."""
    by_name = dict(zip(names, entries))
    container = weights(saved_layers(entries, sequential)) if callable(weights) else weights
    _nested_graphs(g, by_name, container, path, depth)  # their output shapes feed propagation
    propagate(g, observed)
    attach_weights(g, container, path)
    add_costs(g)


def _nested_graphs(g: ModelGraph, by_name: dict, container: Any, path: str, depth: int) -> None:
    for nid, a in list(g.store.nodes(data=True)):
        if a["kind"] == "model" and a["call_index"] == 0:
            e = by_name[a["name"]]
            sub_weights = None
            if container is not None:
                sub_entries = saved_layers(e["config"]["layers"], is_sequential(e))
                within = {_entry_name(x, i): _names_within(x) for i, x in enumerate(e["config"]["layers"])
                          if is_model_config(x)}
                try:
                    sub_weights = container.nested(a["name"], sub_entries, within)
                except InspectorError as err:
                    if err.path is None:
                        err.path = path
                    raise
            sub = build_graph(e, sub_weights, path, depth + 1, a["trainable"])
            g.subgraphs[nid] = sub
            for other in g.calls(a["name"]):
                g.store.nodes[other]["subgraph"] = nid


