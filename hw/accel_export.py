"""Verilog export of the accelerator with a manifest describing its bus interfaces.

The manifest has the keys of an array's manifest (``manifest_version``, ``top``, ``verilog``,
``parameters``, ``ports``, ``generator``; ``codesign synth`` reads ``top`` and ``verilog``) plus
``kind: "accelerator"``, ``accelerator`` (the `AcceleratorConfig` as a dict), ``integration``
(the `Integration` as a dict: CSR interface, reset, clock and reset ports, target clock),
``register_map`` (with each register's bit ``fields``), ``streams`` (beat formats and TDATA
widths), ``c_header`` and ``constraints`` (the files written beside the Verilog by
``codesign.hw.accel_files``) and the cost model's ``architecture`` name.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Any

import codesign.hw.accel_files as files
from codesign.hw.accelerator import Accelerator
from codesign.hw.dsp import MULT18X18D_MODEL
from codesign.hw.export import MANIFEST_VERSION, ExportResult, write_manifest, write_verilog
from codesign.hw.integration import IntegratedAccelerator

import codesign
from codesign.accel.config import REGISTERS, AcceleratorConfig
from codesign.accel.costview import NetworkPlan
from codesign.accel.integration import Integration
from codesign.errors import SpecError

__all__ = ["export_accelerator", "stream_formats"]


def stream_formats(
    config: AcceleratorConfig, integration: Integration | None = None
) -> dict[str, Any]:
    """The beat formats of ``s_axis`` and ``m_axis`` (documented in ``docs/accelerator.md``);
    ``tdata_bits`` is the port's width (whole bytes in the integration wrapper),
    ``payload_bits`` the bits used (the low ones)."""
    integration = Integration() if integration is None else integration
    a = config.array
    weights = {
        "weight_beat": f"W[k2*{a.rows}+r, n2*{a.cols}+c] at bits [{a.weight_bits}*c, "
        f"{a.weight_bits}*(c+1)), c < {a.cols}, signed",
        "input_beat": f"I[m, k2*{a.rows}+r] at bits [{a.act_bits}*r, {a.act_bits}*(r+1)), "
        f"r < {a.rows}, signed",
    }
    if config.sparse:
        weights = _sparse_formats(config)
    return {
        "s_axis": {
            "tdata_bits": integration.stream_bits(config.axis_in_bits),
            "payload_bits": config.axis_in_bits,
            "words_per_beat": config.words_per_beat,
            "beat_bits": config.beat_bits,
            "order": "for n2, for m2, for k2: rows weight beats then T input beats",
            **weights,
            "word_order": "low word first",
        },
        "m_axis": {
            "tdata_bits": integration.stream_bits(config.axis_out_bits),
            "payload_bits": config.axis_out_bits,
            "beat": f"O[m, n2*{a.cols}+c] at bits [{a.act_bits}*c, {a.act_bits}*(c+1)), signed",
            "order": "for n2, for m: one beat per output row",
            "tlast": "last beat of the layer",
        },
    }


def _sparse_formats(config: AcceleratorConfig) -> dict[str, str]:
    """The 2:4 accelerator's weight and input beats (``codesign.accel.program.compress_2_4``
    and ``split_dense`` build them)."""
    a = config.array
    depth, wb, cols = config.pass_depth, a.weight_bits, a.cols
    values = 2 * cols * wb
    return {
        "weight_beat": f"group g = k2*{a.rows}+r (rows 4g..4g+3 of W) of columns n2*{cols}+c, "
        f"c < {cols}: its two kept weights v0, v1 (signed) at bits [{wb}*(2c+j), "
        f"{wb}*(2c+j+1)) and their positions 0..3 in the group at bits [{values}+2*(2c+j), "
        f"{values}+2*(2c+j+1)), j < 2",
        "input_beat": f"I[m, k2*{depth}+e] at bits [{a.act_bits}*e, {a.act_bits}*(e+1)), "
        f"e < {depth}, signed (PE row r multiplies elements 4r..4r+3)",
        "weights": "a layer pruned 2:4: its own groups of four; any other layer as two 2:4 "
        "halves, each dense group w0..w3 (K padded to a multiple of 4) as (w0, w1, 0, 0) and "
        "(0, 0, w2, w3) beside the same four activations (reduction 8 * ceil(K / 4))",
    }


def export_accelerator(
    config: AcceleratorConfig,
    out_dir: str | Path,
    *,
    top: str | None = None,
    force: bool = False,
    network: NetworkPlan | None = None,
    integration: Integration | None = None,
) -> ExportResult:
    """Write ``<top>.v``, ``<top>_regs.h``, ``<top>.sdc``, ``<top>.xdc`` and ``manifest.json``
    of the accelerator into ``out_dir`` (created if missing; a non-empty folder is refused
    unless ``force``). ``network``: the deployment plan of a buildable design point, written as
    the manifest's ``network`` (the host runtime and ``codesign verify --network`` read the
    schedules and predictions from it). ``integration``: the top's interfaces (default: the
    bare accelerator; otherwise `IntegratedAccelerator`, its module name suffixed with
    ``Integration.suffix``)."""
    if not isinstance(config, AcceleratorConfig):
        raise SpecError(f"config must be an AcceleratorConfig, not {type(config).__name__}")
    integration = Integration() if integration is None else integration
    if not isinstance(integration, Integration):
        raise SpecError(f"integration must be an Integration, not {type(integration).__name__}")
    top = config.top_name + integration.suffix if top is None else top
    if integration.wrapped:
        build = partial(IntegratedAccelerator, config, integration)
    else:
        build = partial(Accelerator, config)
    out, verilog_path, ports, seconds = write_verilog(build, out_dir, top=top, force=force)
    if integration.wrapped:  # its clock and reset are ports of its own, not the implicit ones
        ports = [p for p in ports if p["name"] not in ("clk", "rst")]
    streams = stream_formats(config, integration)
    header = out / f"{top}_regs.h"
    header.write_text(
        files.c_header(config, integration, top, streams, version=codesign.__version__)
    )
    models = []
    if config.dsp == "ecp5":  # the MULT18X18D cells' behaviour, for simulation only
        model = out / MULT18X18D_MODEL.name
        shutil.copyfile(MULT18X18D_MODEL, model)
        models.append(model.name)
    constraints = {}
    for tool in ("sdc", "xdc"):
        path = out / f"{top}.{tool}"
        path.write_text(files.clock_constraint(integration, top, tool=tool))
        constraints[tool] = path.name
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "kind": "accelerator",
        "top": top,
        "verilog": verilog_path.name,
        "parameters": config.array.to_dict(),
        "accelerator": config.to_dict(),
        "integration": integration.to_dict(),
        "register_map": [
            {
                "name": r.name,
                "address": r.address,
                "access": r.access,
                "description": r.description,
                "fields": [
                    {"name": f.name, "lsb": f.lsb, "bits": f.bits, "description": f.description}
                    for f in r.fields
                ],
            }
            for r in REGISTERS
        ],
        "streams": streams,
        "c_header": header.name,
        "constraints": constraints,
        "simulation_models": models,
        "ports": ports,
        "architecture": config.architecture().name,
        "network": None if network is None else network.to_dict(),
    }
    return write_manifest(out, verilog_path, manifest, export_seconds=seconds)
