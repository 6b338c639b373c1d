"""Subclassed models for the tracer's tests (beyond the seed samples in ``samples/seed_models.py``).

Each one exercises one way a ``call`` can defeat or stress tracing. Builders
seed Keras and return built models unless noted.
"""
from __future__ import annotations

import os

import keras
import numpy as np
from keras import layers, ops


class ValueBranchModel(keras.Model):
    """Python control flow on a tensor *value* plus a raw TensorFlow op: symbolic tracing cannot work."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = layers.Dense(8, name="first")
        self.second = layers.Dense(4, name="second")
        self.other = layers.Dense(4, name="other")

    def call(self, inputs):
        import tensorflow as tf

        x = self.first(inputs)
        x = tf.nn.relu(x) + x  # raw tf ops between layers
        if float(ops.mean(ops.abs(x))) >= 0.0:  # always true, but only an eager value can say so
            return self.second(x)
        return self.other(x)


class TwoArgModel(keras.Model):
    """``call(self, a, b)``: two positional tensor arguments, concatenated."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj_a = layers.Dense(4, name="proj_a")
        self.proj_b = layers.Dense(4, name="proj_b")
        self.head = layers.Dense(2, name="head")

    def call(self, a, b):
        return self.head(ops.concatenate([self.proj_a(a), self.proj_b(b)], axis=-1))


class EmbedModel(keras.Model):
    """Integer token inputs (needs ``--input tokens=12:int32``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embed = layers.Embedding(50, 6, name="embed")
        self.pool = layers.GlobalAveragePooling1D(name="pool")
        self.out = layers.Dense(3, name="out")

    def call(self, tokens):
        return self.out(self.pool(self.embed(tokens)))


class BrokenEager(keras.Model):
    """Fails in both strategies, at a raw-op step inside a value branch (no layer to blame)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(4, name="dense_a")

    def call(self, x):
        y = self.dense(x)
        if float(ops.sum(y)) > 1e30:
            return y
        return ops.reshape(y, (-1, 7))  # 4 is not a multiple of 7


def value_branch_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    m = ValueBranchModel(name="value_branch_model")
    m(np.zeros((1, 5), dtype="float32"))
    return m


def two_arg_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    m = TwoArgModel(name="two_arg_model")
    m(np.zeros((1, 3), dtype="float32"), np.zeros((1, 5), dtype="float32"))
    return m


def embed_model(seed: int = 0) -> keras.Model:
    """NOT built: its input spec must be given."""
    keras.utils.set_random_seed(seed)
    return EmbedModel(name="embed_model")


def broken_eager(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return BrokenEager(name="broken_eager")


def lambda_model() -> keras.Model:
    """A functional model with a Lambda that touches ``$INSPECTOR_SENTINEL`` whenever it runs."""
    inputs = keras.Input((4,), name="x")
    touched = layers.Lambda(
        lambda t: (__import__("pathlib").Path(__import__("os").environ.get("INSPECTOR_SENTINEL", os.devnull)).touch(),
                   t)[1], name="touchy")(inputs)
    return keras.Model(inputs, layers.Dense(2, name="d")(touched), name="lambda_model")


class SwitchModel(keras.Model):
    """Works when built; with ``broken = True`` its call applies ``dense_a`` to its own output (5 vs 4)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.broken = False
        self.dense_a = layers.Dense(4, name="dense_a")
        self.dense_b = layers.Dense(2, name="dense_b")

    def call(self, inputs):
        x = self.dense_a(inputs)
        if self.broken:
            x = self.dense_a(x)
        return self.dense_b(x)


def switch_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    m = SwitchModel(name="switch_model")
    m(np.zeros((1, 5), dtype="float32"))
    return m

