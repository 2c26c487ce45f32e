"""The workload graph: layers (loop nests and non-MAC operators), activations on the edges, and
the activation buffer model (liveness over the schedule, peak live bits, per-layer working set).

A :class:`Workload` wraps a ``networkx.DiGraph``. Each node is keyed by its layer name and
carries one attribute, ``"node"``, a :class:`Node` (the layer, its output activation and the
parameters it owns); an edge ``u -> v`` means that ``v`` reads the activation ``u`` produces.
The schedule is the topological order that keeps the order in which nodes were added (for the
torch.fx front end: program order).

Buffer model
------------
Every node that is not a view produces one activation buffer of
``prod(output_shape) * activation_bits`` bits. A *view* (reshape, flatten, transpose, dropout in
eval mode, ...) shares the buffer of its input. A buffer is live from the schedule step of its
producer to the last step that reads it or any view of it, both inclusive (so a layer's inputs
and output are live together); a buffer read by a graph output stays live to the end. The peak
live activation is the largest sum of live buffers over the steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx

from codesign.errors import SpecError
from codesign.workload.loopnest import LoopNest

__all__ = [
    "OtherOp",
    "Node",
    "LayerStats",
    "Workload",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class OtherOp:
    """A layer without multiply-accumulates (activation function, add, pooling, softmax,
    normalization, reshape, graph input, ...), kept so the graph is complete.

    Parameters
    ----------
    name : str
        Layer name (module path or torch.fx node name).
    op : str
        Operator kind, e.g. ``"relu"``, ``"add"``, ``"max_pool2d"``, ``"reshape"``, ``"input"``.
    input_shapes : tuple of tuple of int
        Shapes of the activation inputs, in argument order.
    output_shape : tuple of int
        Shape of the output activation.
    element_ops : int
        Nominal element operations (see ``docs/workload.md`` for the count of each op).
    category : str
        What kind of work it is (``codesign.workload.aten.CATEGORIES``: ``elementwise``,
        ``normalization``, ``softmax``, ``reduction``, ``pooling``, ``resize``,
        ``data_movement``, ``view``, ``other``; ``input`` for a graph input); it decides how
        the vector-unit model costs the layer.
    """

    name: str
    op: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    element_ops: int = 0
    category: str = "other"

    def __post_init__(self) -> None:
        if not isinstance(self.element_ops, int) or self.element_ops < 0:
            raise SpecError(
                f"layer {self.name!r}: element_ops must be a non-negative integer, "
                f"not {self.element_ops!r}"
            )

    @property
    def macs(self) -> int:
        """Always 0: a non-MAC layer."""
        return 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Node:
    """What a workload graph node carries (attribute ``"node"``).

    Parameters
    ----------
    layer : LoopNest or OtherOp
        The operator.
    output_shape : tuple of int
        Shape of the output activation.
    activation_bits : int
        Bits per element of the output activation.
    params : int
        Trained parameters this layer owns, as ``torch`` counts them (a folded BatchNorm's
        scale and shift count here, with the convolution they were folded into).
    param_bits : int
        Storage of the parameters as deployed (after folding), in bits.
    output_density : float
        Fraction of non-zero elements of the output activation, measured (1.0 if unknown).
    weight_density : float or None
        Fraction of non-zero weights, measured; ``None`` for layers without weights.
    is_output : bool
        Whether the output is a graph output (live until the end of the schedule).
    is_view : bool
        Whether the output shares the storage of the node's single input (no new buffer).
    folded : tuple of str
        Names of layers folded into this one (a BatchNorm after a convolution).
    """

    layer: LoopNest | OtherOp
    output_shape: tuple[int, ...]
    activation_bits: int
    params: int = 0
    param_bits: int = 0
    output_density: float = 1.0
    weight_density: float | None = None
    is_output: bool = False
    is_view: bool = False
    folded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.layer, (LoopNest, OtherOp)):
            raise SpecError(f"node layer must be a LoopNest or an OtherOp, not {self.layer!r}")
        name = self.layer.name
        if not all(isinstance(d, int) and d >= 0 for d in self.output_shape):
            raise SpecError(
                f"layer {name!r}: output_shape must be non-negative integers, "
                f"not {self.output_shape!r}"
            )
        if not isinstance(self.activation_bits, int) or self.activation_bits <= 0:
            raise SpecError(
                f"layer {name!r}: activation_bits must be a positive integer, "
                f"not {self.activation_bits!r}"
            )
        for field_name in ("params", "param_bits"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or value < 0:
                raise SpecError(
                    f"layer {name!r}: {field_name} must be a non-negative integer, not {value!r}"
                )

    @property
    def output_elements(self) -> int:
        return math.prod(self.output_shape)

    @property
    def output_bits(self) -> int:
        """Size of the output activation in bits (dense)."""
        return self.output_elements * self.activation_bits


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerStats:
    """One row of the per-layer report.

    Sizes are in bits and dense (densities are reported, not applied). ``input_bits`` sums the
    activations the layer reads; ``working_set_bits = input_bits + weight_bits + output_bits``.
    ``macs_per_byte`` is ``macs / (working_set_bits / 8)``, the arithmetic intensity with
    compulsory traffic only.
    """

    name: str
    op: str
    dims: tuple[tuple[str, int], ...]
    macs: int
    element_ops: int
    params: int
    input_bits: int
    output_bits: int
    weight_bits: int
    working_set_bits: int
    input_density: float | None
    weight_density: float | None
    output_shape: tuple[int, ...]
    folded: tuple[str, ...]
    category: str = "other"

    @property
    def macs_per_byte(self) -> float:
        return self.macs * 8 / self.working_set_bits if self.working_set_bits else 0.0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "op": self.op,
            "dims": dict(self.dims),
            "macs": self.macs,
            "element_ops": self.element_ops,
            "params": self.params,
            "input_bits": self.input_bits,
            "output_bits": self.output_bits,
            "weight_bits": self.weight_bits,
            "working_set_bits": self.working_set_bits,
            "input_density": self.input_density,
            "weight_density": self.weight_density,
            "output_shape": list(self.output_shape),
            "macs_per_byte": self.macs_per_byte,
            "folded": list(self.folded),
            "category": self.category,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Workload:
    """A DNN as a graph of layers, with totals and the activation buffer model.

    Parameters
    ----------
    graph : networkx.DiGraph
        Nodes keyed by layer name, each with attribute ``"node"`` (a :class:`Node`); edges from
        producer to consumer. Must be acyclic. Treated as immutable once wrapped.
    name : str
        Model name for reports.
    """

    graph: nx.DiGraph
    name: str = "workload"
    _schedule: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _buffers: dict[str, tuple[int, int, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        g = self.graph
        if not isinstance(g, nx.DiGraph):
            raise SpecError(f"graph must be a networkx.DiGraph, not {type(g).__name__}")
        for name, data in g.nodes(data=True):
            node = data.get("node")
            if not isinstance(node, Node):
                raise SpecError(
                    f"graph node {name!r}: attribute 'node' must be a Node, not {node!r}"
                )
            if node.layer.name != name:
                raise SpecError(
                    f"graph node {name!r}: its layer is named {node.layer.name!r}; they must match"
                )
            if node.is_view and g.in_degree(name) != 1:
                raise SpecError(
                    f"graph node {name!r}: a view must read exactly one activation, "
                    f"not {g.in_degree(name)}"
                )
        if not nx.is_directed_acyclic_graph(g):
            raise SpecError(f"graph of workload {self.name!r} has a cycle; it must be acyclic")
        order = {n: i for i, n in enumerate(g.nodes)}
        schedule = tuple(nx.lexicographical_topological_sort(g, key=order.__getitem__))
        object.__setattr__(self, "_schedule", schedule)
        object.__setattr__(self, "_buffers", self._liveness(schedule))

    # --- structure ---------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        """The :class:`Node` of a layer."""
        if name not in self.graph:
            raise SpecError(f"workload {self.name!r} has no layer {name!r}")
        return self.graph.nodes[name]["node"]

    @property
    def schedule(self) -> tuple[str, ...]:
        """Layer names in execution order (a topological order of the graph)."""
        return self._schedule

    @property
    def layers(self) -> tuple[LoopNest | OtherOp, ...]:
        """Every layer, MAC-bearing or not, in schedule order."""
        return tuple(self.node(n).layer for n in self._schedule)

    @property
    def loop_nests(self) -> tuple[LoopNest, ...]:
        """The loop nest of each MAC-bearing layer, in schedule order."""
        return tuple(layer for layer in self.layers if isinstance(layer, LoopNest))

    @property
    def other_ops(self) -> tuple[OtherOp, ...]:
        """Every non-MAC operator, graph inputs excluded, in schedule order (what the
        vector-unit model costs, `codesign.cost.vector`)."""
        return tuple(
            layer
            for layer in self.layers
            if isinstance(layer, OtherOp) and layer.category != "input"
        )

    # --- totals ------------------------------------------------------------------------------
    @property
    def total_macs(self) -> int:
        return sum(nest.macs for nest in self.loop_nests)

    @property
    def total_element_ops(self) -> int:
        return sum(layer.element_ops for layer in self.layers if isinstance(layer, OtherOp))

    @property
    def total_params(self) -> int:
        """Trained parameters (``sum(p.numel() for p in module.parameters())`` for a traced
        module that uses all its parameters)."""
        return sum(self.node(n).params for n in self._schedule)

    @property
    def weight_bits(self) -> int:
        """Storage of all parameters as deployed (folded), in bits."""
        return sum(self.node(n).param_bits for n in self._schedule)

    # --- buffer model ------------------------------------------------------------------------
    def _root(self, name: str) -> str:
        while self.node(name).is_view:
            (name,) = self.graph.predecessors(name)
        return name

    def _liveness(self, schedule: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
        step = {n: i for i, n in enumerate(schedule)}
        last = len(schedule) - 1
        buffers: dict[str, list[int]] = {}
        for name in schedule:
            root = self._root(name)
            node = self.node(name)
            if root == name:
                buffers[name] = [step[name], step[name], node.output_bits]
            end = max([step[name]] + [step[s] for s in self.graph.successors(name)])
            if node.is_output:
                end = last
            buffers[root][1] = max(buffers[root][1], end)
        return {k: (s, e, b) for k, (s, e, b) in buffers.items()}

    def liveness(self) -> dict[str, tuple[int, int]]:
        """``{producer: (first_step, last_step)}`` of every activation buffer, steps inclusive
        and indexing :attr:`schedule`."""
        return {k: (s, e) for k, (s, e, _) in self._buffers.items()}

    def live_bits(self) -> tuple[int, ...]:
        """Live activation bits at each schedule step."""
        live = [0] * len(self._schedule)
        for start, end, bits in self._buffers.values():
            for t in range(start, end + 1):
                live[t] += bits
        return tuple(live)

    @property
    def peak_activation_bits(self) -> int:
        """Largest live activation storage over the schedule, in bits."""
        return max(self.live_bits(), default=0)

    def stats(self) -> tuple[LayerStats, ...]:
        """Per-layer statistics in schedule order."""
        rows = []
        for name in self._schedule:
            node = self.node(name)
            layer = node.layer
            preds = list(self.graph.predecessors(name))
            input_bits = sum(self.node(p).output_bits for p in preds)
            input_density = (
                layer.inputs.density
                if isinstance(layer, LoopNest)
                else (self.node(preds[0]).output_density if preds else None)
            )
            if isinstance(layer, LoopNest):
                dims, element_ops, weight_density = layer.dims, 0, layer.weights.density
            else:
                dims, element_ops, weight_density = (), layer.element_ops, node.weight_density
            rows.append(
                LayerStats(
                    name=name,
                    op=layer.op,
                    dims=dims,
                    macs=layer.macs,
                    element_ops=element_ops,
                    params=node.params,
                    input_bits=input_bits,
                    output_bits=node.output_bits,
                    weight_bits=node.param_bits,
                    working_set_bits=input_bits + node.param_bits + node.output_bits,
                    input_density=input_density,
                    weight_density=weight_density,
                    output_shape=node.output_shape,
                    folded=node.folded,
                    category="mac" if isinstance(layer, LoopNest) else layer.category,
                )
            )
        return tuple(rows)

    def working_set_bits(self, name: str) -> int:
        """Inputs + weights + output of one layer, in bits (dense)."""
        node = self.node(name)
        inputs = sum(self.node(p).output_bits for p in self.graph.predecessors(name))
        return inputs + node.param_bits + node.output_bits

    def to_dict(self) -> dict:
        """JSON-ready summary: totals, peak activation and one entry per layer."""
        live = self.live_bits()
        peak_step = max(range(len(live)), key=live.__getitem__) if live else None
        return {
            "name": self.name,
            "total_macs": self.total_macs,
            "total_element_ops": self.total_element_ops,
            "total_params": self.total_params,
            "weight_bits": self.weight_bits,
            "peak_activation_bits": self.peak_activation_bits,
            "peak_activation_layer": None if peak_step is None else self._schedule[peak_step],
            "layers": [row.to_dict() for row in self.stats()],
        }
