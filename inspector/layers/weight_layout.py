"""What each Keras layer class stores as weights: their names in Keras 3's numbered
``vars/<i>`` layout, which are non-trainable, and the shapes a config implies
(:func:`check_weights` compares a file's datasets with them, so a count is never wrong
silently). Pure data about classes: the readers walk the files, this module knows layers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from inspector.errors import WeightsMismatch, quote

#: Weight display names of common Keras 3 layers, by class, in variable order.
_V3_NAMES = {
    "Dense": ["kernel", "bias"],
    "Embedding": ["embeddings"],
    "LayerNormalization": None,  # depends on scale/center
    "BatchNormalization": None,
}


_CONV = re.compile(r"^(Conv\dD(Transpose)?|Convolution\dD)$")


@dataclass
class WeightInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    trainable: bool = True
    #: False for variables Keras creates on load that the file does not hold (LoRA adapters)
    stored: bool = True
    #: "lora" (an adapter) or "quantization" (scales, zero points, amax histories); None: a base weight
    role: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "trainable": self.trainable}
        if not self.stored:
            d["stored"] = False
        if self.role:
            d["role"] = self.role
        return d


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
