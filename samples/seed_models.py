"""Sample models taken from the seed text (Korean notes on "Deep Learning with
Python", chapter 7, first half: the three model-building APIs).

Everything here uses Keras 3 (``import keras``), never ``tensorflow.keras``.

Conventions
-----------
* Every builder takes ``seed: int = 0`` and starts with
  ``keras.utils.set_random_seed(seed)``, so weights are reproducible.
* Every model gets an explicit ``name=``; layers and inputs of the graph
  (Sequential / Functional) models are named explicitly as well, using the
  names Keras would auto-generate in a fresh session (``dense``, ``dense_1``,
  ...), so layer names do not depend on what was built before.
  Exception: nodes created by ``keras.ops`` calls in a functional model
  (``functional_with_ops``) cannot be named and get auto-generated names
  (``add``, ``multiply``, ``reshape``...); call ``keras.backend.clear_session()``
  first if those names must be stable (``samples.build`` does).
* ``SAMPLES`` holds the builders whose models can be saved as ``.keras``;
  ``SUBCLASSED`` holds the subclassed models that only live in Python.

Deviations from the seed text (all deliberate):
* ``Classifier``: the seed's ``"sigmiod"`` typo is fixed to ``"sigmoid"``.
* ``MyModel``: in the seed, the functional ``binary_classifier`` expects
  inputs of shape ``(3,)`` but ``MyModel`` feeds it the 64-dim output of its
  ``Dense(64)`` layer, so calling the seed's ``MyModel`` fails with
  "expected shape=(None, 3), found shape=(1, 64)".  Here ``MyModel`` builds its
  own ``binary_classifier(input_dim=64)``; the stand-alone
  ``binary_classifier()`` sample keeps the seed's ``(3,)`` input.
* The seed calls the subclassed class ``CustomerTickerModel`` (typo); it is
  ``CustomerTicketModel`` here (the typo name is kept as an alias).  Its
  ``call`` is kept exactly as in the seed, i.e. broken.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
from keras import layers, ops

# Customer-ticket constants from the seed text.
VOCABULARY_SIZE = 10000
NUM_TAGS = 100
NUM_DEPARTMENTS = 4


def _seed(seed: int) -> None:
    keras.utils.set_random_seed(seed)


def _ticket_zeros(batch: int = 1) -> dict[str, np.ndarray]:
    """Zero data for the subclassed customer-ticket models (dict inputs)."""
    return {
        "title": np.zeros((batch, VOCABULARY_SIZE), dtype="float32"),
        "text_body": np.zeros((batch, VOCABULARY_SIZE), dtype="float32"),
        "tags": np.zeros((batch, NUM_TAGS), dtype="float32"),
    }


# ---------------------------------------------------------------------------
# Sequential 모델
# ---------------------------------------------------------------------------
def sequential_model(seed: int = 0) -> keras.Model:
    """Seed "Sequential 모델": Input(3) -> Dense(64, relu) -> Dense(10, softmax)."""
    _seed(seed)
    model = keras.Sequential(name="sequential_model")
    model.add(keras.Input(shape=(3,), name="input_layer"))
    model.add(layers.Dense(64, activation="relu", name="dense"))
    model.add(layers.Dense(10, activation="softmax", name="dense_1"))
    return model


# ---------------------------------------------------------------------------
# 함수형 API
# ---------------------------------------------------------------------------
def functional_simple(seed: int = 0) -> keras.Model:
    """Seed "함수형 API / 간단한 예제": my_input(3) -> Dense 64 relu -> Dense 10 softmax."""
    _seed(seed)
    inputs = keras.Input(shape=(3,), name="my_input")
    features = layers.Dense(64, activation="relu", name="dense")(inputs)
    outputs = layers.Dense(10, activation="softmax", name="dense_1")(features)
    return keras.Model(inputs=inputs, outputs=outputs, name="functional_simple")


def customer_ticket_model(seed: int = 0, num_departments: int = NUM_DEPARTMENTS) -> keras.Model:
    """Seed "다중 입력, 다중 출력 모델": the customer-ticket model.

    Inputs ``title``, ``text_body`` (vocabulary_size each) and ``tags``
    (num_tags); outputs ``priority`` (sigmoid scalar) and ``department``
    (softmax over departments).  Layer order matches the book, so
    ``model.layers[4]`` is the intermediate ``Dense(64, relu)``.
    """
    _seed(seed)
    title = keras.Input(shape=(VOCABULARY_SIZE,), name="title")
    text_body = keras.Input(shape=(VOCABULARY_SIZE,), name="text_body")
    tags = keras.Input(shape=(NUM_TAGS,), name="tags")

    features = layers.Concatenate(name="concatenate")([title, text_body, tags])
    features = layers.Dense(64, activation="relu", name="dense")(features)

    priority = layers.Dense(1, activation="sigmoid", name="priority")(features)
    department = layers.Dense(num_departments, activation="softmax", name="department")(features)

    return keras.Model(
        inputs=[title, text_body, tags],
        outputs=[priority, department],
        name="customer_ticket_model",
    )


def customer_ticket_with_difficulty(seed: int = 0) -> keras.Model:
    """Seed "층 연결 구조 활용하기": feature reuse.

    Takes the intermediate features of ``customer_ticket_model()``
    (``model.layers[4].output``) and adds a third output ``difficulty``
    (quick / medium / difficult).
    """
    model = customer_ticket_model(seed)  # sets the seed
    title, text_body, tags = model.inputs
    priority, department = model.outputs
    features = model.layers[4].output
    difficulty = layers.Dense(3, activation="softmax", name="difficulty")(features)
    return keras.Model(
        inputs=[title, text_body, tags],
        outputs=[priority, department, difficulty],
        name="customer_ticket_with_difficulty",
    )


def mnist_model(seed: int = 0) -> keras.Model:
    """Seed "내장된 훈련 루프와 평가 방법": get_mnist_model().

    784 -> Dense(512, relu) -> Dropout(0.5) -> Dense(10, softmax).
    """
    _seed(seed)
    inputs = keras.Input(shape=(28 * 28,), name="input_layer")
    features = layers.Dense(512, activation="relu", name="dense")(inputs)
    features = layers.Dropout(0.5, name="dropout")(features)
    outputs = layers.Dense(10, activation="softmax", name="dense_1")(features)
    return keras.Model(inputs, outputs, name="mnist_model")


# ---------------------------------------------------------------------------
# 여러 방식을 혼합하여 사용하기: subclassed model inside a functional model
# ---------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="samples")
class Classifier(keras.Model):
    """Seed "여러 방식을 혼합하여 사용하기" Classifier ("sigmiod" typo fixed)."""

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        if num_classes == 2:
            num_units = 1
            activation = "sigmoid"
        else:
            num_units = num_classes
            activation = "softmax"
        self.dense = layers.Dense(num_units, activation=activation, name="dense")

    def call(self, inputs):
        return self.dense(inputs)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def functional_with_subclassed_classifier(seed: int = 0) -> keras.Model:
    """Seed: Input(3) -> Dense(64, relu) -> Classifier(num_classes=10)."""
    _seed(seed)
    inputs = keras.Input(shape=(3,), name="input_layer")
    features = layers.Dense(64, activation="relu", name="dense")(inputs)
    outputs = Classifier(num_classes=10, name="classifier")(features)
    return keras.Model(
        inputs=inputs, outputs=outputs, name="functional_with_subclassed_classifier"
    )


# ---------------------------------------------------------------------------
# 여러 방식을 혼합하여 사용하기: functional model inside a subclassed model
# ---------------------------------------------------------------------------
def binary_classifier(seed: int = 0, input_dim: int = 3) -> keras.Model:
    """Seed: functional Input(3) -> Dense(1, sigmoid).

    ``input_dim`` exists only so ``MyModel`` can build a working copy (64).
    """
    _seed(seed)
    return _make_binary_classifier(input_dim)


def _make_binary_classifier(input_dim: int) -> keras.Model:
    """The seed's binary_classifier graph, without touching the random seed."""
    inputs = keras.Input(shape=(input_dim,), name="input_layer")
    outputs = layers.Dense(1, activation="sigmoid", name="dense")(inputs)
    return keras.Model(inputs=inputs, outputs=outputs, name="binary_classifier")


@keras.saving.register_keras_serializable(package="samples")
class MyModel(keras.Model):
    """Seed "MyModel": Dense(64, softmax) followed by a functional binary classifier.

    Unlike the seed, the inner functional model takes 64 inputs (the seed's
    ``(3,)`` input cannot accept the 64-dim features; see module docstring).
    The inner model is built in ``__init__`` without reseeding, so its
    weights come from the caller's seed (``my_model()`` sets it).
    """

    def __init__(self, num_classes: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.dense = layers.Dense(64, activation="softmax", name="dense")
        self.classifier = _make_binary_classifier(64)

    def call(self, inputs):
        features = self.dense(inputs)
        return self.classifier(features)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def my_model(seed: int = 0) -> keras.Model:
    """A built ``MyModel`` (called once on zeros of shape (1, 3))."""
    _seed(seed)
    model = MyModel(name="my_model")
    model(np.zeros((1, 3), dtype="float32"))
    return model


# ---------------------------------------------------------------------------
# Model 서브클래싱: the customer-ticket model as a subclass
# ---------------------------------------------------------------------------
class CustomerTicketModel(keras.Model):
    """Seed "Model 서브클래싱" CustomerTickerModel, kept BROKEN on purpose.

    ``call`` applies ``priority_scorer`` twice: first to the 64-dim mixed
    features (building it with a (64, 1) kernel), then to its own (batch, 1)
    output.  The second call fails with a shape mismatch (``Dense(1)``
    expects last dim 64, receives 1), so the model cannot be called/built.
    Use ``FixedCustomerTicketModel`` for the working version.
    """

    def __init__(self, num_departments, **kwargs):
        super().__init__(**kwargs)
        self.concat_layer = layers.Concatenate()
        self.mixing_layer = layers.Dense(64, activation="relu")
        self.priority_scorer = layers.Dense(1, activation="sigmoid")
        self.department_classifier = layers.Dense(num_departments, activation="softmax")

    def call(self, inputs):
        title = inputs["title"]
        text_body = inputs["text_body"]
        tags = inputs["tags"]
        features = self.concat_layer([title, text_body, tags])
        features = self.mixing_layer(features)
        features = self.priority_scorer(features)  # seed bug: overwrites features
        priority = self.priority_scorer(features)
        department = self.department_classifier(features)
        return priority, department


# The seed text spells the class "CustomerTickerModel".
CustomerTickerModel = CustomerTicketModel


class FixedCustomerTicketModel(keras.Model):
    """Working subclassed customer-ticket model: both heads read the mixed features."""

    def __init__(self, num_departments, **kwargs):
        super().__init__(**kwargs)
        self.concat_layer = layers.Concatenate(name="concatenate")
        self.mixing_layer = layers.Dense(64, activation="relu", name="mixing")
        self.priority_scorer = layers.Dense(1, activation="sigmoid", name="priority")
        self.department_classifier = layers.Dense(
            num_departments, activation="softmax", name="department"
        )

    def call(self, inputs):
        title = inputs["title"]
        text_body = inputs["text_body"]
        tags = inputs["tags"]
        features = self.concat_layer([title, text_body, tags])
        features = self.mixing_layer(features)
        priority = self.priority_scorer(features)
        department = self.department_classifier(features)
        return priority, department


def customer_ticket_subclassed(seed: int = 0) -> keras.Model:
    """A built ``FixedCustomerTicketModel`` (called once on batch-1 zero data)."""
    _seed(seed)
    model = FixedCustomerTicketModel(
        num_departments=NUM_DEPARTMENTS, name="customer_ticket_subclassed"
    )
    model(_ticket_zeros(1))
    return model


def broken_customer_ticket_subclassed(seed: int = 0) -> keras.Model:
    """The seed's broken ``CustomerTicketModel``, NOT built (calling it raises)."""
    _seed(seed)
    return CustomerTicketModel(
        num_departments=NUM_DEPARTMENTS, name="broken_customer_ticket_subclassed"
    )


# ---------------------------------------------------------------------------
# Extra models for tracing tests (not in the seed text, but motivated by its
# remark that subclassed models can use layers in for-loops or recursively).
# ---------------------------------------------------------------------------
class LoopModel(keras.Model):
    """Applies a Python list of 3 distinct Dense(8, relu) layers in a for-loop."""

    def __init__(self, num_blocks: int = 3, units: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [
            layers.Dense(units, activation="relu", name=f"block_{i}") for i in range(num_blocks)
        ]

    def call(self, inputs):
        x = inputs
        for block in self.blocks:
            x = block(x)
        return x


class RecursiveModel(keras.Model):
    """Applies ONE Dense(8) layer 3 times in a loop (a shared layer reused)."""

    def __init__(self, depth: int = 3, units: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth
        self.dense = layers.Dense(units, activation="relu", name="shared_dense")

    def call(self, inputs):
        x = inputs
        for _ in range(self.depth):
            x = self.dense(x)
        return x


class OpsModel(keras.Model):
    """Uses ``keras.ops`` between layers: relu(x) + sin(x), then concatenate."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense_in = layers.Dense(8, name="dense_in")
        self.dense_out = layers.Dense(4, name="dense_out")

    def call(self, inputs):
        x = self.dense_in(inputs)
        y = ops.relu(x) + ops.sin(x)
        z = ops.concatenate([x, y], axis=-1)
        return self.dense_out(z)


def _built(model: keras.Model, shape=(1, 8)) -> keras.Model:
    model(np.zeros(shape, dtype="float32"))
    return model


def loop_model(seed: int = 0) -> keras.Model:
    """A built ``LoopModel`` (input (8,))."""
    _seed(seed)
    return _built(LoopModel(name="loop_model"))


def recursive_model(seed: int = 0) -> keras.Model:
    """A built ``RecursiveModel`` (input (8,))."""
    _seed(seed)
    return _built(RecursiveModel(name="recursive_model"))


def ops_model(seed: int = 0) -> keras.Model:
    """A built ``OpsModel`` (input (8,))."""
    _seed(seed)
    return _built(OpsModel(name="ops_model"))


def functional_with_ops(seed: int = 0) -> keras.Model:
    """Functional model with ``keras.ops`` calls (add, multiply, reshape) between layers.

    The ops become operation nodes in the graph (with auto-generated names).
    """
    _seed(seed)
    inputs = keras.Input(shape=(8,), name="input_layer")
    x = layers.Dense(8, activation="relu", name="dense")(inputs)
    y = layers.Dense(8, name="dense_1")(inputs)
    s = keras.ops.add(x, y)
    m = keras.ops.multiply(s, 0.5)
    r = keras.ops.reshape(m, (-1, 2, 4))
    r = layers.Dense(4, name="dense_2")(r)
    r = keras.ops.reshape(r, (-1, 8))
    outputs = layers.Dense(2, activation="softmax", name="dense_3")(r)
    return keras.Model(inputs=inputs, outputs=outputs, name="functional_with_ops")


def shared_layer_model(seed: int = 0) -> keras.Model:
    """Functional model with a shared layer and a duplicated input edge.

    One ``Dense(8)`` (``shared_dense``) is applied twice in a row
    (x -> d(x) -> d(d(x))), and ``Add()([x, x])`` takes the same tensor twice.
    """
    _seed(seed)
    x = keras.Input(shape=(8,), name="input_layer")
    d = layers.Dense(8, activation="relu", name="shared_dense")
    h = d(x)
    h = d(h)
    doubled = layers.Add(name="add")([x, x])
    outputs = layers.Concatenate(name="concatenate")([h, doubled])
    return keras.Model(inputs=x, outputs=outputs, name="shared_layer_model")


def nested_model(seed: int = 0) -> keras.Model:
    """Functional model containing a Sequential and a Functional submodel as layers."""
    _seed(seed)
    seq_block = keras.Sequential(
        [
            keras.Input(shape=(8,), name="seq_input"),
            layers.Dense(16, activation="relu", name="dense"),
            layers.Dense(8, activation="relu", name="dense_1"),
        ],
        name="seq_block",
    )
    f_in = keras.Input(shape=(8,), name="func_input")
    f_out = layers.Dense(4, activation="relu", name="dense")(f_in)
    func_block = keras.Model(f_in, f_out, name="func_block")

    inputs = keras.Input(shape=(8,), name="input_layer")
    x = seq_block(inputs)
    x = func_block(x)
    outputs = layers.Dense(2, activation="softmax", name="head")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="nested_model")


# ---------------------------------------------------------------------------
# Registries
# ---------------------------------------------------------------------------
#: file stem -> builder, for every model that round-trips through ``.keras``.
SAMPLES: dict[str, Callable[[], keras.Model]] = {
    "sequential_model": sequential_model,
    "functional_simple": functional_simple,
    "customer_ticket_model": customer_ticket_model,
    "customer_ticket_with_difficulty": customer_ticket_with_difficulty,
    "mnist_model": mnist_model,
    "functional_with_subclassed_classifier": functional_with_subclassed_classifier,
    "binary_classifier": binary_classifier,
    "my_model": my_model,
    "functional_with_ops": functional_with_ops,
    "shared_layer_model": shared_layer_model,
    "nested_model": nested_model,
}

#: name -> builder, for subclassed models that only exist in Python
#: (not registered as serializable; ``broken_customer_ticket_subclassed``
#: returns an unbuilt model whose ``call`` raises).
SUBCLASSED: dict[str, Callable[[], keras.Model]] = {
    "customer_ticket_subclassed": customer_ticket_subclassed,
    "broken_customer_ticket_subclassed": broken_customer_ticket_subclassed,
    "loop_model": loop_model,
    "recursive_model": recursive_model,
    "ops_model": ops_model,
}
