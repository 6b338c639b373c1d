"""keras-hub preset folders (``save_to_preset``: config.json, metadata.json, model.weights.h5 or a
sharded model.weights.json index, task.json/task.weights.h5, tokenizer.json + assets) read
statically, checked against Keras; and hostile sharded indexes refused with one line."""
from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import run_cli

import inspector
from inspector.errors import BadModelFile, UnsafeModel, WeightsMismatch
from tests.readers.test_weight_tree import assert_totals, live_rows, own_rows

TINY_SHARD = 0.00001   # GB: a few KB per shard, so even tiny models are split


@pytest.fixture(scope="module")
def presets(keras, tmp_path_factory):
    """Tiny keras-hub models saved as presets (plain and sharded), built once."""
    import keras_hub

    kh = keras_hub.models
    out = tmp_path_factory.mktemp("presets")
    gemma = kh.GemmaBackbone(vocabulary_size=64, num_layers=2, num_query_heads=2, num_key_value_heads=1,
                             hidden_dim=16, intermediate_dim=32, head_dim=8)
    bert = kh.BertBackbone(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
                           max_sequence_length=16)
    classifier = kh.BertTextClassifier(backbone=bert, num_classes=3, preprocessor=None)
    lm = kh.GemmaCausalLM(backbone=gemma, preprocessor=None)
    saved = {}
    for name, model, shard in (("gemma", gemma, None), ("gemma_sharded", gemma, TINY_SHARD),
                               ("classifier", classifier, TINY_SHARD), ("gemma_lm", lm, None)):
        path = str(out / name)
        if shard is None:
            model.save_to_preset(path)
        else:
            model.save_to_preset(path, max_shard_size=shard)
        saved[name] = (model, path)
    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                                               "a", "b", "##c"])
    tokenizer.save_to_preset(saved["classifier"][1])
    saved["tokenizer"] = (tokenizer, saved["classifier"][1])
    return saved


@pytest.mark.parametrize("name", ["gemma", "gemma_sharded", "classifier", "gemma_lm"])
def test_preset_matches_keras(presets, name):
    model, path = presets[name]
    g = inspector.read(path)
    assert g.class_name == type(model).__name__
    assert_totals(g, model)
    assert own_rows(g) == live_rows(model)
    assert g.meta["preset"]["backbone"] == type(model.backbone if hasattr(model, "backbone") else model).__name__


def test_sharded_preset_is_sharded(presets):
    _, path = presets["gemma_sharded"]
    assert os.path.exists(os.path.join(path, "model.weights.json"))
    assert len([f for f in os.listdir(path) if f.endswith(".weights.h5")]) > 1


def test_task_preset_names_task_backbone_and_tokenizer(presets):
    model, path = presets["classifier"]
    tokenizer, _ = presets["tokenizer"]
    assert os.path.exists(os.path.join(path, "task.weights.h5"))
    g = inspector.read(path)
    info = g.meta["preset"]
    assert info["task"] == type(model).__name__ and info["tokenizer"] == type(tokenizer).__name__
    assert info["vocabulary_size"] == tokenizer.vocabulary_size()
    r = run_cli("summary", path)
    assert r.returncode == 0, r.stderr
    assert f"vocabulary of {tokenizer.vocabulary_size():,} entries" in r.stdout
    assert f"Total params: {model.count_params():,}" in r.stdout


def test_preset_tree_equals_keras_file_tree(presets, tmp_path):
    model, path = presets["classifier"]
    keras_file = str(tmp_path / "c.keras")
    model.save(keras_file)
    assert own_rows(inspector.read(path)) == own_rows(inspector.read(keras_file))


# --------------------------------------------------------------------------- hostile indexes
@pytest.fixture
def sharded(presets, tmp_path):
    """A private copy of the sharded preset, and its index, to break."""
    _, path = presets["gemma_sharded"]
    copy = str(tmp_path / "preset")
    shutil.copytree(path, copy)
    with open(os.path.join(copy, "model.weights.json")) as f:
        return copy, json.load(f)


def _write_index(folder: str, index: dict) -> None:
    with open(os.path.join(folder, "model.weights.json"), "w") as f:
        json.dump(index, f)


def _refused(folder: str, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        inspector.read(folder)
    r = run_cli("summary", folder)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and words in r.stderr and not r.stdout


def test_missing_shard(sharded):
    folder, index = sharded
    os.remove(os.path.join(folder, "model_00001.weights.h5"))
    _refused(folder, BadModelFile, "is missing")


@pytest.mark.parametrize("name", ["../outside.weights.h5", "/etc/passwd", "sub/model_00000.weights.h5"])
def test_index_naming_a_file_outside_the_folder(sharded, tmp_path, name):
    folder, index = sharded
    (tmp_path / "outside.weights.h5").write_bytes(b"not read")
    key = next(iter(index["weight_map"]))
    index["weight_map"][key] = name
    _write_index(folder, index)
    _refused(folder, UnsafeModel, "outside its folder")


def test_shard_that_is_a_symlink_out(sharded, tmp_path):
    folder, _ = sharded
    outside = tmp_path / "elsewhere.h5"
    os.replace(os.path.join(folder, "model_00001.weights.h5"), outside)
    os.symlink(outside, os.path.join(folder, "model_00001.weights.h5"))
    _refused(folder, UnsafeModel, "symbolic link")


def test_index_placing_a_weight_in_the_wrong_shard(sharded):
    folder, index = sharded
    key, shard = next((k, v) for k, v in index["weight_map"].items() if v == "model_00001.weights.h5")
    index["weight_map"][key] = "model_00000.weights.h5"
    _write_index(folder, index)
    _refused(folder, WeightsMismatch, "does not place there")


def test_index_without_weight_map(sharded):
    folder, _ = sharded
    _write_index(folder, {"metadata": {}})
    _refused(folder, BadModelFile, "no weight_map")


def test_repeated_decoder_blocks_fold_into_one_row(presets):
    """The summary lists a run of identical blocks once, ×N, with one block's params (Keras's)."""
    from conftest import run_cli

    model, path = presets["gemma"]
    p = run_cli("summary", path)
    assert p.returncode == 0, p.stderr
    blocks = [layer for layer in model.layers if type(layer).__name__ == "GemmaDecoderBlock"]
    rows = [line for line in p.stdout.splitlines() if "decoder_block" in line]
    assert len(rows) == 1 and f"{blocks[0].name} … {blocks[-1].name} (×{len(blocks)})" in rows[0]
    assert f"{len(blocks)} × {blocks[0].count_params():,}" in rows[0]
    assert len({b.count_params() for b in blocks}) == 1
    assert sum(1 for line in p.stdout.splitlines() if line.strip().startswith(("│ └─ query", "└─ query"))) <= 1
