"""Hostile inputs to ``codesign analyze``, ``map``, ``explore`` and the top level: each is
refused with exit status 2 and one ``error:`` line naming the field, within a time bound,
with no user file changed (issue 16). The build commands are in ``test_hostile_build.py``."""

from __future__ import annotations

import pytest
from hostile_fixtures import check_refused, hostile_dir  # noqa: F401 - the fixture

M = "{d}/m.py"
OK = f"{M}:ok"
GEMM = "gemm:M=8,N=8,K=8"
HUGE_INT = "9" * 5000

ANALYZE = [
    ([f"{M}:raises"], "factory 'raises'"),
    ([f"{M}:exits"], "sys.exit(3)"),
    ([f"{M}:recurses"], "recursed endlessly"),
    ([f"{M}:needs_args"], "must take no arguments"),
    ([f"{M}:not_a_module"], "must return a torch.nn.Module"),
    ([f"{M}:bad_inputs"], "example inputs of 'bad_inputs'"),
    ([f"{M}:nope"], "has no factory 'nope'"),
    (["{d}/exit_on_import.py:f"], "called sys.exit(1) on import"),
    (["{d}/raise_on_import.py:f"], "failed to import"),
    (["{d}/syntax.py:f"], "failed to import"),
    (["{d}/missing.py:f"], "does not exist"),
    ([M], "MODULE_PATH:FACTORY"),
    ([OK, "--input-shape", "100000,100000,100"], "--input-shape"),
    ([OK, "--input-shape", "1,a"], "--input-shape"),
    ([OK, "--input-shape", "0,4"], "--input-shape"),
    ([OK, "--input-shape", ""], "--input-shape"),
    ([OK, "--input-shape", HUGE_INT], "--input-shape"),
    ([OK, "--input-shape", "1,-4"], "--input-shape"),
    ([OK, "--activation-bits", "100000"], "--activation-bits"),
    ([OK, "--activation-bits", "0"], "--activation-bits"),
    ([OK, "--activation-bits", "x"], "--activation-bits"),
    ([OK, "--weight-bits", "-3"], "--weight-bits"),
    ([OK, "--weight-bits", HUGE_INT], "--weight-bits"),
    ([OK, "--json", "{d}"], "--json"),
    ([OK, "--json", "{d}/afile.txt/x.json"], "--json"),
    ([OK, "--frontend", "tracer"], "--frontend"),
    ([OK, "--bogus"], "unrecognized arguments: --bogus"),
    ([], "MODULE_PATH:FACTORY"),
]

MAP = [
    (["--arch", "nope", "--layer", GEMM], "--arch 'nope' is neither a preset (eyeriss"),
    (["--arch", "{d}", "--layer", GEMM], "is a folder, not a file"),
    (["--arch", "{d}/nonutf8.yaml", "--layer", GEMM], "is not UTF-8 text"),
    (["--arch", "{d}/big.yaml", "--layer", GEMM], "larger than 16 MiB"),
    (["--arch", "{d}/bomb.yaml", "--layer", GEMM], "alias"),
    (["--arch", "{d}/unhashable.yaml", "--layer", GEMM], "is not a plain value"),
    (["--arch", "{d}/dup.yaml", "--layer", GEMM], "duplicate key 'name'"),
    (["--arch", "{d}/deep.json", "--layer", GEMM], "nested too deeply"),
    (["--arch", "{d}/list.yaml", "--layer", GEMM], "must be a mapping"),
    (["--arch", "{d}/badname.yaml", "--layer", GEMM], "name must be a string"),
    (["--arch", "{d}/badjson.json", "--layer", GEMM], "not valid JSON"),
    (["--arch", "ws", "--layer", f"gemm:M={10**30},N=8,K=8"], "--layer field"),
    (["--arch", "ws", "--layer", f"gemm:M={2**31},N=8,K=8"], "dim M must be at most"),
    (["--arch", "ws", "--layer", f"gemm:M={2**30},N={2**30},K={2**30}"], "MACs exceed"),
    (["--arch", "ws", "--layer", "gemm:M=0,N=8,K=8"], "--layer field 'M=0'"),
    (["--arch", "ws", "--layer", "gemm:M=-1,N=8,K=8"], "--layer field 'M=-1'"),
    (["--arch", "ws", "--layer", "gemm:M=8,N=8"], "--layer field K is missing"),
    (["--arch", "ws", "--layer", "gemm:M=8,N=8,K=8,X=1"], "--layer field X is not allowed"),
    (["--arch", "ws", "--layer", "gemm:M=8,M=8,N=8,K=8"], "--layer field M is given twice"),
    (["--arch", "ws", "--layer", "conv:K=1"], "--layer field C is missing"),
    (["--arch", "ws", "--layer", "foo:M=1"], "--layer must look like"),
    (["--arch", "ws", "--layer", "gemm:M=8,N=8,K=8,ibits=100000"], "bits must be at most 64"),
    (["--arch", "ws", "--layer", GEMM, "--samples", "0"], "--samples"),
    (["--arch", "ws", "--layer", GEMM, "--samples", "10000000"], "--samples"),
    (["--arch", "ws", "--layer", GEMM, "--samples", "abc"], "--samples"),
    (["--arch", "ws", "--layer", GEMM, "--seed", "-1"], "--seed"),
    (["--arch", "ws", "--layer", GEMM, "--weight-density", "0"], "--weight-density"),
    (["--arch", "ws", "--layer", GEMM, "--weight-density", "1.5"], "--weight-density"),
    (["--arch", "ws", "--layer", GEMM, "--weight-density", "nan"], "--weight-density"),
    (["--arch", "ws", "--layer", GEMM, "--mapping", "{d}/m_factor.yaml"], "rows.K must be"),
    (["--arch", "ws", "--layer", GEMM, "--mapping", "{d}/m_zero.yaml"], "rows.K must be"),
    (["--arch", "ws", "--layer", GEMM, "--mapping", "{d}/nonutf8.yaml"], "is not UTF-8"),
    (["--arch", "ws", "--layer", GEMM, "--mapping", "{d}"], "is a folder, not a file"),
    (["--arch", "ws", "--layer", GEMM, "--mapping", "{d}/none.yaml"], "does not exist"),
    (["--arch", "ws", "--layer", GEMM, "--mapping", "{d}/list.yaml"], "mapping spec must be"),
    (["--arch", "ws", "--layer", GEMM, "--mapping", "{d}/bomb.yaml"], "alias"),
    (["--arch", "ws", "--layer", GEMM, "--json", "{d}"], "--json"),
    (["--arch", "ws", "--layer", GEMM, "--json", "{d}/afile.txt/r.json"], "--json"),
    (["--arch", "ws", "--layer", GEMM, "--save-mapping", "{d}"], "--save-mapping"),
    (["--arch", "ws", "--layer", GEMM, "--save-mapping", "{d}/afile.txt/m.yaml"], "--save-mapping"),
    (["--arch", "ws", "--layer", GEMM, "--convention", "timeloop"], "--convention"),
    (["--arch", "ws", "--layer", GEMM, "--convention", "zigzag"], "--convention"),
    (["--layer", GEMM], "--arch"),
    (["--arch", "ws"], "--layer"),
    (["--zigzag-workload", "{d}/bomb.yaml"], "--zigzag-accelerator go together"),
    (["--zigzag-workload", "{d}/bomb.yaml", "--zigzag-accelerator", "{d}/bomb.yaml"], "alias"),
    (["--zigzag-workload", "{d}/nonutf8.yaml", "--zigzag-accelerator", "x"], "UTF-8"),
    (["--arch", "ws", "--layer", GEMM, "--activation-bits", "100000"], "--activation-bits"),
    (["--arch", "ws", "--layer", f"{M}:raises:fc"], "factory 'raises'"),
    (["--arch", "ws", "--layer", f"{OK}:nolayer"], "--layer: layer must be one of"),
]

_EX = [OK, "--space", "{d}/space.yaml", "--out", "{s}/o", "--executor", "serial"]
EXPLORE = [
    ([*_EX, "--budget", "0"], "--budget"),
    ([*_EX, "--budget", "10000000"], "--budget"),
    ([*_EX, "--jobs", "0"], "--jobs"),
    ([*_EX, "--jobs", "5000"], "--jobs"),
    ([*_EX, "--batch-size", "0"], "--batch-size"),
    ([*_EX, "--population", "1"], "--population"),
    ([*_EX, "--mapper-budget", "0"], "--mapper-budget"),
    ([*_EX, "--seed", "-5"], "--seed"),
    ([*_EX, "--max-area-mm2", "0"], "--max-area-mm2"),
    ([*_EX, "--max-area-mm2", "-1"], "--max-area-mm2"),
    ([*_EX, "--max-latency-s", "inf"], "--max-latency-s"),
    ([*_EX, "--min-accuracy", "2"], "--min-accuracy"),
    ([*_EX, "--objectives", "latency,speed"], "objective must be one of"),
    ([*_EX, "--strategy", "foo"], "--strategy"),
    ([*_EX, "--executor", "foo"], "--executor"),
    ([*_EX, "--mapper", "foo"], "--mapper"),
    ([*_EX, "--ray-address", "127.0.0.1:1"], "--ray-address applies to --executor ray"),
    ([*_EX, "--executor", "ray", "--ray-address", "127.0.0.1:1"], "nothing answers"),
    ([*_EX, "--executor", "ray", "--ray-address", "no-port"], "--ray-address must be"),
    ([*_EX, "--space", "{d}/none.yaml"], "design space file"),
    ([*_EX, "--space", "{d}"], "design space file"),
    ([*_EX, "--space", "{d}/bomb.yaml"], "alias"),
    ([*_EX, "--space", "{d}/nonutf8.yaml"], "UTF-8"),
    ([*_EX, "--space", "{d}/big.yaml"], "larger than 16 MiB"),
    ([*_EX, "--space", "{d}/unhashable.yaml"], "is not a plain value"),
    ([*_EX, "--space", "{d}/space_axis.yaml"], "axis name must be one of"),
    ([*_EX, "--space", "{d}/space_version.yaml"], "version must be 1"),
    ([*_EX, "--out", "{d}/afile.txt"], "--out"),
    ([*_EX, "--out", "{d}/afile.txt/sub"], "--out"),
    ([*_EX, "--store", "{d}"], "--store"),
    ([*_EX, "--store", "{d}/afile.txt/x.db"], "--store"),
    ([*_EX, "--store", "{s}/missing.db", "--resume"], "--resume: store"),
    ([*_EX, "--store", "{d}/garbage.db"], "already exists; pass --resume"),
    ([*_EX, "--store", "{d}/garbage.db", "--resume"], "is not a codesign result store"),
    ([*_EX, "--store", "{d}/nostudy.db", "--resume"], "no study configuration"),
    ([*_EX, "--input-shape", "100000,100000,100"], "--input-shape"),
    ([f"{M}:raises", *_EX[1:]], "factory 'raises'"),
    ([f"{M}:no_mac", *_EX[1:]], "has no MAC layers"),
]

TOP = [
    ([], "COMMAND"),
    (["bogus"], "invalid choice: 'bogus'"),
]

CASES = (
    [(["analyze", *a], f) for a, f in ANALYZE]
    + [(["map", *a], f) for a, f in MAP]
    + [(["explore", *a], f) for a, f in EXPLORE]
    + TOP
)


@pytest.mark.parametrize("argv, field", CASES, ids=[" ".join(a)[-60:] for a, _ in CASES])
def test_refused(argv, field, hostile_dir, tmp_path, capsys):  # noqa: F811
    check_refused(argv, field, hostile_dir, tmp_path, capsys)


def test_the_cases_are_distinct():
    assert len({tuple(a) for a, _ in CASES}) == len(CASES)
