"""``codesign demo``: the whole loop on the digits CNN, with one report.

train (or load from the cache) -> analyze -> explore a buildable joint space with the accuracy
objective -> knee of the Pareto front -> generate its accelerator -> run the whole quantized
network on the RTL with cocotb (bit-exact, predicted vs measured cycles per layer) -> synthesize
with Yosys -> a model-only exploration of the small transformer (ViT-tiny), where the non-MAC
operators (softmax, layer norms, GELU, residual adds) run on the vector unit ->
``OUT/report.md`` and ``OUT/report.html`` (the interactive report of ``codesign.report``: the
explorable front, breakdowns, roofline, predicted vs measured; ``OUT/transformer/report.html``
for the transformer's study).

Every stage runs the same code as its CLI subcommand (``codesign.cli.main``), so the demo is also
an integration test of the command line; every number in the report is read back from the files
the stages wrote in this run.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from codesign.accel.costview import PIPELINE_CYCLES
from codesign.errors import CodesignError, SpecError
from codesign.validation import MAX_SAMPLES, check_output_dir, int_option

__all__ = ["HELP", "add_arguments", "run", "DemoConfig", "run_demo", "DEMO_SPACE"]

HELP = "run the end-to-end demo on the digits CNN and write a report"

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
"""The checkout's examples folder: the demo's model and spaces, wherever it is run from."""

MODEL = f"{EXAMPLES / 'models.py'}:digits_cnn"
IMAGES = 8
"""Held-out digits the whole network runs on in RTL."""

TRANSFORMER = f"{EXAMPLES / 'models.py'}:vit_tiny"
TRANSFORMER_SPACE = EXAMPLES / "space_vit.yaml"
"""The small transformer explored model only (its non-MAC operators on the vector unit)."""

DEMO_SPACE = EXAMPLES / "space_accel.yaml"
"""The demo's design space (``target: accelerator``, every point buildable): array shape, the
two dataflows, accumulator buffer, bus width, overlapped passes, per-layer weight widths
(accuracy in the loop)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoConfig:
    """Parameters of one demo run.

    Parameters
    ----------
    out : Path
        Output folder (created; the output of a previous demo run there is replaced).
    budget : int
        Design points the explorer evaluates.
    mapper_budget : int
        Mappings evaluated per distinct layer shape.
    jobs : int
        Worker processes of the explorer.
    seed : int
        Seed of the strategy, mapper and stimuli.
    synth_target : str
        Yosys flow: ``generic``, ``ice40`` or ``xilinx``.
    space : Path
        The design space file (strict YAML, see ``codesign.explore.space``).
    transformer_budget : int
        Design points of the transformer's model-only exploration.
    """

    out: Path
    budget: int = 48
    mapper_budget: int = 300
    jobs: int = 2
    seed: int = 0
    synth_target: str = "generic"
    space: Path = DEMO_SPACE
    transformer_budget: int = 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="build/demo", metavar="DIR", help="output folder")
    parser.add_argument(
        "--budget", type=int_option(1, MAX_SAMPLES), default=48, help="design points to explore"
    )
    parser.add_argument(
        "--mapper-budget", type=int_option(1, MAX_SAMPLES), default=300, help="mappings per layer"
    )
    parser.add_argument(
        "--jobs", type=int_option(1, 1024), default=2, help="explorer worker processes"
    )
    parser.add_argument("--seed", type=int_option(0, 2**32 - 1), default=0)
    parser.add_argument("--synth-target", default="generic", help="generic | ice40 | xilinx")


def run(args: argparse.Namespace) -> int:
    cfg = DemoConfig(
        out=Path(args.out),
        budget=args.budget,
        mapper_budget=args.mapper_budget,
        jobs=args.jobs,
        seed=args.seed,
        synth_target=args.synth_target,
    )
    report = run_demo(cfg)
    print(f"\nreport: {report}\n        {report.with_suffix('.html')}")
    return 0


def _stage(i: int, n: int, text: str) -> float:
    print(f"\n[{i}/{n}] {text}", flush=True)
    return time.perf_counter()


def _cli(argv: list[str]) -> None:
    from codesign.cli import main

    print("  $ codesign " + " ".join(argv), flush=True)
    status = main(argv)
    if status != 0:
        raise CodesignError(f"demo stage `codesign {argv[0]}` failed with exit status {status}")


def _prepare_out(cfg: DemoConfig) -> None:
    """Create the output folder. A previous demo output (it carries a marker file) is replaced;
    any other non-empty folder is refused, so nothing of the user's is ever deleted."""
    out = cfg.out
    marker = out / ".codesign-demo"
    check_output_dir(out, "--out")
    if out.exists() and any(out.iterdir()):
        if not marker.exists():
            raise SpecError(
                f"output folder {str(out)!r} is not empty and was not written by the demo; "
                "choose another --out"
            )
        print(f"replacing the previous demo output in {out}")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text("written by codesign demo\n")


def run_demo(cfg: DemoConfig) -> Path:
    """Run every stage and write ``cfg.out / "report.md"`` (and ``.html``); returns the
    Markdown path."""
    if cfg.synth_target not in ("generic", "ice40", "xilinx"):
        raise SpecError(
            f"synth_target must be one of generic, ice40, xilinx, not {cfg.synth_target!r}"
        )
    if not (EXAMPLES / "models.py").is_file():
        raise SpecError(
            f"codesign demo runs the models of a source checkout's examples folder, and "
            f"{str(EXAMPLES)!r} has no models.py: run it from an editable install (pip install -e)"
        )
    _prepare_out(cfg)
    out = cfg.out
    n = 8
    timings: dict[str, float] = {}

    t = _stage(1, n, "train the digits CNN on scikit-learn's digits (or load it from the cache)")
    from codesign.quant.evaluate import evaluate_policy
    from codesign.quant.policy import QuantPolicy

    int16_acc = evaluate_policy(MODEL, QuantPolicy.uniform(16)).accuracy
    int8_acc = evaluate_policy(MODEL, QuantPolicy.uniform(8)).accuracy
    print(f"  int16 accuracy {int16_acc:.4f}, int8 accuracy {int8_acc:.4f}")
    timings["train"] = time.perf_counter() - t

    t = _stage(2, n, "analyze the workload")
    _cli(["analyze", MODEL, "--json", str(out / "workload.json")])
    timings["analyze"] = time.perf_counter() - t

    t = _stage(3, n, f"explore the joint space ({cfg.budget} design points, accuracy in the loop)")
    space = out / "space.yaml"
    try:
        space.write_text(Path(cfg.space).read_text())
    except OSError as exc:
        raise SpecError(f"design space {str(cfg.space)!r} cannot be read: {exc.strerror}") from None
    _cli(
        [
            "explore", MODEL,
            "--space", str(space),
            "--objectives", "latency,energy,area,accuracy",
            "--strategy", "nsga2",
            "--population", "16",
            "--batch-size", "16",
            "--budget", str(cfg.budget),
            "--jobs", str(cfg.jobs),
            "--mapper-budget", str(cfg.mapper_budget),
            "--seed", str(cfg.seed),
            "--out", str(out / "explore"),
            "--no-progress",
        ]
    )  # fmt: skip
    timings["explore"] = time.perf_counter() - t

    t = _stage(4, n, "generate the accelerator of the knee point")
    rtl = out / "rtl"
    _cli(["generate", "--design", str(out / "explore" / "best.json"), "-o", str(rtl)])
    timings["generate"] = time.perf_counter() - t

    t = _stage(
        5, n, f"run the whole network on the RTL ({IMAGES} held-out digits, cocotb + Icarus)"
    )
    _cli(
        [
            "verify", str(rtl),
            "--network", MODEL,
            "--images", str(IMAGES),
            "--seed", str(cfg.seed),
            "-o", str(out / "verify.json"),
        ]
    )  # fmt: skip
    timings["verify"] = time.perf_counter() - t

    t = _stage(6, n, f"synthesize with Yosys ({cfg.synth_target})")
    _cli(["synth", str(rtl), "--target", cfg.synth_target])
    timings["synth"] = time.perf_counter() - t

    t = _stage(
        7, n, "explore the small transformer ViT-tiny (model only: non-MAC operators on the "
        "vector unit)"
    )
    _cli(
        [
            "explore", TRANSFORMER,
            "--space", str(TRANSFORMER_SPACE),
            "--objectives", "latency,energy,area",
            "--budget", str(cfg.transformer_budget),
            "--jobs", str(cfg.jobs),
            "--mapper-budget", str(cfg.mapper_budget),
            "--seed", str(cfg.seed),
            "--out", str(out / "transformer"),
            "--no-progress",
        ]
    )  # fmt: skip
    _cli(["report", str(out / "transformer")])
    timings["transformer"] = time.perf_counter() - t

    _stage(8, n, "write the report")
    return write_report(out, int16_acc=int16_acc, int8_acc=int8_acc, timings=timings)


def _whole(v: float) -> int | float:
    """A cycle count as an int when it is whole (the model's counts are)."""
    return int(v) if float(v).is_integer() else v


def _table(header: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CodesignError(f"demo output {str(path)!r} is missing or unreadable: {exc}") from None


def write_report(out: Path, *, int16_acc: float, int8_acc: float, timings: dict) -> Path:
    """Compose ``report.md`` and ``report.html`` from the files the stages wrote in ``out``."""
    workload = _load(out / "workload.json")
    best = _load(out / "explore" / "best.json")
    pareto = _load(out / "explore" / "pareto.json")
    verify = _load(out / "verify.json")
    synth = _load(out / "rtl" / "synth.json")
    manifest = _load(out / "rtl" / "manifest.json")

    mac_layers = [lay for lay in workload["layers"] if lay.get("macs")]
    sections = [
        "# codesign demo report",
        f"Model `{MODEL}`; every number below was produced by this run "
        f"({time.strftime('%Y-%m-%d %H:%M:%S')}).",
        "## 1. Workload",
        _table(
            ["layer", "op", "loop dims", "MACs", "params", "weight density"],
            [
                [
                    lay["name"],
                    lay["op"],
                    " ".join(f"{d}{s}" for d, s in lay["dims"].items()),
                    lay["macs"],
                    lay["params"],
                    lay["weight_density"],
                ]
                for lay in mac_layers
            ],
        ),
        f"Total MACs {workload['total_macs']:,}, parameters {workload['total_params']:,}, "
        f"peak live activations {workload['peak_activation_bits']:,} bits. "
        f"Accuracy on held-out digits: {int16_acc:.2%} (int16), {int8_acc:.2%} (int8).",
        "## 2. Exploration",
        _pareto_section(pareto),
        "![Pareto front](explore/pareto.png)",
        "## 3. Chosen design (knee of the Pareto front)",
        _table(
            ["parameter", "value"],
            [[k, v] for k, v in sorted(best["params"].items())],
        ),
        _table(
            ["metric", "value"],
            [[k, v] for k, v in sorted(best["metrics"].items())],
        ),
        "### Per-layer breakdown",
        _table(
            [
                "layer",
                "w bits",
                "a bits",
                "MACs",
                "row tile",
                "cycles",
                "energy pJ",
                "gap to lower bound",
            ],
            [
                [
                    lay["name"],
                    lay["weight_bits"],
                    lay["activation_bits"],
                    lay["macs"],
                    (lay.get("schedule") or {}).get("tile_m") or "-",
                    lay["cycles"],
                    lay["energy_pj"],
                    lay["lower_bound_gap"],
                ]
                for lay in best["layers"]
            ],
        ),
        "![per-layer breakdown](explore/best_layers.png)",
        _host_section(best),
        "## 4. Generated RTL",
        _table(
            ["field", "value"],
            [
                [k, json.dumps(v) if isinstance(v, (dict, list)) else v]
                for k, v in manifest.items()
                if k not in ("ports",)
            ],
        ),
        "## 5. The whole network on the RTL (cocotb + Icarus Verilog vs the PyTorch integer "
        "reference)",
        f"Every MAC layer ran on the generated accelerator, in order, each layer's int8 outputs "
        f"feeding the next through the host runtime (ReLU, pooling and flatten on the host), on "
        f"{verify['images']} held-out digits. Predicted: the explorer's figures in `best.json` "
        f"(the cost model on the accelerator's own architecture and schedule, plus the "
        f"{PIPELINE_CYCLES}-cycle pipeline constant). Passed: **{verify['passed']}**.",
        _table(
            ["layer", "cycles predicted", "cycles measured (RTL)", "error", "bit-exact"],
            [
                [
                    lay["name"],
                    _whole(lay["cycles_predicted"]),
                    lay["cycles_measured"],
                    f"{100 * lay['cycles_error']:+.2f} %",
                    lay["bit_exact"],
                ]
                for lay in verify["layers"]
            ]
            + [
                [
                    "whole network",
                    _whole(verify["cycles_predicted_total"]),
                    verify["cycles_measured_total"],
                    f"{100 * verify['cycles_error']:+.2f} %",
                    verify["outputs_bit_exact"],
                ]
            ],
        ),
        _table(
            ["field", "value"],
            [
                ["top-1 agreement RTL vs reference", verify["top1_agreement"]],
                ["accuracy of the RTL on these images", verify["accuracy_rtl"]],
                ["accuracy of the integer reference", verify["accuracy_reference"]],
                ["explorer's accuracy (whole test split)", best["metrics"].get("accuracy", "-")],
                ["simulator", f"{verify['simulator']} {verify['simulator_version']}"],
                ["simulation wall time (s)", verify["seconds"]],
            ],
        ),
        "## 6. Synthesis (Yosys)",
        _table(
            ["field", "value"],
            [[k, json.dumps(v) if isinstance(v, (dict, list)) else v] for k, v in synth.items()],
        ),
        _transformer_section(out / "transformer"),
        "## Stage times",
        _table(["stage", "seconds"], [[k, round(v, 1)] for k, v in timings.items()]),
    ]
    md = "\n\n".join(sections) + "\n"
    path = out / "report.md"
    path.write_text(md)
    from codesign.report.html import write_html
    from codesign.report.study import read_study

    write_html(
        read_study(out / "explore", verify=[out / "verify.json"]),
        out / "report.html",
        title="codesign demo report",
        appendix_html="<h1>The run's tables</h1>" + _markdown_to_html(md),
    )
    return path


def _host_section(best: dict) -> str:
    """The knee's non-MAC operators: the host runtime runs them (not accelerator cycles)."""
    ops = [v for v in best.get("vector_layers", []) if v["category"] != "view"]
    if not ops:
        return "The network has no non-MAC operators."
    return (
        "Non-MAC operators: the generated accelerator runs the MAC layers (ReLU is part of its "
        "requantizer); the host runtime runs the rest, so they are listed here and not in "
        "the accelerator's cycles.\n\n"
        + _table(
            ["operator", "category", "element ops", "runs on"],
            [[v["name"], v["category"], v["element_ops"], v["unit"]] for v in ops],
        )
    )


def _transformer_section(folder: Path) -> str:
    """Section 7: the knee of the transformer's model-only exploration, MAC and non-MAC layers
    side by side (from ``best.json`` and ``best_layers.csv``)."""
    import csv

    best = _load(folder / "best.json")
    try:
        with (folder / "best_layers.csv").open() as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise CodesignError(f"demo output {str(folder)!r} is incomplete: {exc}") from None
    m = best["metrics"]
    share = {}
    for r in rows:
        kind = "MAC layers" if r["kind"] == "mac" else r["kind"]
        c, e = share.get(kind, (0.0, 0.0))
        share[kind] = (c + float(r["cycles"]), e + float(r["energy_pj"]))
    lanes = best["arch"]["vector"]["lanes"]
    return "\n\n".join(
        [
            f"## 7. A transformer, model only: `{TRANSFORMER}`",
            f"The knee of a model-only exploration ({best['arch']['name']}, a {lanes}-lane "
            f"vector unit for the non-MAC operators; `codesign.cost.vector`): "
            f"{m['latency_cycles']:,.0f} cycles, of which the vector unit "
            f"{m['vector_cycles']:,.0f} ({m['vector_cycles'] / m['latency_cycles']:.1%}); "
            f"{m['energy_pj'] * 1e-6:,.1f} uJ, of which "
            f"{m['vector_energy_pj'] / m['energy_pj']:.1%} on the vector unit. "
            f"This point is model only: no generator builds a vector unit.",
            _table(
                ["kind", "cycles", "share of latency", "energy uJ", "share of energy"],
                [
                    [k, _whole(c), f"{c / m['latency_cycles']:.1%}", e * 1e-6,
                     f"{e / m['energy_pj']:.1%}"]
                    for k, (c, e) in sorted(share.items(), key=lambda kv: -kv[1][0])
                ],
            ),  # fmt: skip
            _table(
                ["layer", "kind", "runs on", "MACs", "element ops", "cycles", "energy pJ"],
                [
                    [r["name"], r["kind"], r["unit"], int(r["macs"]), int(r["element_ops"]),
                     _whole(float(r["cycles"])), float(r["energy_pj"])]
                    for r in rows
                ],
            ),  # fmt: skip
            "![transformer per-layer breakdown](transformer/best_layers.png)",
        ]
    )


def _pareto_section(points: list[dict]) -> str:
    """The Pareto table of ``pareto.json`` (a list of ``{"params": ..., "metrics": ...}``)."""
    if not points:
        return "(no Pareto points)"
    metrics = ["latency_s", "energy_pj", "area_mm2", "accuracy"]
    rows = []
    for p in points:
        m, params = p["metrics"], p["params"]
        rows.append(
            [params.get("pe_rows", ""), params.get("pe_cols", ""), params.get("dataflow", "")]
            + [m.get(k, "") for k in metrics]
            + [p.get("build", "model only")]
        )
    return f"{len(points)} Pareto-optimal points:\n\n" + _table(
        ["rows", "cols", "dataflow", *metrics, "build"], rows
    )


def _markdown_to_html(md: str) -> str:
    """A small, dependency-free rendering of the report's Markdown subset (headings, tables,
    paragraphs) as the body of a page; images are left out (the page has the interactive
    plots of `codesign.report` instead)."""
    body: list[str] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            head, data = rows[0], rows[2:]
            body.append(
                "<table><tr>"
                + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                + "</tr>"
                + "".join(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                    for r in data
                )
                + "</table>"
            )
            continue
        elif line.strip() and not line.startswith("!["):
            body.append(f"<p>{html.escape(line)}</p>")
        i += 1
    return "".join(body)
