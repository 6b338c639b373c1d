"""Feature extractors: submodels whose outputs are chosen layer calls, cut out of the model's DAG.

:func:`feature_extractor`'s outputs are the named layer calls; its inputs are only the
model inputs those calls depend on (the DAG's ancestors), so an extractor fed only by
``title`` never asks for ``text_body``. The layer objects (hence weights) are the
original ones. The other cut, a head/tail :func:`~inspector.extract.split.split`, lives
in :mod:`inspector.extract.split`.

Layer references are a node id of :class:`~inspector.graph.model_graph.ModelGraph` (``name``
or ``name:k`` for the k-th call of a shared layer) or an integer index into
``model.layers`` (Keras's ``model.layers[4]``).

The model is opened by :mod:`inspector.extract.opening` (one static read, one Keras
load) and cut along the live reader's graph (:mod:`inspector.extract.cut_graph`).
Subclassed models are cut through the traced functional twin when that is available;
otherwise a :class:`HookExtractor` captures the layer outputs during a normal forward
pass. Keras is imported lazily: importing this module does not import TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from inspector.errors import InspectorError
from inspector.extract.cut_graph import CutGraph, cut_graph, whole_graph  # noqa: F401  (re-exported)
from inspector.extract.opening import open_cut, open_model  # noqa: F401  (re-exported)
from inspector.extract.split import Boundary, Split, split  # noqa: F401  (re-exported)
from inspector.readers.live.twins import HookExtractor, functional_of, partial_twin  # noqa: F401  (re-exported)


@dataclass
class InputSpec:
    """One input an extractor needs: the name data must use, shape (batch dim included), dtype."""

    name: str
    shape: tuple
    dtype: str
    aliases: tuple[str, ...] = ()


@dataclass
class Extraction:
    """An extractor plus what it needs to be fed (used by :mod:`inspector.extract.features`)."""

    model: Any                      # keras.Model, or HookExtractor without a graph
    keys: list[str]                 # output keys (node ids)
    inputs: list[InputSpec]         # [] when unknown (hook path, model never built)
    structure: str                  # "single" | "list" | "dict": how the extractor takes its inputs
    path: str | None = None

    def feed(self, arrays: dict[str, Any]) -> Any:
        """Arrange named arrays (keyed by InputSpec.name) the way the extractor takes them."""
        return feed_inputs(self.inputs, self.structure, arrays)


def feed_inputs(inputs: Sequence[Any], structure: str, arrays: dict[str, Any]) -> Any:
    """Named arrays arranged as an extractor with these ``inputs`` (anything with ``.name``) and
    ``structure`` ("single" | "list" | "dict") takes them; no inputs known: as given."""
    if not inputs:
        return next(iter(arrays.values())) if len(arrays) == 1 else dict(arrays)
    if structure == "dict":
        return {s.name: arrays[s.name] for s in inputs}
    vals = [arrays[s.name] for s in inputs]
    return vals[0] if structure == "single" else vals


def _refs(layers: Sequence[Any] | str | int) -> list[Any]:
    refs = [layers] if isinstance(layers, (str, int)) else list(layers)
    if not refs:
        raise InspectorError("name at least one layer to extract")
    return refs


def extraction_of(cg: CutGraph, refs: Sequence[Any]) -> Extraction:
    """The extractor for ``refs`` cut out of ``cg``: inputs are only the ancestors' model inputs."""
    import keras

    nids = list(dict.fromkeys(cg.resolve(r) for r in refs))
    outputs = cg.outputs(nids[0]) if len(nids) == 1 else {n: cg.outputs(n) for n in nids}
    struct = cg.input_structure(cg.needed_inputs(nids))
    ext = keras.Model(struct, outputs, name=f"{cg.fn.name}_features")
    items = list(struct.items()) if isinstance(struct, dict) else [(None, t) for t in keras.tree.flatten(struct)]
    specs = []
    for key, t in items:
        nid = cg.ref_of(t)[0]
        specs.append(InputSpec(key or nid, tuple(t.shape), str(t.dtype),
                               tuple(dict.fromkeys(a for a in (key, nid, t.name) if a))))
    kind = "dict" if isinstance(struct, dict) else "list" if isinstance(struct, list) else "single"
    return Extraction(ext, nids, specs, kind, cg.path)


def build_extractor(model_or_path: Any, layers: Sequence[Any] | str | int, *, unsafe: bool = False,
                    input_specs: Any = None, args: Sequence[str] = ()) -> Extraction:
    """:func:`feature_extractor` plus the input names/shapes data must match."""
    refs = _refs(layers)
    model, cg, path, why = open_cut(model_or_path, unsafe=unsafe, input_specs=input_specs, args=args, refs=refs)
    if cg is None:
        hook = HookExtractor(model, refs, path, why or "")
        specs = [InputSpec(n, s, d) for n, s, d in hook.input_specs]
        return Extraction(hook, hook.keys, specs, "dict" if len(specs) > 1 else "single", path)
    return extraction_of(cg, refs)


def feature_extractor(model_or_path: Any, layers: Sequence[Any] | str | int, *, unsafe: bool = False,
                      input_specs: Any = None, args: Sequence[str] = ()) -> Any:
    """A model from the inputs the named layer calls need to their outputs.

    One layer: its output tensor; several: a dict keyed by node id. The result
    shares weights with the original. For a subclassed model that cannot be
    traced, returns a :class:`HookExtractor` (callable, not saveable).
    """
    return build_extractor(model_or_path, layers, unsafe=unsafe, input_specs=input_specs, args=args).model
