"""A head around a nested Functional backbone of four named residual blocks (the HTML viewer's
block folding and ``--collapse`` tests share it)."""
from __future__ import annotations

from typing import Any


def nested_blocks(keras: Any, path: str) -> Any:
    """features -> backbone (nested Functional: four Dense/BN/ReLU/Add blocks) -> head, saved at ``path``."""
    from keras import layers

    keras.backend.clear_session()
    x = inp = keras.Input((8,), name="bb_in")
    for k in range(1, 5):
        h = layers.Dense(8, name=f"block{k}_dense")(x)
        h = layers.ReLU(name=f"block{k}_relu")(layers.BatchNormalization(name=f"block{k}_bn")(h))
        x = layers.Add(name=f"block{k}_add")([x, h])
    backbone = keras.Model(inp, x, name="backbone")
    i = keras.Input((8,), name="features")
    model = keras.Model(i, layers.Dense(3, name="head")(backbone(i)), name="transfer")
    model.save(path)
    return model
