"""The tracer against Keras itself: layer sets, call counts and shapes from a real (instrumented)
call of the model, functional twins against the model's outputs, and the broken seed model."""
from __future__ import annotations

import inspect
import json
from collections import Counter

import numpy as np
import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import inspector
from inspector.readers.live.specs import InputSpec, is_python_spec, parse_args, parse_inputs, resolve_spec
from inspector.readers.live.trace import TraceFailed, trace
from samples import seed_models as sm
from tests.models import trace_models as mt


def real_calls(model, args):
    """Run the model for real with every sub-layer's ``call`` wrapped: which layers ran, how often,
    with which output shapes (batch dim as None), in order. Independent of the tracer's hooks."""
    import keras
    import tensorflow as tf

    seen: list[tuple[str, tuple]] = []
    layers = [layer for layer in model._flatten_layers(include_self=False, recursive=False)]
    originals = {}
    for layer in layers:
        originals[layer] = layer.call

        def wrapped(*a, __layer=layer, __orig=layer.call, **k):
            out = __orig(*a, **k)
            if tf.executing_eagerly():  # not Keras's own symbolic build-by-calling pass
                shape = tuple(keras.tree.flatten(out)[0].shape)
                seen.append((__layer.name, (None,) + shape[1:]))
            return out

        layer.call = wrapped
    error = None
    try:
        out = model(*args)
    except Exception as e:  # the broken model: calls up to the failure still count
        out, error = None, e
    finally:
        for layer, orig in originals.items():
            layer.call = orig
    return seen, out, error


def random_inputs(g, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name in g.inputs:
        a = g.node(name)
        shape = (batch,) + tuple(a["output_shapes"][0][1:])
        dtype = a["output_dtypes"][0]
        out[name] = (rng.integers(0, 5, shape) if "int" in dtype else rng.standard_normal(shape)).astype(dtype)
    return out


def assert_matches_real_call(g, model, args):
    calls, out, error = real_calls(model, args)
    counts = Counter(name for name, _ in calls)
    layer_nodes = {n: a for n, a in g.nx.nodes(data=True) if a["kind"] in ("layer", "model") and not a.get("failed")}
    assert Counter(a["name"] for a in layer_nodes.values()) == counts
    assert set(counts) <= {layer.name for layer in model.layers}
    for name, shape in calls:
        assert shape in [tuple(g.node(n)["output_shapes"][0]) for n in g.calls(name) if not g.node(n).get("failed")], name
    return out, error


def _flat(x):
    import keras

    return [np.asarray(t) for t in keras.tree.flatten(x)]


# --------------------------------------------------------------------------- subclassed samples
CASES = {  # builder, positional-args maker from our input dict
    "customer_ticket_subclassed": (sm.customer_ticket_subclassed, lambda x: (x,)),
    "my_model": (sm.my_model, lambda x: (x["inputs"],)),
    "loop_model": (sm.loop_model, lambda x: (x["inputs"],)),
    "recursive_model": (sm.recursive_model, lambda x: (x["inputs"],)),
    "ops_model": (sm.ops_model, lambda x: (x["inputs"],)),
    "two_arg_model": (mt.two_arg_model, lambda x: (x["a"], x["b"])),
}


@pytest.mark.parametrize("name", CASES)
def test_symbolic_trace_matches_keras(name):
    build, to_args = CASES[name]
    model = build()
    specs = ["a=3", "b=5"] if name == "two_arg_model" else None
    r = trace(model, specs)
    assert r.error is None and r.mode == "symbolic" and r.graph.meta["traced"]
    g = r.graph
    assert all(a["traced"] for _, a in g.nx.nodes(data=True))
    x = random_inputs(g)
    out, error = assert_matches_real_call(g, model, to_args(x))
    assert error is None
    assert set(g.layers) - set(g.inputs) == {layer.name for layer in model.layers}
    assert g.totals()["params_total"] == model.count_params()
    # the twin shares the layer objects and computes the same thing
    assert {id(layer) for layer in model.layers} <= {id(layer) for layer in r.twin.layers}
    twin_in = x if len(x) > 1 else next(iter(x.values()))
    if name == "two_arg_model":
        twin_in = [x["a"], x["b"]]
    for p, q in zip(_flat(r.twin(twin_in)), _flat(out)):
        assert p.shape == q.shape and np.allclose(p, q, atol=1e-5)
    for (nid, t), q in zip(g.outputs, _flat(out)):
        assert g.node(nid)["output_shapes"][t] == (None,) + q.shape[1:]


def test_recursive_model_is_one_layer_called_three_times():
    model = sm.recursive_model()
    g = trace(model).graph
    assert g.calls(model.dense.name) == [f"{model.dense.name}:{i}" for i in range(model.depth)]
    assert all(g.node(n)["attribute"] == "dense" for n in g.calls(model.dense.name))


def test_ops_between_layers_are_op_nodes():
    model = sm.ops_model()
    r = trace(model)
    ops = [a["class_name"] for _, a in r.graph.nodes() if a["kind"] == "op"]
    twin_ops = [type(op).__name__ for op in r.twin._operations if not hasattr(op, "trainable_weights")]
    assert ops == twin_ops and {"Relu", "Sin", "Add", "Concatenate"} <= set(ops)


def test_my_model_expands_its_functional_classifier():
    model = sm.my_model()
    g = inspector.read(model)
    node = g.node(model.classifier.name)
    assert node["kind"] == "model"
    sub = g.subgraphs[node["subgraph"]]
    assert sub.layers == [layer.name for layer in model.classifier.layers]


def test_int_inputs_and_unbuilt_model_needs_specs():
    model = mt.embed_model()
    with pytest.raises(inspector.InspectorError, match="--input tokens=SHAPE"):
        trace(model)
    r = trace(model, [InputSpec("tokens", (12,), "int32")])
    assert r.error is None
    x = random_inputs(r.graph)
    out, _ = assert_matches_real_call(r.graph, model, (x["tokens"],))
    assert np.allclose(_flat(r.twin(x["tokens"]))[0], _flat(out)[0], atol=1e-5)


# --------------------------------------------------------------------------- eager fallback
def test_eager_fallback_records_layers_and_tf_ops():
    model = mt.value_branch_model()
    r = trace(model, ["inputs=5"])
    assert r.mode == "eager" and r.twin is None and r.error is None
    g = r.graph
    assert g.meta["traced"] and "eager" in g.meta["hint"]
    x = random_inputs(g)
    out, _ = assert_matches_real_call(g, model, (x["inputs"],))
    assert model.other.name not in g  # the branch not taken is not in the graph of this call
    ops = {a["class_name"] for _, a in g.nx.nodes(data=True) if a["kind"] == "op"}
    assert {"Relu", "AddV2"} <= ops
    assert g.nx.has_edge("add_v2", model.second.name)
    assert [g.node(o)["output_shapes"][t] for o, t in g.outputs] == [(None,) + _flat(out)[0].shape[1:]]


def test_failure_without_a_layer_names_the_source_line():
    model = mt.broken_eager()
    r = trace(model, ["x=3"])
    assert r.error is not None and r.error.node is None
    lines, start = inspect.getsourcelines(mt.BrokenEager.call)
    want = start + next(i for i, line in enumerate(lines) if "ops.reshape" in line)
    assert r.error.file.endswith("trace_models.py") and r.error.line == want
    assert model.dense.name in r.graph  # the partial graph up to the failure


# --------------------------------------------------------------------------- the broken seed model
TICKET_SPECS = [f"title={sm.VOCABULARY_SIZE}", f"text_body={sm.VOCABULARY_SIZE}", f"tags={sm.NUM_TAGS}"]


def _second_scorer_line():
    lines, start = inspect.getsourcelines(sm.CustomerTicketModel.call)
    hits = [start + i for i, line in enumerate(lines) if "self.priority_scorer(" in line]
    assert len(hits) == 2
    return hits[1]


def test_broken_customer_ticket_model_explained():
    model = sm.broken_customer_ticket_subclassed()
    r = trace(model, TICKET_SPECS)
    err = r.error
    assert err is not None and r.twin is None
    scorer = model.priority_scorer
    assert err.attribute == "priority_scorer" and err.layer == scorer.name
    assert err.expected == "(..., 64)" and err.received == "(None, 1)"
    assert err.file.endswith("seed_models.py") and err.line == _second_scorer_line()
    msg = str(err)
    assert "priority_scorer" in msg and "64" in msg and "(None, 1)" in msg
    assert f"seed_models.py:{_second_scorer_line()}" in msg
    # the partial graph: every call Keras made before failing, and the failing call in red
    g = r.graph
    x = random_inputs(g)
    _, error = assert_matches_real_call(g, model, (x,))
    assert error is not None  # Keras fails too
    failed = g.node(err.node)
    assert failed["failed"] and failed["error"] == msg and failed["name"] == scorer.name
    assert g.calls(scorer.name) == [f"{scorer.name}:0", f"{scorer.name}:1"]
    assert [u for u, _, _ in g.in_edges(err.node)] == [f"{scorer.name}:0"]
    assert failed["input_shapes"] == [(None, 1)]


def test_read_raises_trace_failed_with_partial_graph():
    model = mt.switch_model()  # built while working; then its call is switched to a broken path
    model.broken = True
    with pytest.raises(TraceFailed) as info:
        inspector.read(model)
    result = info.value.result
    assert result.error.attribute == "dense_a" and result.error.node == f"{model.dense_a.name}:1"
    assert result.graph.node(result.error.node)["failed"]


def test_unbuilt_broken_model_says_which_inputs_to_pass():
    with pytest.raises(inspector.InspectorError) as info:
        inspector.read(sm.broken_customer_ticket_subclassed())
    assert "--input title=SHAPE --input text_body=SHAPE --input tags=SHAPE" in str(info.value)


# --------------------------------------------------------------------------- CLI
SEED = "samples/seed_models.py"


def test_cli_broken_model_prints_partial_then_one_error_line():
    line = _second_scorer_line()
    r = run_cli("summary", f"{SEED}:broken_customer_ticket_subclassed", *[f"--input={s}" for s in TICKET_SPECS],
                cwd=_root())
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ")
    assert "priority_scorer" in errors[0] and f"seed_models.py:{line}" in errors[0] and "64" in errors[0]
    assert "(call 1)" in r.stdout and "traced" in r.stdout and "concatenate" in r.stdout


def test_cli_unbuilt_model_asks_for_inputs():
    r = run_cli("summary", f"{SEED}:broken_customer_ticket_subclassed", cwd=_root())
    assert r.returncode == 2 and "--input title=SHAPE" in r.stderr and "Traceback" not in r.stderr


def test_cli_class_with_args_and_module_spec(tmp_path):
    r = run_cli("export", f"{SEED}:FixedCustomerTicketModel", "--arg", "num_departments=3",
                *[f"--input={s}" for s in TICKET_SPECS], "-o", str(tmp_path / "g.json"), cwd=_root())
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "g.json").read_text())
    assert data["meta"]["traced"] and all(n["traced"] for n in data["nodes"])
    dept = next(n for n in data["nodes"] if n["name"] == "department")
    assert dept["output_shapes"] == [[None, 3]]
    r = run_cli("summary", "samples.seed_models:loop_model", "--format", "json", cwd=_root())
    assert r.returncode == 0, r.stderr
    assert [layer["id"] for layer in json.loads(r.stdout)["layers"]][1:] == ["block_0", "block_1", "block_2"]


def test_cli_spec_errors():
    r = run_cli("summary", f"{SEED}:CustomerTicketModel", cwd=_root())
    assert r.returncode == 2 and "--arg num_departments=VALUE" in r.stderr
    r = run_cli("summary", "no/such/file.py:X", cwd=_root())
    assert r.returncode == 2 and "no such Python file" in r.stderr
    r = run_cli("summary", "x.keras", "--arg", "a=1", check_tf=True, cwd=_root())
    assert r.returncode == 2 and "--arg only applies to a Python spec" in r.stderr and "TF_LOADED=False" in r.stderr


def _root():
    from conftest import ROOT

    return ROOT


# --------------------------------------------------------------------------- specs and open_keras_model
def test_parse_inputs_and_args():
    assert parse_inputs(["x=32,32,3", "tokens=128:int32", "s=None,16", "v=(4,)"]) == [
        InputSpec("x", (32, 32, 3)), InputSpec("tokens", (128,), "int32"), InputSpec("s", (None, 16)),
        InputSpec("v", (4,))]
    assert parse_args(["n=4", "name=abc", "shape=(1, 2)", "flag=True"]) == {
        "n": 4, "name": "abc", "shape": (1, 2), "flag": True}
    for bad in (["x"], ["x=3:float33"], ["x=a,b"], ["1x=3"], ["x=3", "x=4"], ["x=0"]):
        with pytest.raises(inspector.InspectorError):
            parse_inputs(bad)
    with pytest.raises(inspector.InspectorError):
        parse_args(["novalue"])
    assert is_python_spec("samples/seed_models.py:my_model") and is_python_spec("pkg.mod:Name")
    assert not is_python_spec("model.keras") and not is_python_spec("C:/x/model.keras")


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
       st.lists(st.one_of(st.none(), st.integers(1, 4096)), max_size=5),
       st.sampled_from(["float32", "int32", "bfloat16", "bool"]))
def test_input_spec_round_trip(name, dims, dtype):
    spec = InputSpec(name, tuple(dims), dtype)
    assert parse_inputs([str(spec)]) == [spec]


def test_resolve_spec_forms(tmp_path):
    import keras

    m = resolve_spec("samples.seed_models:LoopModel", {"num_blocks": 2})
    assert isinstance(m, sm.LoopModel) and len(m.blocks) == 2
    assert isinstance(resolve_spec("samples.seed_models:loop_model", {"seed": 1}), keras.Model)
    f = tmp_path / "standalone_models.py"
    f.write_text("import keras\nMODEL = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n"
                 "NOT_A_MODEL = 3\n")
    assert isinstance(resolve_spec(f"{f}:MODEL"), keras.Sequential)
    with pytest.raises(inspector.InspectorError, match="already a model instance"):
        resolve_spec(f"{f}:MODEL", {"x": 1})
    with pytest.raises(inspector.InspectorError, match="not a Keras model"):
        resolve_spec(f"{f}:NOT_A_MODEL")
    with pytest.raises(inspector.InspectorError, match="it defines"):
        resolve_spec("samples.seed_models:Nope")
    boom = tmp_path / "boom_models.py"
    boom.write_text("x = 1\nraise RuntimeError('boom')\n")
    with pytest.raises(inspector.InspectorError, match=r"boom \(at .*boom_models.py:2\)"):
        resolve_spec(f"{boom}:MODEL")


def test_open_keras_model_gives_functional_twin():
    from inspector.readers.live.resolve import open_keras_model

    twin = open_keras_model("samples.seed_models:customer_ticket_subclassed")
    original = sm.customer_ticket_subclassed()
    assert type(twin).__name__ == "Functional"
    x = {"title": np.random.rand(2, sm.VOCABULARY_SIZE).astype("float32"),
         "text_body": np.random.rand(2, sm.VOCABULARY_SIZE).astype("float32"),
         "tags": np.random.rand(2, sm.NUM_TAGS).astype("float32")}
    # same seed, same weights: the twin of a freshly built model computes what the model computes
    for p, q in zip(_flat(twin(x)), _flat(original(x))):
        assert np.allclose(p, q, atol=1e-5)
    with pytest.raises(inspector.InspectorError, match="eagerly"):
        open_keras_model("tests.models.trace_models:value_branch_model", inputs=("inputs=5",))
