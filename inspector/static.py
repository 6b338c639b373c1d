"""The static reader: `.keras` and legacy `.h5` files → :class:`ModelGraph`.

Uses json, zipfile and h5py only. No TensorFlow or Keras import, and nothing
from the file is executed or deserialised into objects: class names, modules
and Lambda bytecode are only ever treated as text.
"""
from __future__ import annotations

import os
from typing import Any

from .archive import KerasArchive, parse_json, sniff
from .config_graph import build_graph, is_model_config
from .errors import BadModelFile
from .graph import ModelGraph
from .weights import LegacyContainer, V3Container, WeightInfo

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
            layers_group = h5.get("layers")

            def container(entries: list[tuple[str, str]]) -> V3Container:
                return V3Container(layers_group, entries)

            g = _graph_from_config(config, container, path, opaque_weights=lambda: _v3_tree(h5))
    g.meta.update(source=path, format="keras-v3",
                  keras_version=meta.get("keras_version"), date_saved=meta.get("date_saved"))
    return g


def _read_h5(path: str) -> ModelGraph:
    import h5py

    try:
        f = h5py.File(path, "r")
    except Exception as e:
        raise BadModelFile(f"not a readable HDF5 file ({_short(e)}; truncated?)", path) from None
    with f:
        raw = f.attrs.get("model_config")
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
        mw = f.get("model_weights")
        if mw is not None and not isinstance(mw, h5py.Group):
            mw = None
        g = _graph_from_config(config, LegacyContainer(mw if mw is not None else f), path,
                               opaque_weights=lambda: {})
        kv = f.attrs.get("keras_version")
        backend = f.attrs.get("backend")
    g.meta.update(source=path, format="h5-legacy",
                  keras_version=kv.decode() if isinstance(kv, bytes) else kv,
                  backend=backend.decode() if isinstance(backend, bytes) else backend)
    return g


def _graph_from_config(config: Any, weights: Any, path: str, opaque_weights: Any) -> ModelGraph:
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise BadModelFile("config is not a Keras model config (no class_name)", path)
    if is_model_config(config):
        try:
            return build_graph(config, weights, path)
        except RecursionError:
            raise BadModelFile("config is nested too deeply", path) from None
    return _opaque(config, path, opaque_weights())


def _opaque(config: dict, path: str, tree: dict[str, list[WeightInfo]]) -> ModelGraph:
    """A model whose config is a custom class with no layer list: one node, its weights, a hint."""
    name = str((config.get("config") or {}).get("name") or config["class_name"]) if isinstance(config.get("config"), dict) else config["class_name"]
    g = ModelGraph(name=name, class_name=config["class_name"])
    weights = [w for ws in tree.values() for w in ws]
    g.add_node(name, name=name, class_name=config["class_name"], module=config.get("module"),
               registered_name=config.get("registered_name"), kind="model", call_index=0, num_calls=1,
               config=config.get("config") if isinstance(config.get("config"), dict) else {},
               activation=None, trainable=True, input_shapes=[], output_shapes=[], output_dtypes=[],
               weights=[w.as_dict() for w in weights],
               params_trainable=sum(_numel(w.shape) for w in weights), params_non_trainable=0,
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
    while stack:
        prefix, grp = stack.pop()
        for key in sorted(grp.keys()):
            link = grp.get(key, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            obj = grp[key]
            if isinstance(obj, h5py.Dataset):
                parent = prefix.rstrip("/")
                parent = parent[:-5] if parent.endswith("/vars") else parent
                tree.setdefault(parent or "/", []).append(
                    WeightInfo(name=prefix + key, shape=tuple(int(d) for d in obj.shape or ()), dtype=str(obj.dtype)))
                count += 1
                if count > 1_000_000:
                    return tree
            elif isinstance(obj, h5py.Group):
                stack.append((prefix + key + "/", obj))
    return tree


def _numel(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return s[:160]
