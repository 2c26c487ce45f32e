"""``codesign generate``: Verilog and manifest of one systolic array."""

from __future__ import annotations

import argparse

from codesign.hw import accel_command

from codesign.accel.array import SystolicConfig
from codesign.errors import SpecError
from codesign.validation import check_output_dir, read_text_file

__all__ = ["HELP", "add_arguments", "run"]

HELP = "generate the Verilog and manifest.json of a systolic array (ws, os or 2:4-sparse)"

_SHAPE_OPTIONS = (
    "rows",
    "cols",
    "dataflow",
    "act_bits",
    "weight_bits",
    "acc_bits",
    "max_reduction_len",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``generate`` options."""
    parser.add_argument(
        "--design",
        help="design point JSON of a buildable space (explorer's best.json, target: accelerator: "
        'the whole accelerator and its network plan), or {"arch": {...}} for a bare array; '
        "model-only points are refused",
    )
    parser.add_argument("--rows", type=int, help="PE rows")
    parser.add_argument("--cols", type=int, help="PE columns")
    parser.add_argument("--dataflow", help="ws | os | sparse24 (default: ws)")
    parser.add_argument("--act-bits", type=int, help="signed activation bits (default: 8)")
    parser.add_argument("--weight-bits", type=int, help="signed weight bits (default: 8)")
    parser.add_argument("--acc-bits", type=int, help="signed accumulator bits (default: 32)")
    parser.add_argument(
        "--max-reduction-len",
        type=int,
        help="os only: longest reduction K the accumulators must hold",
    )
    parser.add_argument(
        "--top",
        help="'array' (default without --design): the bare systolic array, its module named from "
        "the parameters; 'accelerator' (default with a buildable --design): the accelerator "
        "(buffers, controller, AXI-Stream, CSR) around a ws, os or sparse24 array; any other "
        "identifier: the bare array under that module name",
    )
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--force", action="store_true", help="write into a non-empty output folder")
    accel_command.add_arguments(parser)


def _read_design(path: str) -> dict:
    import json

    text = read_text_file(path, "design file")
    try:
        data = json.loads(text)
    except RecursionError:
        raise SpecError(f"design file {path!r} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"design file {path!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"design file {path!r} must hold a JSON object, not {type(data).__name__}")
    return data


def _model_only_reason(data: dict) -> str | None:
    """Why an explored design point is model only (None: buildable or a bare ``{"arch"}``)."""
    if data.get("target") == "accelerator":
        return None
    if "layers" not in data and "target" not in data:
        return None  # a hand-written {"arch": ...}: the array of that architecture
    what = ["its mappings run on a generic memory hierarchy no controller executes"]
    compute = data.get("arch", {}).get("compute", {}) if isinstance(data.get("arch"), dict) else {}
    if compute.get("dataflow") not in (None, "ws", "os"):
        what.append(f"dataflow {compute['dataflow']!r}")
    if compute.get("sparsity") not in (None, "dense"):
        what.append(
            f"{compute['sparsity']} sparsity (layers pruned 2:4 beside dense ones build on the "
            f"2:4 accelerator: dataflow sparse24 in a target: accelerator space)"
        )
    return (
        f"design point {data.get('params', {})} is model only ({'; '.join(what)}); explore a "
        f"`target: accelerator` space for a point `codesign generate` builds"
    )


def run(args: argparse.Namespace) -> int:
    """Build the configuration, export ``<top>.v`` and ``manifest.json``, print a summary."""
    given = {k: getattr(args, k) for k in _SHAPE_OPTIONS if getattr(args, k) is not None}
    check_output_dir(args.out, "--out")
    if args.design is not None:
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise SpecError(f"--design cannot be combined with {flags}")
        data = _read_design(args.design)
        reason = _model_only_reason(data)
        if reason is not None:
            raise SpecError(reason)
        if data.get("target") == "accelerator":
            from codesign.accel.config import AcceleratorConfig
            from codesign.accel.costview import NetworkPlan

            accel = AcceleratorConfig.from_dict(data.get("accelerator"))
            if args.top in (None, "accelerator"):
                return accel_command.run(
                    args, accel.array, config=accel, network=NetworkPlan.from_design_json(data)
                )
            config = accel.array
        else:
            config = SystolicConfig.from_design_json(data)
    else:
        for key in ("rows", "cols"):
            if key not in given:
                raise SpecError(f"--{key} is required (or give --design)")
        config = SystolicConfig(**given)

    if args.top == "accelerator":
        return accel_command.run(args, config)

    if accel_command.given_flags(args):
        raise SpecError(
            f"{', '.join(accel_command.given_flags(args))} applies to --top accelerator (or a "
            f"buildable --design), not to a bare array"
        )

    from codesign.hw.export import export_verilog

    top = None if args.top in (None, "array") else args.top
    result = export_verilog(config, args.out, top=top, force=args.force)
    manifest = result.manifest
    print(
        f"wrote {result.verilog_path} ({result.verilog_path.stat().st_size} bytes, "
        f"{result.export_seconds:.2f} s) and {result.manifest_path}"
    )
    print(
        f"top {manifest['top']}: {config.rows}x{config.cols} {config.dataflow.value}, "
        f"a{config.act_bits} w{config.weight_bits} acc{config.acc_bits}, "
        f"tile cycles = {manifest['latency']['formula']}"
    )
    for port in manifest["ports"]:
        print(f"  {port['direction']:6} {port['width']:5}  {port['name']}")
    return 0
