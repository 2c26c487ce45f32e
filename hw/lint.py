"""The Verilator lint waiver shipped beside every generated Verilog file.

Verilator's ``-Wall`` reports 211 to 741 warnings on a generated top, none of them a defect: each
is an idiom of Amaranth's Verilog backend (Yosys ``write_verilog``), listed in `WAIVERS` with
the reason it is safe. `waiver_text` turns the list into a Verilator configuration file
(``lint_off -rule R -file F -match M`` lines) that covers only the named Verilog files and,
where Verilator's message allows it, only the message shapes seen; the exporters write it as
``<top>.vlt`` and list it in ``manifest.json`` (``lint_waiver``). Pass it before the Verilog:
``verilator --lint-only -Wall <top>.vlt <top>.v``. A new kind of warning is not waived: the
lint test (``tests/test_verilator.py``) fails until someone reviews it and adds a rule here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import SpecError

__all__ = ["Waiver", "WAIVERS", "WAIVER_SUFFIX", "waiver_text", "write_waiver"]

WAIVER_SUFFIX = ".vlt"
"""The waiver's file name is the Verilog file's with this suffix."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Waiver:
    """One reviewed kind of warning: a rule and the message shapes it is waived for.

    Parameters
    ----------
    rule : str
        Verilator's warning code, e.g. ``"UNUSEDSIGNAL"``.
    matches : tuple of str
        Wildcard patterns (``*``, ``?``) of the message text, one ``lint_off`` line each;
        ``("*",)`` for every message of the rule.
    reason : str
        Why the warning is no defect in Amaranth's generated Verilog (written as a comment).
    """

    rule: str
    matches: tuple[str, ...]
    reason: str

    def covers(self, rule: str, text: str) -> bool:
        """Whether this waiver silences message ``text`` of ``rule`` (Verilator's wildcards)."""
        return rule == self.rule and any(fnmatch.fnmatchcase(text, m) for m in self.matches)


# arithmetic and comparison operators (S: the signed comparison)
_WIDTH_OPERATORS = ("ADD", "SUB", "EQ", "NEQ", *(f"{c}{s}" for c in ("LT", "LTE", "GT", "GTE")
                                                 for s in ("", "S")))

WAIVERS: tuple[Waiver, ...] = (
    Waiver(
        rule="DECLFILENAME",
        matches=("*",),
        reason="Amaranth writes the whole hierarchy into one file named after the top; the "
        "submodules are named <top>.<path>",
    ),
    Waiver(
        rule="PROCASSINIT",
        matches=("*",),
        reason="every register is declared with its reset value as initialiser (the FPGA "
        "power-up value equals the reset value) and assigned in its always block",
    ),
    Waiver(
        rule="CASEINCOMPLETE",
        matches=("Case values incompletely covered*",),
        reason="each always block assigns every target its default before the casez; a value "
        "no case covers keeps that default (no latch)",
    ),
    Waiver(
        rule="UNUSEDSIGNAL",
        matches=("*",),
        reason="Amaranth keeps every named signal, every field of a data.Struct/ArrayLayout "
        "view and every port as a wire for debugging and waveforms, and assigns it from the net "
        "the logic reads; the anonymous $N nets are slices of wider results; the pass-through "
        "outputs of the array's edge PEs and the inputs a constant replaced end nowhere",
    ),
    Waiver(
        rule="WIDTHEXPAND",
        matches=tuple(f"Operator {op} expects *" for op in _WIDTH_OPERATORS),
        reason="an operand of an addition, subtraction or comparison is sign- or zero-extended "
        "to the operation's width, as Amaranth's arithmetic rules define it (an extension on "
        "an assignment is not waived)",
    ),
    Waiver(
        rule="WIDTHTRUNC",
        matches=("Logical operator LOGNOT expects 1 bit *",),
        reason="`!x` on a multi-bit value is Amaranth's `x == 0` (Value.bool() negated)",
    ),
    Waiver(
        rule="WIDTHTRUNC",
        matches=("Operator ASSIGNW expects * but Assign RHS's SHIFTR generates *",),
        reason="a variable part-select (Value.word_select / bit_select) is written as a right "
        "shift whose low bits are kept",
    ),
)
"""The reviewed waivers, one per kind of warning."""


def waiver_text(verilog_names: Sequence[str]) -> str:
    """The Verilator configuration file waiving `WAIVERS` in the files ``verilog_names`` (file
    names, matched at the end of the path Verilator reads them from).

    Raises
    ------
    SpecError
        If ``verilog_names`` is empty or a name holds a path separator, a quote or a wildcard.
    """
    names = list(verilog_names)
    if not names:
        raise SpecError("verilog_names must name at least one Verilog file, not []")
    for name in names:
        if not isinstance(name, str) or not name or any(c in name for c in '/"*?\n'):
            raise SpecError(
                f"verilog_names: {name!r} must be a file name without '/', '\"' or wildcards"
            )
    lines = [
        "`verilator_config",
        # no comment may start with the word "verilator": that is a metacomment
        "// -Wall waivers for Amaranth's generated Verilog, written by codesign.hw.lint.",
        f"// Files: {', '.join(names)}. Lint: --lint-only -Wall <this file> <Verilog files>",
    ]
    for w in WAIVERS:
        lines += ["", f"// {w.rule}: {w.reason}"]
        for match in w.matches:
            option = "" if match == "*" else f' -match "{match}"'
            lines += [f'lint_off -rule {w.rule} -file "*{name}"{option}' for name in names]
    return "\n".join(lines) + "\n"


def write_waiver(verilog_path: str | Path) -> Path:
    """Write the waiver of ``verilog_path`` beside it (``<stem>.vlt``) and return its path."""
    verilog_path = Path(verilog_path)
    path = verilog_path.with_suffix(WAIVER_SUFFIX)
    path.write_text(waiver_text([verilog_path.name]))
    return path
