"""Would ``model.load_weights(FILE)`` succeed? Per layer of a model: loaded, missing, unexpected,
shape mismatch or count mismatch, decided by the rules Keras applies to that kind of file,
without Keras and without reading any weight data.

* Keras 3 (``*.weights.h5``, a sharded ``*.weights.json`` index, the ``model.weights.h5`` of a
  ``.keras`` file; keras ``saving_lib._load_state``): each layer of ``model.layers`` is looked up
  at ``layers/<key>``, ``<key>`` its snake_cased class with a per-class counter (never its name:
  Keras ignores the ``name`` attribute of ``vars`` when loading); the layer and each sub-layer (at
  its attribute path) take ``vars/0..n-1`` by position. A count that differs fails ("Layer 'x'
  expected 2 variables, but received 0"), so does a shape that differs (on assign). Groups no
  layer asks for are ignored: "unexpected", yet the load succeeds.
* Keras 2 / tf-keras ``.h5`` (``layer_names``; legacy ``load_weights_from_hdf5_group``): the
  model's layers with weights are paired BY POSITION with the file's layers with weights; a
  different number fails as a whole ("Layer count mismatch"), then each pair must agree in
  weight count and shapes (weights in ``trainable + non_trainable`` order).

The model side is a :class:`ModelGraph` with a layer graph: its nodes are ``model.layers`` in
order; each node's ``weights`` give the shapes. A static ``.keras`` graph names a sub-layer's
variables by attribute path (``query_dense/vars/0``), a live or legacy one by sub-layer name
(``query/kernel``): a file group is paired with a model sub-layer by either (new files record the
sub-layer's name on its ``vars`` group), else by shapes. Results are plain dicts (JSON-ready).
"""
from __future__ import annotations

import os
from typing import Any

from inspector.errors import BadModelFile, InspectorError, quote
from inspector.layers.weight_layout import WeightInfo, _strip_var_suffix
from inspector.readers.weight_tree import TreeNode
from inspector.readers.weights import (
    LegacyContainer,
    _attr_str,
    _dataset_info,
    check_hdf5,
    h5_errors,
    read_text_attr,
    to_snake_case,
)

LOADED, MISSING, UNEXPECTED, SHAPE, COUNT = "loaded", "missing", "unexpected", "shape mismatch", "count mismatch"
Shape = tuple
Groups = dict[str, list[Shape]]   # sub-layer label ("" = the layer's own variables) -> shapes, in order


# --------------------------------------------------------------------------- the file
def read_weights_file(path: str) -> tuple[str, Any]:
    """``("keras3", {group path: TreeNode})`` or ``("legacy", [(layer name, [WeightInfo])], top)``:
    what a weights source holds, read statically (every cap and check of the static reader)."""
    from inspector.readers.sniff import sniff

    kind = sniff(path)
    if kind == "hdf5":
        from inspector.readers.hdf5_file import read_hdf5

        with open(path, "rb") as f:
            return read_hdf5(path, f, lambda root: _from_hdf5(root, path), "not a readable HDF5 file")
    if kind == "json":
        return "keras3", _entries_of(_sharded(path))
    if kind in ("zip", "dir"):
        return "keras3", _from_keras(path, kind == "dir")
    raise BadModelFile("not a Keras weights file (neither HDF5 weights, a .keras file nor a sharded "
                       ".weights.json index)", path)


def _from_hdf5(root: Any, path: str) -> tuple[str, Any]:
    from inspector.readers.hdf5_file import with_path
    from inspector.readers.weight_tree import v3_entries

    with_path(path, check_hdf5, root, "weights file")
    group = root if "layer_names" in root.attrs else None
    mw = root.get("model_weights")
    if group is None and mw is not None and "layer_names" in getattr(mw, "attrs", {}):
        group = mw   # a legacy full-model .h5: Keras loads its model_weights
    if group is not None:
        return "legacy", with_path(path, _legacy_layers, group)
    if root.get("layers") is not None or root.get("vars") is not None:
        return "keras3", with_path(path, v3_entries, root)
    raise BadModelFile("HDF5 file holds no Keras weights (no layer_names, no layers group)", path)


@h5_errors
def _legacy_layers(group: Any) -> list[tuple[str, list[WeightInfo]]]:
    """``layer_names`` in order, each with its datasets in ``weight_names`` order."""
    names = read_text_attr(group, "layer_names") or []
    names = [names] if isinstance(names, (str, bytes)) else names
    container = LegacyContainer(group)
    out = []
    names = [_attr_str(n) for n in names]
    for raw in [*names, *([] if "top_level_model_weights" in names else ["top_level_model_weights"])]:
        name = _attr_str(raw)
        ds = container._datasets(name) or []
        out.append((name, [_dataset_info(d, _strip_var_suffix(wn)) for wn, d in ds]))
    return out


def _sharded(path: str) -> TreeNode:
    from inspector.readers.archive import parse_json
    from inspector.readers.folder import KerasDirectory
    from inspector.readers.limits import MAX_JSON_BYTES
    from inspector.readers.preset import read_sharded
    from inspector.readers.weight_tree import assemble

    with open(path, "rb") as f:
        index = parse_json(f.read(MAX_JSON_BYTES + 1), os.path.basename(path), path)
    with KerasDirectory(os.path.dirname(os.path.abspath(path)), looked_at=()) as folder:
        return assemble(read_sharded(folder, index, os.path.basename(path), path))


def _from_keras(path: str, folder: bool) -> dict[str, TreeNode]:
    """The ``model.weights.h5`` (or sharded ``model.weights.json``) of a ``.keras`` file or folder."""
    from inspector.readers.archive import KerasArchive
    from inspector.readers.folder import KerasDirectory
    from inspector.readers.hdf5_file import read_hdf5, with_path
    from inspector.readers.preset import weights_tree
    from inspector.readers.weight_tree import v3_entries

    with (KerasDirectory(path) if folder else KerasArchive(path)) as ar:
        if folder:
            tree = weights_tree(ar, "model", path)
            if tree is None:
                raise BadModelFile("folder holds no model.weights.h5 or model.weights.json", path)
            return _entries_of(tree)
        stream = ar.open_weights()
        if stream is None:
            raise BadModelFile("archive has no model.weights.h5 (sharded or npz weights inside a .keras "
                               "file are not read statically)", path)

        def body(root: Any) -> dict[str, TreeNode]:
            with_path(path, check_hdf5, root, "model.weights.h5")
            return with_path(path, v3_entries, root)

        return read_hdf5(path, stream, body, "model.weights.h5 is not readable HDF5")


def _entries_of(tree: TreeNode) -> dict[str, TreeNode]:
    return {node.path: node for node in tree.walk()}


def keras_loader(path: str) -> str | None:
    """Which loader Keras's ``load_weights`` picks from the file NAME (saving_api.load_weights)."""
    p = str(path)
    if p.endswith((".keras", ".weights.h5", ".weights.json")):
        return "keras3"
    if p.endswith((".h5", ".hdf5")):
        return "legacy"
    return None


# --------------------------------------------------------------------------- the model
def model_layers(g: Any) -> list[dict[str, Any]]:
    """``model.layers`` of the graph, in order (first calls only, ``op`` nodes are not layers):
    name, class, weights; a nested model's own layers under ``children``."""
    if any(a.get("weight_tree") for _, a in g.store.nodes(data=True)):
        raise InspectorError("--weights needs the model: MODEL holds weights only, or is a custom model class "
                             "(a weight tree, no layer list)", g.meta.get("source"))
    if g.meta.get("opaque") or g.meta.get("traced"):
        raise InspectorError("--weights needs a model with a layer graph (Functional or Sequential); this "
                             "model is a custom class or was traced, and Keras keys its weights by attribute",
                             g.meta.get("source"))
    return _layers(g)


def _layers(g: Any) -> list[dict[str, Any]]:
    out = []
    for nid, a in g.store.nodes(data=True):
        if a.get("call_index", 0) or a.get("kind") == "op":
            continue
        sub = g.subgraphs.get(a.get("subgraph")) if a.get("kind") == "model" and a.get("subgraph") else None
        if sub is not None and (sub.meta.get("traced") or sub.meta.get("opaque")):
            sub = None   # a custom model class inside: its weights as one layer's
        weights = [w for w in (a.get("weights") or []) if w.get("stored", True)]
        out.append(dict(name=str(a.get("name") or nid), class_name=str(a.get("class_name") or ""),
                        weights=weights, children=_layers(sub) if sub is not None else None))
    return out


def _groups(weights: list[dict]) -> Groups:
    """A layer's variables by sub-layer: ``query_dense/vars/0`` (static) or ``query/kernel`` (live)."""
    out: Groups = {}
    for w in weights:
        n = w["name"]
        label = n.rpartition("/vars/")[0] if "/vars/" in n else "" if n.startswith("vars/") else n.rpartition("/")[0]
        out.setdefault(label, []).append(tuple(w["shape"]))
    return out


# --------------------------------------------------------------------------- Keras 3 rules
def match_keras3(layers: list[dict], entries: dict[str, TreeNode], container: str = "layers",
                 prefix: str = "") -> list[dict]:
    """One record per layer that has (or is given) weights, and per file group no layer asks for."""
    records, used, claimed = [], {}, set()
    for layer in layers:
        key = to_snake_case(layer["class_name"])
        used[key] = used.get(key, -1) + 1
        path = f"{container}/{key}" + (f"_{used[key]}" if used[key] else "")
        claimed.add(path)
        if layer["children"] is not None:
            records += match_keras3(layer["children"], entries, f"{path}/layers", f"{prefix}{layer['name']}/")
            continue
        found = {p[len(path) + 1:] if p != path else "": n for p, n in entries.items()
                 if p == path or p.startswith(path + "/")}
        rec = _compare(_groups(layer["weights"]), found)
        if rec is not None:
            records.append(dict(layer=prefix + layer["name"], class_name=layer["class_name"], key=path, **rec))
    for key, shapes in _unclaimed(entries, container, claimed).items():
        records.append(dict(layer=f"{container}/{key}", class_name=None, key=f"{container}/{key}", status=UNEXPECTED,
                            expected=[], found=shapes, fails=False,
                            problem="the file holds weights no layer of the model asks for (Keras ignores them)"))
    return records


def _unclaimed(entries: dict[str, TreeNode], container: str, claimed: set[str]) -> dict[str, list[Shape]]:
    out: dict[str, list[Shape]] = {}
    for p, node in entries.items():
        if not p.startswith(container + "/"):
            continue
        key = p[len(container) + 1:].split("/")[0]
        if f"{container}/{key}" not in claimed:
            out.setdefault(key, []).extend(w.shape for w in node.weights if w.name.startswith("vars/"))
    return {k: v for k, v in out.items() if v}


def _compare(model: Groups, file_nodes: dict[str, TreeNode]) -> dict[str, Any] | None:
    """Pair the layer's sub-layers with the file's groups and check counts, then shapes."""
    have = {rel: [w.shape for w in n.weights if w.name.startswith("vars/")] for rel, n in file_nodes.items()}
    have = {rel: s for rel, s in have.items() if s}
    expected = [s for shapes in model.values() for s in shapes]
    if not have and not expected:
        return None
    if not have:
        return _rec(MISSING, expected, [], "the file has no weights for it")
    pairs, left = _pair(model, have, {rel: n.name for rel, n in file_nodes.items()})
    found = [s for _, f in pairs for s in have.get(f, [])] + [s for f in left for s in have[f]]
    for label, rel in pairs:
        want, got = model.get(label, []), have.get(rel, [])
        where = f" (sub-layer {quote(label or rel)})" if (label or rel) else ""
        if len(want) != len(got):
            return _rec(COUNT, expected, found, f"expected {len(want)} variables, the file has {len(got)}{where}")
        for w, f in zip(want, got):
            if w != f:
                return _rec(SHAPE, expected, found, f"{_fmt(w)} vs {_fmt(f)}{where}")
    if left:
        n = sum(len(have[f]) for f in left)
        return _rec(COUNT, expected, found, f"the file has {n} more variables (in {quote(left[0])})")
    return _rec(LOADED, expected, found, None)


def _pair(model: Groups, have: dict[str, list[Shape]], names: dict[str, str]) -> tuple[list, list[str]]:
    """(model label, file group) pairs: by attribute path, by the group's recorded name, else by
    shapes; file groups left over (``None`` stands for a model sub-layer the file lacks)."""
    free = list(have)
    pairs: list[tuple[str, Any]] = []
    unmatched = []
    for label in model:
        rel = label if label in free else next((r for r in free if r and names.get(r) == label.split("/")[-1]), None)
        if rel is None:
            unmatched.append(label)
        else:
            pairs.append((label, rel))
            free.remove(rel)
    for label in unmatched:
        rel = next((r for r in free if have[r] == model[label]), None) or (free[0] if free else None)
        pairs.append((label, rel))
        if rel is not None:
            free.remove(rel)
    return pairs, free


def _rec(status: str, expected: list, found: list, problem: str | None) -> dict[str, Any]:
    return dict(status=status, expected=[list(s) for s in expected], found=[list(s) for s in found],
                fails=status not in (LOADED, UNEXPECTED), problem=problem)


def _fmt(shape: Shape) -> str:
    return str(tuple(shape))


# --------------------------------------------------------------------------- Keras 2 rules
def match_legacy(layers: list[dict], file_layers: list[tuple[str, list[WeightInfo]]]) -> tuple[list, str | None]:
    """Records by position, and the whole-file error Keras raises first (layer count mismatch)."""
    top = [w.shape for n, ws in file_layers if n == "top_level_model_weights" for w in ws]
    saved = [(n, ws) for n, ws in file_layers if ws and n != "top_level_model_weights"]
    owning = [(layer, _legacy_order(layer)) for layer in layers]
    owning = [(layer, ws) for layer, ws in owning if ws]
    records = []
    for i in range(max(len(owning), len(saved))):
        layer, want = owning[i] if i < len(owning) else (None, [])
        fname, got = saved[i] if i < len(saved) else (None, [])
        if layer is None:
            records.append(dict(layer=fname, class_name=None, key=fname, status=UNEXPECTED, expected=[],
                                found=[list(w.shape) for w in got], fails=True,
                                problem="no layer of the model pairs with it"))
            continue
        if fname is None:
            rec = _rec(MISSING, [tuple(w["shape"]) for w in want], [], "the file has fewer layers with weights")
        else:
            rec = _compare(*_legacy_sides(want, fname, got))
        records.append(dict(layer=layer["name"], class_name=layer["class_name"], key=fname, **rec))
    error = None
    if len(owning) != len(saved):
        error = (f"layer count mismatch: the model has {len(owning)} layers with weights, the file {len(saved)} "
                 "(Keras pairs them by position and refuses the file)")
    elif top:
        error = f"the file holds {len(top)} top-level model weights; the model has none"
    return records, error


def _legacy_sides(want: list[dict], fname: str, got: list[WeightInfo]) -> tuple[Groups, dict[str, TreeNode]]:
    """Both sides of one pair. A static Keras 3 graph names sub-layers by attribute and orders them
    by it (``key_dense`` before ``query_dense``), not in the layer's own order: then each sub-layer is
    paired with the file's weight scope (``query/kernel``) by shapes; otherwise position decides."""
    if not any("/vars/" in w["name"] for w in want):
        return {"": [tuple(w["shape"]) for w in want]}, {"": _node([w.shape for w in got])}
    scopes: dict[str, list[Shape]] = {}
    for w in got:
        parts = w.name.split("/")
        parts = parts[1:] if len(parts) > 1 and parts[0] == fname else parts
        scopes.setdefault("/".join(parts[:-1]), []).append(w.shape)
    return _groups(want), {scope: _node(shapes, scope) for scope, shapes in scopes.items()}


def _legacy_order(layer: dict) -> list[dict]:
    """``layer.trainable_weights + layer.non_trainable_weights`` (how legacy h5 orders them)."""
    ws = layer["weights"] if layer["children"] is None else _all_weights(layer["children"])
    return [w for w in ws if w.get("trainable", True)] + [w for w in ws if not w.get("trainable", True)]


def _all_weights(layers: list[dict]) -> list[dict]:
    return [w for layer in layers for w in (layer["weights"] if layer["children"] is None
                                             else _all_weights(layer["children"]))]


def _node(shapes: list[Shape], name: str = "") -> TreeNode:
    return TreeNode(name, name, name, weights=[WeightInfo(f"vars/{i}", tuple(s), "") for i, s in enumerate(shapes)])


# --------------------------------------------------------------------------- the check
def check(g: Any, path: str) -> dict[str, Any]:
    """The ``weights_check`` of MODEL's graph against the weights file ``path``."""
    layers = model_layers(g)
    kind, data = read_weights_file(path)
    if kind == "keras3":
        records, error = match_keras3(layers, data), None
    else:
        records, error = match_legacy(layers, data)
    notes = []
    by_name = keras_loader(path)
    if by_name != kind:
        notes.append("Keras's load_weights picks its loader by the file name: "
                     + ("it does not accept this name" if by_name is None else
                        f"this name makes it use the {'legacy h5' if by_name == 'legacy' else 'Keras 3'} loader, "
                        "not the one for what the file holds") + "; the check follows the contents")
    return dict(model=g.meta.get("source"), weights=path, rules=kind, layers=records,
                summary=summarise(records, error), notes=notes)


def describe(record: dict) -> str:
    """``shape mismatch (16, 4) vs (16, 3)``, ``missing: the file has no weights for it``."""
    if record["status"] == SHAPE:
        return f"{SHAPE} {record['problem']}"
    return f"{record['status']}: {record['problem']}" if record["problem"] else record["status"]


def summarise(records: list[dict], error: str | None) -> dict[str, Any]:
    mine = [r for r in records if r["class_name"] is not None]
    loaded = 0 if error else sum(r["status"] == LOADED for r in mine)
    bad = next((r for r in records if r["fails"]), None)
    first = error or (f"layer {quote(bad['layer'])}: {describe(bad)}" if bad else None)
    ok = error is None and bad is None
    line = f"{loaded} of {len(mine)} layers would load" + (f"; first problem: {first}" if first else "")
    unused = [r for r in records if r["status"] == UNEXPECTED]
    if ok and unused:
        line += f" ({len(unused)} group{'s' if len(unused) > 1 else ''} of the file unused: Keras ignores them)"
    return dict(layers=len(mine), loaded=loaded, would_load=ok, file_error=error, first_problem=first,
                unexpected=len(unused), line=line)
