"""What distinguishes one layer from another of its class: its hyper-parameters, compactly.

Two views of a layer's saved config, both from the config alone (no Keras import, so a
diagram of a saved file shows them without loading it):

* :func:`key_params`: the few fields a reader looks for first, written as a box would
  show them: ``["64", "3×3 /2", "same", "relu"]`` for ``Conv2D(64, 3, strides=2,
  padding="same", activation="relu")``, ``["32", "k11 d4"]`` for a dilated Conv1D,
  ``["8 heads", "key 64"]`` for MultiHeadAttention. Chosen per layer *family* (the
  diagram's colour families of :mod:`inspector.layers.registry`), so a custom Conv or
  Dense subclass is described like Keras's own.
* :func:`all_params`: every config field that differs from Keras's default, as
  ``field=value`` (``dilation_rate=4``, ``kernel_initializer=HeNormal``). The defaults
  are Keras's own (:data:`DEFAULTS`; ``tests/layers/test_hparams.py`` checks them
  against default-built layers), so a field that is shown is one somebody set.
"""
from __future__ import annotations

import re
from typing import Any

from inspector.layers.kinds import short_name
from inspector.layers.registry import family

#: Config fields that name or place a layer rather than parametrise it.
IDENTITY = frozenset({"name", "trainable", "dtype", "batch_input_shape", "batch_shape", "build_config",
                      "shared_object_id", "seed"})

_ZEROS, _ONES, _GLOROT = "Zeros", "Ones", "GlorotUniform"

#: Keras's defaults by field name (most fields mean the same in every class).
DEFAULTS: dict[str, Any] = {
    "activation": "linear", "axis": -1, "epsilon": 0.001, "groups": 1, "padding": "valid", "strides": 1,
    "dilation_rate": 1, "pool_size": 2, "size": 2, "cropping": 0, "depth_multiplier": 1, "momentum": 0.99,
    "renorm_momentum": 0.99, "dropout": 0.0, "recurrent_dropout": 0.0, "recurrent_activation": "sigmoid",
    "data_format": "channels_last", "interpolation": "nearest", "merge_mode": "concat", "score_mode": "dot",
    "fill_mode": "constant", "fill_value": 0.0, "offset": 0.0, "negative_slope": 0.0, "threshold": 0.0,
    "alpha": 1.0, "max_value": None, "output_padding": None, "output_shape": None, "noise_shape": None,
    "shared_axes": None, "sliding_window": None, "attention_axes": None, "bias_axes": None,
    "renorm_clipping": None, "quantization_config": None, "value_dim": None,
    "kernel_initializer": _GLOROT, "depthwise_initializer": _GLOROT, "pointwise_initializer": _GLOROT,
    "bias_initializer": _ZEROS, "beta_initializer": _ZEROS, "moving_mean_initializer": _ZEROS,
    "alpha_initializer": _ZEROS, "gamma_initializer": _ONES, "moving_variance_initializer": _ONES,
    "recurrent_initializer": "Orthogonal", "embeddings_initializer": "RandomUniform",
    **{k: True for k in ("center", "scale", "use_bias", "unit_forget_bias", "reset_after")},
    **{k: False for k in ("keepdims", "mask_zero", "renorm", "synchronized", "return_sequences", "return_state",
                          "go_backwards", "stateful", "unroll", "use_gate", "use_scale", "normalize", "antialias",
                          "crop_to_aspect_ratio", "pad_to_aspect_ratio", "rms_scaling", "zero_output_for_mask",
                          "sparse", "ragged", "optional")},
}

#: Where a class's default differs from the field's usual one.
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    **{c: {"activation": "tanh"} for c in ("LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")},
    "RMSNormalization": {"epsilon": 1e-6},
    "GroupNormalization": {"groups": 32},
    "Resizing": {"interpolation": "bilinear"},
    "LeakyReLU": {"negative_slope": 0.3},
    **{c: {"padding": 1} for c in ("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")},
}

#: Arguments Keras's initializers save even when nobody set them (compared as unset).
_INIT_ARGS: dict[str, dict[str, Any]] = {
    "Orthogonal": {"gain": 1.0},
    "RandomUniform": {"minval": -0.05, "maxval": 0.05},
    "RandomNormal": {"mean": 0.0, "stddev": 0.05},
    "TruncatedNormal": {"mean": 0.0, "stddev": 0.05},
    "Constant": {"value": 0.0},
}

_SUFFIX = re.compile(r"_(regularizer|constraint)$")


# --------------------------------------------------------------------------- value formatting
def _ints(v: Any) -> list[Any] | None:
    """A size written as an int or a sequence of them (tf-keras saves lists, Keras 3 tuples)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return [v]
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return list(v)
    return None


def dims(v: Any) -> str:
    """``(3, 3)`` -> ``3×3``; ``(11,)`` -> ``11``; anything else as short text."""
    xs = _ints(v)
    if xs is not None:
        return "×".join(map(str, xs))
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(dims(x) for x in v) + ")"
    return _value(v)


def _uniform(v: Any) -> str:
    """A per-axis size that is the same on every axis written once: strides (2, 2) -> ``2``."""
    n = _norm(v)
    return str(n) if isinstance(n, int) and not isinstance(n, bool) else dims(v)


def _value(v: Any) -> str:
    if isinstance(v, dict):  # a serialised object: initializer, dtype policy, nested layer
        name = v.get("class_name") or v.get("name") or "?"
        inner = v.get("config") if isinstance(v.get("config"), dict) else {}
        if name == "DTypePolicy" and inner.get("name"):
            return str(inner["name"])
        return short_name(str(name))
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _norm(v: Any) -> Any:
    """A config value reduced to what compares with :data:`DEFAULTS`: sizes of equal ints to one
    int, serialised objects whose arguments are all unset to their class, policies to their name."""
    xs = _ints(v)
    if xs is not None and len(set(xs)) == 1:
        return xs[0]
    if isinstance(v, (list, tuple)) and v and all(_ints(x) is not None for x in v):
        flat = [y for x in v for y in _ints(x) or []]
        if len(set(flat)) == 1:
            return flat[0]
    if isinstance(v, dict):
        inner = v.get("config") if isinstance(v.get("config"), dict) else {}
        if v.get("class_name") == "DTypePolicy":
            return inner.get("name")
        cls = short_name(str(v.get("class_name")))
        usual = _INIT_ARGS.get(cls, {})
        if all(x in (None, {}, [], ()) or (k in usual and x == usual[k]) for k, x in inner.items()):
            return cls
    return v


def _default(cls: str, field: str, config: dict[str, Any]) -> Any:
    """Keras's default for ``field`` of ``cls``; a missing sentinel when there is none."""
    if _SUFFIX.search(field):
        return None
    if field == "strides" and "pool_size" in config:  # pooling: strides default to the pool size
        return _norm(config.get("pool_size"))
    if field == "value_dim" and "key_dim" in config:
        return config.get("key_dim") if config.get(field) is not None else None
    over = CLASS_DEFAULTS.get(cls, {})
    if field in over:
        return over[field]
    return DEFAULTS.get(field, _MISSING)


_MISSING = object()


def _is_default(cls: str, field: str, value: Any, config: dict[str, Any]) -> bool:
    d = _default(cls, field, config)
    if d is _MISSING:
        return False
    v = _norm(value)
    if field == "data_format" and v is None:
        return True
    if isinstance(d, float) and isinstance(v, (int, float)) and not isinstance(v, bool):
        return abs(float(v) - d) <= 1e-12 * max(1.0, abs(d))
    return v == d


# --------------------------------------------------------------------------- all non-default fields
def all_params(class_name: str, config: dict[str, Any] | None) -> list[str]:
    """Every config field differing from Keras's default, as ``field=value``, in config order."""
    if not isinstance(config, dict):
        return []
    cls = short_name(str(class_name or ""))
    out = []
    for field, value in config.items():
        if field in IDENTITY or _is_default(cls, field, value, config):
            continue
        if field == "backward_layer" and isinstance(value, dict) and isinstance(config.get("layer"), dict) \
                and value.get("class_name") == config["layer"].get("class_name"):
            continue  # Bidirectional's backward copy of its layer
        if field in ("layer", "backward_layer") and isinstance(value, dict):
            inner = value.get("config") if isinstance(value.get("config"), dict) else {}
            text = f"{short_name(str(value.get('class_name')))}({', '.join(key_params(value.get('class_name'), inner))})"
        elif field in ("kernel_size", "pool_size", "strides", "dilation_rate", "size", "target_shape", "dims",
                       "output_shape"):
            text = dims(value)
        else:
            text = _value(value) if not isinstance(value, (list, tuple)) else dims(value)
        out.append(f"{field}={text}")
    return out


# --------------------------------------------------------------------------- the key fields
def _activation(cls: str, config: dict[str, Any]) -> list[str]:
    act = config.get("activation")
    if act is None or _is_default(cls, "activation", act, config):
        return []
    return [_value(act)]


def _window(config: dict[str, Any], size_field: str, prefix: str) -> str:
    """``3×3 /2 d2`` for a 2-D kernel, ``k11 d4`` for a 1-D one: size, then non-default stride and dilation."""
    size = _ints(config.get(size_field))
    text = (prefix + str(size[0])) if size and len(size) == 1 else dims(config.get(size_field))
    strides = config.get("strides")
    default_stride = _norm(config.get(size_field)) if size_field == "pool_size" else 1
    if strides is not None and _norm(strides) != default_stride:
        text += " /" + _uniform(strides)
    if config.get("dilation_rate") is not None and _norm(config.get("dilation_rate")) != 1:
        text += " d" + _uniform(config["dilation_rate"])
    return text


def _conv(cls: str, c: dict[str, Any]) -> list[str]:
    out = [str(c["filters"])] if c.get("filters") is not None else []
    if c.get("depth_multiplier") not in (None, 1):
        out.append(f"×{c['depth_multiplier']}")
    if c.get("kernel_size") is not None:
        out.append(_window(c, "kernel_size", "k"))
    if c.get("groups") not in (None, 1):
        out.append(f"g{c['groups']}")
    if c.get("padding") not in (None, "valid"):
        out.append(str(c["padding"]))
    if "return_sequences" in c and c.get("return_sequences"):
        out.append("seq")
    return out + _activation(cls, c)


def _pool(cls: str, c: dict[str, Any]) -> list[str]:
    out = [_window(c, "pool_size", "p")] if c.get("pool_size") is not None else []
    if c.get("padding") not in (None, "valid"):
        out.append(str(c["padding"]))
    if c.get("keepdims"):
        out.append("keepdims")
    return out


def _dense(cls: str, c: dict[str, Any]) -> list[str]:
    if "input_dim" in c and "output_dim" in c:  # Embedding
        return [f"{c['input_dim']}→{c['output_dim']}"] + (["mask_zero"] if c.get("mask_zero") else [])
    out = []
    if c.get("units") is not None:
        out.append(str(c["units"]))
    if c.get("equation"):
        out.append(str(c["equation"]))
        if c.get("output_shape") is not None:
            out.append("→" + dims(c["output_shape"]))
    return out + _activation(cls, c)


def _attention(cls: str, c: dict[str, Any]) -> list[str]:
    out = []
    heads = c.get("num_heads") or c.get("num_query_heads")
    if heads is not None:
        out.append(f"{heads} heads")
    if c.get("num_key_value_heads") is not None:
        out.append(f"{c['num_key_value_heads']} kv")
    dim = c.get("key_dim") or c.get("head_dim")
    if dim is not None:
        out.append(f"key {dim}")
    if c.get("value_dim") not in (None, c.get("key_dim")):
        out.append(f"value {c['value_dim']}")
    if c.get("dropout"):
        out.append(f"drop {_value(c['dropout'])}")
    if c.get("score_mode") not in (None, "dot"):
        out.append(str(c["score_mode"]))
    return out


def _recurrent(cls: str, c: dict[str, Any]) -> list[str]:
    inner = c.get("layer")
    if isinstance(inner, dict):  # Bidirectional, TimeDistributed: the wrapped layer's fields
        icfg = inner.get("config") if isinstance(inner.get("config"), dict) else {}
        out = [short_name(str(inner.get("class_name")))] + key_params(inner.get("class_name"), icfg)
        if c.get("merge_mode") not in (None, "concat") and "merge_mode" in c:
            out.append(f"merge {c['merge_mode']}")
        return out
    if c.get("filters") is not None:  # ConvLSTM
        return _conv(cls, c)
    out = [str(c["units"])] if c.get("units") is not None else []
    if c.get("return_sequences"):
        out.append("seq")
    if c.get("go_backwards"):
        out.append("backwards")
    if c.get("dropout"):
        out.append(f"drop {_value(c['dropout'])}")
    if c.get("recurrent_dropout"):
        out.append(f"rdrop {_value(c['recurrent_dropout'])}")
    return out + _activation(cls, c)


def _simple(cls: str, c: dict[str, Any]) -> list[str]:
    """Activations, dropout, merges, reshapes, norms: their one or two telling fields."""
    out = []
    if cls == "Activation" and c.get("activation") is not None:
        return [_value(c["activation"])]
    for field, fmt in _SIMPLE_FIELDS:
        v = c.get(field)
        if v is not None and not isinstance(v, bool) and not _is_default(cls, field, v, c):
            out.append(fmt(c[field]))
    return out


_SIMPLE_FIELDS: list[tuple[str, Any]] = [
    ("rate", lambda v: f"rate {_value(v)}"),
    ("stddev", lambda v: f"σ {_value(v)}"),
    ("max_value", lambda v: f"max {_value(v)}"),
    ("negative_slope", lambda v: f"slope {_value(v)}"),
    ("alpha", lambda v: f"α {_value(v)}"),
    ("axis", lambda v: f"axis {dims(v)}"),
    ("axes", lambda v: f"axes {dims(v)}"),
    ("groups", lambda v: f"{v} groups"),
    ("target_shape", lambda v: "→" + dims(v)),
    ("dims", lambda v: "perm " + dims(v)),
    ("n", lambda v: f"×{v}"),
    ("size", lambda v: "×" + dims(v)),
    ("padding", lambda v: "pad " + _uniform(v)),
    ("cropping", lambda v: "crop " + _uniform(v)),
    ("height", lambda v: f"h {v}"),
    ("width", lambda v: f"w {v}"),
    ("scale", lambda v: f"×{_value(v)}"),
    ("offset", lambda v: f"+{_value(v)}"),
]

def _normalization(cls: str, c: dict[str, Any]) -> list[str]:
    """Only a non-default group count: a BatchNormalization's axis (3 in every keras.applications
    model) and epsilon say nothing about the architecture."""
    g = c.get("groups")
    return [f"{g} groups"] if g is not None and not _is_default(cls, "groups", g, c) else []


_BY_FAMILY = {"conv": _conv, "pool": _pool, "dense": _dense, "attention": _attention, "recurrent": _recurrent,
              "norm": _normalization}


def key_params(class_name: Any, config: dict[str, Any] | None) -> list[str]:
    """The few fields that tell this layer from others of its class, in the box's words.

    Empty for a layer with nothing to tell (Add, Flatten, a default BatchNormalization) and
    for configs that are not dicts (ops saved without one, opaque custom layers)."""
    if not isinstance(config, dict):
        return []
    cls = short_name(str(class_name or ""))
    try:
        fn = _BY_FAMILY.get(family(cls) or "", _simple)
        return [x for x in fn(cls, config) if x]
    except (TypeError, ValueError, KeyError, AttributeError):  # a hostile or odd config: no details, never a crash
        return []
