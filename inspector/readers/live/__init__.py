"""Live models (Keras imported lazily, on any backend).

From the bottom up: ``loading`` (import Keras quietly, ``load_model`` after a
static check), ``specs`` (Python-code models, ``--input`` shapes), ``nodes``
(Keras objects as node attributes), ``walk`` (a Functional/Sequential model's
node graph), ``recorder``/``explain``/``eager``/``trace`` (subclassed models and
custom layers), ``twins`` (the functional model to cut features from),
``resolve`` (any MODEL argument as a live model) and ``read`` (an object as a
ModelGraph, for :func:`inspector.read`).
"""
