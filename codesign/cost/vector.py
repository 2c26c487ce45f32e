"""The vector-unit model: what the non-MAC operators of a workload cost.

Every operator that is not a loop nest (`codesign.workload.OtherOp`: activation functions,
residual adds, normalization, softmax, pooling, resize, concatenation, ...) runs on the
architecture's `VectorUnit`, one operator after another, unfused:

* **work**: the operator's nominal element operations (``OtherOp.element_ops``; the count of
  each category is in `codesign.workload.aten`), ``lanes`` of them per cycle;
* **traffic**: it reads every element of its activation inputs once and writes every element
  of its output once, ``bits`` wide, from the innermost shared memory level that holds
  activations (inputs and outputs) and whose capacity holds the operator's inputs and output
  together; if none does, from the outermost level (DRAM). Operator parameters (a layer
  norm's scale and shift, an embedding table's rows) are not counted;
* **cycles**: ``max(ceil(element_ops / lanes), ceil(read_bits / read_bw),
  ceil(write_bits / write_bw))`` of that level (compute and transfers overlap; reads and
  writes use the level's separate ports);
* **energy**: ``element_ops * energy_per_op_pj`` plus ``ceil(read_bits / word_bits)`` reads and
  ``ceil(write_bits / word_bits)`` writes of the level at its per-word energies.

``view`` operators (reshape, permute, slice, ...) alias their input's buffer and cost
nothing, as do graph inputs. ``data_movement`` operators (cat, pad, gather, ...) do no element
operations: their traffic is their cost. What this model leaves out (documented in
docs/cost_model.md): fusing an elementwise operator into its producer, the reuse of a tensor
kept in the buffer between operators, and transcendental functions costing more than one
multiply-add per nominal operation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from codesign.arch.spec import Architecture, MemoryLevel
from codesign.errors import SpecError
from codesign.workload.graph import OtherOp
from codesign.workload.loopnest import TensorRole

__all__ = ["VectorCost", "evaluate_vector", "host_cost", "FREE_CATEGORIES"]

FREE_CATEGORIES = ("view", "input")
"""Categories that move no data and do no work (aliases of their input; graph inputs)."""

_ACTIVATIONS = frozenset({TensorRole.INPUTS, TensorRole.OUTPUTS})


@dataclass(frozen=True, kw_only=True, slots=True)
class VectorCost:
    """The cost of one non-MAC operator.

    Parameters
    ----------
    name, op, category : str
        The operator's layer name, ATen operator and category.
    unit : str
        ``vector`` (costed on the architecture's vector unit) or ``host`` (the design has no
        vector unit: the operator runs on the host and is not costed here).
    element_ops : int
        Nominal element operations.
    level : str or None
        The memory level it reads and writes (None when it moves nothing or runs on the host).
    read_bits, write_bits : int
        Bits read (every input element) and written (every output element).
    compute_cycles, transfer_cycles, cycles : int
        ``ceil(element_ops / lanes)``, the slower of the read and write transfers, and their
        maximum (compute and transfers overlap).
    energy_pj : float
        ALU energy plus the level's access energy.
    """

    name: str
    op: str
    category: str
    unit: str
    element_ops: int
    level: str | None
    read_bits: int
    write_bits: int
    compute_cycles: int
    transfer_cycles: int
    cycles: int
    energy_pj: float

    def to_dict(self) -> dict:
        """Plain data, key for key the fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object, where: str = "vector layer") -> VectorCost:
        """Inverse of `to_dict`; unknown or missing keys are SpecErrors."""
        keys = set(cls.__dataclass_fields__)
        if not isinstance(data, dict) or set(data) != keys:
            raise SpecError(f"{where} must be an object with keys {sorted(keys)}")
        return cls(**data)


def _level(arch: Architecture, footprint_bits: int) -> MemoryLevel:
    """The innermost shared level that holds activations and ``footprint_bits`` of them,
    else the outermost level."""
    for lv in arch.levels[:-1]:
        if lv.instances != 1 or not _ACTIVATIONS <= lv.holds:
            continue
        if lv.size_bits is not None and lv.size_bits >= footprint_bits:
            return lv
    return arch.levels[-1]


def evaluate_vector(op: OtherOp, arch: Architecture) -> VectorCost:
    """The cost of ``op`` on the vector unit of ``arch`` (see the module docstring)."""
    if not isinstance(op, OtherOp):
        raise SpecError(f"evaluate_vector needs an OtherOp, not {type(op).__name__}")
    vec = arch.vector
    if vec is None:
        raise SpecError(
            f"architecture {arch.name!r} has no vector unit to run {op.name!r} ({op.op}); "
            f"give it one (`vector:` in the spec) or cost the operator as a host layer"
        )
    free = op.category in FREE_CATEGORIES
    reads = 0 if free else sum(math.prod(s) for s in op.input_shapes) * vec.bits
    writes = 0 if free else math.prod(op.output_shape) * vec.bits
    work = 0 if free else op.element_ops
    compute = -(-work // vec.lanes)
    if reads == 0 and writes == 0:
        return VectorCost(
            name=op.name, op=op.op, category=op.category, unit="vector", element_ops=work,
            level=None, read_bits=0, write_bits=0, compute_cycles=compute, transfer_cycles=0,
            cycles=compute, energy_pj=work * vec.energy_per_op_pj,
        )  # fmt: skip
    lv = _level(arch, reads + writes)
    transfer = max(-(-reads // lv.read_bits_per_cycle), -(-writes // lv.write_bits_per_cycle))
    energy = (
        work * vec.energy_per_op_pj
        + -(-reads // lv.word_bits) * lv.read_energy_pj
        + -(-writes // lv.word_bits) * lv.write_energy_pj
    )
    return VectorCost(
        name=op.name, op=op.op, category=op.category, unit="vector", element_ops=work,
        level=lv.name, read_bits=reads, write_bits=writes, compute_cycles=compute,
        transfer_cycles=transfer, cycles=max(compute, transfer), energy_pj=float(energy),
    )  # fmt: skip


def host_cost(op: OtherOp) -> VectorCost:
    """``op`` as a host layer: listed with its element operations, not costed (a generated
    accelerator runs only the MAC layers; `codesign.accel.runtime` runs the rest)."""
    work = 0 if op.category in FREE_CATEGORIES else op.element_ops
    return VectorCost(
        name=op.name, op=op.op, category=op.category, unit="host", element_ops=work,
        level=None, read_bits=0, write_bits=0, compute_cycles=0, transfer_cycles=0, cycles=0,
        energy_pj=0.0,
    )  # fmt: skip
