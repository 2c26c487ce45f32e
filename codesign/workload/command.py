"""``codesign analyze MODULE_PATH:FACTORY [--input-shape 1,3,224,224] [--json out.json]``.

Traces the model, prints one row per layer (name, op, loop dims, MACs, params, input and output
activation sizes, weight density, arithmetic intensity) and the totals; ``--json`` writes the
same data (:meth:`codesign.workload.Workload.to_dict`).
"""

from __future__ import annotations

import argparse
import math

from codesign.errors import SpecError
from codesign.validation import (
    MAX_INPUT_ELEMENTS,
    MAX_TENSOR_BITS,
    check_output_file,
    int_option,
    write_text_file,
)

__all__ = ["HELP", "add_arguments", "run", "parse_shape", "format_table", "load_model_and_inputs"]

HELP = "analyze a PyTorch model: per-layer loop nests, MACs, params, activation memory"


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` -> ``(1, 3, 224, 224)``."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise SpecError(
            f"--input-shape must be comma-separated positive integers like 1,3,224,224, "
            f"not {text[:80]!r}"
        )
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise SpecError(
            f"--input-shape {text[:80]!r} has {math.prod(shape):,} elements; the limit is "
            f"{MAX_INPUT_ELEMENTS:,} (2**26, 256 MiB of float32)"
        )
    return shape


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODULE_PATH:FACTORY",
        help="a Python file and a function in it returning an nn.Module or (module, inputs), "
        "e.g. examples/models.py:resnet18",
    )
    parser.add_argument(
        "--input-shape",
        action="append",
        metavar="D0,D1,...",
        help="shape of a random float32 example input (repeat for several inputs); default: "
        "the inputs the factory returns, or FACTORY_inputs() in the same file",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the analysis as JSON")
    parser.add_argument(
        "--no-fold-batchnorm",
        action="store_true",
        help="keep BatchNorm layers after convolutions instead of folding them",
    )
    parser.add_argument(
        "--activation-bits",
        type=int_option(1, MAX_TENSOR_BITS),
        help="bits per activation (default: from the dtype)",
    )
    parser.add_argument(
        "--weight-bits",
        type=int_option(1, MAX_TENSOR_BITS),
        help="bits per weight (default: from the dtype)",
    )
    parser.add_argument(
        "--frontend",
        choices=("export", "fx"),
        default="export",
        help="graph capture: torch.export at the ATen level (default; every operator accepted) "
        "or the older torch.fx tracer with its fixed operator table",
    )


def _kib(bits: int) -> str:
    return f"{bits / 8192:,.2f}"


def format_table(data: dict) -> str:
    """The per-layer table and totals of :meth:`Workload.to_dict` output, as text."""
    header = (
        "layer", "op", "loop dims", "MACs", "params", "in KiB", "out KiB", "w dens", "MACs/B",
    )  # fmt: skip
    rows = [header]
    for layer in data["layers"]:
        dims = " ".join(f"{d}{n}" for d, n in layer["dims"].items())
        wd = layer["weight_density"]
        rows.append(
            (
                layer["name"],
                layer["op"],
                dims,
                f"{layer['macs']:,}",
                f"{layer['params']:,}",
                _kib(layer["input_bits"]),
                _kib(layer["output_bits"]),
                "" if wd is None else f"{wd:.3f}",
                f"{layer['macs_per_byte']:.1f}" if layer["macs"] else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    left = {0, 1, 2}
    lines = [
        "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines = [line.rstrip() for line in lines]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n_mac = sum(1 for layer in data["layers"] if layer["macs"])
    n_folded = sum(len(layer["folded"]) for layer in data["layers"])
    lines += [
        "",
        f"model               {data['name']}",
        f"layers              {len(data['layers'])} ({n_mac} with MACs, "
        f"{n_folded} BatchNorm folded into convolutions)",
        f"total MACs          {data['total_macs']:,}",
        f"total element ops   {data['total_element_ops']:,}",
        f"total params        {data['total_params']:,}",
        f"weight storage      {_kib(data['weight_bits'])} KiB",
        f"peak activations    {_kib(data['peak_activation_bits'])} KiB "
        f"(at {data['peak_activation_layer']})",
    ]
    return "\n".join(lines)


def load_model_and_inputs(model: str, input_shapes: list[str] | None) -> tuple:
    """``(module, inputs)`` of a ``MODULE_PATH:FACTORY`` spec: seeded random float32 inputs of
    the ``--input-shape`` strings when given, else the factory's example inputs (a SpecError
    when there are none)."""
    import torch

    from codesign.workload.frontend import load_model

    shapes = [parse_shape(s) for s in input_shapes or ()]  # before any work
    module, inputs = load_model(model)
    if shapes:
        gen = torch.Generator().manual_seed(0)
        inputs = tuple(torch.randn(shape, generator=gen) for shape in shapes)
    if inputs is None:
        raise SpecError(
            f"model {model!r}: give --input-shape (the factory returns no inputs and its "
            f"file has no {model.rpartition(':')[2]}_inputs function)"
        )
    return module, inputs


def run(args: argparse.Namespace) -> int:
    import json

    from codesign.workload.frontend import from_torch

    if args.json:
        check_output_file(args.json, "--json")
    module, inputs = load_model_and_inputs(args.model, args.input_shape)
    workload = from_torch(
        module,
        *inputs,
        fold_batchnorm=not args.no_fold_batchnorm,
        activation_bits=args.activation_bits,
        weight_bits=args.weight_bits,
        name=args.model.rpartition(":")[2],
        frontend=args.frontend,
    )
    data = workload.to_dict()
    print(format_table(data))
    if args.json:
        write_text_file(args.json, json.dumps(data, indent=1), "--json")
        print(f"wrote {args.json}")
    return 0
