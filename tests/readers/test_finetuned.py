"""Fine-tuned and quantized models read statically, checked against Keras after ``load_model``:
LoRA adapters (which Keras merges into the kernel when saving and re-creates on load),
int8/int4/float8 quantized variables and their trainable split, dtype policies."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from conftest import run_cli, user_lines

import inspector


def _functional(keras):
    t = keras.Input((5,), dtype="int32", name="tokens")
    i = keras.Input((8,), name="features")
    img = keras.Input((6, 6, 2), name="image")
    e = keras.layers.Flatten()(keras.layers.Embedding(50, 6, name="emb")(t))
    x = keras.layers.Dense(16, name="d1")(i)
    c = keras.layers.Flatten()(keras.layers.Conv2D(3, 3, name="conv")(img))
    y = keras.layers.EinsumDense("ab,bc->ac", output_shape=7, bias_axes="c", name="ein")(x)
    x = keras.layers.Concatenate()([y, e, c])
    return keras.Model([t, i, img], keras.layers.Dense(4, name="d2")(x))


def _sequential(keras):
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(12, name="s1"),
                             keras.layers.Dense(3, name="s2", use_bias=False)])


def _count(ws) -> int:
    return sum(int(np.prod(w.shape)) for w in ws)


def _assert_matches_keras(keras, path: str) -> None:
    g = inspector.read(path)
    model = keras.models.load_model(path)
    t = g.totals()
    assert t["params_known"]
    assert (t["params_trainable"], t["params_non_trainable"]) == (_count(model.trainable_weights),
                                                                  _count(model.non_trainable_weights))
    for layer in model.layers:
        if not layer.weights:
            continue
        a = g.node(layer.name)
        assert a["params_trainable"] + a["params_non_trainable"] == layer.count_params(), layer.name
        assert a["params_trainable"] == _count(layer.trainable_weights), layer.name
        assert a.get("quantization") == getattr(layer, "quantization_mode", None), layer.name
        want_rank = layer.lora_rank if getattr(layer, "lora_enabled", False) else None
        assert a.get("lora_rank") == want_rank, layer.name
        assert a.get("dtype_policy") == layer.dtype_policy.name, layer.name


@pytest.mark.parametrize("build", [_functional, _sequential])
def test_lora(keras, tmp_path, build):
    keras.backend.clear_session()
    model = build(keras)
    for layer in model.layers:
        if layer.name in ("d1", "ein", "s1"):
            layer.enable_lora(4)
        elif layer.name in ("emb", "conv"):
            layer.enable_lora(2)
    path = str(tmp_path / "lora.keras")
    model.save(path)
    _assert_matches_keras(keras, path)
    g = inspector.read(path)
    adapters = [w for w in g.node("d1" if build is _functional else "s1")["weights"] if w.get("stored") is False]
    assert [w["name"] for w in adapters] == ["lora_kernel_a", "lora_kernel_b"]


@pytest.mark.parametrize("mode", ["int8", "int4", "float8"])
@pytest.mark.parametrize("build", [_functional, _sequential])
def test_quantized(keras, tmp_path, build, mode):
    import warnings

    keras.backend.clear_session()
    model = build(keras)
    with warnings.catch_warnings():  # Keras warns about every layer it cannot quantize
        warnings.simplefilter("ignore")
        model.quantize(mode)
    path = str(tmp_path / f"{mode}.keras")
    model.save(path)
    _assert_matches_keras(keras, path)


def test_lora_on_a_quantized_model(keras, tmp_path):
    keras.backend.clear_session()
    model = _sequential(keras)
    model.quantize("int8")
    model.get_layer("s1").enable_lora(3)
    path = str(tmp_path / "qlora.keras")
    model.save(path)
    _assert_matches_keras(keras, path)


def test_mixed_precision_policy(keras, tmp_path):
    keras.backend.clear_session()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = _sequential(keras)
    finally:
        keras.config.set_dtype_policy("float32")
    path = str(tmp_path / "mixed.keras")
    model.save(path)
    _assert_matches_keras(keras, path)
    assert inspector.read(path).node("s1")["dtype_policy"] == "mixed_bfloat16"


def test_summary_json_and_diff_name_lora_and_quantization(keras, tmp_path):
    keras.backend.clear_session()
    base = _sequential(keras)
    base_path = str(tmp_path / "base.keras")
    base.save(base_path)
    base.get_layer("s1").enable_lora(4)
    lora_path = str(tmp_path / "lora.keras")
    base.save(lora_path)
    lora = keras.models.load_model(lora_path)
    rows = {r["name"]: r for r in json.loads(run_cli("summary", lora_path, "--format", "json").stdout)["layers"]}
    assert rows["s1"]["lora_rank"] == 4 and rows["s2"].get("lora_rank") is None
    text = run_cli("summary", lora_path).stdout
    assert "LoRA r=4" in text
    r = run_cli("diff", base_path, lora_path)
    assert r.returncode == 0, r.stderr
    change = lora.count_params() - keras.models.load_model(base_path).count_params()
    assert f"(+{change:,})" in r.stdout and "s1 (Dense): params: " in r.stdout and "LoRA rank: none -> 4" in r.stdout


def _rewrite(path: str, out: str, config=None, weights=None) -> None:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "config.json" and config:
                data = json.dumps(config(json.loads(data))).encode()
            if info.filename == "model.weights.h5" and weights:
                data = weights(data)
            dst.writestr(info, data)


def _bad_rank(cfg):
    cfg["config"]["layers"][1]["config"]["lora_rank"] = -3
    return cfg


def _drop_scale(data: bytes) -> bytes:
    import h5py

    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        del f["layers/dense/vars/2"]
    return buf.getvalue()


@pytest.mark.parametrize("what", ["bad-lora-rank", "missing-scale"])
def test_bad_finetuned_files(keras, tmp_path, what):
    keras.backend.clear_session()
    model = _sequential(keras)
    if what == "missing-scale":
        model.quantize("int8")
    src, bad = str(tmp_path / "m.keras"), str(tmp_path / "bad.keras")
    model.save(src)
    _rewrite(src, bad, config=_bad_rank if what == "bad-lora-rank" else None,
             weights=_drop_scale if what == "missing-scale" else None)
    r = run_cli("summary", bad)
    lines = user_lines(r.stderr)
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {bad}: "), r.stderr
    assert ("lora_rank" in lines[0]) if what == "bad-lora-rank" else ("int8" in lines[0] and "s1" in lines[0])


def test_diagram_marks_quantized_and_lora_layers(keras, tmp_path):
    import re
    import warnings

    keras.backend.clear_session()
    model = _sequential(keras)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.quantize("int8")
    model.get_layer("s2").enable_lora(2)
    path = str(tmp_path / "q.keras")
    model.save(path)
    out = str(tmp_path / "q.dot")
    inspector.render(path, out)
    text = open(out, encoding="utf-8").read().replace("&#93;", "]")  # labels escape "]" for Graphviz
    for layer in model.layers:
        tags = [t for t in (layer.quantization_mode, f"LoRA r={layer.lora_rank}" if layer.lora_enabled else None) if t]
        assert f"{type(layer).__name__} [{', '.join(tags)}]" in text, layer.name
    html = str(tmp_path / "q.html")
    inspector.render(path, html)
    data = json.loads(re.search(r'id="kgi-data">(.*?)</script>', open(html, encoding="utf-8").read(), re.S).group(1))
    by_name = {d["name"]: d for d in data["nodes"].values()}
    assert by_name["s2"]["lora_rank"] == 2 and by_name["s1"]["quantization"] == "int8"


@pytest.mark.parametrize("mode", ["lora", "int4"])
def test_totals_split_adapters_and_quantization_variables(keras, tmp_path, mode):
    """The footer's split, against the names Keras gives the variables it creates."""
    keras.backend.clear_session()
    model = _functional(keras)
    if mode == "lora":
        model.get_layer("d1").enable_lora(4)
        model.get_layer("emb").enable_lora(2)
    else:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.quantize("int4")
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    t = inspector.read(path).totals()
    lora = _count(w for w in loaded.weights if "lora_" in w.path)
    quant = _count(w for w in loaded.weights if any(k in w.path.rsplit("/", 1)[-1]
                                                   for k in ("scale", "zero", "amax", "g_idx")))
    assert (t["params_lora"], t["params_quantization"]) == (lora, quant)
    assert (lora > 0) == (mode == "lora") and (quant > 0) == (mode == "int4")
    text = run_cli("summary", path).stdout
    assert (f"LoRA adapters: {lora:,}" in text) if lora else (f"quantization scales and statistics: {quant:,}" in text)


def test_load_gives_the_same_split(keras, tmp_path):
    keras.backend.clear_session()
    model = _functional(keras)
    model.get_layer("d1").enable_lora(4)
    path = str(tmp_path / "m.keras")
    model.save(path)
    static = inspector.read(path).totals()
    live = inspector.read(keras.models.load_model(path)).totals()
    for k in ("params_trainable", "params_non_trainable", "params_lora", "params_quantization"):
        assert static[k] == live[k], k


def test_diff_and_render_diff_name_tuning_by_meaning(keras, tmp_path):
    """diff says which layers got LoRA (and its rank) or were quantized, as Keras reports them;
    render --diff marks exactly those boxes."""
    import warnings

    def build():
        keras.utils.set_random_seed(5)
        return _functional(keras)

    build().save(tmp_path / "base.keras")
    lora = build()
    lora.get_layer("d1").enable_lora(4)
    lora.save(tmp_path / "lora.keras")
    q = build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q.quantize("int8")
    q.save(tmp_path / "q.keras")
    base = keras.models.load_model(tmp_path / "base.keras")
    for name in ("lora", "q"):
        tuned = keras.models.load_model(tmp_path / f"{name}.keras")
        r = run_cli("diff", str(tmp_path / "base.keras"), str(tmp_path / f"{name}.keras"), "--format", "json")
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        changed = {c["id"]: c["changes"] for c in d["changed"]}
        want = {layer.name for layer in tuned.layers
                if getattr(layer, "quantization_mode", None) or getattr(layer, "lora_enabled", False)}
        assert set(changed) == want
        for lid, ch in changed.items():
            layer = tuned.get_layer(lid)
            if name == "q":
                assert ch["quantization"] == [None, layer.quantization_mode]
            else:
                assert ch["lora_rank"] == [None, layer.lora_rank]
            assert ch["params"] == [base.get_layer(lid).count_params(), layer.count_params()]
            assert "quantization_config" not in ch.get("config", {}) and "lora_alpha" not in ch.get("config", {})
        assert d["params"]["delta"] == tuned.count_params() - base.count_params()
        dot = tmp_path / f"{name}.dot"
        assert run_cli("render", str(tmp_path / f"{name}.keras"), "--diff", str(tmp_path / "base.keras"),
                       "-o", str(dot)).returncode == 0
        marked = {line.split(" ", 1)[0].strip('"') for line in dot.read_text().splitlines()
                  if "quantized int8" in line or "LoRA r=4" in line and "~ changed" in line}
        assert marked == want


def test_keras_hub_gemma_lora_and_int8_preset(keras, tmp_path):
    """A keras-hub Gemma with LoRA saved as .keras, and one quantized to int8 saved as a preset:
    the static totals and trainable split equal Keras's (after load_model for the .keras file;
    the quantized model itself for the preset, which keras-hub 0.32 cannot load back)."""
    import warnings

    keras_hub = pytest.importorskip("keras_hub")

    def build():
        keras.utils.set_random_seed(1)
        return keras_hub.models.GemmaBackbone(vocabulary_size=64, num_layers=2, num_query_heads=2,
                                              num_key_value_heads=1, hidden_dim=16, intermediate_dim=32, head_dim=8)

    lora = build()
    lora.enable_lora(4)
    lora.save(tmp_path / "lora.keras")
    q = build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q.quantize("int8")
    q.save_to_preset(str(tmp_path / "int8"))
    for path, model in ((tmp_path / "lora.keras", keras.models.load_model(tmp_path / "lora.keras")),
                        (tmp_path / "int8", q)):
        t = inspector.read(str(path)).totals()
        assert t["params_known"]
        assert (t["params_trainable"], t["params_non_trainable"]) == (_count(model.trainable_weights),
                                                                      _count(model.non_trainable_weights)), path
    assert _count(q.non_trainable_weights) > _count(q.trainable_weights)     # int8 kernels are frozen
    # every weight-owning sub-layer: its own count and quantization mode, as the layer object says
    ours, theirs = [], []
    stack = [inspector.read(str(tmp_path / "int8"))]
    while stack:
        g = stack.pop()
        for _, a in g.nodes():
            if a.get("params_own"):
                ours.append((a["name"], a["params_own"], a.get("quantization")))
            if a.get("subgraph"):
                stack.append(g.subgraphs[a["subgraph"]])
    for layer in q._flatten_layers(include_self=False):
        inner = {id(w) for sub in layer._flatten_layers(include_self=False) for w in sub.weights}
        own = [w for w in layer.weights if id(w) not in inner]
        if own:
            theirs.append((layer.name, _count(own), getattr(layer, "quantization_mode", None)))
    assert sorted(ours) == sorted(theirs)
