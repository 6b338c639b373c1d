"""The static reader: `.keras` and legacy `.h5` files → :class:`ModelGraph`.

Uses json, zipfile and :mod:`inspector.readers.hdf5.lite` (a pure-Python HDF5 metadata reader) only
(h5py, in a child process, only for HDF5 files h5lite does not support). No TensorFlow
or Keras import, and nothing from the file is executed or deserialised into objects:
class names, modules and Lambda bytecode are only ever treated as text.

Untrusted files (see README, "Opening untrusted models"): every read is
capped (:mod:`inspector.readers.archive`), configs naming code-running or
file-fetching callables are refused (:func:`~inspector.readers.audit.audit_config`),
HDF5 links are never followed (:func:`~inspector.readers.weights.check_hdf5`) and the
weights must agree with the config. Lambda layers holding bytecode are refused unless
``allow_code`` (then shown, flagged ``code=True``); their bytecode is never decoded.
Warnings (Lambda code) go to ``meta["warnings"]`` and are logged once on the ``inspector``
logger, which prints ``warning: <file>: ...`` on stderr when logging is not configured.
"""
from __future__ import annotations

import gc
import logging
import os
from typing import Any

from inspector.errors import BadGraph, BadModelFile, UnsafeModel, displayable, one_line, quote
from inspector.graph import ModelGraph
from inspector.readers.archive import KerasArchive, parse_json
from inspector.readers.audit import audit_config
from inspector.readers.config_graph import build_graph, is_model_config
from inspector.readers.folder import KerasDirectory
from inspector.readers.hdf5_file import read_hdf5, with_path
from inspector.readers.preset import read_folder, read_weights_index
from inspector.readers.sniff import sniff
from inspector.readers.weight_tree import (
    NO_EDGES,
    WEIGHTS_ONLY,
    TreeNode,
    assemble,
    legacy_tree,
    mark,
    name_classes,
    prune,
    to_graph,
    v3_entries,
)
from inspector.readers.weights import (
    LegacyContainer,
    V3Container,
    check_hdf5,
    h5_errors,
    is_group,
    read_text_attr,
)

log = logging.getLogger("inspector")



LOAD_HINT = ("its config holds no layer graph (a custom model class); "
             "`--load` builds it with Keras to show the graph")


def read_file(path: str, allow_code: bool = False) -> ModelGraph:
    """Read a model file without executing anything from it.

    The cyclic garbage collector is paused meanwhile: reading allocates millions of small
    objects (the config, the graph) and no cycles worth collecting, and the collections those
    allocations trigger cost a third of the read time of a 10,000-layer model.

    ``allow_code``: show Lambda layers holding marshalled bytecode (flagged ``code=True``,
    never decoded or run) instead of refusing the file."""
    path = os.fspath(path)
    kind = sniff(path)
    enabled = gc.isenabled()
    gc.disable()
    try:
        if kind == "zip":
            g = _read_keras_zip(path, allow_code)
        elif kind == "dir":
            g = _read_keras_zip(path, allow_code, folder=True)
        elif kind == "hdf5":
            g = _read_h5(path, allow_code)
        elif kind == "json":
            g = read_weights_index(path)
        else:
            raise BadModelFile("not a Keras model file (neither a .keras zip archive nor an HDF5 .h5 file)", path)
    finally:
        if enabled:
            gc.enable()
    return g


def _read_keras_zip(path: str, allow_code: bool, folder: bool = False) -> ModelGraph:
    """A ``.keras`` zip, or (``folder``) the same members saved unzipped in a folder."""
    where = "folder" if folder else "archive"
    with (KerasDirectory(path) if folder else KerasArchive(path)) as ar:
        if "config.json" not in ar.members:
            raise BadModelFile(f"{where} has no config.json (not a Keras .keras file)", path)
        config = ar.read_json("config.json")
        meta = ar.read_json("metadata.json") if "metadata.json" in ar.members else {}
        if not isinstance(meta, dict):
            meta = {}
        audit = _audit(config, path)

        def body(root: Any) -> ModelGraph:
            with_path(path, check_hdf5, root, "model.weights.h5")
            layers_group = with_path(path, h5_errors(_hard_group), root, "layers")

            def container(entries: list[tuple[str, str]]) -> V3Container:
                return with_path(path, V3Container, layers_group, entries)

            return _graph_from_config(config, container, path,
                                      opaque_weights=lambda: assemble(with_path(path, v3_entries, root)))

        stream = ar.open_weights()
        unread = next((w for w in ("model.weights.json", "model.weights.npz") if w in ar.members), None)
        if folder and isinstance(config, dict) and not is_model_config(config):
            # a keras-hub preset, or a custom model class saved unzipped: the weight tree
            _check_class(config, path)
            g = read_folder(ar, config, meta, path)
            g.meta.update(opaque=True, hint=LOAD_HINT)
            g.meta["notes"] = [NO_EDGES, *(g.meta.get("notes") or [])]
        elif stream is None and unread is not None:
            # sharded (model.weights.json + shards) or weights_format="npz": the graph without
            # parameter counts, and --load (whose static check this also is) reads them with Keras
            g = _graph_from_config(config, None, path, opaque_weights=lambda: None)
            g.meta["notes"] = [f"weights stored as {unread} are not read statically: parameter counts "
                               "unknown (--load reads them with Keras)"]
        elif stream is None:
            raise BadModelFile(f"{where} has no model.weights.h5 (weights missing)", path)
        else:
            g = read_hdf5(path, stream, body, "model.weights.h5 is not readable HDF5")
    g.meta.update(source=path, format="keras-v3-folder" if folder else "keras-v3",
                  keras_version=_meta_str(meta.get("keras_version")), date_saved=_meta_str(meta.get("date_saved")))
    _annotate(g, audit, path, allow_code)
    return g


def _read_h5(path: str, allow_code: bool) -> ModelGraph:
    def body(root: Any) -> tuple[ModelGraph, Any]:
        with_path(path, check_hdf5, root, "HDF5 file")
        raw = with_path(path, h5_errors(read_text_attr), root, "model_config")
        if raw is None:
            return _weights_only(root, path), None
        if isinstance(raw, bytes):
            data = raw
        elif isinstance(raw, str):
            data = raw.encode("utf-8", "surrogateescape")
        else:
            raise BadModelFile("model_config attribute is not a string", path)
        config = parse_json(data, "model_config", path)
        audit = _audit(config, path)
        mw = with_path(path, h5_errors(_hard_group), root, "model_weights")
        g = _graph_from_config(config, LegacyContainer(mw if mw is not None else root), path,
                               opaque_weights=lambda: None)
        kv = with_path(path, h5_errors(read_text_attr), root, "keras_version")
        backend = with_path(path, h5_errors(read_text_attr), root, "backend")
        g.meta.update(keras_version=_meta_str(kv), backend=_meta_str(backend))
        return g, audit

    with open(path, "rb") as f:
        g, audit = read_hdf5(path, f, body, "not a readable HDF5 file")
    g.meta.update(source=path)
    g.meta.setdefault("format", "h5-legacy")
    _annotate(g, audit, path, allow_code)
    return g


def _hard_group(root: Any, name: str) -> Any | None:
    obj = root.get(name)
    return obj if is_group(obj) else None


def _meta_str(v: Any) -> str | None:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if not isinstance(v, str):
        return None
    return one_line(v, 64)


def _audit(config: Any, path: str) -> Any:
    return audit_config(config, path)


def _annotate(g: ModelGraph, audit: Any, path: str, allow_code: bool) -> None:
    """File-level notes and warnings from the nodes' flags; warnings are logged once.

    Lambda bytecode is refused (UnsafeModel) unless ``allow_code``: a file carrying code is
    treated as hostile by default, and showing it is an explicit choice."""
    code, functions, custom = [], [], []
    stack = [g]
    while stack:
        sub = stack.pop()
        stack.extend(sub.subgraphs.values())
        for nid, a in sub.store.nodes(data=True):
            if a.get("call_index", 0):
                continue
            if a.get("code"):
                code.append(a["name"])
            elif a.get("function"):
                functions.append(f"{a['name']} ({a['function']})")
            if a.get("custom"):
                custom.append(f"{a['name']} ({a.get('class_name')})")
    warnings: list[str] = []
    notes: list[str] = list(g.meta.get("notes") or [])
    if code:
        found = (f"{_count(code, 'Lambda layer')} hold{'s' if len(code) == 1 else ''} marshalled Python "
                 f"bytecode ({_names(code)})")
        if not allow_code:
            raise UnsafeModel(f"{found} — refusing; nothing was decoded or run. --allow-code shows the model with "
                              "those layers flagged (the code still never runs); --load --unsafe runs it (only for "
                              "files you trust)", path)
        warnings.append(f"{found}: shown, never decoded or run; loading this file with Keras "
                        "runs that code (only with --load --unsafe, for files you trust)")
    if functions:
        warnings.append(f"{_count(functions, 'layer')} call{'s' if len(functions) == 1 else ''} a named Python "
                        f"function ({_names(functions)}): not imported or run here")
    if custom:
        notes.append(f"{_count(custom, 'layer')} of classes unknown to the inspector ({_names(custom)}): shown "
                     "as unknown layers; shapes not saved in the file are '?'")
    if warnings:
        g.meta["warnings"] = warnings
        for w in warnings:
            log.warning("warning: %s: %s", one_line(path, 300), one_line(w))
    if notes:
        g.meta["notes"] = notes


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(one_line(x, 60) for x in items[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")


def _check_class(config: Any, path: str) -> None:
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise BadModelFile("config is not a Keras model config (no class_name)", path)
    if not displayable(config["class_name"]):
        raise BadGraph(f"the model's class name has control characters or bidirectional overrides ({quote(config['class_name'])})", path)


def _graph_from_config(config: Any, weights: Any, path: str, opaque_weights: Any) -> ModelGraph:
    _check_class(config, path)
    if config["class_name"] in ("Functional", "Sequential") and not is_model_config(config):
        raise BadGraph(f"the config is a {config['class_name']} model without a layer list", path)
    if is_model_config(config):
        try:
            return build_graph(config, weights, path)
        except RecursionError:
            raise BadModelFile("config is nested too deeply", path) from None
    return _opaque(config, path, opaque_weights())


def _opaque(config: dict, path: str, tree: TreeNode | None) -> ModelGraph:
    """A model whose config is a custom class with no layer list: one node holding the whole
    model, its weight tree as nested graphs (None: weights not read, counts unknown), a hint."""
    name = str((config.get("config") or {}).get("name") or config["class_name"]) if isinstance(config.get("config"), dict) else config["class_name"]
    if not displayable(name):
        raise BadGraph(f"the model's name has control characters or bidirectional overrides ({quote(name)})", path)
    root = tree or TreeNode("", "", name)
    root.name, root.class_name = name, config["class_name"]
    mark(root, config)
    name_classes(root, config)
    prune(root)
    g = to_graph(root, name, config["class_name"], config, config.get("module"))
    if tree is None:
        node = g.store.nodes[name]
        node["params_trainable"] = node["params_non_trainable"] = node["weights"] = None
    else:
        g.meta["notes"] = [NO_EDGES]
    g.meta["opaque"] = True
    g.meta["hint"] = LOAD_HINT
    return g


def _weights_only(root: Any, path: str) -> ModelGraph:
    """A weights-only HDF5 file (Keras 3 ``*.weights.h5``; Keras 2 / tf-keras ``save_weights``
    with ``layer_names``): its weight tree, and a note that the architecture is not in it."""
    legacy = root if "layer_names" in root.attrs else None
    mw = with_path(path, h5_errors(_hard_group), root, "model_weights")
    if legacy is None and mw is not None and "layer_names" in mw.attrs:
        legacy = mw
    if legacy is not None:
        tree, fmt = with_path(path, legacy_tree, legacy), "h5-weights"
    elif is_group(root.get("vars")) or is_group(root.get("layers")):
        tree, fmt = assemble(with_path(path, v3_entries, root)), "keras-v3-weights"
    else:
        raise BadModelFile("HDF5 file has no model_config attribute and no Keras weights (not a Keras "
                           "model or weights file)", path)
    mark(tree, None)
    prune(tree)
    name = tree.name or os.path.basename(path)
    g = to_graph(tree, name, "?")
    g.meta.update(format=fmt, notes=[WEIGHTS_ONLY, NO_EDGES], weights_only=True)
    return g
