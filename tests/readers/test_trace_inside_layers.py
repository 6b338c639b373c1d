"""The insides of custom layers (a user's TransformerEncoder, keras-hub's decoder blocks) and of
Keras's attention layer, traced as children of their block, checked against Keras running them:
each child's output shape equals what the layer really returns in a forward pass (recorded by
wrapping its ``call``), MACs equal hand formulas and TensorFlow's profiler."""
from __future__ import annotations

import numpy as np
import pytest

import inspector


def _record(keras, layers):
    """Wrap each layer's ``call`` to record the shapes it really returns, per call."""
    seen = {}

    def wrap(layer):
        orig = layer.call

        def call(*a, **k):
            out = orig(*a, **k)
            seen.setdefault(layer.name, []).append([tuple(t.shape) for t in keras.tree.flatten(out)])
            return out
        layer.call = call

    for layer in layers:
        wrap(layer)
    return seen


def _sub(g, nid):
    return g.subgraphs[g.node(nid)["subgraph"]]


def _assert_children_shapes(sub, seen, batch):
    """Every layer child of ``sub`` has the shapes its layer really returned (batch axis open)."""
    checked = 0
    for nid, a in sub.nodes():
        if a.get("kind") not in ("layer", "model") or a["name"] not in seen:
            continue
        real = seen[a["name"]][a.get("call_index") or 0]
        assert [tuple(s) for s in a["output_shapes"]] == [(None, *r[1:]) for r in real], nid
        assert all(r[0] == batch for r in real)
        checked += 1
    return checked


@pytest.fixture(scope="module")
def encoder_model(keras):
    from keras import layers

    class TransformerEncoder(layers.Layer):
        def __init__(self, embed_dim, dense_dim, num_heads, **kw):
            super().__init__(**kw)
            self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim, dropout=0.1)
            self.dense_proj = keras.Sequential([layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()

        def call(self, inputs):
            x = self.layernorm_1(inputs + self.attention(inputs, inputs))
            return self.layernorm_2(x + self.dense_proj(x))

    keras.utils.set_random_seed(1)
    i = keras.Input((10, 16), name="tokens")
    x = TransformerEncoder(16, 32, 2, name="encoder")(i)
    return keras.Model(i, layers.Dense(3, name="head")(layers.GlobalAveragePooling1D()(x)))


def test_custom_layer_children_have_keras_shapes(encoder_model, keras):
    g = inspector.read(encoder_model)
    enc = encoder_model.get_layer("encoder")
    sub = _sub(g, "encoder")
    inner = [enc.attention, enc.dense_proj, enc.layernorm_1, enc.layernorm_2]
    mha_parts = [enc.attention._query_dense, enc.attention._key_dense, enc.attention._value_dense,
                 enc.attention._output_dense]
    seen = _record(keras, inner + mha_parts)
    encoder_model(np.zeros((3, 10, 16), "float32"), training=False)
    assert _assert_children_shapes(sub, seen, 3) == 4
    mha = next(n for n, a in sub.nodes() if a["class_name"] == "MultiHeadAttention")
    assert _assert_children_shapes(_sub(sub, mha), seen, 3) == 4       # query, key, value, attention_output
    assert g.node("encoder")["params_trainable"] == enc.count_params()


def test_custom_layer_macs_are_its_childrens_and_match_the_profiler(encoder_model, keras):
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    g = inspector.read(encoder_model)
    sub = _sub(g, "encoder")
    assert g.node("encoder")["macs"] == sum(a["macs"] for _, a in sub.nodes())
    s, d, h, k = 10, 16, 2, 16                       # self-attention: projections + QK^T + AV + output
    mha = next(a for _, a in sub.nodes() if a["class_name"] == "MultiHeadAttention")
    assert mha["macs"] == 3 * s * d * h * k + 2 * s * s * h * k + s * h * k * d
    fn = tf.function(lambda x: encoder_model(x, training=False))
    cf = fn.get_concrete_function(tf.TensorSpec([1, 10, 16], tf.float32))
    flops = model_analyzer.profile(graph=cf.graph,
                                   options=option_builder.ProfileOptionBuilder.float_operation()).total_float_ops
    total = g.totals()["macs"]
    assert abs(total - flops / 2) <= 0.1 * flops / 2, (total, flops / 2)


@pytest.fixture(scope="module")
def gemma(tmp_path_factory, keras):
    keras_hub = pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(2)
    b = keras_hub.models.GemmaBackbone(vocabulary_size=64, num_layers=2, num_query_heads=2, num_key_value_heads=1,
                                       hidden_dim=16, intermediate_dim=32, head_dim=8)
    path = tmp_path_factory.mktemp("gemma") / "gemma.keras"
    b.save(path)
    return b, str(path)


def test_keras_hub_blocks_traced_with_a_sequence_length(gemma, keras):
    from inspector.cli.common import open_graph

    backbone, path = gemma
    g = open_graph(path, load=True, inputs=("token_ids=8", "padding_mask=8"))
    assert g.node("token_ids")["output_shapes"] == [(None, 8)] and g.class_name == "GemmaBackbone"
    block = backbone.get_layer("decoder_block_0")
    inner = list(block._flatten_layers(include_self=False, recursive=False))
    attn = block.attention
    seen = _record(keras, inner + list(attn._flatten_layers(include_self=False, recursive=False)))
    backbone({"token_ids": np.ones((2, 8), "int32"), "padding_mask": np.ones((2, 8), "int32")})
    sub = _sub(g, "decoder_block_0")
    assert _assert_children_shapes(sub, seen, 2) >= 6        # norms, attention, the three ffw projections
    assert _assert_children_shapes(_sub(sub, "attention"), seen, 2) >= 4
    # MACs per block by hand from the config: projections, QK^T and AV, gated feed-forward, norms, rotary
    t, d, n, kv, hd, f = 8, 16, 2, 1, 8, 32
    proj = t * d * n * hd + 2 * t * d * kv * hd + t * n * hd * d
    attention = 2 * t * t * n * hd
    ffw = 3 * t * d * (f // 2)                  # two gates and the output, keras-hub halves intermediate_dim
    norms, rotary = 2 * t * d, 2 * (t * n * hd + t * kv * hd)
    assert g.node("decoder_block_0")["macs"] == proj + attention + ffw + norms + rotary


def test_without_a_sequence_length_the_block_stays_one_box_and_says_why(gemma):
    from inspector.cli.common import open_graph

    _, path = gemma
    g = open_graph(path, load=True)
    assert g.node("decoder_block_0").get("subgraph") is None and g.node("decoder_block_0")["macs"] is None
    assert any("decoder_block_0" in n and "--input" in n for n in g.meta["notes"])


def _hub_backbone(keras_hub, arch):
    kh, kw = keras_hub.models, dict(vocabulary_size=50, num_layers=2, intermediate_dim=64)
    if arch == "bert":
        return kh.BertBackbone(num_heads=2, hidden_dim=32, max_sequence_length=16, **kw)
    if arch == "gpt2":
        return kh.GPT2Backbone(num_heads=2, hidden_dim=32, max_sequence_length=16, **kw)
    if arch == "llama":
        return kh.LlamaBackbone(num_query_heads=2, num_key_value_heads=1, hidden_dim=32, **kw)
    if arch == "vit":
        return kh.ViTBackbone(image_shape=(16, 16, 3), patch_size=4, num_layers=2, num_heads=2, hidden_dim=16,
                              mlp_dim=32)
    return kh.ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
                             stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
                             image_shape=(16, 16, 3))


@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama", "vit", "resnet"])
def test_keras_hub_contractions_equal_the_profilers(keras, arch):
    """keras-hub backbones traced through their blocks and attention: every contraction's MACs
    (Dense, EinsumDense, the attention einsums, convolutions) equal half the float ops TensorFlow's
    profiler counts for the MatMul/convolution ops of the same forward pass, op for op, and the
    total is known. (The profiler's grand total also counts element-wise float ops, which are not
    multiply-accumulates, and no Einsum op: so the ops are compared, not the grand totals.)"""
    keras_hub = pytest.importorskip("keras_hub")
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    from inspector.readers.live.reshape import with_input_shapes
    from inspector.readers.live.specs import InputSpec
    from inspector.readers.live.trace import live_graph

    keras.utils.set_random_seed(3)
    backbone = _hub_backbone(keras_hub, arch)
    model = backbone
    if arch in ("bert", "gpt2", "llama"):      # token models: a sequence length for the open axis
        model = with_input_shapes(backbone, [InputSpec(t._keras_history[0].name, (16,), "int32")
                                             for t in backbone.inputs])
    g, _ = live_graph(model)
    assert g.totals()["macs_known"]
    contractions, stack = [], [g]
    while stack:
        graph = stack.pop()
        for _, a in graph.nodes():
            if a.get("subgraph"):
                stack.append(graph.subgraphs[a["subgraph"]])
            elif a["class_name"] in ("Dense", "EinsumDense", "Einsum", "Conv2D"):
                contractions.append(a["macs"])
    specs = {t._keras_history[0].name: tf.TensorSpec([1, *t.shape[1:]], t.dtype) for t in model.inputs}
    feed = specs if len(specs) > 1 else next(iter(specs.values()))
    cf = tf.function(lambda x: model(x, training=False)).get_concrete_function(feed)
    prof = model_analyzer.profile(graph=cf.graph, cmd="scope",
                                  options=option_builder.ProfileOptionBuilder.float_operation())
    counted, nodes = [], [prof]
    while nodes:                                   # every op the profiler counted, by name
        n = nodes.pop()
        nodes.extend(n.children)
        if n.float_ops and n.name.rsplit("/", 1)[-1].startswith(("MatMul", "BatchMatMul", "Conv2D", "convolution")):
            counted.append(n.float_ops // 2)
    assert len(counted) == len(contractions) >= 6
    assert sorted(contractions) == sorted(counted)
    blocks = [nid for nid, a in g.nodes() if a.get("subgraph")]
    for nid in blocks:
        assert g.node(nid)["macs"] == sum(a["macs"] for _, a in _sub(g, nid).nodes())


def test_task_model_expands_its_backbone_and_counts_shared_weights_once(gemma, keras, tmp_path):
    """GemmaCausalLM: the backbone is traced block by block under the task, and the LM head that
    reuses the backbone's token embedding is not counted twice (Keras's count_params())."""
    import keras_hub

    from inspector.cli.common import open_graph

    backbone, _ = gemma
    lm = keras_hub.models.GemmaCausalLM(backbone=backbone, preprocessor=None)
    lm.save(tmp_path / "lm.keras")
    g = open_graph(str(tmp_path / "lm.keras"), load=True, inputs=("token_ids=8", "padding_mask=8"))
    t = g.totals()
    assert t["params_total"] == lm.count_params() and t["macs_known"]
    inner = _sub(g, backbone.name)
    assert {n for n, a in inner.nodes() if a["class_name"] == "GemmaDecoderBlock"} == \
        {layer.name for layer in backbone.layers if type(layer).__name__ == "GemmaDecoderBlock"}
    assert g.node("token_embedding")["params_in"] == backbone.name
