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

Hostile files: :func:`check_hdf5` refuses soft, external and user-defined links
(never followed: an external link would make HDF5 open another file), groups
reachable by more than one hard link (loops), and more objects than
:data:`MAX_H5_OBJECTS`; datasets with external raw storage or virtual
(multi-file) layouts are refused when met, as are absurd shapes. h5py errors on
corrupt files become :class:`~inspector.errors.BadModelFile`.
:func:`check_weights` compares the datasets of Keras's own weighted layers
(Dense, convolutions, Embedding, BatchNormalization) with their configs.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

from .errors import BadModelFile, InspectorError, TooLarge, UnsafeModel, WeightsMismatch, quote

#: Weight display names of common Keras 3 layers, by class, in variable order.
_V3_NAMES = {
    "Dense": ["kernel", "bias"],
    "Embedding": ["embeddings"],
    "LayerNormalization": None,  # depends on scale/center
    "BatchNormalization": None,
}
_CONV = re.compile(r"^(Conv\dD(Transpose)?|Convolution\dD)$")

MAX_WEIGHT_ENTRIES = 1_000_000
#: Most links/objects a weights file may hold (NASNetLarge: ~6 000).
MAX_H5_OBJECTS = 1_000_000
#: Most elements one weight array may claim (2**40: a 4 TB float32 tensor).
MAX_DATASET_ELEMENTS = 2**40
MAX_DATASET_RANK = 32

F = TypeVar("F", bound=Callable[..., Any])


def h5_errors(fn: F) -> F:
    """Turn the errors h5py raises on corrupt or truncated files into BadModelFile."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InspectorError, MemoryError, RecursionError):
            raise
        except (OSError, KeyError, RuntimeError, ValueError, TypeError, SystemError) as e:
            text = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise BadModelFile(f"the weights file is corrupt or truncated ({text})") from None

    return wrapper  # type: ignore[return-value]


#: Most bytes / items of one text attribute read (model_config is the big one).
MAX_ATTR_BYTES = 64 * 1024 * 1024
MAX_ATTR_ITEMS = 1_000_000


def read_text_attr(obj: Any, name: str) -> Any:
    """A text attribute (a string, or an array of strings) of an HDF5 object, or None if absent.

    The attribute's type and size are checked *before* its value is read: libhdf5 has crashed
    and hung (found by tests/test_fuzz.py) converting corrupted attributes whose type was
    flipped from a string to a variable-length sequence. Anything but text is refused.
    """
    import h5py

    if name not in obj.attrs:
        return None
    aid = obj.attrs.get_id(name)
    space = aid.get_space()
    if space.get_simple_extent_type() == h5py.h5s.SIMPLE and space.get_simple_extent_npoints() == 0:
        return []  # an empty list (tf-keras writes one for layers without weights, as float64)
    if aid.get_type().get_class() != h5py.h5t.STRING:
        raise BadModelFile(f"attribute {quote(name)} of {quote(obj.name)} is not text (corrupt file?)")
    if space.get_simple_extent_npoints() > MAX_ATTR_ITEMS:
        raise TooLarge(f"attribute {quote(name)} of {quote(obj.name)} holds too many values")
    if aid.get_storage_size() > MAX_ATTR_BYTES:
        raise TooLarge(f"attribute {quote(name)} of {quote(obj.name)} is {aid.get_storage_size()} bytes "
                       f"(limit {MAX_ATTR_BYTES})")
    return obj.attrs[name]


@h5_errors
def check_hdf5(h5: Any, what: str = "weights file") -> None:
    """Refuse soft/external/user-defined links and absurd object counts; nothing is followed.

    (Hard-link loops are harmless here: HDF5's visit sees each group once, and
    every walk of ours keeps a set of the groups it has seen.)"""
    import h5py

    h5l = h5py.h5l
    count = 0

    def visit(name: bytes, info: Any) -> Any:
        nonlocal count
        count += 1
        if count > MAX_H5_OBJECTS:
            return "too many"
        if info.type == h5l.TYPE_HARD:
            return None
        return (name, info.type)

    problem = h5.id.links.visit(visit, info=True)
    if problem == "too many":
        raise TooLarge(f"{what} holds more than {MAX_H5_OBJECTS:,} objects")
    if problem:
        raw, kind = problem
        name = raw.decode("utf-8", "replace")
        if kind == h5l.TYPE_EXTERNAL:
            try:
                target = h5.id.links.get_val(raw)
                filename, obj = (t.decode("utf-8", "replace") for t in target)
            except Exception:
                filename, obj = "?", "?"
            raise UnsafeModel(f"{what} has an external link {quote(name)} to {quote(filename)}:{quote(obj)}; "
                              "HDF5 would open that other file — refusing (no link was followed)")
        if kind == h5l.TYPE_SOFT:
            try:
                target = h5.id.links.get_val(raw).decode("utf-8", "replace")
            except Exception:
                target = "?"
            raise UnsafeModel(f"{what} has a soft link {quote(name)} to {quote(target)}; Keras never writes "
                              "links — refusing (no link was followed)")
        raise UnsafeModel(f"{what} has a user-defined link {quote(name)} — refusing (no link was followed)")



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
    import h5py

    plist = ds.id.get_create_plist()
    if plist.get_external_count() > 0:
        first = plist.get_external(0)[0]
        raise UnsafeModel(f"weight {quote(name)} keeps its data in another file ({quote(first)}, HDF5 external "
                          "storage); Keras would read that file — refusing (it was not read)")
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        raise UnsafeModel(f"weight {quote(name)} is a virtual dataset (its data can come from other files) "
                          "-- refusing (it was not read)")
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
        import h5py

        self._h5py = h5py
        self.by_name: dict[str, Any] = {}
        # strict: every layer's group must be present (Keras 3 writes one per layer, weights or not)
        self.strict = True
        if group is None or not isinstance(group, h5py.Group):
            return
        self._index(group, entries)

    @h5_errors
    def _index(self, group: Any, entries: list[tuple[str, str]]) -> None:
        h5py = self._h5py
        named: dict[str, Any] = {}
        for key in _hard_keys(group):
            sub = group[key]
            vars_group = _hard(sub, "vars") if isinstance(sub, h5py.Group) else None
            if isinstance(vars_group, h5py.Group):
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
            if isinstance(sub, h5py.Group):
                vars_group = _hard(sub, "vars")
                owner = read_text_attr(vars_group, "name") if isinstance(vars_group, h5py.Group) else None
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
        h5py = self._h5py
        seen: set[Any] = set()
        while stack:  # iterative: deep nesting must not hit the recursion limit
            prefix, grp = stack.pop()
            if grp.id in seen:  # a group reached twice: never walk in circles
                continue
            seen.add(grp.id)
            if len(seen) > MAX_H5_OBJECTS:
                raise TooLarge("the weights file nests more groups than the reader accepts")
            items = [(key, grp[key]) for key in _sorted(_hard_keys(grp))]  # soft/external links never followed
            # datasets of this group first (numeric order), then subgroups
            for key, obj in items:
                if isinstance(obj, h5py.Dataset):
                    out.append(_dataset_info(obj, prefix + key))
                    if len(out) > MAX_WEIGHT_ENTRIES:
                        raise TooLarge(f"layer {quote(name)} has more than {MAX_WEIGHT_ENTRIES:,} weight datasets")
            for key, obj in reversed(items):
                if isinstance(obj, h5py.Group) and not key.startswith("seed_generator"):
                    stack.append((prefix + key + "/", obj))
        return out

    @h5_errors
    def nested(self, name: str, entries: list[tuple[str, str]]) -> "V3Container":
        g = self.by_name.get(name)
        sub = _hard(g, "layers") if g is not None else None
        return V3Container(sub, entries)


def _hard(group: Any, key: str) -> Any | None:
    """``group[key]`` if it is a hard link, else None (soft/external links are never followed)."""
    import h5py

    raw = key.encode("utf-8", "surrogateescape")
    if not group.id.links.exists(raw):
        return None
    info = group.id.links.get_info(raw)
    if info.type != h5py.h5l.TYPE_HARD:
        return None
    return group[key]


def _hard_keys(group: Any) -> list[str]:
    """Names of the group's hard links (soft/external links are skipped, never followed)."""
    import h5py

    out: list[str] = []

    def cb(name: bytes, info: Any) -> None:
        if info.type == h5py.h5l.TYPE_HARD:
            out.append(name.decode("utf-8", "surrogateescape"))
        return None

    group.id.links.iterate(cb, info=True)
    return out


def _sorted_keys(grp: Any) -> list[str]:
    """Group keys with numeric ones in numeric order (vars/10 after vars/9)."""
    return _sorted(list(grp.keys()))


def _sorted(keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda k: (0, int(k), "") if k.isascii() and k.isdigit() else (1, 0, k))


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
        import h5py

        if self.prefix_map is not None:
            return self.prefix_map.get(name)
        if self.group is None:
            return None
        if name not in self.group:
            return None
        g = _hard(self.group, name)
        if not isinstance(g, h5py.Group):
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


def numel(shape: Iterable[int]) -> int:
    """Element count of a weight shape (all dimensions known)."""
    n = 1
    for d in shape:
        n *= int(d)
    return n


# --------------------------------------------------------------------------- weights vs config
def _pos_int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _ints(v: Any, n: int) -> tuple[int, ...] | None:
    """kernel_size-like value (int or list of n ints) as an n-tuple, or None."""
    if _pos_int(v) is not None:
        return (v,) * n
    if isinstance(v, (list, tuple)) and len(v) == n and all(_pos_int(x) is not None for x in v):
        return tuple(v)
    return None


def _plain(config: dict) -> bool:
    """A layer config with Keras's standard variables (not quantized, no LoRA)."""
    if config.get("quantization_config") or config.get("lora_rank"):
        return False
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        if "Quantized" in str(dtype.get("class_name")):
            return False
        dtype = (dtype.get("config") or {}).get("name") if isinstance(dtype.get("config"), dict) else None
    return not (isinstance(dtype, str) and ("int8" in dtype or "int4" in dtype or "float8" in dtype))


_CONV_ND = re.compile(r"^(?:Conv|Convolution)([123])D(Transpose)?$")
_DEPTHWISE = re.compile(r"^DepthwiseConv([12])D$")
_SEPARABLE = re.compile(r"^Separable(?:Conv|Convolution)([12])D$")


def expected_weight_shapes(class_name: str, config: dict, input_shape: Any) -> list[tuple] | None:
    """Shapes (``None`` = any size) of the variables Keras creates for one of its own
    weighted layers, in creation order; None when the layer is not one we check."""
    if not isinstance(config, dict) or not _plain(config):
        return None
    in_shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else None
    last = in_shape[-1] if in_shape else None
    use_bias = config.get("use_bias", True) is not False
    if class_name == "Dense":
        units = _pos_int(config.get("units"))
        if units is None:
            return None
        return [(last, units)] + ([(units,)] if use_bias else [])
    if class_name == "Embedding":
        a, b = _pos_int(config.get("input_dim")), _pos_int(config.get("output_dim"))
        return [(a, b)] if a and b else None
    m = _CONV_ND.match(class_name) or _DEPTHWISE.match(class_name) or _SEPARABLE.match(class_name)
    if m:
        n = int(m.group(1))
        ks = _ints(config.get("kernel_size"), n)
        if ks is None:
            return None
        channels_first = config.get("data_format") == "channels_first"
        ch = None
        if in_shape and len(in_shape) == n + 2:
            ch = in_shape[1] if channels_first else in_shape[-1]
        if _DEPTHWISE.match(class_name):
            dm = _pos_int(config.get("depth_multiplier", 1))
            if dm is None:
                return None
            return [ks + (ch, dm)] + ([(ch * dm if ch else None,)] if use_bias else [])
        filters = _pos_int(config.get("filters"))
        if filters is None:
            return None
        if _SEPARABLE.match(class_name):
            dm = _pos_int(config.get("depth_multiplier", 1))
            if dm is None:
                return None
            return [ks + (ch, dm), (1,) * n + (ch * dm if ch else None, filters)] + ([(filters,)] if use_bias else [])
        if m.group(2):  # transpose: (*kernel, filters, in)
            return [ks + (filters, ch)] + ([(filters,)] if use_bias else [])
        groups = _pos_int(config.get("groups", 1)) or 1
        per_group = ch // groups if ch and ch % groups == 0 else None
        return [ks + (per_group, filters)] + ([(filters,)] if use_bias else [])
    if class_name == "BatchNormalization":
        if config.get("renorm"):  # tf-keras batch renormalization adds its own statistics
            return None
        axis = config.get("axis", -1)
        if isinstance(axis, list) and len(axis) == 1:
            axis = axis[0]
        if not isinstance(axis, int) or isinstance(axis, bool):
            return None
        ch = None
        if in_shape and -len(in_shape) <= axis < len(in_shape):
            ch = in_shape[axis]
        count = int(config.get("scale", True) is not False) + int(config.get("center", True) is not False) + 2
        return [(ch,)] * count
    return None


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_weights(layer: str, class_name: str, config: dict, weights: list[WeightInfo] | None,
                  input_shape: Any, strict: bool) -> None:
    """Raise WeightsMismatch if a Keras layer's saved arrays disagree with its config
    (or, when ``strict``, are missing altogether)."""
    expected = expected_weight_shapes(class_name, config, input_shape)
    if expected is None:
        return
    if weights is None:
        if strict and expected:
            raise WeightsMismatch(f"the weights file has no weights for layer {quote(layer)} ({class_name}, "
                                  f"which needs {len(expected)} arrays)")
        return
    got = [w for w in weights if "seed_generator" not in w.name]
    if len(got) != len(expected):
        raise WeightsMismatch(f"layer {quote(layer)} ({class_name}) has {len(got)} weight arrays in the weights file; "
                              f"its config needs {len(expected)} ({', '.join(_fmt(e) for e in expected)})")
    for w, e in zip(got, expected):
        if len(w.shape) != len(e) or any(x is not None and x != d for x, d in zip(e, w.shape)):
            raise WeightsMismatch(f"layer {quote(layer)} ({class_name}): weight {quote(w.name)} has shape "
                                  f"{_fmt(w.shape)} but the config implies {_fmt(e)}")
