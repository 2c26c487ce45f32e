"""``codesign map``: cost of one layer on one architecture with one mapping.

Examples::

    codesign map --arch ws --layer 'gemm:M=256,N=256,K=256' --mapping m.yaml
    codesign map --arch arch.yaml --layer 'conv:K=64,C=64,P=56,Q=56,R=3,S=3' --json r.json
    codesign map --arch ws --layer examples/models.py:digits_cnn:conv2
    codesign map --timeloop path/to/timeloop/run --convention timeloop
    codesign map --zigzag-workload resnet18.yaml --zigzag-accelerator tpu_like.yaml

``--arch`` is a preset name or a YAML/JSON file; ``--layer`` a layer spec or
``MODULE_PATH:FACTORY:LAYER`` (a layer of a model traced by the workload front end, with
``--activation-bits``/``--weight-bits``, default 8); without ``--mapping`` the best (lowest EDP) of
``--samples`` random valid mappings that fit is reported.

``--timeloop DIR`` reads a Timeloop v0.4 run instead (problem, architecture and mapping from
``parsed-processed-input.yaml`` or the ``*.prob/arch/map.yaml`` inputs, energies from the
``*.ERT.yaml``; `codesign.interop.timeloop`); ``--convention timeloop`` also prints the figures
as Timeloop counts them and, when DIR holds Timeloop's own ``timeloop-model.stats.txt``,
compares every field. ``--zigzag-workload W --zigzag-accelerator A [--zigzag-mapping M]``
reads ZigZag 3.x YAML files (`codesign.interop.zigzag`) and maps every layer of the workload
(or ``--layer NAME``) with the best of ``--samples`` random mappings.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from codesign.errors import SpecError
from codesign.validation import (
    MAX_SAMPLES,
    MAX_TENSOR_BITS,
    check_output_file,
    float_option,
    int_option,
    write_text_file,
)

__all__ = ["HELP", "add_arguments", "run", "parse_layer", "model_layer"]

HELP = "Evaluate one layer on one architecture and mapping with the analytical cost model."

_LAYER = re.compile(r"^\s*(conv|gemm)\s*:\s*(.*)$")
_CONV_KEYS = {
    "N",
    "K",
    "C",
    "P",
    "Q",
    "R",
    "S",
    "G",
    "stride",
    "dilation",
    "ibits",
    "wbits",
    "obits",
}
_GEMM_KEYS = {"M", "N", "K", "ibits", "wbits", "obits"}


def parse_layer(text: str):
    """A loop nest from ``conv:K=..,C=..,P=..,Q=..,R=..,S=..[,N=,G=,stride=,dilation=]`` (P, Q
    are output sizes, no padding; ``G`` groups with K and C per group) or
    ``gemm:M=..,N=..,K=..``; both accept ``ibits``, ``wbits``, ``obits``."""
    from codesign.workload.loopnest import conv2d, linear

    m = _LAYER.match(text)
    if not m:
        raise SpecError(
            f"--layer must look like 'conv:K=..,C=..' or 'gemm:M=..', not {text[:80]!r}"
        )
    kind, body = m.groups()
    values: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, val = part.partition("=")
        key = key.strip()
        if not eq or not val.strip().isdigit() or len(val.strip()) > 30 or int(val) <= 0:
            raise SpecError(f"--layer field {part[:40]!r} must be NAME=positive integer")
        if key in values:
            raise SpecError(f"--layer field {key} is given twice")
        values[key] = int(val)
    allowed = _CONV_KEYS if kind == "conv" else _GEMM_KEYS
    required = {"K", "C", "P", "Q", "R", "S"} if kind == "conv" else {"M", "N", "K"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise SpecError(f"--layer field {unknown[0]} is not allowed for {kind}: {sorted(allowed)}")
    missing = sorted(required - set(values))
    if missing:
        raise SpecError(f"--layer field {missing[0]} is missing for {kind}")
    bits = {
        "input_bits": values.get("ibits", 8),
        "weight_bits": values.get("wbits", 8),
        "output_bits": values.get("obits", 32),
    }
    if kind == "gemm":
        return linear(
            "gemm",
            in_features=values["K"],
            out_features=values["N"],
            leading=values["M"],
            **bits,
        )
    g, stride, dil = values.get("G", 1), values.get("stride", 1), values.get("dilation", 1)
    p, q, r, s = values["P"], values["Q"], values["R"], values["S"]
    return conv2d(
        "conv",
        in_channels=values["C"] * g,
        out_channels=values["K"] * g,
        input_size=((p - 1) * stride + dil * (r - 1) + 1, (q - 1) * stride + dil * (s - 1) + 1),
        kernel_size=(r, s),
        stride=stride,
        dilation=dil,
        groups=g,
        batch=values.get("N", 1),
        **bits,
    )


def model_layer(spec: str, activation_bits: int, weight_bits: int):
    """The loop nest called ``LAYER`` in ``MODULE_PATH:FACTORY:LAYER``, traced with the factory's
    example inputs (``FACTORY_inputs``) at the given bit-widths."""
    from codesign.workload.frontend import from_torch, load_model

    model, _, name = spec.rpartition(":")
    module, inputs = load_model(model)
    if inputs is None:
        raise SpecError(f"--layer: model {model!r} gives no example inputs (FACTORY_inputs)")
    workload = from_torch(module, *inputs, activation_bits=activation_bits, weight_bits=weight_bits)
    nests = {n.name: n for n in workload.loop_nests}
    if name not in nests:
        raise SpecError(f"--layer: layer must be one of {sorted(nests)} of {model!r}, not {name!r}")
    return nests[name]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``codesign map``."""
    parser.add_argument(
        "--arch", help="preset name (ws, os, eyeriss, fpga_edge) or YAML/JSON file"
    )
    parser.add_argument(
        "--layer", help="'conv:K=64,C=64,P=56,Q=56,R=3,S=3' or 'gemm:M=..,N=..,K=..'"
    )
    parser.add_argument(
        "--timeloop",
        metavar="DIR",
        help="a Timeloop v0.4 run (problem, architecture, mapping and ERT) instead of "
        "--arch/--layer/--mapping",
    )
    parser.add_argument("--zigzag-workload", metavar="YAML", help="a ZigZag 3.x workload YAML")
    parser.add_argument(
        "--zigzag-accelerator", metavar="YAML", help="a ZigZag 3.x accelerator YAML"
    )
    parser.add_argument(
        "--zigzag-mapping",
        metavar="YAML",
        help="the ZigZag mapping YAML of the accelerator (its spatial mapping gives the dataflow)",
    )
    parser.add_argument(
        "--convention",
        choices=("native", "timeloop"),
        default="native",
        help="with --timeloop: also report Timeloop's counts (drain reads, per-block energy) "
        "and compare with its stats.txt when present",
    )
    parser.add_argument(
        "--activation-bits",
        type=int_option(1, MAX_TENSOR_BITS),
        default=8,
        help="activation bits of a model layer (8)",
    )
    parser.add_argument(
        "--weight-bits",
        type=int_option(1, MAX_TENSOR_BITS),
        default=8,
        help="weight bits of a model layer (8)",
    )
    parser.add_argument(
        "--weight-density",
        type=float_option(0.0, 1.0, open_minimum=True),
        default=None,
        metavar="D",
        help="fraction of non-zero weights in (0, 1] (default: the layer's; 0.5 for a 2:4 layer "
        "on an N:M array)",
    )
    parser.add_argument("--mapping", help="mapping YAML/JSON file (default: best random mapping)")
    parser.add_argument(
        "--samples",
        type=int_option(1, MAX_SAMPLES),
        default=20000,
        help="random mappings to try without --mapping",
    )
    parser.add_argument(
        "--seed", type=int_option(0, 2**32 - 1), default=0, help="seed of the random mappings"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument("--save-mapping", metavar="PATH", help="write the mapping used as YAML")


def run(args: argparse.Namespace) -> int:
    """Print the report (and write JSON / the mapping when asked)."""

    from codesign.arch import PRESETS, fpga_area, load_architecture, preset
    from codesign.cost.model import evaluate_one
    from codesign.mapping import load_mapping, save_mapping

    for option in ("json", "save_mapping"):
        if getattr(args, option):
            check_output_file(getattr(args, option), "--" + option.replace("_", "-"))
    if args.timeloop:
        return _run_timeloop(args)
    if args.zigzag_workload or args.zigzag_accelerator:
        return _run_zigzag(args)
    if args.convention != "native":
        raise SpecError("--convention timeloop needs --timeloop DIR")
    missing = [f"--{k}" for k in ("arch", "layer") if not getattr(args, k)]
    if missing:
        raise SpecError(f"{' and '.join(missing)} required (or --timeloop DIR)")
    looks_like_a_file = "/" in args.arch or Path(args.arch).suffix.lower() in (
        ".yaml",
        ".yml",
        ".json",
    )
    if args.arch not in PRESETS and not looks_like_a_file and not Path(args.arch).exists():
        raise SpecError(
            f"--arch {args.arch[:80]!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor "
            f"an existing YAML/JSON file"
        )
    arch = preset(args.arch) if args.arch in PRESETS else load_architecture(args.arch)
    if _LAYER.match(args.layer) or args.layer.count(":") < 2:
        nest = parse_layer(args.layer)
    else:
        nest = model_layer(args.layer, args.activation_bits, args.weight_bits)
    if args.weight_density is not None:
        nest = nest.with_density(weights=args.weight_density)
    if args.mapping:
        mapping = load_mapping(args.mapping)
    else:
        mapping = _best_random(nest, arch, args.samples, args.seed)
        print(f"best EDP of {args.samples} random mappings (seed {args.seed}):")
    report = evaluate_one(nest, arch, mapping)
    fpga, fpga_note = None, ""
    if fpga_area.is_fpga(arch):  # FPGA presets: Yosys-calibrated resources
        try:
            fpga = fpga_area.estimate(arch)
        except SpecError as exc:
            fpga_note = f"  FPGA resources not estimated: {exc}"
    if args.json:
        data = report.to_dict()
        if fpga is not None:
            data["fpga_area"] = fpga.to_dict()
        _write_json(args.json, data)
    if args.save_mapping:
        try:
            save_mapping(mapping, args.save_mapping)
        except OSError as exc:
            raise SpecError(
                f"--save-mapping {args.save_mapping!r} cannot be written: {exc.strerror}"
            ) from None
    print(report.format())
    if fpga is not None:
        print(f"  {fpga.format()}")
    elif fpga_note:
        print(fpga_note)
    return 0


def _run_timeloop(args: argparse.Namespace) -> int:
    """``codesign map --timeloop DIR``: the run's mapping, natively and (``--convention
    timeloop``) as Timeloop counts it, compared with its stats when the folder has them."""
    from codesign.cost.model import evaluate_one
    from codesign.interop import timeloop as tl

    clash = [f"--{k}" for k in ("arch", "layer", "mapping") if getattr(args, k)]
    if clash:
        raise SpecError(f"--timeloop gives the problem, architecture and mapping; drop {clash}")
    spec = tl.load_timeloop(args.timeloop)
    report = evaluate_one(spec.nest, spec.arch, spec.mapping)
    print(report.format())
    data: dict = {"native": report.to_dict()}
    if args.convention == "timeloop":
        stats = tl.timeloop_stats(report, spec)
        data["timeloop"] = stats
        print(tl.format_stats(stats, spec))
        ref = Path(args.timeloop) / "timeloop-model.stats.txt"
        if ref.is_file():
            checked, bad = tl.compare_stats(stats, tl.parse_stats(ref.read_text()))
            data["agreement"] = {"fields": checked, "mismatches": bad}
            print(
                f"  agreement with {ref.name}: {checked - len(bad)} of {checked} fields equal "
                f"(counts exact, energies to 0.1 %)"
            )
            for path, mine, theirs in bad[:20]:
                print(f"    {path}: codesign {mine}, Timeloop {theirs}")
    if args.json:
        _write_json(args.json, data)
    return 0


def _write_json(path: str, data: object) -> None:
    write_text_file(path, json.dumps(data, indent=2) + "\n", "--json")


def _best_random(nest, arch, samples: int, seed: int):
    """The lowest-EDP mapping that fits of ``samples`` random valid mappings."""
    import numpy as np

    from codesign.cost.model import evaluate
    from codesign.mapping.sampling import random_mappings

    if samples <= 0:
        raise SpecError(f"--samples must be a positive integer, not {samples}")
    batch = random_mappings(nest, arch, samples, seed)
    costs = evaluate(nest, arch, batch, validate=False)
    if not costs.fits.any():
        raise SpecError(
            f"--samples: none of {samples} random mappings fits {arch.name!r} (layer "
            f"{nest.name!r}); give --mapping or more samples"
        )
    return batch.mapping(int(np.argmin(np.where(costs.fits, costs.edp, np.inf))), arch)


def _run_zigzag(args: argparse.Namespace) -> int:
    """``codesign map --zigzag-workload W --zigzag-accelerator A``: every layer (or
    ``--layer``) of a ZigZag workload on a ZigZag accelerator."""
    import sys

    from codesign.cost.model import evaluate_one
    from codesign.interop.zigzag import load_zigzag_accelerator, load_zigzag_workload

    if not (args.zigzag_workload and args.zigzag_accelerator):
        raise SpecError("--zigzag-workload and --zigzag-accelerator go together")
    clash = [f"--{k}" for k in ("arch", "mapping", "timeloop") if getattr(args, k)]
    if clash:
        raise SpecError(f"the ZigZag files give the workload and the architecture; drop {clash}")
    notes: list[str] = []
    layers = load_zigzag_workload(args.zigzag_workload, notes=notes)
    arch = load_zigzag_accelerator(args.zigzag_accelerator, args.zigzag_mapping, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.layer:
        by_name = {n.name: n for n in layers}
        if args.layer not in by_name:
            raise SpecError(f"--layer must be one of {sorted(by_name)}, not {args.layer!r}")
        layers = [by_name[args.layer]]
    reports = []
    for nest in layers:
        reports.append((nest, evaluate_one(nest, arch, _best_random(nest, arch, args.samples,
                                                                    args.seed))))  # fmt: skip
    if len(reports) == 1:
        print(reports[0][1].format())
    else:
        print(f"{len(reports)} layers of {args.zigzag_workload} on {arch.name} "
              f"(best EDP of {args.samples} random mappings each, seed {args.seed}):")  # fmt: skip
        print(f"  {'layer':<22} {'MACs':>14} {'cycles':>12} {'energy uJ':>11} {'util':>6}")
        for nest, rep in reports:
            print(f"  {nest.name:<22} {nest.macs:>14,} {rep.cycles:>12,} "
                  f"{rep.energy_pj * 1e-6:>11.3f} {rep.utilization:>6.1%}")  # fmt: skip
        macs = sum(n.macs for n, _ in reports)
        cycles = sum(r.cycles for _, r in reports)
        energy = sum(r.energy_pj for _, r in reports)
        print(f"  {'total':<22} {macs:>14,} {cycles:>12,} {energy * 1e-6:>11.3f}")
    if args.json:
        _write_json(args.json, {n.name: r.to_dict() for n, r in reports})
    return 0
