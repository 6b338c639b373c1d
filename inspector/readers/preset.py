"""keras-hub preset folders and sharded weights, read as a weight tree (no Keras import).

A preset (``backbone.save_to_preset(dir)``, keras-hub's ``preset_utils``) is a folder with the
backbone's ``config.json`` and ``metadata.json``, its weights in ``model.weights.h5`` or, past
``max_shard_size``, a ``model.weights.json`` index whose ``weight_map`` maps each ``vars`` group
(``/layers/dense/vars``) to the shard file(s) holding it (``model_00000.weights.h5`` ...; Keras's
``saving_lib.ShardedH5IOStore``); a task adds ``task.json`` and, when it has weights of its own,
``task.weights.h5`` (the task's tree without the backbone); ``preprocessor.json`` and
``tokenizer.json`` (with ``assets/tokenizer/``) name the preprocessing classes.

Untrusted folders: a shard must be a plain file name in the folder (``../x.h5``, an absolute
path or a symbolic link are refused before anything is opened); every shard named must
exist, and hold exactly what the index says it holds.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from inspector.errors import BadModelFile, TooLarge, UnsafeModel, WeightsMismatch, displayable, one_line, quote
from inspector.readers.archive import parse_json, unsafe_member_name
from inspector.readers.limits import MAX_JSON_BYTES, MAX_MEMBERS
from inspector.readers.weight_tree import TreeNode, assemble, mark, merge_entries, prune, to_graph, v3_entries
from inspector.readers.weights import check_hdf5, to_snake_case

PRESET_FILES = ("task.json", "preprocessor.json", "tokenizer.json")
#: Vocabulary files keras-hub tokenizers save in ``assets/<config name>/``, by how they are counted.
_VOCABULARIES = ("vocabulary.txt", "vocabulary.json", "vocabulary.spm")


def is_preset(members: Any, meta: dict) -> bool:
    return any(n in members for n in PRESET_FILES) or bool(meta.get("keras_hub_version"))


def read_folder(folder: Any, config: dict, meta: dict, path: str) -> Any:
    """A preset (or any folder save whose config holds no layer graph) as a weight tree."""
    backbone = weights_tree(folder, "model", path)
    task_cfg = folder.read_json("task.json") if "task.json" in folder.members else None
    if backbone is not None:
        _name_root(backbone, config)
        mark(backbone, config)
    if isinstance(task_cfg, dict) and isinstance(task_cfg.get("class_name"), str):
        root = weights_tree(folder, "task", path) or TreeNode("", "", "")
        _name_root(root, task_cfg)
        mark(root, task_cfg)
        if backbone is not None:
            root.children.insert(0, _graft(backbone, config))
        top, top_cfg = root, task_cfg
    else:
        top, top_cfg = backbone, config
    if top is None:
        g = to_graph(TreeNode("", "", ""), *_names(config), config, config.get("module"))
        node = g.store.nodes[g.name]
        node["params_trainable"] = node["params_non_trainable"] = node["weights"] = None
        g.meta["notes"] = ["the folder holds no model.weights.h5 or model.weights.json: parameter counts unknown"]
        return g
    prune(top)
    g = to_graph(top, top.name, top.class_name or "?", top_cfg, top_cfg.get("module"))
    if is_preset(folder.members, meta):
        info = g.meta["preset"] = _describe(folder, config, task_cfg, path)
        g.meta["notes"] = [preset_note(info)]
    return g


def preset_note(info: dict[str, Any]) -> str:
    """One line naming what the preset holds: ``keras-hub preset: task X, backbone Y, ...``."""
    parts = [f"{key} {info[key]}" for key in ("task", "backbone", "preprocessor", "tokenizer") if info.get(key)]
    if info.get("tokenizer"):
        size = info.get("vocabulary_size")
        parts[-1] += f" (vocabulary of {size:,} entries)" if size is not None else " (vocabulary size unknown)"
    return "keras-hub preset: " + ", ".join(parts)


def _names(config: dict) -> tuple[str, str]:
    cfg = config.get("config") if isinstance(config.get("config"), dict) else {}
    name, cls = cfg.get("name"), config.get("class_name")
    cls = cls if isinstance(cls, str) and displayable(cls) else "?"
    name = name if isinstance(name, str) and name and displayable(name) else cls
    return one_line(name, 200), one_line(cls, 200)


def _name_root(root: TreeNode, config: dict) -> None:
    root.name, root.class_name = _names(config)


def _graft(backbone: TreeNode, config: dict) -> TreeNode:
    """The backbone as the task's child, where a task's own save puts it (``layers/<class>``)."""
    key = to_snake_case(backbone.class_name or "backbone")
    for node in backbone.walk():
        node.path = f"layers/{key}/{node.path}".rstrip("/")
    backbone.attribute, backbone.class_key = f"layers/{key}", key
    return backbone


# --------------------------------------------------------------------------- weights
def weights_tree(folder: Any, stem: str, path: str) -> TreeNode | None:
    """``<stem>.weights.h5``, or the shards its ``<stem>.weights.json`` index names, as a tree;
    None when the folder has neither."""
    single, index = f"{stem}.weights.h5", f"{stem}.weights.json"
    if single in folder.members:
        entries = _read_shard(folder, single, path)
    elif index in folder.members:
        entries = read_sharded(folder, folder.read_json(index), index, path)
    else:
        return None
    return assemble(entries)


def _read_shard(folder: Any, name: str, path: str) -> dict[str, TreeNode]:
    from inspector.readers.hdf5_file import read_hdf5, with_path

    def body(root: Any) -> dict[str, TreeNode]:
        with_path(path, check_hdf5, root, name)
        return with_path(path, v3_entries, root, name)

    return read_hdf5(path, folder.open_weights(name), body, f"{name} is not readable HDF5")


def shard_names(index: Any, what: str, path: str) -> dict[str, list[str]]:
    """The index's ``weight_map`` (vars group → shard files), every file name checked to be a
    plain name in the index's folder."""
    wmap = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(wmap, dict):
        raise BadModelFile(f"{what} has no weight_map (not a Keras sharded-weights index)", path)
    out: dict[str, list[str]] = {}
    for key, files in wmap.items():
        files = [files] if isinstance(files, str) else files
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise BadModelFile(f"{what}: the shard of {quote(key)} is not a file name", path)
        for f in files:
            why = unsafe_member_name(f) or ("a folder in its path" if "/" in f or "\\" in f else None)
            if why or f in (".", ".."):
                raise UnsafeModel(f"{what} names a shard outside its folder ({quote(f)}: {why or 'not a file'}) — "
                                  "refusing (nothing was read)", path)
        out[key] = files
    if len({f for fs in out.values() for f in fs}) > MAX_MEMBERS:
        raise TooLarge(f"{what} names more than {MAX_MEMBERS} shards", path)
    return out


def read_sharded(folder: Any, index: Any, what: str, path: str) -> dict[str, TreeNode]:
    """Every shard the index names (each checked before any is opened), merged and checked:
    each shard holds exactly the vars groups the index places in it."""
    wmap = shard_names(index, what, path)
    names = list(dict.fromkeys(f for fs in wmap.values() for f in fs))
    for name in names:
        if not folder.add_member(name, missing_ok=True):
            raise BadModelFile(f"shard {quote(name)} named by {what} is missing", path)
    entries = merge_entries([_read_shard(folder, name, path) for name in names])
    held: set[tuple[str, str]] = set()
    for node in entries.values():
        for w in node.weights:
            key = "/" + "/".join(p for p in (node.path, w.name.rpartition("/")[0]) if p)
            shard = node.shards[w.name]
            if shard not in wmap.get(key, ()):
                raise WeightsMismatch(f"shard {quote(shard)} holds {quote(key)}, which {what} does not place there",
                                      path)
            held.add((key, shard))
    for key, files in wmap.items():
        for f in files:
            if (key, f) not in held:
                raise WeightsMismatch(f"{what} places {quote(key)} in shard {quote(f)}, which does not hold it", path)
    return entries


def read_weights_index(path: str) -> Any:
    """A weights-only sharded save (``model.save_weights("x.weights.json", max_shard_size=...)``)."""
    from inspector.readers.folder import KerasDirectory
    from inspector.readers.weight_tree import NO_EDGES, WEIGHTS_ONLY

    with open(path, "rb") as f:
        data = f.read(MAX_JSON_BYTES + 1)
    what = os.path.basename(path)
    index = parse_json(data, what, path)
    with KerasDirectory(os.path.dirname(os.path.abspath(path)), looked_at=()) as folder:
        root = assemble(read_sharded(folder, index, what, path))
    mark(root, None)
    prune(root)
    g = to_graph(root, root.name or os.path.basename(path), "?")
    g.meta.update(source=path, format="keras-v3-weights-sharded", notes=[WEIGHTS_ONLY, NO_EDGES], weights_only=True)
    return g


# --------------------------------------------------------------------------- what the preset names
def _describe(folder: Any, config: dict, task_cfg: Any, path: str) -> dict[str, Any]:
    """Classes the preset's configs name, and the tokenizer's vocabulary size when known."""
    info: dict[str, Any] = {"backbone": _names(config)[1]}
    if isinstance(task_cfg, dict):
        info["task"] = _names(task_cfg)[1]
    for member, key in (("preprocessor.json", "preprocessor"), ("tokenizer.json", "tokenizer")):
        if member in folder.members:
            cfg = folder.read_json(member)
            if isinstance(cfg, dict):
                info[key] = _names(cfg)[1]
                if key == "tokenizer":
                    info["vocabulary_size"] = _vocabulary_size(folder, cfg, path)
    return info


def _vocabulary_size(folder: Any, cfg: dict, path: str) -> int | None:
    inner = cfg.get("config") if isinstance(cfg.get("config"), dict) else {}
    vocab = inner.get("vocabulary")
    if isinstance(vocab, (list, dict)):
        return len(vocab)
    sub = str(inner.get("config_file") or "tokenizer.json").split(".")[0]
    if unsafe_member_name(sub) or "/" in sub or "\\" in sub:
        return None
    counters: dict[str, Callable[[bytes], int | None]] = {
        "vocabulary.txt": lambda b: len(b.decode("utf-8", "replace").splitlines()),
        "vocabulary.json": lambda b: _json_len(b, path),
        "vocabulary.spm": _spm_pieces,
    }
    for name in _VOCABULARIES:
        member = f"assets/{sub}/{name}"
        if folder.add_member(member, missing_ok=True):
            return counters[name](folder.read_member(member))
    return None


def _json_len(data: bytes, path: str) -> int | None:
    obj = parse_json(data, "the tokenizer's vocabulary.json", path)
    return len(obj) if isinstance(obj, (dict, list)) else None


def _spm_pieces(data: bytes) -> int | None:
    """How many ``pieces`` (field 1) a SentencePiece ``ModelProto`` holds, from the protobuf
    wire format (no protobuf import); None when the bytes do not parse."""
    pos, count = 0, 0
    try:
        while pos < len(data):
            tag, pos = _varint(data, pos)
            wire = tag & 7
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 2:
                size, pos = _varint(data, pos)
                pos += size
                count += tag >> 3 == 1
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            else:
                return None
        return count if pos == len(data) else None
    except IndexError:
        return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")
