"""What both front ends (`codesign.workload.frontend`'s torch.fx tracer and
`codesign.workload.capture`'s torch.export capture) share: their options, the helpers that read a
node's arguments and a tensor's bits and density, the graph builder base class and the node by
node execution of a captured graph on the example inputs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import networkx as nx
import torch
import torch.fx as fx

from codesign.errors import TraceError

# --- helpers -------------------------------------------------------------------------------------


def _dtype_bits(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size() * 8


def _density(t: torch.Tensor) -> float:
    """Fraction of non-zeros, at least one element's worth (a density must be positive)."""
    n = t.numel()
    return max(int(torch.count_nonzero(t)), 1) / n if n else 1.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _tensor_args(node: fx.Node) -> list[fx.Node]:
    """Node arguments of ``node`` in order, without duplicates."""
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), lambda a: found.append(a) if a not in found else a)
    return found


def _arg(node: fx.Node, index: int, key: str, default: object = None) -> object:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(key, default)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Options:
    fold_batchnorm: bool
    activation_bits: int | None
    weight_bits: int | None
    accumulator_bits: int | None


class _GraphBuilder:
    """What both front ends' builders share: the executed graph, the bits of a tensor, the
    attribution of parameters (each once), constants, and marking graph outputs."""

    def __init__(
        self,
        gm: fx.GraphModule,
        values: dict[fx.Node, object],
        densities: dict[fx.Node, float],
        opts: _Options,
    ):
        self.gm, self.values, self.densities, self.opts = gm, values, densities, opts
        self.graph = nx.DiGraph()
        self.alias: dict[fx.Node, str] = {}  # fx node -> workload node producing its value
        self.counted: set[int] = set()  # ids of parameters already attributed
        self.param_ids = {id(p) for p in gm.parameters()}
        self.constants: set[fx.Node] = set()
        self.folded: dict[fx.Node, fx.Node] = {}  # batch norm node -> conv node
        self.setup()

    def setup(self) -> None:
        """What a front end's builder prepares before the pass (nothing here)."""

    # -- bits and values --
    def act_bits(self, t: torch.Tensor) -> int:
        return self.opts.activation_bits or _dtype_bits(t.dtype)

    def acc_bits(self, out: torch.Tensor) -> int:
        """Bits of a loop nest's output tensor (the partial sums)."""
        return self.opts.accumulator_bits or max(32, self.act_bits(out))

    def w_bits(self, t: torch.Tensor) -> int:
        return self.opts.weight_bits or _dtype_bits(t.dtype)

    def new_params(self, tensors: list[object]) -> int:
        """Elements of the parameters among ``tensors`` not yet attributed to a layer."""
        total = 0
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            if id(t) in self.param_ids and id(t) not in self.counted:
                self.counted.add(id(t))
                total += t.numel()
        return total

    def const_params(self, node: object) -> list[torch.Tensor]:
        """The parameters a constant node is computed from, each once (none for a non-node).
        Memoized per node: constants built from shared constants (Swin's relative-position
        index and shifted-window mask) form a DAG with exponentially many paths."""
        if not isinstance(node, fx.Node):
            return []
        memo = self.__dict__.setdefault("_const_params", {})
        if node not in memo:
            if node.op == "get_attr":
                value = self.values[node]
                found = [value] if isinstance(value, torch.Tensor) else []
            else:
                found = [p for a in _tensor_args(node) for p in self.const_params(a)]
            memo[node] = list({id(p): p for p in found}.values())
        return memo[node]

    def build(self) -> nx.DiGraph:
        """One pass over the graph in program order."""
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                if isinstance(self.values[node], torch.Tensor):
                    self.input(node, self.values[node])
            elif node.op == "get_attr":
                self.constants.add(node)
            elif node.op == "output":
                self.mark_output(node)
            elif node in self.folded or (node.op == "call_module" and self.skip_modules):
                continue
            else:
                self.call(node)
        return self.graph

    skip_modules = False  # call_module nodes are torch.export's input guards, not layers

    def input(self, node: fx.Node, t: torch.Tensor) -> None:
        raise NotImplementedError

    def call(self, node: fx.Node) -> None:
        raise NotImplementedError

    def density(self, node: fx.Node) -> float:
        """Measured density of an activation (of the whole input for a multi-output node such
        as chunk/split; 1.0 when nothing was measured)."""
        if node in self.densities:
            return self.densities[node]
        args = _tensor_args(node)
        return self.density(args[0]) if args else 1.0

    def mark_output(self, node: fx.Node) -> None:
        """The workload nodes producing the graph outputs stay live to the end."""
        for a in _tensor_args(node):
            name = self.alias.get(a)
            if name is not None:
                old = self.graph.nodes[name]["node"]
                self.graph.nodes[name]["node"] = replace(old, is_output=True)

    def is_layer(self, node: fx.Node, *, all_tensors: bool) -> bool:
        """Whether a call node is a layer: not computed from constants only (then it is a
        constant itself) and producing tensors (not sizes or Python numbers)."""
        if all(a in self.constants for a in _tensor_args(node)):
            self.constants.add(node)
            return False
        value = self.values[node]
        if isinstance(value, torch.Tensor):
            return True
        if not isinstance(value, (tuple, list)) or not value:
            return False
        test = all if all_tensors else any
        return test(isinstance(v, torch.Tensor) for v in value)


def _execute(
    gm: fx.GraphModule, inputs: tuple[torch.Tensor, ...]
) -> tuple[dict[fx.Node, object], dict[fx.Node, float]]:
    """Run the graph node by node, keeping every node's value and the density of every tensor
    value measured right after it is computed (before any in-place op changes it)."""
    interp = fx.Interpreter(gm)
    interp.env = {}
    interp.args_iter = iter(inputs)
    shapes = [tuple(t.shape) for t in inputs]
    densities: dict[fx.Node, float] = {}
    with torch.no_grad():
        for node in gm.graph.nodes:
            try:
                value = interp.env[node] = interp.run_node(node)
            except Exception as exc:
                target = getattr(node.target, "__name__", node.target)
                raise TraceError(
                    f"node {node.name!r} ({node.op} {target}) failed on example inputs of "
                    f"shapes {shapes}: {_first_line(exc)}"
                ) from exc
            if isinstance(value, torch.Tensor):
                densities[node] = _density(value)
    return interp.env, densities
