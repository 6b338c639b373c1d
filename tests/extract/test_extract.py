"""Feature extractors and head/tail splits, checked against Keras's own truncated models."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli, user_lines

import inspector
from inspector.errors import InspectorError
from inspector.extract.submodel import HookExtractor, build_extractor, cut_graph, feature_extractor, split

ATOL = 1e-5
APP_LAYERS = {
    "ResNet50": ["conv2_block2_2_conv", "conv3_block4_out", "conv5_block3_out"],
    "MobileNetV2": ["block_3_depthwise", "block_8_project_BN", "out_relu"],
    "EfficientNetB0": ["block2a_expand_activation", "block4b_add", "top_activation"],
}


# --------------------------------------------------------------------------- helpers
def _batch(model, n: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Random batch keyed by input node id (the InputLayer name)."""
    rng = np.random.default_rng(seed)
    return {t._keras_history[0].name: rng.random((n, *t.shape[1:]), dtype="float32") for t in model.inputs}


def _feed(model, batch: dict[str, np.ndarray]):
    """Arrange a batch for ``model``'s inputs (by InputLayer name)."""
    vals = [batch[t._keras_history[0].name] for t in model.inputs]
    return vals[0] if len(vals) == 1 else vals


def _truth_tensors(model, nid: str):
    """The output tensor(s) Keras itself gives for a layer call: ``layer.output``, or for a shared
    layer / nested model (whose ``.output`` is its own inner graph's) its k-th call node in ``model``."""
    name, _, k = nid.partition(":")
    fn = getattr(model, "_functional", None) or model
    op = next(o for o in fn._operations if o.name == name)
    node_ids = {id(n) for ns in fn._nodes_by_depth.values() for n in ns}
    mine = [n for n in op._inbound_nodes if id(n) in node_ids]
    if len(op._inbound_nodes) == 1 and not hasattr(op, "_nodes_by_depth"):
        return op.output
    outs = mine[int(k or 0)].outputs
    return outs[0] if len(outs) == 1 else outs


def _close(a, b) -> bool:
    import keras

    fa, fb = keras.tree.flatten(a), keras.tree.flatten(b)
    return len(fa) == len(fb) and all(np.allclose(np.asarray(x), np.asarray(y), atol=ATOL) for x, y in zip(fa, fb))


def _functional_samples(sample_dir):
    return {k: v for k, v in sample_dir.items() if k != "my_model"}


@pytest.fixture(scope="module")
def apps(keras):
    """ResNet50 / MobileNetV2 / EfficientNetB0, random weights, built once, with one random batch."""
    keras.backend.clear_session()
    out = {}
    x = (np.random.default_rng(1).random((2, 96, 96, 3), dtype="float32") * 255).astype("float32")
    for name in APP_LAYERS:
        out[name] = getattr(keras.applications, name)(weights=None, input_shape=(96, 96, 3))
    return out, x


@pytest.fixture(scope="module")
def pruned_model(keras):
    """Three inputs; `title_dense` depends on `title` only, `mix` on title and text_body."""
    keras.utils.set_random_seed(3)
    title = keras.Input((12,), name="title")
    body = keras.Input((20,), name="text_body")
    tags = keras.Input((5,), name="tags")
    t = keras.layers.Dense(8, activation="relu", name="title_dense")(title)
    b = keras.layers.Dense(8, activation="relu", name="body_dense")(body)
    mix = keras.layers.Concatenate(name="mix")([t, b])
    out = keras.layers.Concatenate(name="all")([mix, tags])
    out = keras.layers.Dense(3, name="out")(out)
    return keras.Model([title, body, tags], out, name="pruned")


# --------------------------------------------------------------------------- extractors
def test_samples_every_layer_matches_keras(sample_dir, keras):
    for name, (model, _) in _functional_samples(sample_dir).items():
        fn = getattr(model, "_functional", None) or model
        cm = cut_graph(model, fn)
        batch = _batch(model)
        for nid in cm.graph.order():
            if cm.graph.node(nid)["kind"] == "input":
                continue
            ext = feature_extractor(model, nid)
            got = ext(_feed(ext, batch))
            truth = keras.Model(model.inputs, _truth_tensors(model, nid))(_feed(model, batch))
            assert _close(got, truth), (name, nid)


def test_node_ids_are_the_readers_ids(sample_dir):
    """References a user copies from `inspector summary` resolve in the cut graph."""
    for name, (model, path) in _functional_samples(sample_dir).items():
        fn = getattr(model, "_functional", None) or model
        assert set(cut_graph(model, fn).graph.nx.nodes) == set(inspector.read(path).nx.nodes), name


@pytest.mark.parametrize("app", list(APP_LAYERS))
def test_applications_inner_layers_match_keras(apps, keras, app):
    models, x = apps
    model = models[app]
    for layer in APP_LAYERS[app]:
        ext = feature_extractor(model, layer)
        truth = keras.Model(model.inputs, model.get_layer(layer).output)
        assert np.allclose(ext(x), truth(x), atol=ATOL), (app, layer)
    # several layers at once: a dict keyed by layer name
    multi = feature_extractor(model, APP_LAYERS[app])
    got = multi(x)
    assert list(got) == APP_LAYERS[app]
    for layer in APP_LAYERS[app]:
        assert np.allclose(got[layer], keras.Model(model.inputs, model.get_layer(layer).output)(x), atol=ATOL)


def test_pruned_extractor_asks_only_for_needed_inputs(pruned_model, keras):
    batch = _batch(pruned_model)
    ext = feature_extractor(pruned_model, "title_dense")
    assert [t.name for t in ext.inputs] == ["title"]
    truth = keras.Model(pruned_model.inputs, pruned_model.get_layer("title_dense").output)
    assert np.allclose(ext(batch["title"]), truth(_feed(pruned_model, batch)), atol=ATOL)
    mix = feature_extractor(pruned_model, "mix")
    assert [t.name for t in mix.inputs] == ["title", "text_body"]
    both = build_extractor(pruned_model, ["title_dense", "body_dense"])
    assert [s.name for s in both.inputs] == ["title", "text_body"]


def test_layer_references(sample_dir, keras):
    model, _ = sample_dir["customer_ticket_model"]
    batch = _batch(model)
    by_index = feature_extractor(model, 4)          # the seed's model.layers[4]
    assert model.layers[4].name == "dense"
    truth = keras.Model(model.inputs, model.layers[4].output)(_feed(model, batch))
    assert np.allclose(by_index(_feed(by_index, batch)), truth, atol=ATOL)
    assert np.allclose(feature_extractor(model, "-1")(_feed(model, batch)),
                       keras.Model(model.inputs, model.layers[-1].output)(_feed(model, batch)), atol=ATOL)

    shared, _ = sample_dir["shared_layer_model"]
    x = _batch(shared)["input_layer"]
    d = shared.get_layer("shared_dense")
    first = feature_extractor(shared, "shared_dense:0")(x)
    second = feature_extractor(shared, "shared_dense:1")(x)
    assert np.allclose(first, d(x), atol=ATOL) and np.allclose(second, d(d(x)), atol=ATOL)
    with pytest.raises(InspectorError, match="'shared_dense' is called 2 times: name one call"):
        feature_extractor(shared, "shared_dense")   # which call? Keras's layer.output refuses too


@pytest.mark.parametrize("ref,needle", [("dens", "did you mean dense"), ("99", "out of range"),
                                        ("shared_dense:5", "has 2 calls")])
def test_bad_layer_reference(sample_dir, ref, needle):
    name = "shared_layer_model" if ref.startswith("shared") else "customer_ticket_model"
    with pytest.raises(InspectorError) as e:
        feature_extractor(sample_dir[name][0], ref)
    assert needle in str(e.value)


# --------------------------------------------------------------------------- splits
def test_samples_split_everywhere(sample_dir):
    for name, (model, _) in _functional_samples(sample_dir).items():
        fn = getattr(model, "_functional", None) or model
        cm = cut_graph(model, fn)
        batch = _batch(model)
        want = model(_feed(model, batch))
        for nid in cm.graph.order():
            if cm.graph.node(nid)["kind"] == "input":
                continue
            parts = split(model, nid)
            assert parts.boundary[0].node == nid and parts.boundary[0].role == "cut"
            got = parts.tail(parts.head(_feed(parts.head, batch)))
            assert _close(got, want), (name, nid)


def test_resnet_split_inside_residual_block(apps):
    models, x = apps
    model = models["ResNet50"]
    want = model(x)
    parts = split(model, "conv2_block2_2_conv")
    roles = {b.key: (b.role, b.consumers) for b in parts.boundary}
    assert roles["conv2_block2_2_conv"][0] == "cut"
    assert roles["conv2_block1_out"] == ("extra", ["conv2_block2_add"])    # the shortcut
    assert len(parts.boundary) == 2
    assert np.allclose(parts.tail(parts.head(x)), want, atol=ATOL)
    clean = split(model, "conv3_block4_out")          # a block boundary: nothing extra
    assert [b.role for b in clean.boundary] == ["cut"]
    assert np.allclose(clean.tail(clean.head(x)), want, atol=ATOL)
    # the tail's own layers are the original objects: same weights, nothing copied
    assert clean.tail.get_layer("conv5_block3_3_conv") is model.get_layer("conv5_block3_3_conv")


def test_split_to_and_pass_through_inputs(pruned_model):
    batch = _batch(pruned_model)
    parts = split(pruned_model, "title_dense", to="mix")
    assert {b.key: b.role for b in parts.boundary} == {"title_dense": "cut", "text_body": "input"}
    got = parts.tail(parts.head(_feed(parts.head, batch)))
    truth = feature_extractor(pruned_model, "mix")([batch["title"], batch["text_body"]])
    assert np.allclose(got, truth, atol=ATOL)
    full = split(pruned_model, "mix")
    assert [b.key for b in full.boundary] == ["mix", "tags"]
    assert np.allclose(full.tail(full.head(_feed(full.head, batch))), pruned_model(_feed(pruned_model, batch)),
                       atol=ATOL)


# --------------------------------------------------------------------------- subclassed models
def test_subclassed_via_trace_or_hook(keras, monkeypatch):
    from samples import seed_models

    model = seed_models.customer_ticket_subclassed()
    rng = np.random.default_rng(0)
    batch = {"title": rng.random((2, 10000), dtype="float32"), "text_body": rng.random((2, 10000), dtype="float32"),
             "tags": rng.random((2, 100), dtype="float32")}
    truth = model.mixing_layer(model.concat_layer([batch["title"], batch["text_body"], batch["tags"]]))
    # eager fallback: capture the layer's output with a hook during a normal forward pass
    import inspector.extract.opening as opening

    monkeypatch.setattr(opening, "functional_of", lambda m, specs=None: (None, "forced", None, None))
    hook = feature_extractor(model, "mixing")
    assert isinstance(hook, HookExtractor)
    assert np.allclose(hook(batch), truth, atol=ATOL)
    rec = seed_models.recursive_model()
    x = rng.random((2, 8), dtype="float32")
    d = rec.dense
    assert np.allclose(feature_extractor(rec, "shared_dense:1")(x), d(d(x)), atol=ATOL)
    monkeypatch.undo()


def test_subclassed_traced_twin(keras):
    from inspector.readers.live import trace
    from samples import seed_models

    model = seed_models.customer_ticket_subclassed()
    if trace.trace(model).twin is None:
        pytest.skip("tracing gave no symbolic twin for the subclassed sample")
    rng = np.random.default_rng(0)
    batch = {"title": rng.random((2, 10000), dtype="float32"), "text_body": rng.random((2, 10000), dtype="float32"),
             "tags": rng.random((2, 100), dtype="float32")}
    truth = model.mixing_layer(model.concat_layer([batch["title"], batch["text_body"], batch["tags"]]))
    ext = feature_extractor(model, "mixing")
    assert isinstance(ext, keras.Model)
    assert ext.get_layer("mixing") is model.mixing_layer           # shares the layer objects
    assert np.allclose(ext(batch), truth, atol=ATOL)
    parts = split(model, "mixing")
    want = model(batch)
    assert _close(parts.tail(parts.head(batch)), want)


# --------------------------------------------------------------------------- CLI
def test_cli_extract_and_split(sample_dir, tmp_path, keras, pruned_model):
    path = str(tmp_path / "pruned.keras")
    pruned_model.save(path)
    batch = _batch(pruned_model)
    out = str(tmp_path / "sub.keras")
    r = run_cli("extract", path, "--layer", "title_dense", "-o", out)
    assert r.returncode == 0, r.stderr
    sub = keras.models.load_model(out)
    assert [t.name for t in sub.inputs] == ["title"]
    truth = keras.Model(pruned_model.inputs, pruned_model.get_layer("title_dense").output)
    assert np.allclose(sub(batch["title"]), truth(_feed(pruned_model, batch)), atol=ATOL)

    tail, head = str(tmp_path / "tail.keras"), str(tmp_path / "head.keras")
    r = run_cli("extract", path, "--from", "mix", "-o", tail, "--head-output", head)
    assert r.returncode == 0, r.stderr
    assert "tags (None, 5)  model input, needed by all" in r.stderr
    t, h = keras.models.load_model(tail), keras.models.load_model(head)
    assert np.allclose(t(h(_feed(h, batch))), pruned_model(_feed(pruned_model, batch)), atol=ATOL)


def test_cli_extract_errors(sample_dir, tmp_path):
    _, path = sample_dir["customer_ticket_model"]
    out = str(tmp_path / "x.keras")
    r = run_cli("extract", path, "--layer", "dens", "-o", out)
    assert r.returncode == 2 and len(user_lines(r.stderr)) == 1, r.stderr
    assert user_lines(r.stderr)[0].startswith(f"error: {path}: ") and "did you mean dense" in r.stderr
    r = run_cli("extract", path, "--layer", "dense", "-o", path)
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr
    r = run_cli("extract", str(tmp_path / "missing.keras"), "--layer", "dense", "-o", out)
    assert r.returncode == 2 and "no such file" in r.stderr
    r = run_cli("extract", path, "--layer", "dense", "--from", "dense", "-o", out)
    assert r.returncode == 2 and "either --layer" in r.stderr
    assert not (tmp_path / "x.keras").exists()
