"""One data path: `features`/`extract`/`graft` read a model file once statically (the cheap checks)
and once with Keras, and cut along the live reader's graph walked once; results checked against Keras."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

ATOL = 1e-5


@pytest.fixture
def passes(monkeypatch, keras):
    """Counts of static reads, Keras loads and live walks while the test runs (the real functions run)."""
    import inspector.readers.live.walk as walk
    import inspector.readers.static as static

    counts = {"static": 0, "keras": 0, "walk": 0}

    def spy(key, real):
        def wrapper(*a, **k):
            counts[key] += 1
            return real(*a, **k)
        return wrapper

    monkeypatch.setattr(static, "read_file", spy("static", static.read_file))
    monkeypatch.setattr(keras.models, "load_model", spy("keras", keras.models.load_model))
    real_walk = walk.functional_graph

    def top_walk(model, depth=0, *a, **k):   # nested models are walked from inside the top walk
        counts["walk"] += depth == 0
        return real_walk(model, depth, *a, **k)

    monkeypatch.setattr(walk, "functional_graph", top_walk)
    return counts


def _cli(*args: str):
    from inspector.cli.app import main

    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r


def test_features_reads_once_statically_and_once_with_keras(sample_dir, keras, tmp_path, passes):
    model, path = sample_dir["functional_simple"]
    x = np.random.default_rng(0).random((7, 3), dtype="float32")
    np.save(tmp_path / "x.npy", x)
    out = str(tmp_path / "f.npy")
    _cli("features", path, "--layer", "dense", "-i", str(tmp_path / "x.npy"), "-o", out, "-b", "4")
    assert passes == {"static": 1, "keras": 1, "walk": 1}
    truth = keras.Model(model.inputs, model.get_layer("dense").output).predict(x, verbose=0)
    assert np.allclose(np.load(out), truth, atol=ATOL)


def test_extract_and_split_read_once_each(sample_dir, keras, tmp_path, passes):
    model, path = sample_dir["customer_ticket_model"]
    rng = np.random.default_rng(0)
    x = [rng.random((2, 10000), dtype="float32"), rng.random((2, 10000), dtype="float32"),
         rng.random((2, 100), dtype="float32")]
    _cli("extract", path, "--layer", "dense", "-o", str(tmp_path / "e.keras"))
    assert passes == {"static": 1, "keras": 1, "walk": 1}
    passes.update(static=0, keras=0, walk=0)
    _cli("extract", path, "--from", "dense", "-o", str(tmp_path / "t.keras"), "--head-output", str(tmp_path / "h.keras"))
    assert passes == {"static": 1, "keras": 1, "walk": 1}
    ext = keras.models.load_model(str(tmp_path / "e.keras"))
    assert np.allclose(ext(x), keras.Model(model.inputs, model.get_layer("dense").output)(x), atol=ATOL)
    tail, head = keras.models.load_model(str(tmp_path / "t.keras")), keras.models.load_model(str(tmp_path / "h.keras"))
    for got, want in zip(tail(head(x)), model(x)):
        assert np.allclose(got, want, atol=ATOL)


def test_graft_reads_once_and_keeps_the_outputs(sample_dir, keras, tmp_path, passes):
    model, path = sample_dir["customer_ticket_model"]
    out = str(tmp_path / "g.keras")
    _cli("graft", path, "--at", "dense", "--head", "difficulty:3:softmax", "-o", out)
    assert passes == {"static": 1, "keras": 1, "walk": 1}
    new = keras.models.load_model(out)
    rng = np.random.default_rng(1)
    x = [rng.random((2, 10000), dtype="float32"), rng.random((2, 10000), dtype="float32"),
         rng.random((2, 100), dtype="float32")]
    got = new(x)
    assert [tuple(t.shape) for t in got] == [(2, 1), (2, 4), (2, 3)]
    for g, w in zip(got[:2], model(x)):
        assert np.allclose(g, w, atol=ATOL)
    assert np.allclose(np.sum(got[2], axis=-1), 1.0, atol=ATOL)   # the softmax head asked for


def test_library_path_checks_names_before_keras(sample_dir, passes):
    """A typo in a layer name is found in the static read: Keras never loads the file."""
    from inspector.errors import InspectorError
    from inspector.extract.graft import graft
    from inspector.extract.submodel import feature_extractor, split

    _, path = sample_dir["customer_ticket_model"]
    for cut in (lambda: feature_extractor(path, "dens"), lambda: split(path, "dense", to="priorty"),
                lambda: graft(path, "dens", ["d:3"]), lambda: graft(path, "dense", ["priority:2"])):
        with pytest.raises(InspectorError, match="did you mean|already a layer"):
            cut()
    assert passes["static"] == 4 and passes["keras"] == 0


def test_cut_graph_is_the_live_readers_graph(sample_dir, keras):
    """The cut's node ids, edges and inputs are the live reader's (`inspector.read(model)`)."""
    import inspector
    from inspector.extract.cut_graph import cut_graph

    for name in ("customer_ticket_model", "shared_layer_model", "nested_model", "sequential_model"):
        model, _ = sample_dir[name]
        cg = cut_graph(model)
        live = inspector.read(model)
        edges = sorted((u, v, d["tensor_index"]) for u, v, d in cg.graph.store.edges(data=True))
        assert edges == sorted((u, v, d["tensor_index"]) for u, v, d in live.store.edges(data=True)), name
        assert cg.graph.inputs == live.inputs and cg.graph.outputs == live.outputs, name
        for nid, node in cg.nodes.items():   # each id maps to the Keras call producing that node's output
            assert [tuple(t.shape)[1:] for t in node.outputs] == [
                tuple(s)[1:] for s in live.node(nid)["output_shapes"]], (name, nid)


def test_a_subclassed_model_is_walked_once(keras, tmp_path, passes, monkeypatch):
    """The tracer walks its functional twin; the cut takes that walk instead of walking again."""
    import inspector.readers.live.trace as trace_mod
    from samples import seed_models

    real = trace_mod.functional_graph

    def counted(model, depth=0, *a, **k):
        passes["walk"] += depth == 0
        return real(model, depth, *a, **k)

    monkeypatch.setattr(trace_mod, "functional_graph", counted)
    import inspector

    model = seed_models.customer_ticket_subclassed()
    extractor = inspector.feature_extractor(model, [model.mixing_layer.name],
                                            input_specs=("title=10000", "text_body=10000", "tags=100"))
    assert passes["walk"] == 1
    rng = np.random.default_rng(0)
    data = {"title": rng.random((2, 10000), dtype="float32"), "text_body": rng.random((2, 10000), dtype="float32"),
            "tags": rng.random((2, 100), dtype="float32")}
    want = model.mixing_layer(model.concat_layer([data["title"], data["text_body"], data["tags"]]))
    got = extractor(data)
    assert np.allclose(got, want, atol=ATOL)
