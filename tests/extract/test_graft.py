"""Grafted heads: original weights byte-identical, new heads as asked, the result trains."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli, user_lines

from inspector.errors import InspectorError
from inspector.extract.graft import HeadSpec, graft


def _weights_by_layer(model) -> dict[str, list[bytes]]:
    return {layer.name: [np.asarray(w).tobytes() for w in layer.get_weights()] for layer in model.layers}


def _ticket_batch(n: int = 4, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((n, 10000), dtype="float32"), rng.random((n, 10000), dtype="float32"),
            rng.random((n, 100), dtype="float32")]


def _train_one_step(keras, model, x) -> None:
    """Compile with one loss per output and run one optimizer step on random targets."""
    rng = np.random.default_rng(1)
    ys = [rng.random((len(x[0]), *o.shape[1:]), dtype="float32") for o in model.outputs]
    model.compile(optimizer="rmsprop", loss=["mse"] * len(ys))
    hist = model.fit(x, ys, epochs=1, batch_size=len(x[0]), verbose=0)
    assert np.isfinite(hist.history["loss"][0])


def test_seed_difficulty_example(sample_dir, keras, tmp_path):
    original, path = sample_dir["customer_ticket_model"]
    before = _weights_by_layer(original)
    new = graft(original, "dense", ["difficulty:3:softmax"], seed=0)
    assert [o._keras_history[0].name for o in new.outputs] == ["priority", "department", "difficulty"]
    assert tuple(new.get_layer("difficulty").output.shape) == (None, 3)
    # the same structure as the seed's hand-written customer_ticket_with_difficulty
    seed_model, _ = sample_dir["customer_ticket_with_difficulty"]
    assert [tuple(o.shape) for o in new.outputs] == [tuple(o.shape) for o in seed_model.outputs]
    x = _ticket_batch()
    for a, b in zip(new(x)[:2], original(x)):
        assert np.allclose(a, b, atol=1e-6)
    out = str(tmp_path / "grafted.keras")
    new.save(out)
    loaded = keras.models.load_model(out)
    after = _weights_by_layer(loaded)
    for name, ws in before.items():
        assert after[name] == ws, name                       # byte-identical original weights
    assert [w.shape for w in loaded.get_layer("difficulty").get_weights()] == [(64, 3), (3,)]
    _train_one_step(keras, loaded, x)
    assert _weights_by_layer(original) == before              # grafting never touches the source model


def test_only_heads_prunes_inputs(keras):
    keras.utils.set_random_seed(0)
    a, b = keras.Input((6,), name="a"), keras.Input((4,), name="b")
    ha = keras.layers.Dense(5, name="ha")(a)
    out = keras.layers.Dense(2, name="out")(keras.layers.Concatenate(name="cat")([ha, b]))
    model = keras.Model([a, b], out)
    new = graft(model, "ha", ["x:2", "y:7:relu"], keep_outputs=False)
    assert [t.name for t in new.inputs] == ["a"]
    assert [tuple(o.shape) for o in new.outputs] == [(None, 2), (None, 7)]
    assert new.get_layer("y").activation.__name__ == "relu"
    assert new.get_layer("ha") is model.get_layer("ha")


def test_graft_on_a_feature_map_pools(keras):
    keras.backend.clear_session()
    model = keras.applications.MobileNetV2(weights=None, input_shape=(64, 64, 3))
    new = graft(model, "block_6_expand_relu", ["cls:10:softmax"], keep_outputs=False)
    assert tuple(new.output.shape) == (None, 10)
    assert any(layer.__class__.__name__ == "GlobalAveragePooling2D" for layer in new.layers)
    raw = graft(model, "block_6_expand_relu", ["cls:10"], keep_outputs=False, pool="none")
    assert tuple(raw.output.shape)[-1] == 10 and len(raw.output.shape) == 4


@pytest.mark.parametrize("head,needle", [("difficulty", "NAME:UNITS"), ("d:0:softmax", "positive"),
                                         ("dense:3", "already a layer"), ("d:3:softmx", "did you mean softmax")])
def test_bad_heads(sample_dir, head, needle):
    with pytest.raises(InspectorError) as e:
        graft(sample_dir["customer_ticket_model"][0], "dense", [head])
    assert needle in str(e.value)


def test_head_spec_parse():
    assert HeadSpec.parse("difficulty:3:softmax") == HeadSpec("difficulty", 3, "softmax")
    assert HeadSpec.parse("score:1") == HeadSpec("score", 1, None)


def test_cli_graft(sample_dir, keras, tmp_path):
    original, path = sample_dir["customer_ticket_model"]
    out = str(tmp_path / "new.keras")
    r = run_cli("graft", path, "--at", "dense", "--head", "difficulty:3:softmax", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "difficulty (None, 3)" in r.stderr
    loaded = keras.models.load_model(out)
    after = _weights_by_layer(loaded)
    for name, ws in _weights_by_layer(original).items():
        assert after[name] == ws, name
    _train_one_step(keras, loaded, _ticket_batch())
    r = run_cli("graft", path, "--at", "dens", "--head", "difficulty:3:softmax", "-o", out + "2.keras")
    assert r.returncode == 2 and "did you mean dense" in r.stderr and len(user_lines(r.stderr)) == 1
