"""Keras 3 saves that are not a plain .keras zip: the unzipped folder (``model.save(path,
zipped=False)``, Keras's Hugging Face Hub layout) and weights saved as ``.npz``."""
from __future__ import annotations

import os

import pytest
from conftest import run_cli

import inspector
from inspector.errors import BadModelFile, UnsafeModel
from tests.models.keras_truth import assert_matches_keras3


def _ticket_like(keras):
    from keras import layers

    a, b = keras.Input((6,), name="a"), keras.Input((3,), name="b")
    h = layers.Dense(5, activation="relu", name="mix")(layers.Concatenate(name="cat")([a, b]))
    return keras.Model([a, b], [layers.Dense(1, name="p")(h), layers.Dense(4, name="d")(h)])


@pytest.fixture
def folder(keras, tmp_path):
    keras.backend.clear_session()
    model = _ticket_like(keras)
    path = str(tmp_path / "saved")
    model.save(path, zipped=False)
    return model, path


def test_unzipped_folder_reads_like_keras(folder):
    model, path = folder
    g = inspector.read(path)
    assert g.meta["format"] == "keras-v3-folder"
    assert_matches_keras3(g, model)
    r = run_cli("summary", path)
    assert r.returncode == 0 and "mix" in r.stdout and not r.stderr


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_folder_member_that_is_a_link_is_refused(folder, tmp_path, member):
    _, path = folder
    real = tmp_path / f"elsewhere-{member}"
    os.replace(os.path.join(path, member), real)
    os.symlink(real, os.path.join(path, member))
    with pytest.raises(UnsafeModel, match="symbolic link"):
        inspector.read(path)
    r = run_cli("summary", path)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "symbolic link" in r.stderr


def test_folder_without_config_is_not_a_model(tmp_path):
    with pytest.raises(BadModelFile, match="without a config.json"):
        inspector.read(str(tmp_path))


def test_npz_weights_give_the_graph_without_counts(keras, tmp_path):
    from keras.src.saving import saving_lib

    keras.backend.clear_session()
    model = _ticket_like(keras)
    path = str(tmp_path / "npz.keras")
    saving_lib.save_model(model, path, weights_format="npz")
    g = inspector.read(path)
    for layer in model.layers:
        a = g.node(layer.name)
        assert [tuple(s) for s in a["output_shapes"]] == [tuple(layer.output.shape)]
        if layer.weights:
            assert a["params_trainable"] is None  # unknown, never a wrong 0
    assert any("model.weights.npz" in n for n in g.meta["notes"])
