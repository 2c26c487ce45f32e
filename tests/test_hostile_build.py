"""Hostile inputs to ``codesign quant``, ``generate``, ``synth``, ``verify`` and ``demo``
(refused with exit status 2, one ``error:`` line naming the field, no user file changed), and
the library-level roots of the fixes of issue 16."""

from __future__ import annotations

import json
import time

import pytest
from hostile_fixtures import check_refused, hostile_dir  # noqa: F401 - the fixture

from codesign.errors import MappingError, SpecError

OK = "{d}/m.py:ok"
HUGE_INT = "9" * 5000

QUANT = [
    ([OK, "--uniform", "100000"], "--uniform"),
    ([OK, "--uniform", "0"], "--uniform"),
    ([OK, "--uniform", "33"], "weight_bits must be an integer"),
    ([OK, "--sensitivity", "--export-int", "{s}/x.json"], "--export-int applies to"),
    ([OK, "--suggest", "1000", "--export-int", "{s}/x.json"], "--export-int applies to"),
    ([OK, "--uniform", "8", "--bits", "2,4"], "--bits applies to"),
    ([OK, "--sensitivity", "--bits", "2,x"], "--bits"),
    ([OK, "--sensitivity", "--bits", "1"], "--bits"),
    ([OK, "--sensitivity", "--bits", "100000"], "--bits"),
    ([OK, "--sensitivity", "--bits", ",".join(["8"] * 17)], "--bits"),
    ([OK, "--suggest", "0"], "--suggest"),
    ([OK, "--suggest", "-1"], "--suggest"),
    ([OK, "--suggest", HUGE_INT], "--suggest"),
    ([OK, "--policy", "{d}/none.yaml"], "does not exist"),
    ([OK, "--policy", "{d}/nonutf8.yaml"], "is not UTF-8"),
    ([OK, "--policy", "{d}/bomb.yaml"], "alias"),
    ([OK, "--policy", "{d}/unhashable.yaml"], "is not a plain value"),
    ([OK, "--policy", "{d}/policy_bits.yaml"], "weight_bits must be an integer"),
    ([OK, "--policy", "{d}"], "is a folder, not a file"),
    ([OK, "--policy", "{d}/big.yaml"], "larger than 16 MiB"),
    ([OK, "--uniform", "8", "--export-int", "{d}"], "--export-int"),
    ([OK, "--uniform", "8", "--export-int", "{d}/afile.txt/x.json"], "--export-int"),
    ([OK], "one of the arguments --policy"),
    ([OK, "--policy", "p.yaml", "--uniform", "8"], "not allowed with"),
    ([OK, "--uniform", "8", "--dataset", "foo"], "--dataset"),
    (["{d}/m.py:raises", "--uniform", "8"], "factory 'raises'"),
    (["{d}/m.py:exits", "--uniform", "8"], "sys.exit(3)"),
]

_G = ["-o", "{s}/g"]
GENERATE = [
    (["--rows", "0", "--cols", "4", *_G], "rows must be an integer"),
    (["--rows", "100000", "--cols", "4", *_G], "rows must be an integer"),
    (["--rows", "x", "--cols", "4", *_G], "--rows"),
    (["--rows", "4", *_G], "--cols is required"),
    (["--rows", "4", "--cols", "4", "--dataflow", "xs", *_G], "dataflow must be one of"),
    (["--rows", "4", "--cols", "4", "--act-bits", "100000", *_G], "act_bits must be"),
    (["--rows", "4", "--cols", "4", "--acc-bits", "0", *_G], "acc_bits must be"),
    (["--rows", "4", "--cols", "4", "--fifo-depth", "8", *_G], "--fifo-depth applies to"),
    (["--rows", "4", "--cols", "4", "--max-tile-m", "8", *_G], "--max-tile-m applies to"),
    (["--rows", "4", "--cols", "4", "--input-buffer", *_G], "--input-buffer applies to"),
    (["--rows", "4", "--cols", "4", "-o", "{d}/afile.txt"], "--out"),
    (["--rows", "4", "--cols", "4", "-o", "{d}/afile.txt/sub"], "--out"),
    (["--design", "{d}/none.json", *_G], "design file"),
    (["--design", "{d}", *_G], "design file"),
    (["--design", "{d}/nonutf8.yaml", *_G], "is not UTF-8"),
    (["--design", "{d}/badjson.json", *_G], "is not valid JSON"),
    (["--design", "{d}/list.json", *_G], "must hold a JSON object"),
    (["--design", "{d}/deep.json", *_G], "nested too deeply"),
    (["--design", "{d}/big.yaml", *_G], "larger than 16 MiB"),
    (["--design", "x.json", "--rows", "4", *_G], "--design cannot be combined with --rows"),
    (["--rows", "4", "--cols", "4", "--top", "accelerator", "--max-tile-m", "0", *_G], "tile_m"),
    (["--rows", "4", "--cols", "4"], "-o/--out"),
    (["--rows", "4", "--cols", "4", "--zero-gate", *_G], "--zero-gate applies to --top accel"),
    (["--rows", "4", "--cols", "4", "--top", "accelerator", "--dataflow", "os", "--zero-gate",
      *_G], "zero_gate applies to 'ws' accelerators only, not 'os'"),
    (["--rows", "4", "--cols", "4", "--top", "accelerator", "--dataflow", "sparse24",
      "--zero-gate", *_G], "zero_gate applies to 'ws' accelerators only, not 'sparse24'"),
]

SYNTH = [
    (["{d}/missing"], "design folder"),
    (["{d}/afile.txt"], "is a file, not a folder"),
    (["{d}/nomanifest"], "has no manifest.json"),
    (["{d}/man_list"], "must hold a JSON object"),
    (["{d}/man_outside"], "lies outside the design folder"),
    (["{d}/man_abs"], "lies outside the design folder"),
    (["{d}/man_badjson"], "is not valid JSON"),
    (["{d}/man_nonutf8"], "is not UTF-8"),
    (["{d}/man_missing_v"], "names verilog file 'nope.v', which is missing"),
    (["{d}/man_int_v"], "verilog"),
    (["{d}/man_big"], "larger than 16 MiB"),
    (["{d}/arr", "--freq-mhz", "0"], "--freq-mhz"),
    (["{d}/arr", "--freq-mhz", "nan"], "--freq-mhz"),
    (["{d}/arr", "--seed", "-1"], "--seed"),
    (["{d}/arr", "--pnr-timeout-s", "0"], "--pnr-timeout-s"),
    (["{d}/arr", "--timeout-s", "-1"], "--timeout-s"),
    (["{d}/arr", "--target", "foo"], "target must be one of"),
]

_V = ["--gemm", "4,4,4"]
VERIFY = [
    (["{d}/man_outside", *_V], "lies outside the design folder"),
    (["{d}/man_abs", *_V], "lies outside the design folder"),
    (["{d}/man_list", *_V], "must hold a JSON object"),
    (["{d}/man_badjson", *_V], "is not valid JSON"),
    (["{d}/man_ports", *_V], "ports must be a list"),
    (["{d}/man_version", *_V], "manifest_version must be one of"),
    (["{d}/man_missing_v", *_V], "names verilog file 'nope.v'"),
    (["{d}/missing", *_V], "design folder"),
    (["{d}/nomanifest", *_V], "has no manifest.json"),
    (["{d}/arr", "--gemm", "0,4,4"], "--gemm"),
    (["{d}/arr", "--gemm", "100000,4,4"], "--gemm"),
    (["{d}/arr", "--gemm", "4,4"], "--gemm"),
    (["{d}/arr", "--gemm", "a,b,c"], "--gemm"),
    (["{d}/arr", "--network", OK, "--images", "0"], "--images"),
    (["{d}/arr", *_V, "--seed", "-1"], "--seed"),
    (["{d}/arr", *_V, "--stream-len", "0"], "--stream-len"),
    (["{d}/arr", *_V, "--back-pressure", "1.5"], "--back-pressure"),
    (["{d}/arr", *_V, "--idle", "-0.1"], "--idle"),
    (["{d}/arr", *_V, "-o", "{d}"], "--output"),
    (["{d}/arr", *_V, "-o", "{d}/afile.txt/v.json"], "--output"),
    (["{d}/arr", "--network", OK], "--network needs an accelerator folder"),
    (["{d}/arr", *_V, "--activity"], "--activity needs an accelerator folder"),
    (["{d}/arr", *_V, "--policy", "p.yaml"], "--policy applies to --layer"),
    (["{d}/arr", *_V, "--pruning", "3:4"], "--pruning"),
    (["{d}/arr", *_V, "--pruning", "2:4"], "--pruning applies to --layer on an accelerator"),
    (["{d}/arr"], "one of the arguments --layer"),
    (["{d}/arr", *_V, "--layer", "x:y:z"], "not allowed with"),
]

DEMO = [
    (["--budget", "0"], "--budget"),
    (["--jobs", "0"], "--jobs"),
    (["--mapper-budget", "0"], "--mapper-budget"),
    (["--seed", "-1"], "--seed"),
    (["--out", "{d}/afile.txt"], "--out"),
    (["--out", "{d}/afile.txt/sub"], "--out"),
    (["--synth-target", "foo", "--out", "{s}/demo"], "synth_target must be one of"),
]

CASES = (
    [(["quant", *a], f) for a, f in QUANT]
    + [(["generate", *a], f) for a, f in GENERATE]
    + [(["synth", *a], f) for a, f in SYNTH]
    + [(["verify", *a], f) for a, f in VERIFY]
    + [(["demo", *a], f) for a, f in DEMO]
)


@pytest.mark.parametrize("argv, field", CASES, ids=[" ".join(a)[-60:] for a, _ in CASES])
def test_refused(argv, field, hostile_dir, tmp_path, capsys):  # noqa: F811
    check_refused(argv, field, hostile_dir, tmp_path, capsys)


def test_the_cases_are_distinct_and_with_the_others_more_than_150():
    from test_hostile import CASES as FIRST

    every = {tuple(a) for a, _ in CASES + FIRST}
    assert len(every) == len(CASES) + len(FIRST) >= 150


def test_demo_outside_the_checkout_is_refused(monkeypatch, hostile_dir, tmp_path, capsys):  # noqa: F811
    from codesign import demo

    assert demo.EXAMPLES.is_absolute() and (demo.EXAMPLES / "models.py").is_file()
    monkeypatch.setattr(demo, "EXAMPLES", tmp_path / "nowhere")
    check_refused(["demo", "--out", "{s}/demo"], "examples folder", hostile_dir, tmp_path, capsys)


# ----------------------------------------------------------------------------- library roots


def test_factorization_is_bounded_and_fast_on_primes_and_huge_powers():
    from codesign.mapping.factors import factorization_count, factorizations

    t0 = time.perf_counter()
    prime = factorizations(1_000_000_007, [True] * 5)
    assert prime.shape == (5, 5) and (prime.prod(axis=1) == 1_000_000_007).all()
    assert factorization_count(2**30, 7) > 2**20
    with pytest.raises(MappingError, match=r"^layer 'x': dim M: size 1,073,741,824 has"):
        factorizations(2**30, [True] * 7, what="layer 'x': dim M")
    with pytest.raises(MappingError, match=r"from 1 to 2,147,483,647"):
        factorizations(10**30, [True] * 3)
    assert time.perf_counter() - t0 < 2.0


def test_store_with_a_corrupt_point_fails_at_bind(tmp_path):
    import sqlite3

    from codesign.explore.store import Record, SQLiteStore

    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    store.bind({"seed": 0})
    store.put(Record(params={"a": 1}, metrics={"m": 1.0}))
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE points SET metrics = '{broken'")
    store = SQLiteStore(path)
    with pytest.raises(SpecError, match=r"has a corrupt point"):
        store.bind({"seed": 0})
    store.close()


def test_an_unreached_budget_says_why(tmp_path, capsys):
    from codesign.cli import main

    (tmp_path / "space.yaml").write_text("version: 1\naxes:\n  pe_rows: [4, 8]\n")
    (tmp_path / "m.py").write_text(
        "import torch\nfrom torch import nn\n\n\ndef net():\n"
        "    return nn.Linear(8, 8), (torch.randn(2, 8),)\n"
    )
    argv = [
        "explore", f"{tmp_path}/m.py:net", "--space", str(tmp_path / "space.yaml"),
        "--out", str(tmp_path / "o"), "--executor", "serial", "--budget", "5",
        "--strategy", "grid", "--mapper-budget", "50", "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "note: stopped after 2 of 5 points: the strategy has no new point" in (
        capsys.readouterr().err
    )


WEIRD = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.add_module("a b", nn.Linear(8, 8))
        self.add_module("x;y", nn.Linear(8, 4))
        self.tail = nn.Sequential(nn.Linear(4, 4))

    def forward(self, x):
        x = getattr(self, "x;y")(torch.relu(getattr(self, "a b")(x)))
        return self.tail(x)


def net():
    return Net(), (torch.randn(2, 8),)
"""


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_layer_names_are_the_module_paths_in_every_stage(tmp_path, frontend):
    from codesign.quant.model import quantizable_layers
    from codesign.workload import from_torch, load_model

    (tmp_path / "weird.py").write_text(WEIRD)
    module, inputs = load_model(f"{tmp_path}/weird.py:net")
    workload = from_torch(module, *inputs, frontend=frontend)
    assert [n.name for n in workload.loop_nests] == quantizable_layers(module)
    assert quantizable_layers(module) == ["a b", "x;y", "tail.0"]


def test_a_quoted_module_name_is_a_trace_error(tmp_path, capsys):
    from codesign.cli import main

    (tmp_path / "q.py").write_text(WEIRD.replace('"x;y"', "'q\"x'"))
    assert main(["analyze", f"{tmp_path}/q.py:net"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot capture Net with torch.export") and err.count("\n") == 1


def test_spec_reader_limits(tmp_path):
    from codesign.validation import parse_spec_text

    assert parse_spec_text("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    with pytest.raises(SpecError, match=r"^key .* at line 1 is not a plain value"):
        parse_spec_text("? [1]\n: 2\n")
    assert json.loads(json.dumps({"a": 1})) == parse_spec_text('{"a": 1}', json_format=True)
