"""The layer hierarchy a weights file holds, for models whose config has no layer graph
(a subclassed model, every keras-hub backbone and task) and for weights-only files.

Keras 3 saves weights along the object tree (``saving_lib._save_state``): a layer at
attribute path ``P`` writes its own variables to ``P/vars/<i>`` (new Keras gives that
``vars`` group a ``name`` attribute: the layer's name), its sub-layers go under
``P/<attribute>/...``, the items of a layer list under ``P/<list attr>/<snake_case class>[_k]``
(``layers/dense_1``). Keras 2 / tf-keras weights-only files list ``layer_names`` at the top,
each layer group listing its ``weight_names`` (scoped: ``inner/dense/kernel:0``).

What ``model.count_params()`` counts is what is read: the model's ``vars`` and every layer's,
never the optimizer's (``optimizer/vars``: its iteration counter and moments) nor seed
generators (``seed_generator*``), which are state, not weights. Which weights are
non-trainable is not stored; the rules Keras's own layers follow are applied where the file
determines the layer (a ``layers`` list key names its class: ``batch_normalization_3``), and
the config's dtype policy map gives quantized layers (int8/int4: all but the bias frozen).
Nothing here imports Keras; only dataset shapes and small attributes are read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from inspector.errors import TooLarge, WeightsMismatch, displayable, one_line, quote
from inspector.layers import finetune
from inspector.layers.weight_layout import WeightInfo, _strip_var_suffix, mark_trainable, numel
from inspector.readers.limits import MAX_H5_OBJECTS, MAX_WEIGHT_ENTRIES
from inspector.readers.weights import (
    LegacyContainer,
    _attr_str,
    _dataset_info,
    _hard_items,
    _sort_key,
    h5_errors,
    is_dataset,
    is_group,
    read_text_attr,
)

#: Top-level groups of a Keras 3 weights file that hold no model weights.
NOT_WEIGHTS = ("optimizer",)
#: ``layers`` list keys whose class Keras's own non-trainable rules apply to.
_KEYED_RULES = {"batch_normalization": "BatchNormalization", "normalization": "Normalization"}
_SUFFIX = re.compile(r"_\d+$")


@dataclass
class TreeNode:
    """One layer of the hierarchy: its own weights and its weight-owning sub-layers."""

    path: str                      # its group in the weights file ("" = the model)
    attribute: str                 # path relative to its parent layer ("layers/dense", "attention")
    name: str                      # the layer's name (the file's vars ``name``), else ``attribute``
    weights: list[WeightInfo] = field(default_factory=list)
    children: list["TreeNode"] = field(default_factory=list)
    class_name: str | None = None  # only where a config names it
    class_key: str | None = None   # the snake_case class a ``layers`` list key gives
    shards: dict[str, str] = field(default_factory=dict)  # weight name -> shard it was read from
    quantization: str | None = None  # the mode the config's dtype policy map gives this layer

    def walk(self) -> Iterator["TreeNode"]:
        """This node and every node below it, parents first (iterative)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def all_weights(self, prefix: str = "") -> list[WeightInfo]:
        """Every weight of the subtree, named by its path relative to this node."""
        out: list[WeightInfo] = []
        stack = [(prefix, self)]
        while stack:
            pre, node = stack.pop()
            out += [WeightInfo(pre + w.name, w.shape, w.dtype, w.trainable, w.stored, w.role) for w in node.weights]
            stack.extend((pre + c.attribute + "/", c) for c in reversed(node.children))
        return out

    def counts(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameters of the subtree."""
        ws = self.all_weights()
        return (sum(numel(w.shape) for w in ws if w.trainable), sum(numel(w.shape) for w in ws if not w.trainable))


# --------------------------------------------------------------------------- Keras 3
@h5_errors
def v3_entries(root: Any, shard: str = "") -> dict[str, TreeNode]:
    """Every layer group (a group with a ``vars`` group) of one Keras 3 weights file, by path,
    with its own weights; ``shard`` is recorded on each weight (for the sharded index checks)."""
    found: dict[str, TreeNode] = {}
    stack: list[tuple[str, Any]] = [("", root)]
    seen: set[Any] = set()
    while stack:
        path, group = stack.pop()
        if group.addr in seen:  # a group reached twice (hard links): never walk in circles
            continue
        seen.add(group.addr)
        if len(seen) > MAX_H5_OBJECTS:
            raise TooLarge("the weights file nests more groups than the reader accepts")
        items = _hard_items(group)
        vars_group = next((obj for key, obj in items if key == "vars" and is_group(obj)), None)
        loose = [(key, obj) for key, obj in items if is_dataset(obj)]
        if vars_group is not None or loose or not path:
            node = found.setdefault(path, TreeNode(path, path, path.rpartition("/")[2] or ""))
            if vars_group is not None:
                owner = read_text_attr(vars_group, "name")
                if isinstance(owner, (str, bytes)) and _attr_str(owner) and displayable(_attr_str(owner)):
                    node.name = one_line(_attr_str(owner), 200)
                _add_datasets(node, sorted(_hard_items(vars_group), key=lambda kv: _sort_key(kv[0])), "vars/", shard)
            _add_datasets(node, loose, "", shard)
        for key, obj in items:
            if not is_group(obj) or key == "vars" or key.startswith("seed_generator"):
                continue
            if not path and key in NOT_WEIGHTS:
                continue
            stack.append((f"{path}/{key}" if path else key, obj))
    return found


def _add_datasets(node: TreeNode, items: list[tuple[str, Any]], prefix: str, shard: str) -> None:
    for key, obj in items:
        if not is_dataset(obj):
            continue
        name = prefix + key
        if name in node.shards:
            raise WeightsMismatch(f"weight {quote(node.path + '/' + name)} is stored in two shards "
                                  f"({quote(node.shards[name])} and {quote(shard)})")
        node.weights.append(_dataset_info(obj, name))
        node.shards[name] = shard
        if len(node.weights) > MAX_WEIGHT_ENTRIES:
            raise TooLarge(f"layer {quote(node.path)} has more than {MAX_WEIGHT_ENTRIES:,} weight datasets")


def merge_entries(parts: list[dict[str, TreeNode]]) -> dict[str, TreeNode]:
    """The entries of several shards as one file's (a layer's variables may span shards)."""
    merged: dict[str, TreeNode] = {}
    for part in parts:
        for path, node in part.items():
            into = merged.get(path)
            if into is None:
                merged[path] = node
                continue
            if node.name != node.attribute.rpartition("/")[2]:
                into.name = node.name
            for w in node.weights:
                if w.name in into.shards:
                    raise WeightsMismatch(f"weight {quote(path + '/' + w.name)} is stored in two shards "
                                          f"({quote(into.shards[w.name])} and {quote(node.shards[w.name])})")
                into.weights.append(w)
                into.shards[w.name] = node.shards[w.name]
    for node in merged.values():
        node.weights.sort(key=lambda w: _weight_order(w.name))
    return merged


def _weight_order(name: str) -> tuple:
    return tuple(_sort_key(p) for p in name.split("/"))


def assemble(entries: dict[str, TreeNode]) -> TreeNode:
    """The entries as a tree: each under its nearest ancestor layer, in natural key order
    (``block_2`` before ``block_10``); ``class_key`` for items of a ``layers`` list."""
    root = entries.get("") or TreeNode("", "", "")
    for path in sorted((p for p in entries if p), key=_natural):
        node = entries[path]
        parts = path.split("/")
        parent, cut = root, 0
        for i in range(len(parts) - 1, 0, -1):
            up = entries.get("/".join(parts[:i]))
            if up is not None:
                parent, cut = up, i
                break
        node.attribute = "/".join(parts[cut:])
        if len(parts) - cut == 2 and parts[-2] == "layers":
            node.class_key = _SUFFIX.sub("", parts[-1])
        parent.children.append(node)
    return root


def _natural(path: str) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", path)]


def prune(root: TreeNode) -> None:
    """Drop the sub-layers that own no weights (dropout, softmax, inputs): not weight-owning."""
    order = list(root.walk())
    owning: set[int] = set()
    for node in reversed(order):
        node.children = [c for c in node.children if id(c) in owning]
        if node.weights or node.children:
            owning.add(id(node))


# --------------------------------------------------------------------------- Keras 2 / tf-keras
@h5_errors
def legacy_tree(group: Any) -> TreeNode:
    """A tf-keras weights file (``layer_names``): a node per layer, its sub-layers from the
    scopes of its weight names (``inner/dense/kernel:0`` → ``inner`` ▸ ``dense``)."""
    names = read_text_attr(group, "layer_names") or []
    if isinstance(names, (str, bytes)):
        names = [names]
    root = TreeNode("", "", "")
    container = LegacyContainer(group)
    extra = [] if "top_level_model_weights" in names else ["top_level_model_weights"]
    for raw in [*names, *extra][:MAX_WEIGHT_ENTRIES]:
        layer = _attr_str(raw)
        datasets = container._datasets(layer) or []
        if layer == "top_level_model_weights":
            root.weights += [_dataset_info(d, _strip_var_suffix(wn)) for wn, d in datasets]
            continue
        node = TreeNode(layer, layer, layer)
        for wn, d in datasets:
            scopes = _strip_var_suffix(wn).split("/")
            if scopes[0] == layer and len(scopes) > 1:
                scopes = scopes[1:]
            at = node
            for scope in scopes[:-1]:
                at = next((c for c in at.children if c.attribute == scope), None) or _child(at, scope)
            at.weights.append(_dataset_info(d, scopes[-1]))
        root.children.append(node)
    return root


def _child(parent: TreeNode, scope: str) -> TreeNode:
    node = TreeNode(f"{parent.path}/{scope}", scope, scope)
    parent.children.append(node)
    return node


# --------------------------------------------------------------------------- trainable split
def mark(root: TreeNode, config: dict | None) -> None:
    """Trainable flags as Keras sets them: the rules of Keras's layers where the key names the
    class (BatchNormalization's moving statistics), quantized layers from the config's dtype
    policy map, everything frozen under ``trainable: false``."""
    cfg = config.get("config") if isinstance(config, dict) and isinstance(config.get("config"), dict) else {}
    frozen = cfg.get("trainable") is False
    policies = _policy_map(cfg.get("dtype"))
    stack: list[tuple[TreeNode, str]] = [(root, "")]
    while stack:
        node, names = stack.pop()
        keyed = _KEYED_RULES.get(node.class_key or "", node.class_name or "")
        mark_trainable(keyed, {}, node.weights, not frozen)
        mode = finetune.quantization_mode({"dtype": policies.get(names)}) if names in policies else None
        if mode and node.weights:
            _mark_quantized(node.weights, mode)
            node.quantization = mode
        for c in node.children:
            stack.append((c, f"{names}/{c.name}" if names else c.name))


def name_classes(root: TreeNode, config: dict) -> None:
    """Sub-layers the model's config holds serialised (a task's ``backbone``): the node of that
    name gets the class the config names, and that config's trainable rules."""
    cfg = config.get("config") if isinstance(config.get("config"), dict) else {}
    for value in cfg.values():
        inner = value.get("config") if isinstance(value, dict) else None
        if not (isinstance(inner, dict) and isinstance(value.get("class_name"), str)
                and displayable(value["class_name"])):
            continue
        node = next((c for c in root.children if c.name == inner.get("name")), None)
        if node is not None:
            node.class_name = one_line(value["class_name"], 200)
            mark(node, value)


def _policy_map(dtype: Any) -> dict[str, Any]:
    """``DTypePolicyMap``'s layer path → policy (what ``model.quantize`` saves in the config)."""
    if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicyMap":
        pm = (dtype.get("config") or {}).get("policy_map") if isinstance(dtype.get("config"), dict) else None
        if isinstance(pm, dict):
            return pm
    return {}


def _mark_quantized(weights: list[WeightInfo], mode: str) -> None:
    """A quantized layer's variables: kernel (or embeddings), an optional bias, then the
    scales; Keras freezes all but the bias (int8/int4)."""
    need = {"int8": 2, "int4": 4, "float8": 7}.get(mode)
    bias = need is not None and len(weights) == need + 1
    finetune.mark_quantized("Dense", {"use_bias": bias}, weights, mode)


# --------------------------------------------------------------------------- the graph
#: One wording, everywhere a graph comes from weights alone.
NO_EDGES = ("a tree of layers and their weights, read from the weights file: a weights file holds no data "
            "flow, so the layers are not connected")
#: The one message for "no architecture here", on every command (a summary note, an error elsewhere).
WEIGHTS_ONLY = ("the file holds weights only (no architecture): open the model's own file, or check these "
                "weights against it with `inspector summary MODEL --weights FILE`")


def refuse_weights_only(graph: Any, path: str) -> None:
    """Commands that need a model (load, cut, run) refuse a weights-only file with the one message."""
    if graph.meta.get("weights_only"):
        from inspector.errors import InspectorError

        raise InspectorError(WEIGHTS_ONLY, path)


def to_graph(root: TreeNode, name: str, class_name: str, config: dict | None = None,
             module: str | None = None) -> Any:
    """A :class:`ModelGraph` of one ``opaque`` model node holding the whole model; its
    ``subgraph`` holds the tree, one nested graph per block (``render --expand-nested`` draws
    them as clusters). Blocks carry their subtree's totals; ``parent`` is the enclosing layer's
    ``path``."""
    from inspector.graph import ModelGraph

    g = ModelGraph(name=name, class_name=class_name)
    attrs = _node_attrs(root, name, None)
    cfg = config.get("config") if isinstance(config, dict) and isinstance(config.get("config"), dict) else {}
    attrs.update(class_name=class_name, module=module, config=cfg, opaque=True, kind="model",
                 registered_name=config.get("registered_name") if isinstance(config, dict) else None)
    g.add_node(name, **attrs)
    if root.children:
        g.store.nodes[name]["subgraph"] = name
        g.subgraphs[name] = _subgraph(root, name)
    return g


def _subgraph(top: TreeNode, name: str) -> Any:
    """The nested graphs of ``top``'s children (iterative: deep trees never recurse)."""
    from inspector.graph import ModelGraph

    first = ModelGraph(name=name, class_name=top.class_name or "")
    stack = [(top, first)]
    while stack:
        node, g = stack.pop()
        for c in node.children:
            g.add_node(c.attribute, **_node_attrs(c, c.name, node.path))
            if c.children:
                sub = ModelGraph(name=c.name, class_name=c.class_name or "")
                g.store.nodes[c.attribute]["subgraph"] = c.attribute
                g.subgraphs[c.attribute] = sub
                stack.append((c, sub))
    return first


def _node_attrs(node: TreeNode, name: str, parent: str | None) -> dict[str, Any]:
    ws = node.all_weights()
    trainable = sum(numel(w.shape) for w in ws if w.trainable)
    return dict(name=name, class_name=node.class_name, class_key=node.class_key, module=None, registered_name=None,
                kind="model" if node.children else "layer", call_index=0, num_calls=1, config={},
                activation=None, trainable=True, input_shapes=[], output_shapes=[], output_dtypes=[],
                weights=[w.as_dict() for w in ws], params_trainable=trainable,
                params_non_trainable=sum(numel(w.shape) for w in ws) - trainable,
                params_own=sum(numel(w.shape) for w in node.weights), macs=None, activation_bytes=None,
                path=node.path, parent=parent, attribute=node.attribute or None, weight_tree=True,
                quantization=node.quantization)
