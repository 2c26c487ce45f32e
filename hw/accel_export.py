"""Verilog export of the accelerator with a manifest describing its bus interfaces.

The manifest has the keys of an array's manifest (``manifest_version``, ``top``, ``verilog``,
``parameters``, ``ports``, ``generator``; ``codesign synth`` reads ``top`` and ``verilog``) plus
``kind: "accelerator"``, ``accelerator`` (the `AcceleratorConfig` as a dict), ``register_map``,
``streams`` (beat formats) and the cost model's ``architecture`` name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.hw.accelerator import Accelerator
from codesign.hw.export import MANIFEST_VERSION, ExportResult, write_manifest, write_verilog

from codesign.accel.config import REGISTERS, AcceleratorConfig
from codesign.accel.costview import NetworkPlan
from codesign.errors import SpecError

__all__ = ["export_accelerator", "stream_formats"]


def stream_formats(config: AcceleratorConfig) -> dict[str, Any]:
    """The beat formats of ``s_axis`` and ``m_axis`` (documented in ``docs/accelerator.md``)."""
    a = config.array
    return {
        "s_axis": {
            "tdata_bits": config.axis_in_bits,
            "words_per_beat": config.words_per_beat,
            "beat_bits": config.beat_bits,
            "order": "for n2, for m2, for k2: rows weight beats then T input beats",
            "weight_beat": f"W[k2*{a.rows}+r, n2*{a.cols}+c] at bits [{a.weight_bits}*c, "
            f"{a.weight_bits}*(c+1)), c < {a.cols}, signed",
            "input_beat": f"I[m, k2*{a.rows}+r] at bits [{a.act_bits}*r, {a.act_bits}*(r+1)), "
            f"r < {a.rows}, signed",
            "word_order": "low word first",
        },
        "m_axis": {
            "tdata_bits": config.axis_out_bits,
            "beat": f"O[m, n2*{a.cols}+c] at bits [{a.act_bits}*c, {a.act_bits}*(c+1)), signed",
            "order": "for n2, for m: one beat per output row",
            "tlast": "last beat of the layer",
        },
    }


def export_accelerator(
    config: AcceleratorConfig,
    out_dir: str | Path,
    *,
    top: str | None = None,
    force: bool = False,
    network: NetworkPlan | None = None,
) -> ExportResult:
    """Write ``<top>.v`` and ``manifest.json`` of the accelerator into ``out_dir`` (created if
    missing; a non-empty folder is refused unless ``force``). ``network``: the deployment plan
    of a buildable design point, written as the manifest's ``network`` (the host runtime and
    ``codesign verify --network`` read the schedules and predictions from it)."""
    if not isinstance(config, AcceleratorConfig):
        raise SpecError(f"config must be an AcceleratorConfig, not {type(config).__name__}")
    top = config.top_name if top is None else top
    out, verilog_path, ports, seconds = write_verilog(
        lambda: Accelerator(config), out_dir, top=top, force=force
    )
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "kind": "accelerator",
        "top": top,
        "verilog": verilog_path.name,
        "parameters": config.array.to_dict(),
        "accelerator": config.to_dict(),
        "register_map": [
            {
                "name": r.name,
                "address": r.address,
                "access": r.access,
                "description": r.description,
            }
            for r in REGISTERS
        ],
        "streams": stream_formats(config),
        "ports": ports,
        "architecture": config.architecture().name,
        "network": None if network is None else network.to_dict(),
    }
    return write_manifest(out, verilog_path, manifest, export_seconds=seconds)
