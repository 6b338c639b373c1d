"""``ActivationStats``: the ``inspector stats`` file, written every few epochs while a model trains.

    model.fit(x, y, epochs=20, callbacks=[inspector.callbacks.ActivationStats(x_val[:512], every=2)])

writes ``stats/epoch_0002.json``, ``stats/epoch_0004.json``, ... (the schema of
:mod:`inspector.numerics.stats`, with ``"epoch"`` set): how each layer's
activations, dead units and NaNs evolve during training. The extractor is built
once, when training begins (so data that does not fit the model fails before the
first epoch, not after it), and shares the model's layers, so every run sees the
weights as they are at that epoch's end. Each file is written atomically.

This module imports Keras (the class is a ``keras.callbacks.Callback``); nothing
imports it until it is used.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import keras

from inspector.atomic import write_text
from inspector.errors import InspectorError
from inspector.numerics.accumulate import BINS


def epoch_file(path: str, epoch: int) -> str:
    """Where the stats of ``epoch`` (counting from 1) go."""
    return os.path.join(path, f"epoch_{epoch:04d}.json")


class ActivationStats(keras.callbacks.Callback):
    """Write per-layer activation statistics of ``data`` every ``every`` epochs into directory ``path``.

    ``data``: arrays (one array, a list in input order, or a dict keyed by input
    name) or a ``.npy``/``.npz``/image-directory path, as ``inspector stats -i``
    takes. ``layers``: ``"all"`` or layer names / node ids.
    """

    def __init__(self, data: Any, every: int = 1, path: str = "stats/", *, layers: Sequence[Any] | str = "all",
                 batch_size: int = 32, bins: int = BINS):
        super().__init__()
        if int(every) < 1:
            raise InspectorError(f"every must be >= 1, got {every}")
        self.data, self.every, self.path = data, int(every), os.fspath(path)
        self.layers, self.batch_size, self.bins = layers, batch_size, bins
        self.written: list[str] = []
        self._probe: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        from inspector.numerics.stats import StatsProbe

        os.makedirs(self.path, exist_ok=True)
        self._probe = StatsProbe(self.model, self.layers, bins=self.bins)
        self._probe.runner.open(self.data)          # check the data against the inputs now

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from inspector.numerics.stats import dumps

        if (epoch + 1) % self.every:
            return
        if self._probe is None:
            self.on_train_begin()
        stats = self._probe.run(self.data, batch_size=self.batch_size, epoch=epoch + 1)
        out = epoch_file(self.path, epoch + 1)
        write_text(out, dumps(stats))
        self.written.append(out)
