"""click ParamTypes for NAME=SHAPE[:DTYPE], K/N and NAME:UNITS[:ACTIVATION]: values parsed by the
library's parsers, bad ones refused by click as one `--option: ...` line before TensorFlow starts."""
from __future__ import annotations

import os

import click
import pytest
from conftest import run_cli, user_lines

from inspector.cli.params import HEAD, INPUT_SPEC, SHARD
from inspector.errors import InspectorError
from inspector.extract.features import parse_shard, shard_rows
from inspector.extract.graft import HeadSpec
from inspector.readers.live.specs import InputSpec, parse_inputs


@pytest.mark.parametrize("text", ["x=32,32,3", "tokens=128:int32", "s=None,16", "v=(4,)", "e="])
def test_input_spec_type_is_the_library_parser(text):
    assert INPUT_SPEC.convert(text, None, None) == parse_inputs([text])[0]
    assert isinstance(INPUT_SPEC.convert(text, None, None), InputSpec)


@pytest.mark.parametrize("text", ["0/1", "3/8", " 2 / 4 "])
def test_shard_type_gives_a_slice_of_every_row_once(text):
    k, n = SHARD.convert(text, None, None)
    assert (k, n) == parse_shard(text)
    assert 0 <= k < n
    assert [r for i in range(n) for r in range(*shard_rows(11, i, n))] == list(range(11))   # every row once


def test_head_type_is_the_library_parser():
    assert HEAD.convert("difficulty:3:softmax", None, None) == HeadSpec("difficulty", 3, "softmax")
    assert HEAD.convert("d:1", None, None) == HeadSpec("d", 1, None)


@pytest.mark.parametrize("ptype,text,parser", [
    (INPUT_SPEC, "x=a,b", lambda t: parse_inputs([t])), (INPUT_SPEC, "x=3:float33", lambda t: parse_inputs([t])),
    (SHARD, "4/4", parse_shard), (SHARD, "one/two", parse_shard),
    (HEAD, "d:0", HeadSpec.parse), (HEAD, "a/b:3", HeadSpec.parse)])
def test_refused_exactly_when_the_library_refuses(ptype, text, parser):
    with pytest.raises(InspectorError):
        parser(text)
    with pytest.raises(click.BadParameter) as e:
        ptype.convert(text, None, None)
    assert repr(text) in e.value.message or text in e.value.message


@pytest.mark.parametrize("args,option,needle", [
    (("features", "{T}", "--layer", "dense", "-i", "{o}", "-o", "{o}/f.npy", "--shard", "4/4"), "--shard",
     "0 <= K < N"),
    (("features", "{T}", "--layer", "dense", "-i", "{o}", "-o", "{o}/f.npy", "--shard", "half"), "--shard",
     "expected K/N"),
    (("features", "{T}", "--layer", "dense", "-i", "{o}", "-o", "{o}/f.npy", "--spec", "x=3:float33"), "--spec",
     "unknown dtype 'float33'"),
    (("graft", "{T}", "--at", "dense", "--head", "d:zero", "-o", "{o}/g.keras"), "--head",
     "expected NAME:UNITS[:ACTIVATION]"),
    (("extract", "{T}", "--layer", "dense", "--input", "x", "-o", "{o}/e.keras"), "--input",
     "expected NAME=SHAPE[:DTYPE]"),
    (("summary", "{T}", "--load", "--input", "x=-3"), "--input", "dimension '-3' is not a positive integer"),
])
def test_bad_values_are_one_usage_line_before_tensorflow(sample_dir, tmp_path, args, option, needle):
    _, path = sample_dir["customer_ticket_model"]
    r = run_cli(*[a.format(T=path, o=tmp_path) for a in args], check_tf=True)
    lines = [line for line in user_lines(r.stderr) if not line.startswith("TF_LOADED=")]
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {option}: ") and lines[0].endswith(f"(see inspector {args[0]} --help)")
    assert needle in lines[0] and "TF_LOADED=False" in r.stderr and "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == []


def test_good_values_reach_the_library(sample_dir, tmp_path, keras):
    """A shard given as K/N on the command line writes the part file the library names for (K, N)."""
    import numpy as np

    from inspector.extract.features import part_path

    model, path = sample_dir["functional_simple"]
    x = np.random.default_rng(0).random((9, 3), dtype="float32")
    np.save(tmp_path / "x.npy", x)
    out = str(tmp_path / "f.npy")
    r = run_cli("features", path, "--layer", "dense", "-i", str(tmp_path / "x.npy"), "-o", out, "--shard", "1/3")
    assert r.returncode == 0, r.stderr
    got = np.load(part_path(out, 1, 3))
    want = keras.Model(model.inputs, model.get_layer("dense").output).predict(x[3:6], verbose=0)
    assert np.allclose(got, want, atol=1e-5)
