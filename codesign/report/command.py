"""``codesign report DIR``: rebuild ``report.html`` from a study folder (the ``--out`` of
``codesign explore``) or a result store, without re-running anything.

``--verify FILE`` (repeatable) adds the predicted against measured cycles of a ``codesign
verify`` run. Bad input (a missing folder, a folder that is not a study, an unreadable file) is
one ``error:`` line naming the path, exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign.validation import check_output_file

__all__ = ["HELP", "add_arguments", "run"]

HELP = "rebuild the HTML report of a study folder or result store (no re-run)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "study", metavar="DIR", help="a study folder (explore --out) or a result store (.db)"
    )
    parser.add_argument(
        "--store", metavar="DB", help="the study's store when it is not DIR/study.db"
    )
    parser.add_argument(
        "--verify",
        action="append",
        default=[],
        metavar="JSON",
        help="a verify.json of `codesign verify` (repeat for several)",
    )
    parser.add_argument(
        "--out", "-o", metavar="HTML", help="the page to write (default: DIR/report.html)"
    )


def run(args: argparse.Namespace) -> int:
    from codesign.report.html import write_html
    from codesign.report.study import read_study

    source = Path(args.study)
    default = (source.parent / f"{source.stem}_report.html") if source.is_file() else (
        source / "report.html"
    )  # fmt: skip
    out = check_output_file(args.out or default, "--out")
    study = read_study(source, store=args.store, verify=args.verify)
    path = write_html(study, out)
    size = path.stat().st_size
    print(f"wrote {path} ({size / 2**20:.1f} MiB; {len(study.front)} Pareto points)")
    return 0
