"""Repeated blocks found by structure (``inspector.graph.blocks``), whatever the layer names.

Every model is built in code with Keras's default names; the builders record which Keras
layers each block created, and the expected folds, member layers, parameters (Keras's
``count_params()``) and hyper-parameters (the layers' ``get_config()``) come from those
Keras objects, never from our own earlier output.
"""
from __future__ import annotations

import json
import re

import pytest
from conftest import run_cli

import inspector
from inspector.graph.blocks import repeated_blocks
from inspector.render import RenderOptions, build_view, to_dot

#: four groups of four residual blocks: (kernel size, dilation rate)
GROUPS = [(11, 1), (11, 4), (21, 10), (41, 25)]


def _residual_net(keras):
    """A 1-D genomics-style net: 16 residual blocks (BN -> ReLU -> Conv1D, twice, then Add with
    the skip) in four groups differing only in kernel size and dilation. Returns (model, blocks):
    the Keras layers each block created, in call order."""
    L = keras.layers
    blocks = []
    x = inp = keras.Input((64, 4))
    x = L.Conv1D(8, 1)(x)
    for k, d in GROUPS:
        for _ in range(4):
            made, h = [], x
            for _ in range(2):
                for layer in (L.BatchNormalization(), L.Activation("relu"),
                              L.Conv1D(8, k, dilation_rate=d, padding="same")):
                    h = layer(h)
                    made.append(layer)
            add = L.Add()
            x = add([x, h])
            blocks.append(made + [add])
    out = L.Conv1D(3, 1, activation="softmax")(L.Dense(8, activation="relu")(x))
    return keras.Model(inp, out), blocks


@pytest.fixture(scope="module")
def residual(keras, tmp_path_factory):
    keras.backend.clear_session()
    model, blocks = _residual_net(keras)
    path = str(tmp_path_factory.mktemp("fold") / "residual.keras")
    model.save(path)
    return model, blocks, path, inspector.read(path)


def _names(layers):
    return [layer.name for layer in layers]


def test_residual_net_folds_into_four_groups(residual):
    model, blocks, _, g = residual
    folds = repeated_blocks(g)
    want = [[_names(b) for b in blocks[i:i + 4]] for i in range(0, 16, 4)]
    assert [f.blocks for f in folds] == want
    for f, (k, d) in zip(folds, GROUPS):
        assert f.repeats == 4
        exemplar = [model.get_layer(n) for n in f.blocks[0]]
        assert f.params_per_block == sum(layer.count_params() for layer in exemplar)
        assert f.params == sum(model.get_layer(n).count_params() for n in f.members)
        convs = [layer.get_config() for n in f.members if type(layer := model.get_layer(n)).__name__ == "Conv1D"]
        assert {(c["kernel_size"][0], c["dilation_rate"][0]) for c in convs} == {(k, d)}


def test_residual_net_diagram_folds_and_names_kernel_and_dilation(residual):
    model, blocks, _, g = residual
    view = build_view(g, RenderOptions(collapse=True))
    covered = [m for n in view.nodes.values() for m in (n.members or [n.id])]
    assert sorted(covered) == sorted(layer.name for layer in model.layers)
    folded = [n for n in view.nodes.values() if n.repeats > 1]
    assert [n.members for n in folded] == [[x for b in blocks[i:i + 4] for x in _names(b)] for i in range(0, 16, 4)]
    for n, i in zip(folded, range(0, 16, 4)):
        assert n.repeats == 4
        assert n.attrs["params_per_block"] == sum(layer.count_params() for layer in blocks[i])
    dot = to_dot(g, collapse=True)
    for box, (k, d) in zip(folded, GROUPS):  # each ×4 box names its kernel and dilation
        conv = next(x for x in blocks[GROUPS.index((k, d)) * 4] if type(x).__name__ == "Conv1D").get_config()
        kd = f"k{conv['kernel_size'][0]}" + (f" d{conv['dilation_rate'][0]}" if conv["dilation_rate"][0] > 1 else "")
        assert kd in _statement(dot, box.id)
        assert f"params: 4 × {sum(x.count_params() for x in blocks[GROUPS.index((k, d)) * 4]):,}" in _statement(dot, box.id)
    flat = to_dot(g)
    for layer in model.layers:
        if type(layer).__name__ == "Conv1D":
            c = layer.get_config()
            kd = f"k{c['kernel_size'][0]}" + (f" d{c['dilation_rate'][0]}" if c["dilation_rate"][0] > 1 else "")
            assert kd in _statement(flat, layer.name)
            assert kd not in _statement(to_dot(g, details="none"), layer.name)


def _statement(dot: str, node: str) -> str:
    """The DOT statement of one node (its label and tooltip)."""
    for line in dot.splitlines():
        if line.startswith((f'"{node}" [', f"{node} [")):
            return line
    raise AssertionError(f"no node {node!r} in the DOT source")


def _stateless_graph(keras, build):
    keras.backend.clear_session()
    with keras.StatelessScope(initialize_variables=False):
        model, blocks = build()
        config = model.get_config()
    return model, blocks, inspector.from_config({"class_name": "Functional", "config": config})


def test_resnet50_stages_fold_their_identity_blocks(keras):
    model, _, g = _stateless_graph(keras, lambda: (keras.applications.ResNet50(weights=None), None))
    folds = repeated_blocks(g)
    stages: dict[str, set[str]] = {}
    for layer in model.layers:
        m = re.match(r"(conv\d)_block(\d+)_", layer.name)
        if m:
            stages.setdefault(m.group(1), set()).add(m.group(2))
    assert len(stages) == 4
    for stage, nums in stages.items():
        ident = {x.name for x in model.layers if re.match(rf"{stage}_block(\d+)_", x.name)
                 and x.name.split("_")[1] != "block1"}
        mine = [f for f in folds if set(f.members) & ident]
        assert len(mine) == 1, stage
        assert set(mine[0].members) == ident  # the first block (projection shortcut) stays out
        assert mine[0].repeats == len(nums) - 1


def test_transformer_stack_folds(keras):
    def build():
        L = keras.layers
        x = inp = keras.Input((16, 32))
        blocks = []
        for _ in range(4):
            mha, drop, add1, ln1 = L.MultiHeadAttention(4, 8), L.Dropout(0.1), L.Add(), L.LayerNormalization()
            up, down, add2, ln2 = L.Dense(64, activation="relu"), L.Dense(32), L.Add(), L.LayerNormalization()
            x = ln1(add1([x, drop(mha(x, x))]))
            x = ln2(add2([x, down(up(x))]))
            blocks.append([mha, drop, add1, ln1, up, down, add2, ln2])
        return keras.Model(inp, L.Dense(2)(L.GlobalAveragePooling1D()(x))), blocks

    model, blocks, g = _stateless_graph(keras, build)
    folds = repeated_blocks(g)
    assert len(folds) == 1 and folds[0].repeats == len(blocks)
    assert [sorted(b) for b in folds[0].blocks] == [sorted(_names(b)) for b in blocks]


def test_lstm_stack_folds(keras):
    def build():
        L = keras.layers
        x = inp = keras.Input((20, 16))
        lstms = [L.LSTM(16, return_sequences=True) for _ in range(3)]
        for layer in lstms:
            x = layer(x)
        return keras.Model(inp, L.Dense(1)(L.LSTM(4)(x))), lstms

    model, lstms, g = _stateless_graph(keras, build)
    folds = repeated_blocks(g)
    assert [f.blocks for f in folds] == [[[x.name] for x in lstms]]
    view = build_view(g, RenderOptions(collapse=True))
    assert [n.repeats for n in view.nodes.values()] == [1, 3, 1, 1]


def test_no_repetition_folds_nothing(keras):
    def build():
        L = keras.layers
        inp = keras.Input((32,))
        a = L.Dense(16, activation="relu")(inp)
        b = L.Dense(8)(L.Dropout(0.2)(a))
        c = L.Concatenate()([L.Dense(8, activation="tanh")(a), b])
        return keras.Model(inp, L.Dense(2, activation="softmax")(c)), None

    model, _, g = _stateless_graph(keras, build)
    assert repeated_blocks(g) == []
    view = build_view(g, RenderOptions(collapse=True))
    assert len(view.nodes) == len(model.layers) and not any(n.members for n in view.nodes.values())


# --------------------------------------------------------------------------- CLI
def _dot_boxes(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        return len(re.findall(r'\bid="n\d+"', f.read()))


def test_cli_folds_by_default_and_no_collapse_is_flat(residual, tmp_path):
    model, blocks, path, _ = residual
    auto, flat = str(tmp_path / "auto.dot"), str(tmp_path / "flat.dot")
    r = run_cli("render", path, "-o", auto)
    assert r.returncode == 0, r.stderr
    assert _dot_boxes(auto) == len(model.layers) - 16 * 7 + 4  # over 60 calls: four ×4 boxes
    r = run_cli("render", path, "-o", flat, "--no-collapse", "--details", "all")
    assert r.returncode == 0, r.stderr
    assert _dot_boxes(flat) == len(model.layers)
    with open(flat, encoding="utf-8") as f:
        assert "dilation_rate=25" in f.read()
    r = run_cli("render", path, "-o", str(tmp_path / "x.dot"), "--details", "some")
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "Traceback" not in r.stderr


def test_cli_summary_collapse_rows(residual):
    model, blocks, path, _ = residual

    def table_rows(*args):
        r = run_cli("summary", path, *args)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
        return lines[start:lines.index("", start)]

    folded = table_rows("--collapse")
    # one row per unfolded layer, then per run: its "block ×4" row and one block's layers indented
    assert len(folded) == len(model.layers) - 16 * 7 + 4 * (1 + 7)
    assert sum("block ×4" in row for row in folded) == 4
    per_block = [sum(x.count_params() for x in blocks[i]) for i in range(0, 16, 4)]
    for p in per_block:
        assert f"4 × {p:,}" in "\n".join(folded)
    assert len(table_rows()) == len(folded)  # over 60 layer calls: folded by default
    assert len(table_rows("--no-collapse")) == len(model.layers)
    r = run_cli("summary", path, "--format", "json", "--collapse")
    data = json.loads(r.stdout)
    assert len(data["layers"]) == len(model.layers)
    assert [f["blocks"] for f in data["folds"]] == [[_names(b) for b in blocks[i:i + 4]] for i in range(0, 16, 4)]
    rows = {row["name"]: row for row in data["layers"]}
    for layer in model.layers:
        if type(layer).__name__ == "Conv1D" and layer.get_config()["dilation_rate"][0] > 1:
            c = layer.get_config()
            assert f"k{c['kernel_size'][0]} d{c['dilation_rate'][0]}" in rows[layer.name]["details"]


def test_html_data_carries_details(residual):
    from inspector.render.html import node_data

    model, blocks, _, g = residual
    flat = {d["id"]: d for d in node_data(build_view(g, RenderOptions())).values()}
    for layer in model.layers:
        if type(layer).__name__ == "Conv1D":
            c = layer.get_config()
            assert f"k{c['kernel_size'][0]}" in " ".join(flat[layer.name]["details"])
            assert f"kernel_size={c['kernel_size'][0]}" in flat[layer.name]["details_all"]
    folded = [d for d in node_data(build_view(g, RenderOptions(collapse=True))).values() if d["repeats"] > 1]
    for d, (k, dil) in zip(folded, GROUPS):
        assert any(f"k{k}" + (f" d{dil}" if dil > 1 else "") in x for x in d["details"])
