"""LoRA adapters and quantized variables, counted exactly as Keras counts them after
``load_model`` (Keras 3: ``keras/src/layers/core/dense.py``, ``einsum_dense.py``,
``embedding.py``, ``convolutional/base_conv.py``: ``enable_lora``, ``quantize``,
``save_own_variables``).

- LoRA: Keras *merges* the adapters into the kernel when it saves, so the file holds only
  the base weights; on load it re-creates fresh adapters from the config's ``lora_rank``
  (``lora_kernel_a``: kernel shape without its last axis + (rank,), ``lora_kernel_b``:
  (rank, last axis); Embedding: (input_dim, rank) and (rank, output_dim)) and freezes the
  kernel (or embeddings). Those adapters are counted but marked ``stored: False``.
- int8/int4 quantization: the file holds every variable (kernel, scales, zero points ...);
  all of them are non-trainable except the bias. float8 keeps everything trainable.
"""
from __future__ import annotations

import re
from typing import Any

from inspector.layers.weight_layout import WeightInfo

_CONV = re.compile(r"^(?:Conv|Convolution)[123]D(Transpose)?$")
#: variables Keras stores per quantization mode, before the optional bias (Dense/EinsumDense)
_QUANT_VARS = {("int8", "dense"): 2, ("int4", "dense"): 4, ("float8", "dense"): 7,
               ("int8", "Embedding"): 2, ("int4", "Embedding"): 4}


def quantization_mode(config: dict) -> str | None:
    """``"int8"``, ``"int4"``, ``"float8"`` (as ``layer.quantization_mode`` says), or None."""
    dtype = config.get("dtype") if isinstance(config, dict) else None
    name = dtype
    if isinstance(dtype, dict):
        cfg = dtype.get("config") if isinstance(dtype.get("config"), dict) else {}
        mode = cfg.get("mode")
        if isinstance(mode, str) and mode:
            return mode.split("/")[0]
        name = cfg.get("name")
    if isinstance(name, str):
        for mode in ("int8", "int4", "float8"):
            if name.startswith(mode + "_from_"):
                return mode
    return None


def dtype_policy(config: dict) -> str | None:
    """The layer's dtype policy name (``float32``, ``mixed_bfloat16``, ``int8_from_float32``)."""
    dtype = config.get("dtype") if isinstance(config, dict) else None
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, dict) and isinstance(dtype.get("config"), dict):
        cfg = dtype["config"]
        if isinstance(cfg.get("name"), str):
            return cfg["name"]
        if isinstance(cfg.get("mode"), str):
            return f"{cfg['mode']}_from_{cfg.get('source_name') or 'float32'}"
    return None


def lora_rank(config: dict) -> int | None:
    """The config's ``lora_rank``; ValueError when it is set but not a positive integer."""
    rank = config.get("lora_rank") if isinstance(config, dict) else None
    if rank is None:
        return None
    if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0 or rank > 1 << 20:
        raise ValueError(f"lora_rank {rank!r} is not a positive integer")
    return rank


def _family(class_name: str) -> str | None:
    if class_name in ("Dense", "EinsumDense"):
        return "dense"
    if class_name == "Embedding":
        return "Embedding"
    return "conv" if _CONV.match(class_name) else None


def check_quantized(layer: str, class_name: str, config: dict, weights: list[WeightInfo], mode: str) -> None:
    """ValueError when a quantized layer's file lacks variables its mode stores (a scale ...)."""
    fam = _family(class_name)
    need = _QUANT_VARS.get((mode, fam))
    if need is None:
        return
    if fam == "dense" and _has_bias(class_name, config):
        need += 1
    if len(weights) != need:
        raise ValueError(f"layer {layer!r} ({class_name}, {mode}-quantized) has {len(weights)} weight arrays in "
                         f"the weights file; Keras stores {need} for it (kernel, scales{', bias' if fam == 'dense' and _has_bias(class_name, config) else ''})")


def _has_bias(class_name: str, config: dict) -> bool:
    if class_name == "EinsumDense":
        return bool(config.get("bias_axes"))
    return config.get("use_bias", True) is not False


def mark_quantized(class_name: str, config: dict, weights: list[WeightInfo], mode: str) -> None:
    """int8/int4: every stored variable non-trainable except the bias (the second, when there is
    one). Every variable besides the kernel and the bias gets the role "quantization"."""
    bias = 1 if _family(class_name) == "dense" and _has_bias(class_name, config) else None
    for i, w in enumerate(weights):
        if i not in (0, bias):
            w.role = "quantization"
        if mode in ("int8", "int4") and i != bias:
            w.trainable = False


def lora_adapters(class_name: str, config: dict, weights: list[WeightInfo], input_shape: Any,
                  rank: int, mode: str | None) -> list[WeightInfo] | None:
    """The adapters Keras creates on load for ``rank`` (not stored in the file), freezing the
    base weight; None when their shapes cannot be known without Keras."""
    if not weights:
        return None
    if class_name == "Embedding":
        n_in, n_out = config.get("input_dim"), config.get("output_dim")
        if not (isinstance(n_in, int) and isinstance(n_out, int)):
            return None
        weights[0].trainable = False
        return [WeightInfo("lora_embeddings_a", (n_in, rank), "float32", role="lora"),
                WeightInfo("lora_embeddings_b", (rank, n_out), "float32", role="lora")]
    fam = _family(class_name)
    if fam is None:
        return None
    kernel = tuple(weights[0].shape)
    if mode == "int4":  # stored packed: the logical kernel is (input dim, units) for Dense only
        last = input_shape[-1] if isinstance(input_shape, (list, tuple)) and input_shape else None
        if class_name != "Dense" or not isinstance(last, int) or not isinstance(config.get("units"), int):
            return None
        kernel = (last, config["units"])
    if len(kernel) < 2:
        return None
    out_dim = config.get("filters") if fam == "conv" else kernel[-1]
    if not isinstance(out_dim, int):
        return None
    weights[0].trainable = False
    return [WeightInfo("lora_kernel_a", kernel[:-1] + (rank,), "float32", role="lora"),
            WeightInfo("lora_kernel_b", (rank, out_dim), "float32", role="lora")]
