"""`Mapping` (one, readable) and `MappingBatch` (many, as numpy arrays), with validation.

A mapping says, for every memory level of an architecture, which loops run at that level
(dim and factor, **outermost first**) and which tensors the level keeps (the others bypass it),
and which dims are unrolled across the array rows and columns. The full loop nest, outermost
first, is::

    loops of levels[-1] (DRAM) ... loops of the first shared level
    spatial loops (rows x cols)            <- the PE array
    loops of the last per-PE level ... loops of levels[0]
    MAC

The tile a level holds spans every loop at that level and below (and the spatial loops when the
level is shared). The product of a dim's factors over all levels and the spatial unrolling must
be at least the dim's size; a larger product pads the dim (the padded MACs are executed and
reported as wasted in utilization).

A `MappingBatch` stores ``B`` mappings as arrays so the cost model evaluates them without Python
loops over mappings:

* ``factors``: int64 ``(B, L + 2, D)``; ``[:, l, d]`` is the temporal factor of dim ``d`` at
  level ``l`` (innermost first), ``[:, L, d]`` the factor across rows, ``[:, L + 1, d]`` across
  columns;
* ``orders``: int64 ``(B, L, D)``; ``[:, l, k]`` is the dim index of the ``k``-th loop of level
  ``l``, outermost first (a permutation of ``range(D)``; loops of factor 1 are no-ops);
* ``keep``: bool ``(B, L, 3)``; whether level ``l`` keeps inputs, weights, outputs
  (``ROLE_ORDER``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import MappingError, SpecError
from codesign.mapping.dataflow import ROLE_ORDER, TEMPLATES, dim_roles
from codesign.validation import MAX_DIM_SIZE, shown
from codesign.workload.loopnest import LoopNest, TensorRole

if TYPE_CHECKING:
    from codesign.arch.spec import Architecture

__all__ = [
    "LevelMapping",
    "Mapping",
    "MappingBatch",
    "validate_batch",
    "mapping_to_dict",
    "mapping_from_dict",
    "load_mapping",
    "save_mapping",
]


def _loops(value: object, where: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, tuple):
        raise SpecError(f"{where} must be a tuple of (dim, factor) pairs, not {value!r}")
    seen: set[str] = set()
    for item in value:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise SpecError(f"{where} must be a tuple of (dim, factor) pairs, not {item!r}")
        d, f = item
        if not isinstance(f, int) or isinstance(f, bool) or f <= 0:
            raise SpecError(f"{where}: factor of dim {d} must be a positive integer, not {f!r}")
        if d in seen:
            raise SpecError(f"{where}: dim {d} is listed twice")
        seen.add(d)
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class LevelMapping:
    """The loops of one memory level and the tensors it keeps.

    Parameters
    ----------
    name : str
        The architecture level's name.
    loops : tuple of (str, int)
        Temporal loops at this level, outermost first; dims not listed have factor 1.
    keep : frozenset of TensorRole or None
        Tensors kept at this level; ``None`` keeps every tensor the level may hold.
    """

    name: str
    loops: tuple[tuple[str, int], ...] = ()
    keep: frozenset[TensorRole] | None = None

    def __post_init__(self) -> None:
        _loops(self.loops, f"levels[{self.name!r}].loops")
        if self.keep is not None and (
            not isinstance(self.keep, frozenset)
            or not all(isinstance(r, TensorRole) for r in self.keep)
        ):
            raise SpecError(
                f"levels[{self.name!r}].keep must be a set of "
                f"{[r.value for r in TensorRole]}, not {self.keep!r}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class Mapping:
    """One mapping of a loop nest onto an architecture.

    Parameters
    ----------
    levels : tuple of LevelMapping
        At most one per architecture level (matched by name); missing levels run no loops and
        keep every tensor they may hold.
    rows, cols : tuple of (str, int)
        Dims unrolled across the array rows and columns, with their factors.
    """

    levels: tuple[LevelMapping, ...] = ()
    rows: tuple[tuple[str, int], ...] = field(default=())
    cols: tuple[tuple[str, int], ...] = field(default=())

    def __post_init__(self) -> None:
        names = [lv.name for lv in self.levels]
        for lv in self.levels:
            if not isinstance(lv, LevelMapping):
                raise SpecError(f"levels must hold LevelMapping values, not {lv!r}")
            if names.count(lv.name) > 1:
                raise SpecError(f"levels: level {lv.name!r} is listed twice")
        _loops(self.rows, "rows")
        _loops(self.cols, "cols")


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class MappingBatch:
    """``B`` mappings as arrays (see the module docstring for the layout).

    Parameters
    ----------
    dims : tuple of str
        The loop nest's dim names (the ``D`` axis).
    factors : numpy.ndarray
        int64 ``(B, L + 2, D)``.
    orders : numpy.ndarray
        int64 ``(B, L, D)``.
    keep : numpy.ndarray
        bool ``(B, L, 3)``.
    """

    dims: tuple[str, ...]
    factors: np.ndarray
    orders: np.ndarray
    keep: np.ndarray

    def __post_init__(self) -> None:
        f, o, k = self.factors, self.orders, self.keep
        for name, arr in (("factors", f), ("orders", o), ("keep", k)):
            if not isinstance(arr, np.ndarray) or arr.ndim != 3:
                raise SpecError(f"{name} must be a 3-D numpy array, not {type(arr).__name__}")
        b, l2, d = f.shape
        if d != len(self.dims) or l2 < 3:
            raise SpecError(
                f"factors must have shape (B, levels + 2, {len(self.dims)}), not {f.shape}"
            )
        if o.shape != (b, l2 - 2, d):
            raise SpecError(f"orders must have shape {(b, l2 - 2, d)}, not {o.shape}")
        if k.shape != (b, l2 - 2, 3):
            raise SpecError(f"keep must have shape {(b, l2 - 2, 3)}, not {k.shape}")
        if not np.issubdtype(f.dtype, np.integer) or not np.issubdtype(o.dtype, np.integer):
            raise SpecError("factors and orders must be integer arrays")
        if k.dtype != np.bool_:
            raise SpecError(f"keep must be a bool array, not {k.dtype}")

    def __len__(self) -> int:
        return self.factors.shape[0]

    @property
    def num_levels(self) -> int:
        """``L``, the number of memory levels."""
        return self.orders.shape[1]

    @classmethod
    def from_mappings(
        cls, nest: LoopNest, arch: Architecture, mappings: Sequence[Mapping]
    ) -> MappingBatch:
        """Arrays of ``mappings`` for ``nest`` on ``arch`` (names are checked here; the rest
        by ``validate_batch``)."""
        dims = nest.dim_names
        index = {d: i for i, d in enumerate(dims)}
        names = [lv.name for lv in arch.levels]
        n_lv, n_d, b = len(names), len(dims), len(mappings)
        factors = np.ones((b, n_lv + 2, n_d), dtype=np.int64)
        orders = np.tile(np.arange(n_d, dtype=np.int64), (b, n_lv, 1))
        keep = np.array(
            [[[r in lv.holds for r in ROLE_ORDER] for lv in arch.levels]] * b, dtype=bool
        ).reshape(b, n_lv, 3)

        def dim_index(d: str, where: str) -> int:
            if d not in index:
                raise MappingError(f"{where}: dim must be one of {list(dims)}, not {d!r}")
            return index[d]

        for i, m in enumerate(mappings):
            if not isinstance(m, Mapping):
                raise SpecError(f"mapping {i} must be a Mapping, not {type(m).__name__}")
            for lm in m.levels:
                if lm.name not in names:
                    raise MappingError(
                        f"mapping {i}: level name must be one of {names}, not {lm.name!r}"
                    )
                li = names.index(lm.name)
                listed = [dim_index(d, f"mapping {i}: levels[{lm.name!r}]") for d, _ in lm.loops]
                for (_, fac), di in zip(lm.loops, listed, strict=True):
                    factors[i, li, di] = fac
                orders[i, li] = listed + [j for j in range(n_d) if j not in listed]
                if lm.keep is not None:
                    keep[i, li] = [r in lm.keep for r in ROLE_ORDER]
            for slot, loops, where in ((n_lv, m.rows, "rows"), (n_lv + 1, m.cols, "cols")):
                for d, fac in loops:
                    factors[i, slot, dim_index(d, f"mapping {i}: {where}")] = fac
        return cls(dims=dims, factors=factors, orders=orders, keep=keep)

    def mapping(self, i: int, arch: Architecture) -> Mapping:
        """Row ``i`` as a `Mapping` (loops of factor 1 are left out)."""
        if not 0 <= i < len(self):
            raise SpecError(f"row must be in [0, {len(self)}), not {i!r}")
        levels = []
        for li, lv in enumerate(arch.levels):
            loops = tuple(
                (self.dims[d], int(self.factors[i, li, d]))
                for d in self.orders[i, li]
                if self.factors[i, li, d] > 1
            )
            kept = frozenset(r for r, k in zip(ROLE_ORDER, self.keep[i, li], strict=True) if k)
            levels.append(LevelMapping(name=lv.name, loops=loops, keep=kept))
        n_lv = len(arch.levels)

        def spatial(slot: int) -> tuple[tuple[str, int], ...]:
            return tuple(
                (d, int(self.factors[i, slot, j]))
                for j, d in enumerate(self.dims)
                if self.factors[i, slot, j] > 1
            )

        return Mapping(levels=tuple(levels), rows=spatial(n_lv), cols=spatial(n_lv + 1))

    def take(self, rows: np.ndarray | Sequence[int]) -> MappingBatch:
        """The sub-batch of the given row indices (or boolean mask)."""
        return MappingBatch(
            dims=self.dims,
            factors=self.factors[rows],
            orders=self.orders[rows],
            keep=self.keep[rows],
        )


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def validate_batch(nest: LoopNest, arch: Architecture, batch: MappingBatch) -> None:
    """Check every row of ``batch`` against ``nest`` and ``arch``; raise `MappingError` naming
    the first offending row and field.

    Checked: shapes, positive factors, factor products (>= each dim's size), spatial fan-out
    (<= ``ComputeArray.dense_rows``, i.e. rows times the N:M lanes, and cols), loop orders
    (permutations), kept tensors (only those a level may hold; the outermost level keeps all)
    and the dataflow template of the architecture. Capacity is not checked here: the cost model
    flags overflowing rows (``CostBatch.fits``).
    """
    dims = nest.dim_names
    if batch.dims != dims:
        raise MappingError(
            f"mapping dims must be {list(dims)} (the nest's), not {list(batch.dims)}"
        )
    n_lv = len(arch.levels)
    if batch.num_levels != n_lv:
        raise MappingError(
            f"mapping levels must number {n_lv} (the architecture's), not {batch.num_levels}"
        )
    f, o, k = batch.factors, batch.orders, batch.keep
    if len(batch) == 0:
        return
    bad = (f < 1).any(axis=(1, 2))
    if bad.any():
        i = _first(bad)
        raise MappingError(f"mapping {i}: factors must be positive integers, not {f[i].min()}")
    sizes = np.array([n for _, n in nest.dims], dtype=np.int64)
    prod = f.prod(axis=1)
    short = prod < sizes
    if short.any():
        i = _first(short.any(axis=1))
        d = int(np.flatnonzero(short[i])[0])
        raise MappingError(
            f"mapping {i}: factors of dim {dims[d]} multiply to {prod[i, d]}, must be at least "
            f"its size {sizes[d]}"
        )
    c = arch.compute
    for slot, what, limit in ((n_lv, "rows", c.dense_rows), (n_lv + 1, "cols", c.cols)):
        fan = f[:, slot].prod(axis=1)
        over = fan > limit
        if over.any():
            i = _first(over)
            lanes = ""
            if slot == n_lv and c.lanes > 1:
                lanes = f" ({c.rows} rows x {c.lanes} N:M lanes)"
            raise MappingError(
                f"mapping {i}: {what} spatial factors multiply to {fan[i]}, more than the "
                f"array's {limit} {what}{lanes}"
            )
    perm_ok = (np.sort(o, axis=2) == np.arange(len(dims))).all(axis=(1, 2))
    if not perm_ok.all():
        i = _first(~perm_ok)
        raise MappingError(f"mapping {i}: orders must be permutations of range({len(dims)})")
    holds = np.array([[r in lv.holds for r in ROLE_ORDER] for lv in arch.levels], dtype=bool)
    extra = (k & ~holds).any(axis=2)
    if extra.any():
        i = _first(extra.any(axis=1))
        li = int(np.flatnonzero(extra[i])[0])
        lv = arch.levels[li]
        raise MappingError(
            f"mapping {i}: level {lv.name!r} keep must be within what it holds "
            f"{sorted(r.value for r in lv.holds)}"
        )
    if not k[:, -1].all():
        i = _first(~k[:, -1].all(axis=1))
        raise MappingError(
            f"mapping {i}: level {arch.levels[-1].name!r} keep must include every tensor "
            f"(it is the outermost level)"
        )
    template = TEMPLATES[arch.compute.dataflow]
    roles = dim_roles(nest)
    for slot, what, allowed in ((n_lv, "rows", template.rows), (n_lv + 1, "cols", template.cols)):
        forbidden = np.array([roles[d] not in allowed for d in dims], dtype=bool)
        bad = (f[:, slot] > 1) & forbidden
        if bad.any():
            i = _first(bad.any(axis=1))
            d = dims[int(np.flatnonzero(bad[i])[0])]
            raise MappingError(
                f"mapping {i}: {what} may not unroll dim {d} under dataflow "
                f"{arch.compute.dataflow.value!r}; allowed dims: "
                f"{[x for x in dims if roles[x] in allowed]}"
            )
    n_pe = arch.num_per_pe_levels
    if template.stationary is not None and n_pe:
        s = template.stationary
        rel = np.array([d in nest.tensor(s).dims for d in dims], dtype=bool)
        moving = ((f[:, :n_pe] > 1) & rel).any(axis=(1, 2))
        if moving.any():
            i = _first(moving)
            raise MappingError(
                f"mapping {i}: per-PE levels may not loop over dims of the stationary "
                f"{s.value} under dataflow {arch.compute.dataflow.value!r}; dims "
                f"{sorted(d for d in dims if d in nest.tensor(s).dims)} must have factor 1 there"
            )
        kept = k[:, :n_pe, ROLE_ORDER.index(s)].any(axis=1)
        if not kept.all():
            i = _first(~kept)
            raise MappingError(
                f"mapping {i}: a per-PE level must keep the stationary {s.value} under "
                f"dataflow {arch.compute.dataflow.value!r}"
            )


# --- YAML/JSON ---------------------------------------------------------------------------------

MAPPING_FORMAT_VERSION = 1


def mapping_to_dict(mapping: Mapping) -> dict:
    """Plain-data form: ``{version, levels: {name: {loops: {dim: f}, keep: [...]}}, rows,
    cols}`` (loops outermost first)."""
    levels: dict[str, Any] = {}
    for lv in mapping.levels:
        entry: dict[str, Any] = {"loops": dict(lv.loops)}
        if lv.keep is not None:
            entry["keep"] = [r.value for r in ROLE_ORDER if r in lv.keep]
        levels[lv.name] = entry
    return {
        "version": MAPPING_FORMAT_VERSION,
        "levels": levels,
        "rows": dict(mapping.rows),
        "cols": dict(mapping.cols),
    }


def _factor_dict(value: Any, where: str) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping of dim: factor, not {shown(value)}")
    out = []
    for d, fac in value.items():
        if not isinstance(d, str):
            raise SpecError(f"{where}: dim names must be strings, not {shown(d)}")
        if not isinstance(fac, int) or isinstance(fac, bool) or not 0 < fac <= MAX_DIM_SIZE:
            raise SpecError(
                f"{where}.{d} must be an integer from 1 to {MAX_DIM_SIZE:,}, not {shown(fac)}"
            )
        out.append((d, fac))
    return tuple(out)


def mapping_from_dict(data: Any) -> Mapping:
    """Inverse of `mapping_to_dict`; unknown or duplicate keys are `SpecError`s."""
    if not isinstance(data, dict):
        raise SpecError(f"mapping spec must be a mapping of fields, not {shown(data)}")
    allowed = {"version", "levels", "rows", "cols"}
    unknown = sorted(set(data) - allowed, key=str)
    if unknown:
        raise SpecError(f"{unknown[0]} is not a mapping field; allowed: {sorted(allowed)}")
    if data.get("version") != MAPPING_FORMAT_VERSION:
        raise SpecError(f"version must be {MAPPING_FORMAT_VERSION}, not {data.get('version')!r}")
    raw_levels = data.get("levels") or {}
    if not isinstance(raw_levels, dict):
        raise SpecError(
            f"levels must be a mapping of level name: {{loops, keep}}, not {raw_levels!r}"
        )
    levels = []
    for name, entry in raw_levels.items():
        where = f"levels.{name}"
        entry = entry or {}
        if not isinstance(entry, dict):
            raise SpecError(f"{where} must be a mapping with loops and keep, not {entry!r}")
        bad = sorted(set(entry) - {"loops", "keep"}, key=str)
        if bad:
            raise SpecError(f"{where}.{bad[0]} is not a field; allowed: ['keep', 'loops']")
        keep = None
        if "keep" in entry:
            raw = entry["keep"]
            values = {r.value: r for r in TensorRole}
            if not isinstance(raw, list) or any(v not in values for v in raw):
                raise SpecError(
                    f"{where}.keep must be a list of {[r.value for r in ROLE_ORDER]}, not {raw!r}"
                )
            keep = frozenset(values[v] for v in raw)
        levels.append(
            LevelMapping(
                name=str(name), loops=_factor_dict(entry.get("loops"), f"{where}.loops"), keep=keep
            )
        )
    return Mapping(
        levels=tuple(levels),
        rows=_factor_dict(data.get("rows"), "rows"),
        cols=_factor_dict(data.get("cols"), "cols"),
    )


def load_mapping(path: str | Path) -> Mapping:
    """Read a mapping from a YAML or JSON file."""
    from codesign.arch.io import read_spec_file

    return mapping_from_dict(read_spec_file(path))


def save_mapping(mapping: Mapping, path: str | Path) -> Path:
    """Write ``mapping`` as YAML (or JSON for a ``.json`` suffix)."""
    from codesign.arch.io import write_spec_file

    return write_spec_file(mapping_to_dict(mapping), path)
