"""The ``codesign`` command line: ``codesign analyze | map | explore | quant | generate | verify |
synth | report | demo``.

Each subcommand lives in its stage's package as a module with ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import only argparse-level
code at module level, so ``codesign --help`` stays fast and ``import codesign`` never pulls in
amaranth or cocotb.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from codesign.errors import CodesignError

__all__ = ["main", "build_parser"]

# subcommand -> module implementing it (HELP, add_arguments, run)
COMMANDS: dict[str, str] = {
    "analyze": "codesign.workload.command",
    "explore": "codesign.explore.command",
    "map": "codesign.cost.command",
    "quant": "codesign.quant.command",
    "generate": "codesign.hw.command",
    "synth": "codesign.synth_command",
    "verify": "codesign.sim.command",
    "report": "codesign.report.command",
    "demo": "codesign.demo",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``error: ...`` line (exit status 2), like
    every other error of the command line."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        if message.startswith("argument "):  # "argument --samples: must be ..."
            message = message.removeprefix("argument ").replace(": ", " ", 1)
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = _Parser(
        prog="codesign",
        description="Hardware/software co-design of DNN accelerators: PyTorch model -> "
        "workload -> cost model -> design-space exploration -> verified RTL.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``codesign`` script. Errors raised on purpose are printed as one line
    (``error: ...``) with exit status 2."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        status = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe surfaces here, not in the interpreter's exit
        return status
    except CodesignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of our output went away (``codesign map ... | head``): not an error.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
