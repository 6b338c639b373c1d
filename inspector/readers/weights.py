"""Weight shapes from HDF5 weight files, read without loading any weight data.

Two layouts exist:

* Keras 3 `.keras` archives (``model.weights.h5``): ``layers/<key>/vars/<i>``,
  where ``<key>`` is the snake-cased *class* name with a per-class counter
  (``dense``, ``dense_1``...; see keras ``saving_lib._save_container_state``),
  in ``model.layers`` order. Newer Keras also writes the layer's name as the
  ``name`` attribute of its ``vars`` group, which we prefer when present.
  Sub-layers of a layer live under their attribute names
  (``multi_head_attention/query_dense/vars/0``); nested models under
  ``<key>/layers/...``.
* Legacy full-model ``.h5`` (Keras 2, tf-keras and Keras 3's legacy saver):
  ``model_weights/<layer name>`` with a ``weight_names`` attribute listing the
  datasets, relative to that group, in the layer's weight order.

Only ``Dataset.shape``/``dtype`` are touched, so a 360 MB file costs a few
metadata reads. Which weights are non-trainable is not stored in either
layout; :func:`is_trainable` knows the Keras layers that own non-trainable
state (BatchNormalization's moving statistics, Normalization's statistics).

The objects come from :mod:`inspector.readers.hdf5.lite` (pure Python, in-process) or, for files it
does not support, from an h5py snapshot taken in a child process
(:mod:`inspector.readers.hdf5.snapshot`); both offer the same small interface (``get``, ``items``,
``walk``, ``attrs``, ``shape``, ``dtype``, ``addr``).

Hostile files: :func:`check_hdf5` refuses soft, external and user-defined links
(never followed: an external link would make HDF5 open another file), datasets with
external raw storage or virtual (multi-file) layouts, and more objects than
:data:`MAX_H5_OBJECTS`; every walk sees each object once (hard-link loops end), and
absurd shapes are refused. Errors on corrupt files become
:class:`~inspector.errors.BadModelFile`.
What each Keras layer class stores (names, trainable flags, shapes implied by its config)
is in :mod:`inspector.layers.weight_layout`.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, TypeVar

from inspector.errors import BadModelFile, InspectorError, TooLarge, UnsafeModel, WeightsMismatch, quote
from inspector.layers.weight_layout import WeightInfo, _strip_var_suffix, numel
from inspector.readers.hdf5.lite import Dataset as LiteDataset
from inspector.readers.hdf5.lite import ExternalLink, H5Unsupported, SoftLink
from inspector.readers.hdf5.lite import Group as LiteGroup
from inspector.readers.hdf5.snapshot import AttrTooLarge, SnapDataset, SnapGroup, UserLink
from inspector.readers.limits import (
    MAX_ATTR_BYTES,
    MAX_ATTR_ITEMS,
    MAX_DATASET_ELEMENTS,
    MAX_DATASET_RANK,
    MAX_H5_OBJECTS,
    MAX_WEIGHT_ENTRIES,
)

F = TypeVar("F", bound=Callable[..., Any])

#: Group and dataset types of the two metadata readers (h5lite in-process; an h5py
#: snapshot taken in a child process for files h5lite does not support).
GROUPS = (LiteGroup, SnapGroup)
DATASETS = (LiteDataset, SnapDataset)


def is_group(obj: Any) -> bool:
    return isinstance(obj, GROUPS)


def is_dataset(obj: Any) -> bool:
    return isinstance(obj, DATASETS)


def h5_errors(fn: F) -> F:
    """Turn the errors raised on corrupt or truncated HDF5 files (h5lite's H5Corrupt is a
    ValueError) into BadModelFile. H5Unsupported passes: the reader retries with h5py."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InspectorError, MemoryError, RecursionError, H5Unsupported):
            raise
        except (OSError, KeyError, RuntimeError, ValueError, TypeError, SystemError, IndexError) as e:
            text = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise BadModelFile(f"the weights file is corrupt or truncated ({text})") from None

    return wrapper  # type: ignore[return-value]


def read_text_attr(obj: Any, name: str) -> Any:
    """A text attribute (a string, or a list of strings) of an HDF5 object, or None if absent.

    ``[]`` for an empty array (tf-keras writes one, as float64, for layers without weights).
    Anything but text is refused: the h5py fallback checks the type before reading a value
    (libhdf5 has crashed and hung converting corrupted attributes), h5lite decodes only
    plain strings and numbers."""
    attrs = obj.attrs
    if name not in attrs:
        return None
    value = attrs[name]
    where = f"attribute {quote(name)} of {quote(obj.name)}"
    if isinstance(value, AttrTooLarge):
        raise TooLarge(f"{where} {value.what}")
    if isinstance(value, list) and not value:
        return []
    if isinstance(value, (str, bytes)):
        if len(value) > MAX_ATTR_BYTES:
            raise TooLarge(f"{where} is {len(value)} bytes (limit {MAX_ATTR_BYTES})")
        return value
    if isinstance(value, list) and all(isinstance(v, (str, bytes)) for v in value):
        if len(value) > MAX_ATTR_ITEMS:
            raise TooLarge(f"{where} holds too many values")
        return value
    raise BadModelFile(f"{where} is not text (corrupt file?)")


@h5_errors
def check_hdf5(root: Any, what: str = "weights file") -> None:
    """Refuse soft/external/user-defined links, external or virtual dataset storage and
    absurd object counts; nothing is followed. (Hard-link loops are harmless: every walk
    sees each object once.)"""
    for count, (path, obj) in enumerate(root.walk(), 1):
        if count > MAX_H5_OBJECTS:
            raise TooLarge(f"{what} holds more than {MAX_H5_OBJECTS:,} objects")
        name = path.lstrip("/")
        if isinstance(obj, ExternalLink):
            raise UnsafeModel(f"{what} has an external link {quote(name)} to {quote(obj.filename)}:"
                              f"{quote(obj.path)}; HDF5 would open that other file — refusing (no link was followed)")
        if isinstance(obj, SoftLink):
            raise UnsafeModel(f"{what} has a soft link {quote(name)} to {quote(obj.path)}; Keras never writes "
                              "links — refusing (no link was followed)")
        if isinstance(obj, UserLink):
            raise UnsafeModel(f"{what} has a user-defined link {quote(name)} — refusing (no link was followed)")
        storage = getattr(obj, "storage", None)
        if storage == "virtual":
            raise UnsafeModel(f"weight {quote(name)} is a virtual dataset (its data can come from other files) "
                              "— refusing (it was not read)")
        if storage:
            raise UnsafeModel(f"weight {quote(name)} keeps its data in another file "
                              f"({quote(storage.partition(':')[2])}, HDF5 external storage); Keras would read "
                              "that file — refusing (it was not read)")


def to_snake_case(name: str) -> str:
    """Keras's ``naming.to_snake_case`` (how weight groups are keyed)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def _dataset_info(ds: Any, name: str) -> WeightInfo:
    shape = tuple(int(d) for d in (ds.shape or ()))
    if len(shape) > MAX_DATASET_RANK or numel(shape) > MAX_DATASET_ELEMENTS:
        raise TooLarge(f"weight {quote(name)} has an absurd shape {shape!r:.120}")
    try:
        dtype = str(ds.dtype)
    except Exception:  # exotic/unsupported HDF5 types: shapes still count
        dtype = "unknown"
    return WeightInfo(name=name, shape=shape, dtype=dtype)


class V3Container:
    """Maps a Keras 3 weights ``layers`` group to the model's layers."""

    def __init__(self, group: Any | None, entries: list[tuple[str, str]]):
        """``entries``: (layer name, class name) of the saved layers, in ``model.layers`` order."""
        self.by_name: dict[str, Any] = {}
        # strict: every layer's group must be present (Keras 3 writes one per layer, weights or not)
        self.strict = True
        if group is None or not is_group(group):
            return
        self._index(group, entries)

    @h5_errors
    def _index(self, group: Any, entries: list[tuple[str, str]]) -> None:
        named: dict[str, Any] = {}
        for _, sub in _hard_items(group):
            vars_group = _hard(sub, "vars") if is_group(sub) else None
            if is_group(vars_group):
                owner = read_text_attr(vars_group, "name")
                if owner is not None:
                    named[_attr_str(owner)] = sub
        used: dict[str, int] = {}
        for name, class_name in entries:
            if name in named:
                self.by_name[name] = named[name]
                continue
            key = to_snake_case(class_name)
            if key in used:
                used[key] += 1
                key = f"{key}_{used[key]}"
            else:
                used[key] = 0
            sub = _hard(group, key)
            if is_group(sub):
                vars_group = _hard(sub, "vars")
                owner = read_text_attr(vars_group, "name") if is_group(vars_group) else None
                if owner is not None and _attr_str(owner) != name:
                    continue  # that group is another layer's (its vars name it)
                self.by_name[name] = sub

    @h5_errors
    def weights(self, name: str) -> list[WeightInfo] | None:
        """Every dataset under the layer's group (sub-layers included), in save order."""
        g = self.by_name.get(name)
        if g is None:
            return None
        out: list[WeightInfo] = []
        stack: list[tuple[str, Any]] = [("", g)]
        seen: set[Any] = set()
        while stack:  # iterative: deep nesting must not hit the recursion limit
            prefix, grp = stack.pop()
            if grp.addr in seen:  # a group reached twice: never walk in circles
                continue
            seen.add(grp.addr)
            if len(seen) > MAX_H5_OBJECTS:
                raise TooLarge("the weights file nests more groups than the reader accepts")
            items = sorted(_hard_items(grp), key=lambda kv: _sort_key(kv[0]))  # links never followed
            # datasets of this group first (numeric order), then subgroups
            for key, obj in items:
                if is_dataset(obj):
                    out.append(_dataset_info(obj, prefix + key))
                    if len(out) > MAX_WEIGHT_ENTRIES:
                        raise TooLarge(f"layer {quote(name)} has more than {MAX_WEIGHT_ENTRIES:,} weight datasets")
            for key, obj in reversed(items):
                if is_group(obj) and not key.startswith("seed_generator"):
                    stack.append((prefix + key + "/", obj))
        return out

    @h5_errors
    def nested(self, name: str, entries: list[tuple[str, str]],
               within: dict[str, set[str]] | None = None) -> "V3Container":
        g = self.by_name.get(name)
        sub = _hard(g, "layers") if g is not None else None
        return V3Container(sub, entries)


def _hard(group: Any, key: str) -> Any | None:
    """The group or dataset ``group[key]`` names, or None (links are never followed)."""
    obj = group.get(key)
    return obj if is_group(obj) or is_dataset(obj) else None


def _hard_items(group: Any) -> list[tuple[str, Any]]:
    """(name, object) of the group's hard links (soft/external links are skipped, never followed)."""
    return [(k, obj) for k, obj in group.items() if is_group(obj) or is_dataset(obj)]


def _sort_key(k: str) -> tuple[int, int, str]:
    """Numeric keys in numeric order (vars/10 after vars/9), then the others by name."""
    return (0, int(k), "") if k.isascii() and k.isdigit() else (1, 0, k)


def _attr_str(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


class LegacyContainer:
    """Legacy ``model_weights`` layout: a group per layer name with ``weight_names``."""

    def __init__(self, group: Any | None, prefix_map: dict[str, list[tuple[str, Any]]] | None = None):
        self.group = group
        self.prefix_map = prefix_map  # for nested models: inner name -> [(weight name, dataset)]
        # strict: a top-level weights group lists every layer; nested splits are best-effort
        self.strict = group is not None and prefix_map is None

    @h5_errors
    def _datasets(self, name: str) -> list[tuple[str, Any]] | None:
        if self.prefix_map is not None:
            return self.prefix_map.get(name)
        if self.group is None:
            return None
        g = _hard(self.group, name)
        if not is_group(g):
            return None
        names = read_text_attr(g, "weight_names")
        if names is None:
            names = []
        if isinstance(names, (str, bytes)):
            names = [names]
        out = []
        for wn in list(names)[:MAX_WEIGHT_ENTRIES]:
            wn = _attr_str(wn)
            link = _get_hard(g, wn)
            if link is None:
                raise WeightsMismatch(f"layer {quote(name)} lists weight {quote(wn)} that is missing from the "
                                      "weights file")
            out.append((wn, link))
        return out

    @h5_errors
    def weights(self, name: str) -> list[WeightInfo] | None:
        ds = self._datasets(name)
        if ds is None:
            return None
        return [_dataset_info(d, _strip_var_suffix(wn)) for wn, d in ds]

    @h5_errors
    def nested(self, name: str, entries: list[tuple[str, str]],
               within: dict[str, set[str]] | None = None) -> "LegacyContainer":
        """The nested model's weights, split by its own layers.

        Weight names are paths whose leading parts may be model scopes (Keras 3 writes
        ``inner/dense/kernel`` for a layer of a nested Sequential ``inner``; tf-keras
        ``dense/kernel:0``): the first part that names one of the nested model's layers is the
        layer. A model nested one level deeper may be left out of the path (``inner_d/kernel``
        for layer ``inner_d`` of model ``inner``): ``within`` maps each nested model among
        ``entries`` to the layer names inside it, and such a weight goes to that model whole.
        """
        inner = {n for n, _ in entries}
        owner = {leaf: m for m, leaves in (within or {}).items() for leaf in leaves}
        split: dict[str, list[tuple[str, Any]]] = {}
        for wn, d in self._datasets(name) or []:
            parts = wn.split("/")
            at = next((i for i, p in enumerate(parts[:-1]) if p in inner), None)
            if at is not None:
                split.setdefault(parts[at], []).append(("/".join(parts[at + 1:]), d))
                continue
            deep = next((i for i, p in enumerate(parts[:-1]) if p in owner), None)
            if deep is not None:
                split.setdefault(owner[parts[deep]], []).append(("/".join(parts[deep:]), d))
            else:
                head, _, rest = wn.partition("/")
                split.setdefault(head, []).append((rest or head, d))
        return LegacyContainer(None, split)


def _get_hard(g: Any, path: str) -> Any | None:
    """Follow ``path`` inside ``g`` through hard links only (never soft/external)."""
    cur = g
    for part in [p for p in path.split("/") if p]:
        if not is_group(cur):
            return None
        cur = _hard(cur, part)
        if cur is None:
            return None
    return cur if is_dataset(cur) else None


