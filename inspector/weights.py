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
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

#: Weight display names of common Keras 3 layers, by class, in variable order.
_V3_NAMES = {
    "Dense": ["kernel", "bias"],
    "Embedding": ["embeddings"],
    "LayerNormalization": None,  # depends on scale/center
    "BatchNormalization": None,
}
_CONV = re.compile(r"^(Conv\dD(Transpose)?|Convolution\dD)$")

MAX_WEIGHT_ENTRIES = 1_000_000


@dataclass
class WeightInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    trainable: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "trainable": self.trainable}


def to_snake_case(name: str) -> str:
    """Keras's ``naming.to_snake_case`` (how weight groups are keyed)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def _dataset_info(ds: Any, name: str) -> WeightInfo:
    shape = tuple(int(d) for d in (ds.shape or ()))
    try:
        dtype = str(ds.dtype)
    except Exception:  # exotic/unsupported HDF5 types: shapes still count
        dtype = "unknown"
    return WeightInfo(name=name, shape=shape, dtype=dtype)


class V3Container:
    """Maps a Keras 3 weights ``layers`` group to the model's layers."""

    def __init__(self, group: Any | None, entries: list[tuple[str, str]]):
        """``entries``: (layer name, class name) of the saved layers, in ``model.layers`` order."""
        import h5py

        self._h5py = h5py
        self.by_name: dict[str, Any] = {}
        if group is None or not isinstance(group, h5py.Group):
            return
        keys = list(group.keys())
        named: dict[str, Any] = {}
        for key in keys:
            sub = group.get(key, getlink=False)
            vars_group = sub.get("vars") if isinstance(sub, h5py.Group) else None
            if isinstance(vars_group, h5py.Group) and "name" in vars_group.attrs:
                named[_attr_str(vars_group.attrs["name"])] = sub
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
            sub = group.get(key)
            if isinstance(sub, h5py.Group):
                self.by_name[name] = sub

    def weights(self, name: str) -> list[WeightInfo] | None:
        """Every dataset under the layer's group (sub-layers included), in save order."""
        g = self.by_name.get(name)
        if g is None:
            return None
        out: list[WeightInfo] = []
        stack: list[tuple[str, Any]] = [("", g)]
        h5py = self._h5py
        while stack:  # iterative: deep nesting must not hit the recursion limit
            prefix, grp = stack.pop()
            items = []
            for key in _sorted_keys(grp):
                link = grp.get(key, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    continue  # soft/external links never followed
                items.append((key, grp[key]))
            # datasets of this group first (numeric order), then subgroups
            for key, obj in items:
                if isinstance(obj, h5py.Dataset):
                    out.append(_dataset_info(obj, prefix + key))
                    if len(out) > MAX_WEIGHT_ENTRIES:
                        raise ValueError("too many weight datasets")
            for key, obj in reversed(items):
                if isinstance(obj, h5py.Group) and not key.startswith("seed_generator"):
                    stack.append((prefix + key + "/", obj))
        return out

    def nested(self, name: str, entries: list[tuple[str, str]]) -> "V3Container":
        g = self.by_name.get(name)
        sub = g.get("layers") if g is not None else None
        return V3Container(sub, entries)


def _sorted_keys(grp: Any) -> list[str]:
    """Group keys with numeric ones in numeric order (vars/10 after vars/9)."""
    keys = list(grp.keys())
    return sorted(keys, key=lambda k: (0, int(k), "") if k.isdigit() else (1, 0, k))


def _attr_str(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


class LegacyContainer:
    """Legacy ``model_weights`` layout: a group per layer name with ``weight_names``."""

    def __init__(self, group: Any | None, prefix_map: dict[str, list[tuple[str, Any]]] | None = None):
        self.group = group
        self.prefix_map = prefix_map  # for nested models: inner name -> [(weight name, dataset)]

    def _datasets(self, name: str) -> list[tuple[str, Any]] | None:
        import h5py

        if self.prefix_map is not None:
            return self.prefix_map.get(name)
        if self.group is None:
            return None
        g = self.group.get(name)
        if not isinstance(g, h5py.Group):
            return None
        names = g.attrs.get("weight_names", [])
        out = []
        for wn in list(names)[:MAX_WEIGHT_ENTRIES]:
            wn = _attr_str(wn)
            link = _get_hard(g, wn)
            if link is None:
                raise ValueError(f"layer {name!r} lists weight {wn!r} that is missing from the weights file")
            out.append((wn, link))
        return out

    def weights(self, name: str) -> list[WeightInfo] | None:
        ds = self._datasets(name)
        if ds is None:
            return None
        return [_dataset_info(d, _strip_var_suffix(wn)) for wn, d in ds]

    def nested(self, name: str, entries: list[tuple[str, str]]) -> "LegacyContainer":
        split: dict[str, list[tuple[str, Any]]] = {}
        for wn, d in self._datasets(name) or []:
            head, _, rest = wn.partition("/")
            split.setdefault(head, []).append((rest or head, d))
        return LegacyContainer(None, split)


def _get_hard(g: Any, path: str) -> Any | None:
    """Follow ``path`` inside ``g`` through hard links only (never soft/external)."""
    import h5py

    cur = g
    for part in [p for p in path.split("/") if p]:
        if not isinstance(cur, h5py.Group):
            return None
        link = cur.get(part, getlink=True)
        if not isinstance(link, h5py.HardLink):
            return None
        cur = cur[part]
    return cur if isinstance(cur, h5py.Dataset) else None


def _strip_var_suffix(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def name_weights(class_name: str, config: dict, weights: list[WeightInfo]) -> None:
    """Give Keras 3's numbered vars (``vars/0``) their real names where the layer is well known."""
    if not weights or not all(w.name.startswith("vars/") for w in weights):
        return
    names: list[str] | None
    if class_name in ("Dense",) or _CONV.match(class_name):
        names = ["kernel", "bias"]
    elif class_name in ("DepthwiseConv2D", "DepthwiseConv1D"):
        names = ["kernel", "bias"]
    elif class_name in ("SeparableConv2D", "SeparableConv1D"):
        names = ["depthwise_kernel", "pointwise_kernel", "bias"]
    elif class_name == "BatchNormalization":
        names = (["gamma"] if config.get("scale", True) else []) + (["beta"] if config.get("center", True) else [])
        names += ["moving_mean", "moving_variance"]
    elif class_name in ("LayerNormalization",):
        names = (["gamma"] if config.get("scale", True) else []) + (["beta"] if config.get("center", True) else [])
    else:
        names = _V3_NAMES.get(class_name)
    if names and len(names) >= len(weights):
        for w, n in zip(weights, names):
            w.name = n


def mark_trainable(class_name: str, config: dict, weights: Iterable[WeightInfo], layer_trainable: bool) -> None:
    """Set each weight's ``trainable`` flag from what Keras layers are known to create."""
    weights = list(weights)
    for i, w in enumerate(weights):
        base = w.name.rsplit("/", 1)[-1]
        if not layer_trainable:
            w.trainable = False
        elif class_name == "Normalization" or "moving_" in w.name or base in ("moving_mean", "moving_variance"):
            w.trainable = False
        elif class_name == "BatchNormalization" and w.name.startswith("vars/") and i >= len(weights) - 2:
            w.trainable = False
        elif "seed_generator" in w.name:
            w.trainable = False
