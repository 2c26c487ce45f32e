"""Dataflows as data: which dims may be unrolled across the array rows and columns, and which
tensor stays in the PEs while the innermost loops run.

A dim is classified by the set of tensor roles it indexes (its *reuse class*): in a convolution
``C``, ``R`` and ``S`` index inputs and weights, ``K`` weights and outputs, ``N``, ``P`` and
``Q`` inputs and outputs, ``G`` all three; in a GEMM ``O[M,N] += I[M,K] * W[N,K]``, ``K`` indexes
inputs and weights, ``N`` weights and outputs, ``M`` inputs and outputs. A template names the
classes allowed on the rows and on the columns, so one template covers every operator; the cost
model never reads the template (it only sees the factors a mapping chose).
"""

from __future__ import annotations

from dataclasses import dataclass

from codesign.arch.dataflow import Dataflow
from codesign.workload.loopnest import LoopNest, TensorRole

__all__ = ["Dataflow", "DataflowTemplate", "TEMPLATES", "dim_roles", "ROLE_ORDER"]

ROLE_ORDER: tuple[TensorRole, ...] = (TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS)
"""Tensor order of every per-tensor array axis in mappings and cost batches."""

_I, _W, _O = TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS


@dataclass(frozen=True, kw_only=True, slots=True)
class DataflowTemplate:
    """Constraints a dataflow puts on a mapping.

    Parameters
    ----------
    rows : frozenset of frozenset of TensorRole
        Reuse classes (sets of roles a dim indexes) allowed to be unrolled across array rows.
    cols : frozenset of frozenset of TensorRole
        Reuse classes allowed across array columns.
    stationary : TensorRole or None
        The tensor that stays in the PEs: at the per-PE memory levels every loop over a dim that
        indexes it must have factor 1 (it does not change while the PE-level loops run), and the
        per-PE levels must keep it. ``None`` puts no constraint on the PE-level loops.
    """

    rows: frozenset[frozenset[TensorRole]]
    cols: frozenset[frozenset[TensorRole]]
    stationary: TensorRole | None


def _classes(*sets: tuple[TensorRole, ...]) -> frozenset[frozenset[TensorRole]]:
    return frozenset(frozenset(s) for s in sets)


_ANY = [(_I,), (_W,), (_O,), (_I, _W), (_I, _O), (_W, _O), (_I, _W, _O)]

TEMPLATES: dict[Dataflow, DataflowTemplate] = {
    # TPU/Gemmini: reduction down the rows, output channels across the columns, weights held.
    Dataflow.WEIGHT_STATIONARY: DataflowTemplate(
        rows=_classes((_I, _W)), cols=_classes((_W, _O), (_I, _W, _O)), stationary=_W
    ),
    # Each PE owns an output: output pixels down the rows, output channels across the columns.
    Dataflow.OUTPUT_STATIONARY: DataflowTemplate(
        rows=_classes((_I, _O), (_I, _W, _O)), cols=_classes((_W, _O)), stationary=_O
    ),
    # Inputs held: reduction down the rows, output pixels across the columns.
    Dataflow.INPUT_STATIONARY: DataflowTemplate(
        rows=_classes((_I, _W)), cols=_classes((_I, _O), (_I, _W, _O)), stationary=_I
    ),
    # Eyeriss: filter rows (R) down the rows, output rows (P) across the columns; each PE keeps
    # a filter row, an input row and a psum row in its scratchpads.
    Dataflow.ROW_STATIONARY: DataflowTemplate(
        rows=_classes((_I, _W), (_I, _W, _O)),
        cols=_classes((_I, _O), (_I, _W, _O)),
        stationary=None,
    ),
    # Imported architectures (Timeloop): any spatial unrolling, nothing stationary.
    Dataflow.UNCONSTRAINED: DataflowTemplate(
        rows=_classes(*_ANY), cols=_classes(*_ANY), stationary=None
    ),
}
"""The template of each dataflow."""


def dim_roles(nest: LoopNest) -> dict[str, frozenset[TensorRole]]:
    """The reuse class of every dim of ``nest``: the roles of the tensors it indexes."""
    return {d: frozenset(t.role for t in nest.tensors if d in t.dims) for d in nest.dim_names}
