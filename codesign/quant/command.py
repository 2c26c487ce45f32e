"""``codesign quant MODULE_PATH:FACTORY (--policy FILE | --uniform BITS | --sensitivity |
--suggest BUDGET_BITS) [--bits 2,4,8] [--dataset auto|digits|none]``.

``--policy``/``--uniform`` print accuracy (or proxy SQNR/KL), model size and MAC-weighted
bit-width with a per-layer table; ``--sensitivity`` prints accuracy and SQNR with one layer at a
time quantized to each width of ``--bits``; ``--suggest`` prints the mixed-precision assignment
under a model-size budget and its measured accuracy; ``--export-int`` writes the integer layers
(`codesign.quant.export`).
"""

from __future__ import annotations

import argparse
import json

from codesign.errors import SpecError
from codesign.validation import MAX_TENSOR_BITS, check_output_file, int_option, write_text_file

__all__ = ["HELP", "add_arguments", "run", "parse_bits"]

HELP = "quantize and prune a model: accuracy of a policy, per-layer sensitivity, mixed precision"


def parse_bits(text: str) -> tuple[int, ...]:
    """``"2,4,8"`` -> ``(2, 4, 8)``."""
    try:
        bits = tuple(int(p) for p in text.split(","))
    except ValueError:
        bits = ()
    if not bits or not all(2 <= b <= MAX_TENSOR_BITS for b in bits) or len(bits) > 16:
        raise SpecError(
            f"--bits must be up to 16 comma-separated integers from 2 to {MAX_TENSOR_BITS} like "
            f"2,4,8, not {text[:80]!r}"
        )
    return bits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODULE_PATH:FACTORY",
        help="a Python file and a model factory in it, e.g. examples/models.py:digits_cnn",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--policy", metavar="FILE", help="evaluate a policy (.yaml/.yml/.json)")
    what.add_argument(
        "--uniform",
        type=int_option(1, MAX_TENSOR_BITS),
        metavar="BITS",
        help="evaluate every layer at BITS (w and a)",
    )
    what.add_argument(
        "--sensitivity", action="store_true", help="print the per-layer sensitivity table"
    )
    what.add_argument(
        "--suggest",
        type=int_option(1, 2**62),
        metavar="BUDGET_BITS",
        help="suggest per-layer widths (from --bits) with model size <= BUDGET_BITS",
    )
    parser.add_argument(
        "--bits", default=None, help="widths for --sensitivity/--suggest (default 2,4,8)"
    )
    parser.add_argument(
        "--export-int",
        metavar="PATH",
        help="with --policy/--uniform: write the integer layers (weights, bias, scales, zero "
        "points, requantization multipliers) as JSON",
    )
    parser.add_argument(
        "--dataset",
        default="auto",
        choices=["auto", "digits", "none"],
        help="digits: train and measure top-1 on held-out data; none: SQNR/KL proxy only; "
        "auto (default): digits when the model fits it",
    )


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    return "\n".join(lines)


def _print_result(result, qmodel=None) -> None:
    data = "proxy (no data)" if result.dataset is None else result.dataset
    print(f"model          {result.model}  [{data}, {result.samples} evaluation samples]")
    print(f"policy hash    {result.policy_hash}")
    if result.accuracy is not None:
        drop = 100 * result.accuracy_drop
        print(
            f"accuracy       {_pct(result.accuracy)} %  (float {_pct(result.float_accuracy)} %,"
            f" drop {drop:.2f} pp)"
        )
    print(f"output SQNR    {result.sqnr_db:.2f} dB   KL {result.kl_divergence:.3g} nats")
    print(
        f"model size     {result.model_size_bits:,} bits ({result.model_size_bits / 8192:.2f}"
        f" KiB), weight density {result.weight_density:.3f}"
    )
    print(
        f"MAC-weighted   weights {result.mac_weighted_weight_bits:.2f} bits, activations "
        f"{result.mac_weighted_act_bits:.2f} bits"
    )
    if qmodel is None:
        return
    rows = []
    for info in qmodel.layers:
        pol = info.policy
        pruning = "-" if pol is None else pol.pruning.value
        if pol is not None and pol.pruning.value == "nm":
            pruning = f"{pol.nm[0]}:{pol.nm[1]}"
        elif pol is not None and pol.sparsity:
            pruning += f" {pol.sparsity:g}"
        rows.append(
            [
                info.name,
                info.op,
                str(info.weight_bits),
                str(info.act_bits),
                pruning,
                f"{info.weight_density:.3f}",
                f"{info.macs_per_sample:,}",
            ]
        )
    header = ["layer", "op", "w bits", "a bits", "pruning", "density", "MACs/sample"]
    print()
    print(_table(header, rows))


def run(args: argparse.Namespace) -> int:
    from codesign.quant.evaluate import (
        evaluate_in_context,
        load_context,
        sensitivity,
        suggest_mixed_precision,
    )
    from codesign.quant.export import export_integer
    from codesign.quant.policy import QuantPolicy

    if args.export_int:
        if not (args.policy or args.uniform is not None):
            raise SpecError("--export-int applies to --policy and --uniform")
        check_output_file(args.export_int, "--export-int")
    if args.bits is not None and not (args.sensitivity or args.suggest is not None):
        raise SpecError("--bits applies to --sensitivity and --suggest")
    if args.sensitivity or args.suggest is not None:
        bits = parse_bits(args.bits or "2,4,8")
    if args.policy or args.uniform is not None:
        policy = QuantPolicy.load(args.policy) if args.policy else QuantPolicy.uniform(args.uniform)
        result, qmodel = evaluate_in_context(load_context(args.model, args.dataset), policy)
        _print_result(result, qmodel)
        if args.export_int:
            exported = export_integer(qmodel)
            path = write_text_file(args.export_int, json.dumps(exported) + "\n", "--export-int")
            print(f"\nwrote {path} ({len(exported['layers'])} integer layers)")
        return 0
    if args.sensitivity:
        rows = sensitivity(args.model, bits, dataset=args.dataset)
        ctx = load_context(args.model, args.dataset)
        layers = list(dict.fromkeys(r.layer for r in rows))
        header = ["layer"]
        for b in bits:
            if ctx.dataset is not None:
                header.append(f"acc@{b}b %")
            header.append(f"SQNR@{b}b dB")
        table = []
        for layer in layers:
            cells = [layer]
            for b in bits:
                row = next(r for r in rows if r.layer == layer and r.bits == b)
                if ctx.dataset is not None:
                    cells.append(_pct(row.accuracy))
                cells.append(f"{row.sqnr_db:.2f}")
            table.append(cells)
        print(
            f"one layer quantized at a time (weights and activations), others float; "
            f"model {args.model}"
        )
        print(_table(header, table))
        return 0
    suggestion = suggest_mixed_precision(args.model, args.suggest, bits=bits, dataset=args.dataset)
    print(f"budget {suggestion.budget_bits:,} bits; widths from {list(bits)}")
    print(_table(["layer", "bits"], [[n, str(b)] for n, b in suggestion.bits]))
    print()
    _print_result(suggestion.result)
    return 0
