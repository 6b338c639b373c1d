"""MAC rules of the attention layers: MultiHeadAttention, GroupedQueryAttention, Attention
and AdditiveAttention.

Counted: the Q/K/V (and gate) projections, the scores ``Q K^T`` (one ``key_dim`` dot
product per score), the attention-weighted values (one ``value_dim`` vector per score) and
the output projection. Not counted: the ``1/sqrt(key_dim)`` scaling, the softmax, masking
and bias additions (element-wise, no multiply-accumulate). The query and key sequence
lengths enter the count (the scores are ``T_q * T_k`` per head), so an unknown length makes
the count unknown.
"""
from __future__ import annotations

import math

from inspector.layers.common import as_int, as_tuple, is_int
from inspector.layers.costs_common import at, known


def _qkv(ins: list) -> tuple | None:
    """(query, value, key) shapes of an attention call; key defaults to value."""
    query, value = at(ins, 0), at(ins, 1)
    key = at(ins, 2) or value
    if query is None or value is None or key is None:
        return None
    return query, value, key


def mha(name, config, ins, outs, weights) -> int | None:
    """MultiHeadAttention (any ``attention_axes``; ``output_shape`` int or tuple)."""
    shapes = _qkv(ins)
    if shapes is None:
        return None
    query, value, key = shapes
    q, v, k = known(query), known(value), known(key)
    heads = as_int(config.get("num_heads"), 1)
    key_dim = as_int(config.get("key_dim"), 1)
    vd = config.get("value_dim")
    value_dim = key_dim if vd is None else as_int(vd, 1)
    out_cfg = config.get("output_shape")
    if not out_cfg:
        out_feat = q[-1]
    elif is_int(out_cfg):
        out_feat = out_cfg
    else:
        out_feat = math.prod(as_tuple(out_cfg, len(out_cfg)))
    n_q, n_k, n_v = math.prod(q[:-1]), math.prod(k[:-1]), math.prod(v[:-1])
    # Attention-axis split (defaults to every non-batch, non-feature axis).
    rank = len(query) + 1
    axes = config.get("attention_axes")
    if axes is None:
        attn = list(range(1, rank - 2))
    else:
        axes = [axes] if is_int(axes) else axes
        attn = [a if a >= 0 else (rank - 1) + a for a in map(as_int, axes)]
    other = [i for i in range(1, rank - 2) if i not in attn]
    q_att = math.prod(query[i] for i in attn)
    k_att = math.prod(key[i] for i in attn)
    shared = math.prod(query[i] for i in other)
    scores = shared * heads * q_att * k_att
    return (n_q * q[-1] * heads * key_dim
            + n_k * k[-1] * heads * key_dim
            + n_v * v[-1] * heads * value_dim
            + scores * key_dim
            + scores * value_dim
            + n_q * heads * value_dim * out_feat)


def gqa(name, config, ins, outs, weights) -> int | None:
    """GroupedQueryAttention: queries get ``num_query_heads`` heads, keys and values
    ``num_key_value_heads`` (repeated, not recomputed, for the query heads); scores and the
    weighted sum run over every query head; the output projects back to the query width;
    ``use_gate`` adds a second query-sized projection (its element-wise product is free)."""
    shapes = _qkv(ins)
    if shapes is None:
        return None
    q, v, k = (known(s) for s in shapes)
    head_dim = as_int(config.get("head_dim"), 1)
    q_heads = as_int(config.get("num_query_heads"), 1)
    kv_heads = as_int(config.get("num_key_value_heads"), 1)
    t_q, t_k, t_v = math.prod(q[:-1]), math.prod(k[:-1]), math.prod(v[:-1])
    query_proj = t_q * q[-1] * q_heads * head_dim
    return (query_proj * (2 if config.get("use_gate") else 1)
            + t_k * k[-1] * kv_heads * head_dim
            + t_v * v[-1] * kv_heads * head_dim
            + 2 * q_heads * t_q * t_k * head_dim
            + t_q * q_heads * head_dim * q[-1])


def attention(name, config, ins, outs, weights) -> int | None:
    """Attention (dot-product) and AdditiveAttention: a ``dim``-long reduction per score
    (a dot product, or ``sum(scale * tanh(q + k))``) and a ``value_dim`` vector per score."""
    shapes = _qkv(ins)
    if shapes is None:
        return None
    q, v, k = (known(s) for s in shapes)
    rows = math.prod(q[:-1])
    return rows * k[-2] * q[-1] + rows * k[-2] * v[-1]


def attention_rules() -> dict:
    """Class name -> rule; Keras saves GroupedQueryAttention as ``GroupQueryAttention``."""
    return {"MultiHeadAttention": mha, "GroupedQueryAttention": gqa, "GroupQueryAttention": gqa,
            "Attention": attention, "AdditiveAttention": attention}


def dot_product_attention(ins: list) -> int | None:
    """``ops.dot_product_attention``: query (T, N, H) against key (S, K, H) and value (S, K, Hv) per
    sample: T·S·N·H for the scores and T·S·N·Hv for the weighted values (grouped heads share
    their key/value head; the softmax and scaling are not multiply-accumulates)."""
    if len(ins) < 3 or any(s is None or len(s) != 4 for s in ins[:3]):
        return None
    (_, t, n, h), (_, s, _, _), (_, _, _, hv) = ins[:3]
    if None in (t, n, h, s, hv):
        return None
    return t * s * n * (h + hv)
