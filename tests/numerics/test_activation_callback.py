"""`ActivationStats` during a real `fit` of the seed's ticket model: one stats file per epoch."""
from __future__ import annotations

import json

import numpy as np
import pytest
from numerics_models import ticket_data

from inspector.numerics.stats import run_stats


def ticket_fit_data(rows: int):
    data = ticket_data(rows, seed=11)
    rng = np.random.default_rng(12)
    return data, {"priority": rng.random((rows, 1)).astype("float32"),
                  "department": np.eye(4, dtype="float32")[rng.integers(0, 4, rows)]}


def test_one_stats_file_per_epoch_during_fit(keras, tmp_path):
    from inspector.numerics.callbacks import ActivationStats
    from samples.seed_models import customer_ticket_model

    model = customer_ticket_model()
    model.compile(optimizer="rmsprop", loss=["mean_squared_error", "categorical_crossentropy"])
    x, y = ticket_fit_data(64)
    probe_rows = {k: v[:24] for k, v in x.items()}
    cb = ActivationStats(probe_rows, every=1, path=str(tmp_path / "stats"), batch_size=10)
    before = model.get_layer("dense").get_weights()[0].copy()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    files = sorted(p.name for p in (tmp_path / "stats").iterdir())
    assert files == ["epoch_0001.json", "epoch_0002.json"]
    first, last = (json.loads((tmp_path / "stats" / f).read_text()) for f in files)
    assert (first["epoch"], last["epoch"]) == (1, 2) and first["rows"] == 24
    assert list(last["layers"]) == ["title", "text_body", "tags", "concatenate", "dense", "priority", "department"]
    # the weights moved, and the last file describes the trained model exactly
    assert not np.array_equal(before, model.get_layer("dense").get_weights()[0])
    assert first["layers"]["dense"]["mean"] != last["layers"]["dense"]["mean"]
    now = run_stats(model, probe_rows, batch_size=10, progress=False)
    assert now["layers"]["dense"] == last["layers"]["dense"]
    want = keras.Model(model.inputs, model.get_layer("dense").output).predict(
        [probe_rows["title"], probe_rows["text_body"], probe_rows["tags"]], verbose=0)
    assert np.isclose(last["layers"]["dense"]["mean"], want.astype(np.float64).mean(), rtol=1e-5)


def test_every_n_epochs_and_bad_data_before_training(keras, tmp_path):
    from inspector.errors import InspectorError
    from inspector.numerics.callbacks import ActivationStats
    from samples.seed_models import customer_ticket_model

    model = customer_ticket_model()
    model.compile(optimizer="rmsprop", loss=["mean_squared_error", "categorical_crossentropy"])
    x, y = ticket_fit_data(16)
    cb = ActivationStats(x, every=2, path=str(tmp_path / "s"), layers=["dense"])
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[cb])
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["epoch_0002.json"]
    bad = ActivationStats({"title": x["title"]}, path=str(tmp_path / "bad"))
    with pytest.raises(InspectorError, match="no array for input 'text_body'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[bad])
    assert not any((tmp_path / "bad").iterdir())
