"""Switching activity of a simulated accelerator layer, beside the cost model's energy.

The cost model charges every access of a level the per-word energy of its technology table,
whatever the data. `layer_activity` reads the VCD of a layer run (``codesign verify DIR --layer
... --activity``) and counts, per level of the accelerator, the bits that toggled on the data
it moved (a streaming VCD reader: the Hamming distance between consecutive values of each
signal, X and Z read as 0):

==============  =========================================  ===================================
level           signals                                    accesses (from the model)
==============  =========================================  ===================================
dram reads      top ``s_axis_tdata``                       ``dram`` read bits / ``axis_in_bits``
dram writes     top ``m_axis_tdata``                       ``dram`` write bits / word bits
acc_buf reads   top ``acc_rp__data``                       ``acc_buf`` read words
acc_buf writes  top ``acc_wp__data``                       ``acc_buf`` write words
weight_reg      every PE's ``weight`` register             ``weight_reg`` writes
MACs            every PE's multiplier operands (``a_in``,  MACs (each ``a_bits + w_bits`` bits)
                ``weight``; ``a_mul`` zero-gated)
==============  =========================================  ===================================

The *activity factor* is toggled bits per access bit. A per-access energy table describes
random data, half of whose bits toggle from one access to the next, so the activity-based
estimate of a level's energy is the model's times ``activity / 0.5``: below 1 where the data is
correlated or sparse (ReLU zeros, a weight held across a pass), above where it alternates.
A held register read (``weight_reg`` reads) switches nothing: its energy goes to the
multiplier operands (the MAC row).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import SpecError

__all__ = ["toggle_counts", "LevelActivity", "layer_activity", "RANDOM_ACTIVITY"]

RANDOM_ACTIVITY = 0.5
"""Toggled bits per bit and access of random data (what a per-access energy table assumes)."""

_VAR = re.compile(r"^\$var\s+\S+\s+(\d+)\s+(\S+)\s+(\S+)")


def _int(value: str) -> int:
    return int(re.sub("[xXzZ]", "0", value) or "0", 2)


def toggle_counts(
    path: str | Path,
    select: dict[str, Iterable[tuple]],
    *,
    clock: str = "clk",
) -> dict[str, int]:
    """Toggled bits per group over a whole VCD file.

    ``select`` maps a group name to ``(scope regex, signal name)`` or ``(scope regex, signal
    name, qualifiers)`` entries: a signal belongs to the group when its name matches and the
    dotted path of its scope matches the regex (``re.fullmatch``). Without qualifiers every
    change of the signal counts (the Hamming distance to its previous value; initial values are
    not toggles). With qualifiers (names of 1-bit signals in the same scope, e.g. ``("tvalid",
    "tready")``) the signal is sampled at each rising edge of the scope's (or the top's)
    ``clock`` where all qualifiers are 1, with the values before the edge, and the distance
    between consecutive samples counts: the switching between consecutive *accesses*."""
    path = Path(path)
    try:
        handle = path.open()
    except OSError as exc:
        raise SpecError(f"VCD {str(path)!r} cannot be read: {exc.strerror}") from None
    rules = {
        g: [(re.compile(e[0]), e[1], tuple(e[2]) if len(e) > 2 else ()) for e in entries]
        for g, entries in select.items()
    }
    raw: dict[str, list[str]] = {}  # id -> groups counting every change
    sampled: list[tuple[str, str, tuple[str, ...], str]] = []  # (group, id, qualifier ids, clk)
    names: dict[tuple[str, str], str] = {}  # (scope, name) -> id
    wanted: list[tuple[str, str, str, tuple[str, ...]]] = []
    scope: list[str] = []
    with handle:
        for line in handle:
            if line.startswith("$scope"):
                scope.append(line.split()[2])
            elif line.startswith("$upscope"):
                scope.pop()
            elif line.startswith("$var"):
                m = _VAR.match(line)
                if not m:
                    continue
                ident, name = m.group(2), m.group(3)
                where = ".".join(scope)
                names[(where, name)] = ident
                for g, pats in rules.items():
                    for pat, n, quals in pats:
                        if n == name and pat.fullmatch(where):
                            if quals:
                                wanted.append((g, where, ident, quals))
                            else:
                                raw.setdefault(ident, []).append(g)
            elif line.startswith("$enddefinitions"):
                break
        top = scope[0] if scope else ""
        for g, where, ident, quals in wanted:
            q = [names.get((where, n)) for n in quals]
            clk = names.get((where, clock)) or names.get((top.split(".")[0], clock))
            if None in q or clk is None:
                missing = [n for n, i in zip(quals, q, strict=True) if i is None]
                raise SpecError(
                    f"VCD {str(path)!r}: scope {where!r} has no {missing or [clock]} to qualify "
                    f"its samples"
                )
            sampled.append((g, ident, tuple(q), clk))
        tracked = set(raw) | {i for _, i, q, c in sampled for i in (i, *q, c)}
        clocks = {c for *_, c in sampled}
        counts = {g: 0 for g in select}
        value: dict[str, str] = {}
        last_sample: dict[tuple[str, str], int] = {}
        pending: list[tuple[str, str]] = []

        def flush() -> None:
            rose = {i for i, v in pending if v == "1" and i in clocks and value.get(i) == "0"}
            if rose:
                for g, ident, quals, clk in sampled:
                    if clk in rose and all(value.get(q) == "1" for q in quals):
                        v = _int(value.get(ident, "0"))
                        key = (g, ident)
                        if key in last_sample:
                            counts[g] += (v ^ last_sample[key]).bit_count()
                        last_sample[key] = v
            for ident, v in pending:
                old = value.get(ident)
                value[ident] = v
                if old is not None and ident in raw:
                    n = (_int(old) ^ _int(v)).bit_count()
                    for g in raw[ident]:
                        counts[g] += n
            pending.clear()

        for line in handle:
            c = line[:1]
            if c == "#":
                flush()
                continue
            if c == "b" or c == "B":
                v, _, ident = line[1:].strip().partition(" ")
            elif c in "01xXzZ":
                v, ident = c, line[1:].strip()
            else:
                continue
            if ident in tracked:
                pending.append((ident, v))
        flush()
    return counts


@dataclass(frozen=True, kw_only=True, slots=True)
class LevelActivity:
    """One row of the activity table.

    Attributes
    ----------
    level : str
        ``dram reads``, ``dram writes``, ``acc_buf reads``, ``acc_buf writes``, ``weight_reg``,
        ``MACs``.
    accesses : float
        Accesses the cost model counts (words, register writes or MACs).
    bits_per_access : int
    toggles : int
        Bits that toggled in the simulation.
    activity : float
        ``toggles / (accesses * bits_per_access)``.
    model_energy_pj : float
        The cost model's energy of these accesses.
    activity_energy_pj : float
        ``model_energy_pj * activity / RANDOM_ACTIVITY``; for the MACs of a zero-gated
        accelerator the *ungated* energy (every issued MAC at the technology's energy) times
        ``activity / RANDOM_ACTIVITY``, since the toggles already show the gating.
    """

    level: str
    accesses: float
    bits_per_access: int
    toggles: int
    activity: float
    model_energy_pj: float
    activity_energy_pj: float

    def to_dict(self) -> dict:
        """Plain data."""
        return {
            "level": self.level,
            "accesses": self.accesses,
            "bits_per_access": self.bits_per_access,
            "toggles": self.toggles,
            "activity": round(self.activity, 6),
            "model_energy_pj": self.model_energy_pj,
            "activity_energy_pj": self.activity_energy_pj,
        }


def layer_activity(vcd: str | Path, config, report) -> list[LevelActivity]:
    """The activity table of one layer run: ``config`` the `AcceleratorConfig` simulated,
    ``report`` the cost model's `CostReport` of the same layer (``codesign.accel.costview``)."""
    arch = config.architecture()
    top = r"[^.]+"
    pes = r"[^.]+\.array\.pe_\d+_\d+"
    select = {
        "dram reads": [(top, "s_axis_tdata", ("s_axis_tvalid", "s_axis_tready"))],
        "dram writes": [(top, "m_axis_tdata", ("m_axis_tvalid", "m_axis_tready"))],
        "acc_buf reads": [(top, "acc_rp__data")],
        "acc_buf writes": [(top, "acc_wp__data", ("acc_wp__en",))],
        "weight_reg": [(pes, "weight")],
        # the multiplier's activation operand: the gated one (`a_mul`) under zero-weight gating,
        # else the activation the PE passes on (the sequence its operand register sees)
        "MACs": [
            (pes, "a_mul" if config.zero_gate else "a_in", ("en",)),
            (pes, "weight", ("en",)),
        ],
    }
    toggles = toggle_counts(vcd, select)
    levels = {lv.name: lv for lv in arch.levels}
    stored = {"inputs": config.array.act_bits, "weights": config.array.weight_bits, "outputs": 32}

    def traffic(level: str, kind: str) -> tuple[float, float]:
        """(words, energy pJ) of the level's reads or writes."""
        counts = report.reads if kind == "read" else report.writes
        lv = levels[level]
        bits = sum(counts[level][t] * stored[t] for t in stored)
        e = lv.read_energy_pj if kind == "read" else lv.write_energy_pj
        return bits / lv.word_bits, bits / lv.word_bits * e

    rows = []

    def row(
        name: str, accesses: float, width: int, energy: float, per_access: float | None = None
    ) -> None:
        """``per_access``: the energy of one access at random activity, when the model's
        ``energy`` is not ``accesses`` of them (a gated MAC row: the model already scales it
        by the weight density, the toggles measure that gating themselves)."""
        if accesses <= 0:
            return
        t = toggles[name]
        act = t / (accesses * width)
        full = energy if per_access is None else accesses * per_access
        rows.append(
            LevelActivity(
                level=name, accesses=accesses, bits_per_access=width, toggles=t, activity=act,
                model_energy_pj=energy, activity_energy_pj=full * act / RANDOM_ACTIVITY,
            )  # fmt: skip
        )

    for kind, name in (("read", "dram reads"), ("write", "dram writes")):
        words, energy = traffic("dram", kind)
        row(name, words, levels["dram"].word_bits, energy)
    if "acc_buf" in levels:
        for kind, name in (("read", "acc_buf reads"), ("write", "acc_buf writes")):
            words, energy = traffic("acc_buf", kind)
            row(name, words, levels["acc_buf"].word_bits, energy)
    if "weight_reg" in levels:
        lv = levels["weight_reg"]
        writes = report.writes["weight_reg"]["weights"]
        row("weight_reg", writes, config.array.weight_bits, writes * lv.write_energy_pj)
    bits = config.array.act_bits + config.array.weight_bits
    # zero-gated: the toggles count every issued MAC (a gated one toggles nothing), so the
    # activity estimate is the ungated energy per MAC times the activity; the model's figure
    # is already gated
    ungated = arch.compute.mac_energy_pj if config.zero_gate else None
    row("MACs", report.padded_macs, bits, report.mac_energy_pj, ungated)
    return rows
