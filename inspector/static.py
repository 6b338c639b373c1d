"""The static reader: `.keras` and legacy `.h5` files → :class:`ModelGraph`.

Uses json, zipfile and h5py only. No TensorFlow or Keras import, and nothing
from the file is executed or deserialised into objects: class names, modules
and Lambda bytecode are only ever treated as text.

Untrusted files (see README, "Opening untrusted models"): every read is
capped (:mod:`inspector.archive`), configs naming code-running or
file-fetching callables are refused (:func:`~inspector.config_graph.audit_config`),
HDF5 links are never followed (:func:`~inspector.weights.check_hdf5`) and the
weights must agree with the config. Lambda layers are shown, flagged
``code=True``; their bytecode is never decoded. Warnings (Lambda code) go to
``meta["warnings"]`` and are logged once on the ``inspector`` logger, which
prints ``warning: <file>: ...`` on stderr when logging is not configured.
"""
from __future__ import annotations

import logging
import os
from typing import Any

from .archive import KerasArchive, parse_json, sniff
from .config_graph import audit_config, build_graph, is_model_config
from .errors import BadGraph, BadModelFile, InspectorError, one_line, quote
from .graph import ModelGraph
from .weights import LegacyContainer, V3Container, WeightInfo, _dataset_info, check_hdf5, h5_errors, numel, read_text_attr

log = logging.getLogger("inspector")


LOAD_HINT = ("its config holds no layer graph (a custom model class); "
             "`--load` builds it with Keras to show the graph")


def read_file(path: str) -> ModelGraph:
    """Read a model file without executing anything from it."""
    path = os.fspath(path)
    kind = sniff(path)
    if kind == "zip":
        return _read_keras_zip(path)
    if kind == "hdf5":
        return _read_h5(path)
    raise BadModelFile("not a Keras model file (neither a .keras zip archive nor an HDF5 .h5 file)", path)


def _read_keras_zip(path: str) -> ModelGraph:
    import h5py

    with KerasArchive(path) as ar:
        if "config.json" not in ar.members:
            raise BadModelFile("archive has no config.json (not a Keras .keras file)", path)
        config = ar.read_json("config.json")
        meta = ar.read_json("metadata.json") if "metadata.json" in ar.members else {}
        if not isinstance(meta, dict):
            meta = {}
        audit = _audit(config, path)
        stream = ar.open_weights()
        if stream is None:
            if "model.weights.json" in ar.members:
                raise BadModelFile("sharded weights (model.weights.json) are not supported yet", path)
            raise BadModelFile("archive has no model.weights.h5 (weights missing)", path)
        try:
            h5 = h5py.File(stream, "r")
        except Exception as e:  # h5py raises OSError/ValueError variants on corrupt data
            raise BadModelFile(f"model.weights.h5 is not readable HDF5 ({_short(e)})", path) from None
        with h5:
            _with_path(path, check_hdf5, h5, "model.weights.h5")
            layers_group = _with_path(path, h5_errors(_hard_group), h5, "layers")

            def container(entries: list[tuple[str, str]]) -> V3Container:
                return _with_path(path, V3Container, layers_group, entries)

            g = _graph_from_config(config, container, path,
                                   opaque_weights=lambda: _with_path(path, h5_errors(_v3_tree), h5))
    g.meta.update(source=path, format="keras-v3",
                  keras_version=_meta_str(meta.get("keras_version")), date_saved=_meta_str(meta.get("date_saved")))
    _annotate(g, audit, path)
    return g


def _read_h5(path: str) -> ModelGraph:
    import h5py

    try:
        f = h5py.File(path, "r")
    except Exception as e:
        raise BadModelFile(f"not a readable HDF5 file ({_short(e)}; truncated?)", path) from None
    with f:
        _with_path(path, check_hdf5, f, "HDF5 file")
        raw = _with_path(path, h5_errors(_read_attr), f, "model_config")
        if raw is None:
            if "layers" in f or "model_weights" in f or "layer_names" in f.attrs:
                raise BadModelFile("this is a weights-only file (no model_config); "
                                   "the architecture is not in it", path)
            raise BadModelFile("HDF5 file has no model_config attribute (not a Keras full-model .h5)", path)
        if isinstance(raw, bytes):
            data = raw
        elif isinstance(raw, str):
            data = raw.encode("utf-8", "surrogatepass")
        else:
            raise BadModelFile("model_config attribute is not a string", path)
        config = parse_json(data, "model_config", path)
        audit = _audit(config, path)
        mw = _with_path(path, h5_errors(_hard_group), f, "model_weights")
        g = _graph_from_config(config, LegacyContainer(mw if mw is not None else f), path,
                               opaque_weights=lambda: {})
        kv = _with_path(path, h5_errors(_read_attr), f, "keras_version")
        backend = _with_path(path, h5_errors(_read_attr), f, "backend")
    g.meta.update(source=path, format="h5-legacy", keras_version=_meta_str(kv), backend=_meta_str(backend))
    _annotate(g, audit, path)
    return g


def _read_attr(f: Any, name: str) -> Any:
    """A text attribute of the file's root (type and size checked before reading)."""
    return read_text_attr(f, name)


def _hard_group(f: Any, name: str) -> Any | None:
    import h5py

    link = f.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        return None
    obj = f[name]
    return obj if isinstance(obj, h5py.Group) else None


def _meta_str(v: Any) -> str | None:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if not isinstance(v, str):
        return None
    return one_line(v, 64)


def _with_path(path: str, fn: Any, *args: Any) -> Any:
    """Call ``fn``; an InspectorError it raises without a file name gets ``path``."""
    try:
        return fn(*args)
    except InspectorError as e:
        if e.path is None:
            e.path = path
        raise


def _audit(config: Any, path: str) -> Any:
    return audit_config(config, path)


def _annotate(g: ModelGraph, audit: Any, path: str) -> None:
    """File-level notes and warnings from the nodes' flags; warnings are logged once."""
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
        warnings.append(f"{_count(code, 'Lambda layer')} hold{'s' if len(code) == 1 else ''} marshalled Python "
                        f"bytecode ({_names(code)}): shown, never decoded or run; loading this file with Keras "
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


def _graph_from_config(config: Any, weights: Any, path: str, opaque_weights: Any) -> ModelGraph:
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise BadModelFile("config is not a Keras model config (no class_name)", path)
    if not config["class_name"].isprintable():
        raise BadGraph(f"the model's class name has control characters ({quote(config['class_name'])})", path)
    if config["class_name"] in ("Functional", "Sequential") and not is_model_config(config):
        raise BadGraph(f"the config is a {config['class_name']} model without a layer list", path)
    if is_model_config(config):
        try:
            return build_graph(config, weights, path)
        except RecursionError:
            raise BadModelFile("config is nested too deeply", path) from None
    return _opaque(config, path, opaque_weights())


def _opaque(config: dict, path: str, tree: dict[str, list[WeightInfo]]) -> ModelGraph:
    """A model whose config is a custom class with no layer list: one node, its weights, a hint."""
    name = str((config.get("config") or {}).get("name") or config["class_name"]) if isinstance(config.get("config"), dict) else config["class_name"]
    if not name.isprintable():
        raise BadGraph(f"the model's name has control characters ({quote(name)})", path)
    g = ModelGraph(name=name, class_name=config["class_name"])
    weights = [w for ws in tree.values() for w in ws]
    g.add_node(name, name=name, class_name=config["class_name"], module=config.get("module"),
               registered_name=config.get("registered_name"), kind="model", call_index=0, num_calls=1,
               config=config.get("config") if isinstance(config.get("config"), dict) else {},
               activation=None, trainable=True, input_shapes=[], output_shapes=[], output_dtypes=[],
               weights=[w.as_dict() for w in weights],
               params_trainable=sum(numel(w.shape) for w in weights), params_non_trainable=0,
               macs=None, activation_bytes=None, opaque=True)
    g.meta["opaque"] = True
    g.meta["hint"] = LOAD_HINT
    g.meta["weight_tree"] = {k: [w.as_dict() for w in ws] for k, ws in tree.items()}
    return g


def _v3_tree(h5: Any) -> dict[str, list[WeightInfo]]:
    """Every dataset of a weights file grouped by its parent path (for opaque models)."""
    import h5py

    tree: dict[str, list[WeightInfo]] = {}
    stack = [("", h5)]
    count = 0
    seen: set[Any] = set()
    while stack:
        prefix, grp = stack.pop()
        if grp.id in seen:  # a group hard-linked twice: walk it once, never in circles
            continue
        seen.add(grp.id)
        for key in sorted(grp.keys()):
            link = grp.get(key, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            obj = grp[key]
            if isinstance(obj, h5py.Dataset):
                parent = prefix.rstrip("/")
                parent = parent[:-5] if parent.endswith("/vars") else parent
                tree.setdefault(parent or "/", []).append(_dataset_info(obj, prefix + key))
                count += 1
                if count > 1_000_000:
                    return tree
            elif isinstance(obj, h5py.Group):
                stack.append((prefix + key + "/", obj))
    return tree




def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return s[:160]
