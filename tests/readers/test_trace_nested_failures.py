"""The tracer against Keras on Python-heavy subclassed models, and how it explains failures that
happen deep inside nested layers or in the user's own code (models in nested_failures.py)."""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from inspector.readers.live.specs import _first_line
from inspector.readers.live.trace import trace
from tests.models import nested_failures as mm


def real_calls(model, args):
    """Every top-level layer call of a real ``model(*args)``: (layer name, all output shapes, batch as None)."""
    import keras
    import tensorflow as tf

    seen: list[tuple[str, list]] = []
    originals = {}
    for layer in model._flatten_layers(include_self=False, recursive=False):
        originals[layer] = layer.call

        def wrapped(*a, __layer=layer, __orig=layer.call, **k):
            out = __orig(*a, **k)
            if tf.executing_eagerly():  # not Keras's own symbolic build-by-calling pass
                seen.append((__layer.name, [(None,) + tuple(t.shape)[1:] for t in keras.tree.flatten(out)]))
            return out

        layer.call = wrapped
    try:
        return seen, model(*args)
    finally:
        for layer, orig in originals.items():
            layer.call = orig


def leaves(x):
    """Output arrays in the order the model returned them (dicts in insertion order, as the graph lists them)."""
    if isinstance(x, dict):
        return [a for v in x.values() for a in leaves(v)]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in leaves(v)]
    return [np.asarray(x)]


def assert_graph_matches_real_call(g, model, args):
    calls, out = real_calls(model, args)
    by_layer: dict[str, list] = {}
    for name, shapes in calls:
        by_layer.setdefault(name, []).append(shapes)
    for name, shapes in by_layer.items():
        assert [[tuple(s) for s in g.node(n)["output_shapes"]] for n in g.calls(name)] == shapes, name
    traced_layers = {a["name"] for _, a in g.nodes() if a["kind"] in ("layer", "model")}
    assert traced_layers == set(by_layer)
    assert g.totals()["params_total"] == model.count_params()
    real = leaves(out)
    assert [g.node(n)["output_shapes"][t] for n, t in g.outputs] == [(None,) + a.shape[1:] for a in real]
    return out


def line_of(obj, marker: str) -> int:
    lines, start = inspect.getsourcelines(obj)
    return start + next(i for i, line in enumerate(lines) if marker in line)


# --------------------------------------------------------------------------- symbolic twins
@pytest.mark.parametrize("name", mm.SYMBOLIC)
def test_twin_computes_what_keras_computes(name):
    import keras

    model, args, specs = mm.build(name)
    r = trace(model, specs)
    assert r.error is None and r.mode == "symbolic"
    out = assert_graph_matches_real_call(r.graph, model, args)
    got = r.twin(args[0])
    assert type(got) is type(out) or isinstance(out, dict) == isinstance(got, dict)
    for p, q in zip(keras.tree.flatten(got), keras.tree.flatten(out)):
        assert np.asarray(p).shape == np.asarray(q).shape and np.allclose(p, q, atol=1e-5)


def test_nested_custom_layers_are_clusters_with_their_own_params():
    model, args, _ = mm.build("nested_blocks")
    g = trace(model).graph
    for block in (model.b1, model.b2):
        sub = g.subgraphs[g.node(block.name)["subgraph"]]
        assert sub.totals()["params_total"] == block.count_params()
        assert {a["name"] for _, a in sub.nodes() if a["kind"] == "layer"} == {layer.name for layer in block._layers}


def test_mask_given_as_input_goes_to_the_mask_parameter():
    model, args, specs = mm.build("mask_kw")
    r = trace(model, specs)
    assert r.error is None and r.mode == "symbolic" and r.graph.inputs == ["x", "mask"]
    x, mask = args[0], np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
    assert np.allclose(r.twin([x, mask]), model(x, mask=mask), atol=1e-5)
    assert not np.allclose(model(x, mask=mask), model(x), atol=1e-5)  # the mask does matter


# --------------------------------------------------------------------------- eager fallback
def test_eager_graph_has_only_the_models_data_flow():
    model, args, specs = mm.build("value_branch_int")
    r = trace(model, specs)
    assert r.mode == "eager" and r.error is None
    g = r.graph
    assert_graph_matches_real_call(g, model, args)
    ops = {n: a for n, a in g.nodes() if a["kind"] == "op"}
    assert set(a["class_name"] for a in ops.values()) == {"Max", "Mean", "Mul"}  # no helper ops on constants
    assert all(g.in_edges(n) for n in ops)
    # the note says which line defeats symbolic tracing
    assert f"nested_failures.py:{line_of(mm.ValueBranchInt.call, 'int(ops.max')}" in g.meta["hint"]


# --------------------------------------------------------------------------- failures explained
def _assert_keras_fails_too(model, args):
    with pytest.raises(Exception):
        model(*args)


def test_failure_deep_in_nested_layers_names_that_layer_and_line():
    model, args, specs = mm.build("two_deep")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = trace(model, specs)
    assert not [w for w in caught if "keras" in w.filename]  # Keras's advice would bury the error line
    err = r.error
    assert err.attribute == "stack[1]" and err.inner == "self.stack[1].inner.b"
    assert err.expected == "(..., 3)" and err.received == "(None, 4)"
    assert err.inner_file.endswith("nested_failures.py")
    assert err.inner_line == line_of(mm.Inner.call, "the failing line")
    assert err.line == line_of(mm.TwoDeep.call, "x = s(x)")
    assert "Exception encountered" not in err.message and "last dimension: expected 3, got 4" in err.message
    assert r.graph.node(err.node)["failed"] and r.graph.node(model.stack[0].name)["output_shapes"] == [(None, 5)]
    _assert_keras_fails_too(model, args)


def test_python_error_inside_a_layer_says_where_it_was_raised():
    model, args, specs = mm.build("raise_in_layer")
    err = trace(model, specs).error
    assert err.attribute == "chk" and err.inner is None
    assert "ValueError: odd width" in err.message
    assert f"nested_failures.py:{line_of(mm.OddCheck.call, 'the raising line')}" in err.message
    _assert_keras_fails_too(model, args)


def test_python_error_in_call_is_explained_from_the_symbolic_trace():
    model, args, specs = mm.build("raise_in_call")
    r = trace(model, specs)
    assert r.mode == "symbolic"  # failing the same way eagerly says nothing more
    assert r.error.line == line_of(mm.RaiseInCall.call, "the raising line")
    assert r.error.message.endswith("ValueError: expected 5 features, got 4")
    assert model.d.name in r.graph
    _assert_keras_fails_too(model, args)


def test_first_line_unwraps_keras_wrappers():
    inner = "Input 0 of layer 'dense' is incompatible with the layer: expected axis -1 to have value 3"
    wrapped = (f"Exception encountered when calling Outer.call().\n\n\x1b[1mCould not automatically infer the "
               f"output shape / dtype of 'outer'. Error encountered:\n\nException encountered when calling "
               f"Inner.call().\n\n\x1b[1m{inner}\x1b[0m\n\nArguments received by Inner.call():\n  • x=..."
               f"\x1b[0m\n\nArguments received by Outer.call():\n  • x=...")
    assert _first_line(ValueError(wrapped)) == inner
    assert _first_line(ValueError("{{function_node __wrapped__ConcatV2}} ConcatOp : bad [Op:ConcatV2]")) == \
        "ConcatOp : bad [Op:ConcatV2]"
    assert _first_line(ValueError("plain\nsecond")) == "plain"
