"""More subclassed models for the tracer's tests: Python-heavy ``call``s, nested custom layers,
dict/tuple outputs, masks passed as keyword arguments, and failures deep inside nested layers.

Builders seed Keras and return ``(model, positional args for model(...), input specs or None)``;
models with specs None were built by calling them once on data.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


def _x(*shape: int) -> np.ndarray:
    return np.random.default_rng(1).standard_normal(shape).astype("float32")


class LoopList(keras.Model):
    """A Python list of three Dense layers of different widths, applied in a loop."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.blocks = [layers.Dense(u, activation="relu") for u in (8, 6, 4)]

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class TrainingBranches(keras.Model):
    """BatchNorm/Dropout taking ``training``, and a Python branch on it."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.d = layers.Dense(8)
        self.bn = layers.BatchNormalization()
        self.drop = layers.Dropout(0.5)
        self.o = layers.Dense(2)

    def call(self, x, training=False):
        x = self.drop(self.bn(self.d(x), training=training), training=training)
        return self.o(x * 2.0 if training else x)


class DictIO(keras.Model):
    """Dict in, dict out (keys not in sorted order)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.pa, self.pb = layers.Dense(4), layers.Dense(4)
        self.h1, self.h2 = layers.Dense(1, name="score"), layers.Dense(3, name="cls")

    def call(self, inputs):
        z = ops.concatenate([self.pa(inputs["a"]), self.pb(inputs["b"])], axis=-1)
        return {"score": self.h1(z), "cls": self.h2(z)}


class Block(layers.Layer):
    """A custom layer with sublayers (a residual MLP block)."""

    def __init__(self, units: int, **kw):
        super().__init__(**kw)
        self.d1 = layers.Dense(units, activation="relu")
        self.d2 = layers.Dense(units)
        self.norm = layers.LayerNormalization()

    def call(self, x):
        return self.norm(x + self.d2(self.d1(x)))


class NestedBlocks(keras.Model):
    """Two custom blocks, a tuple output with a keras.ops reduction."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.inp, self.b1, self.b2 = layers.Dense(8), Block(8), Block(8)

    def call(self, x):
        h = self.b2(self.b1(self.inp(x)))
        return h, ops.mean(h, axis=-1)


class HoldsModels(keras.Model):
    """A functional model and a Sequential held as attributes."""

    def __init__(self, **kw):
        super().__init__(**kw)
        i = keras.Input((6,))
        self.fn = keras.Model(i, layers.Dense(4, activation="relu")(i), name="inner_fn")
        self.seq = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Dense(2)], name="inner_seq")
        self.pre = layers.Dense(6)

    def call(self, x):
        return self.seq(self.fn(self.pre(x)))


class OpsHeavy(keras.Model):
    """Slicing, mean, reshape and concatenate between layers."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.d, self.o = layers.Dense(12), layers.Dense(3)

    def call(self, x):
        h = self.d(x)
        r = ops.reshape(ops.sum(ops.reshape(h, (-1, 5, 3, 4)), axis=2), (-1, 20))
        return self.o(ops.concatenate([h[:, 0], ops.mean(h, axis=1), r], axis=-1))


class AttentionRNN(keras.Model):
    """Self-attention with a residual, then LSTM over a masked embedding."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.emb = layers.Embedding(30, 8, mask_zero=True)
        self.mha = layers.MultiHeadAttention(num_heads=2, key_dim=4)
        self.lstm = layers.LSTM(5)

    def call(self, tokens):
        h = self.emb(tokens)
        return self.lstm(h + self.mha(h, h))


class MaskKw(keras.Model):
    """``call(x, mask=None)``: the mask is a keyword argument, not part of ``x``."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.d = layers.Dense(4)

    def call(self, x, mask=None):
        h = self.d(x)
        if mask is not None:
            h = h * ops.cast(mask[..., None], h.dtype)
        return ops.sum(h, axis=1)


class Inner(layers.Layer):
    """Builds ``b`` for 3 features but feeds it 4: fails when called."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.a, self.b = layers.Dense(4), layers.Dense(4)

    def build(self, input_shape):
        self.a.build(input_shape)
        self.b.build((None, 3))

    def call(self, x):
        return self.b(self.a(x))  # the failing line


class Outer(layers.Layer):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.inner = Inner()

    def call(self, x):
        return self.inner(x)


class TwoDeep(keras.Model):
    """The failure is two custom layers down, reached through a list attribute."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.stack = [layers.Dense(5), Outer()]

    def call(self, x):
        for s in self.stack:
            x = s(x)
        return x


class OddCheck(layers.Layer):
    def call(self, x):
        if x.shape[-1] % 2:
            raise ValueError("odd width")  # the raising line
        return x


class RaiseInLayer(keras.Model):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.d, self.chk = layers.Dense(3), OddCheck()

    def call(self, x):
        return self.chk(self.d(x))


class RaiseInCall(keras.Model):
    """Raises from the model's own Python code, not from a layer."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.d = layers.Dense(4)

    def call(self, x):
        h = self.d(x)
        if h.shape[-1] != 5:
            raise ValueError(f"expected 5 features, got {h.shape[-1]}")  # the raising line
        return h


class ValueBranchInt(keras.Model):
    """Python ``int()`` of a tensor value (eager only); Keras's max runs helper ops on constants."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.emb, self.o = layers.Embedding(20, 4), layers.Dense(2)

    def call(self, ids):
        scale = 1.0 if int(ops.max(ids)) >= 0 else 2.0
        return self.o(ops.mean(self.emb(ids), axis=1)) * scale


def build(name: str) -> tuple[keras.Model, tuple, list | None]:
    keras.utils.set_random_seed(0)
    made = {
        "loop_list": lambda: (LoopList(), (_x(2, 5),), None),
        "training_branches": lambda: (TrainingBranches(), (_x(2, 5),), None),
        "dict_io": lambda: (DictIO(), ({"a": _x(2, 3), "b": _x(2, 7)},), None),
        "nested_blocks": lambda: (NestedBlocks(), (_x(2, 5),), None),
        "holds_models": lambda: (HoldsModels(), (_x(2, 5),), None),
        "ops_heavy": lambda: (OpsHeavy(), (_x(2, 5, 7),), None),
        "attention_rnn": lambda: (AttentionRNN(), (np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32"),), None),
    }
    if name in made:
        model, args, specs = made[name]()
        model(*args)
        return model, args, specs
    unbuilt = {
        "mask_kw": (MaskKw, (_x(2, 4, 3),), ["x=4,3", "mask=4:bool"]),
        "two_deep": (TwoDeep, (_x(2, 4),), ["x=4"]),
        "raise_in_layer": (RaiseInLayer, (_x(2, 4),), ["x=4"]),
        "raise_in_call": (RaiseInCall, (_x(2, 3),), ["x=3"]),
        "value_branch_int": (ValueBranchInt, (np.array([[1, 2, 3], [4, 5, 6]], "int32"),), ["ids=3:int32"]),
    }
    cls, args, specs = unbuilt[name]
    return cls(), args, specs


SYMBOLIC = ["loop_list", "training_branches", "dict_io", "nested_blocks", "holds_models", "ops_heavy",
            "attention_rnn"]
