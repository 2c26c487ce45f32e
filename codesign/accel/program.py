"""The host's side of one layer on the accelerator: the GEMM operands of an integer layer
(im2col, folded zero points), the CSR writes and ``s_axis`` words in the controller's loop
order, and the decoding of the ``m_axis`` words.

The host side of a layer ``O = requant(bias + A @ W)`` (``A`` is ``M x K``, ``W`` is ``K x N``):

* weights are symmetric (zero point 0), so the input zero point folds into the bias:
  ``bias'[n] = bias[n] - zp_in * sum_k W[k, n]``; a convolution arrives as its im2col patches
  (padded with ``zp_in``), rows ordered ``(n, p, q)``, columns ``(c, r, s)``;
* ``K`` is zero-padded to a multiple of ``rows`` and ``N`` to a multiple of ``cols``; outputs of
  padded channels are dropped;
* the words are sent in the controller's loop order (``codesign.accel.config``).

Nothing here simulates: ``codesign.sim`` runs a `LayerProgram` in Icarus, a user's driver
sends the same words to the FPGA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import default_schedule
from codesign.accel.registers import register_address
from codesign.errors import SpecError

__all__ = [
    "GemmOperands",
    "LayerProgram",
    "compress_2_4",
    "decode_outputs",
    "im2col",
    "layer_operands",
    "program_layer",
    "split_dense",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerProgram:
    """What the host sends for one GEMM layer.

    Parameters
    ----------
    m, n, k, tile_m : int
        GEMM sizes and the rows per pass.
    csr_writes : tuple of (int, int)
        Register writes in order (parameters, dims, then CTRL start).
    stream_words : tuple of int
        ``s_axis_tdata`` words.
    out_beats : int
        ``m_axis`` beats the layer produces.
    out_rows : tuple of (int, int)
        For each ``m_axis`` beat, in order: the row of ``O`` (os: possibly a padded row) and
        the column tile ``n2`` it carries.
    pruning : str
        The layer's weight pruning (``none``, ``2:4`` or ``unstructured:F``): on the 2:4
        accelerator ``2:4`` runs the weights compressed, anything else as two 2:4 halves
        (``AcceleratorConfig.run_k``); the prediction of the layer depends on it.
    """

    m: int
    n: int
    k: int
    tile_m: int
    csr_writes: tuple[tuple[int, int], ...]
    stream_words: tuple[int, ...]
    out_beats: int
    out_rows: tuple[tuple[int, int], ...]
    pruning: str = "none"


def _matrix(name: str, x: object) -> np.ndarray:
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise SpecError(f"{name} must be a 2-D integer matrix, not shape {arr.shape} {arr.dtype}")
    return arr.astype(np.int64)


def _vector(name: str, x: object, n: int) -> np.ndarray:
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x).reshape(-1)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise SpecError(f"{name} must hold {n} integers (one per output channel), not {arr.shape}")
    return arr.astype(np.int64)


def _check_range(name: str, arr: np.ndarray, bits: int) -> None:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise SpecError(
            f"{name} values must lie in the signed {bits}-bit range [{lo}, {hi}], not "
            f"[{arr.min()}, {arr.max()}]"
        )


def _pack(values: np.ndarray, bits: int) -> int:
    mask = (1 << bits) - 1
    word = 0
    for i, v in enumerate(values.tolist()):
        word |= (int(v) & mask) << (i * bits)
    return word


def split_dense(a: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dense GEMM ``a @ w`` as a 2:4 GEMM of twice the (4-padded) reduction with the same
    product: every dense group of four, weights ``w0..w3``, becomes the 2:4 groups
    ``(w0, w1, 0, 0)`` and ``(0, 0, w2, w3)``, each beside the same four activations
    (``AcceleratorConfig.run_k``)."""
    m, k = a.shape
    n = w.shape[1]
    groups = math.ceil(k / 4)
    a4 = np.zeros((m, groups, 4), dtype=np.int64)
    a4.reshape(m, -1)[:, :k] = a
    w4 = np.zeros((groups, 4, n), dtype=np.int64)
    w4.reshape(-1, n)[:k] = w
    w2 = np.zeros((groups, 2, 4, n), dtype=np.int64)
    w2[:, 0, :2] = w4[:, :2]
    w2[:, 1, 2:] = w4[:, 2:]
    a2 = np.repeat(a4[:, :, None, :], 2, axis=2)
    return a2.reshape(m, 8 * groups), w2.reshape(8 * groups, n)


def compress_2_4(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2:4 storage of a ``K x N`` weight matrix, ``K`` a multiple of 4: ``(values,
    indices)``, each ``K/4 x N x 2``: the two weights of every group of four rows of a column
    that the 2:4 array multiplies, and their positions 0..3 in the group (ascending; a group
    with fewer than two non-zeros is completed with zeros at its lowest free positions).

    Raises
    ------
    SpecError
        If a group holds more than two non-zeros (the weights are not 2:4-pruned along the
        reduction), naming the first one.
    """
    k, n = w.shape
    groups = w.reshape(k // 4, 4, n)
    nonzero = groups != 0
    counts = nonzero.sum(axis=1)
    if counts.size and counts.max() > 2:
        g, col = (int(v[0]) for v in np.nonzero(counts > 2))
        raise SpecError(
            f"weights are not 2:4: rows {4 * g}..{4 * g + 3} of column {col} hold "
            f"{int(counts[g, col])} non-zeros; the 2:4 accelerator takes at most 2 per group of "
            f"four along the reduction (prune the layer 2:4, or run it with pruning 'none')"
        )
    # positions sorted non-zeros first (stable: ascending within each kind), then the first two
    order = np.argsort(~nonzero, axis=1, kind="stable")[:, :2, :]
    indices = np.sort(order, axis=1)
    values = np.take_along_axis(groups, indices, axis=1)
    return values.transpose(0, 2, 1), indices.transpose(0, 2, 1)


def _pack_rows(matrix: np.ndarray, bits: int) -> list[int]:
    """Each row of an integer matrix packed as `_pack` does (element ``i`` at bits
    ``[i * bits, (i + 1) * bits)``)."""
    return [_pack(row, bits) for row in matrix]


def program_layer(
    config: AcceleratorConfig,
    a: object,
    w: object,
    bias: object,
    multiplier: object,
    shift: object,
    zero_point: int,
    *,
    tile_m: int | None = None,
    pruning: str = "none",
) -> LayerProgram:
    """The CSR writes and ``s_axis`` words of ``requant(bias + a @ w)``.

    Parameters
    ----------
    config : AcceleratorConfig
    a : matrix
        ``M x K`` activations (signed ``act_bits``).
    w : matrix
        ``K x N`` weights (signed ``weight_bits``).
    bias : vector
        ``N`` int32 biases (zero-point terms already folded in).
    multiplier, shift : vector
        ``N`` requantization multipliers (``0 <= M < 2**31``) and shifts (``1..62``).
    zero_point : int
        Output zero point.
    tile_m : int, optional
        Rows per pass; default: the fewest row tiles of at most ``max_tile_m`` rows, balanced
        (``ceil(M / ceil(M / max_tile_m))``), so the last tile is shorter by fewer rows than
        there are row tiles (the cost model charges it as a full tile).
    pruning : str
        The layer's pruning (``none``, ``2:4``, ``unstructured:F``). On the 2:4 accelerator
        (``sparse24``) a ``2:4`` layer's weights are sent compressed (`compress_2_4`; a group
        with more than two non-zeros is a `SpecError`) and any other layer runs as two 2:4
        halves (`split_dense`); a dense accelerator runs every layer as it is.
    """
    arr = config.array
    a = _matrix("a", a)
    w = _matrix("w", w)
    m, k = a.shape
    if w.shape[0] != k:
        raise SpecError(f"w must have {k} rows (the columns of a), not {w.shape[0]}")
    n = w.shape[1]
    _check_range("a", a, arr.act_bits)
    _check_range("w", w, arr.weight_bits)
    bias = _vector("bias", bias, n)
    multiplier = _vector("multiplier", multiplier, n)
    shift = _vector("shift", shift, n)
    _check_range("bias", bias, 32)
    if multiplier.min() < 0 or multiplier.max() >= 1 << 31:
        raise SpecError(
            f"multiplier values must lie in [0, 2**31), not [{multiplier.min()}, "
            f"{multiplier.max()}]"
        )
    if shift.min() < 1 or shift.max() > 62:
        raise SpecError(f"shift values must lie in 1..62, not [{shift.min()}, {shift.max()}]")
    if not isinstance(zero_point, int) or not -(2**31) <= zero_point < 2**31:
        raise SpecError(f"zero_point must be an int32, not {zero_point!r}")
    os_flow = config.output_stationary
    if tile_m is None:
        tile_m = default_schedule(config, m).tile_m
    k_run = config.run_k(k, pruning)
    if k_run != k:
        a, w = split_dense(a, w)
    t = config.tiling(m, n, k_run, tile_m)
    rows, cols = config.rows, config.cols
    depth = config.pass_depth
    k_pad = k if os_flow else t["K_TILES"] * depth
    m_pad = t["M_TILES"] * rows if os_flow else m
    n_pad = t["N_TILES"] * cols
    a_p = np.zeros((m_pad, k_pad), dtype=np.int64)
    a_p[:m, :k_run] = a
    w_p = np.zeros((k_pad, n_pad), dtype=np.int64)
    w_p[:k_run, :n] = w
    if config.sparse:  # one weight beat per group of four: values (2 per column), then indices
        values, indices = compress_2_4(w_p)
        n_groups = k_pad // 4
        w_beats = [
            _pack_rows(
                values[:, n2 * cols : (n2 + 1) * cols].reshape(n_groups, -1), arr.weight_bits
            )
            for n2 in range(t["N_TILES"])
        ]
        idx_beats = [
            _pack_rows(indices[:, n2 * cols : (n2 + 1) * cols].reshape(n_groups, -1), 2)
            for n2 in range(t["N_TILES"])
        ]
        value_bits = 2 * cols * arr.weight_bits

    writes: list[tuple[int, int]] = []
    for ch in range(n):
        writes += [
            (register_address("PARAM_BIAS"), int(bias[ch]) & 0xFFFFFFFF),
            (register_address("PARAM_MULT"), int(multiplier[ch])),
            (register_address("PARAM_SHIFT"), int(shift[ch])),
            (register_address("PARAM_WRITE"), ((ch // cols) << 8) | (ch % cols)),
        ]
    for name in ("M", "K", "TILE_M", "K_TILES", "N_TILES"):
        writes.append((register_address(name), t[name]))
    writes.append((register_address("ZP_OUT"), zero_point & 0xFFFFFFFF))
    writes.append((register_address("CTRL"), 1))

    words_per_beat, bus = config.words_per_beat, config.axis_in_bits
    bus_mask = (1 << bus) - 1
    words: list[int] = []

    def send(beat: int) -> None:
        for i in range(words_per_beat):
            words.append((beat >> (i * bus)) & bus_mask)

    tile_m = t["TILE_M"]
    a_bits = rows * arr.act_bits
    out_rows: list[tuple[int, int]] = []  # (row of O, column tile) of each m_axis beat

    def weight_rows(k2: int, n2: int) -> None:
        for r in range(rows):
            if config.sparse:
                g = k2 * rows + r
                send(w_beats[n2][g] | idx_beats[n2][g] << value_bits)
            else:
                send(_pack(w_p[k2 * rows + r, n2 * cols : (n2 + 1) * cols], arr.weight_bits))

    def input_rows(m_lo: int, m_hi: int, k2: int) -> None:
        for row in range(m_lo, m_hi):
            send(_pack(a_p[row, k2 * depth : (k2 + 1) * depth], arr.act_bits))

    if config.input_buffer:  # m2, k2, n2: each input slice streamed once, in its n2 = 0 pass
        for m2 in range(t["M_TILES"]):
            m_lo, m_hi = m2 * tile_m, min(m, (m2 + 1) * tile_m)
            for k2 in range(t["K_TILES"]):
                for n2 in range(t["N_TILES"]):
                    weight_rows(k2, n2)
                    if n2 == 0:
                        input_rows(m_lo, m_hi, k2)
            out_rows += [(row, n2) for n2 in range(t["N_TILES"]) for row in range(m_lo, m_hi)]
    else:  # n2, m2, k2
        for n2 in range(t["N_TILES"]):
            for m2 in range(t["M_TILES"]):
                if os_flow:  # a column of the row tile of I and a row of W per beat
                    a_rows = slice(m2 * rows, (m2 + 1) * rows)
                    w_cols = slice(n2 * cols, (n2 + 1) * cols)
                    for kk in range(k):
                        a_part = _pack(a_p[a_rows, kk], arr.act_bits)
                        send(a_part | _pack(w_p[kk, w_cols], arr.weight_bits) << a_bits)
                    out_rows += [(row, n2) for row in range(m2 * rows, (m2 + 1) * rows)]
                    continue
                m_lo, m_hi = m2 * tile_m, min(m, (m2 + 1) * tile_m)
                for k2 in range(t["K_TILES"]):
                    weight_rows(k2, n2)
                    input_rows(m_lo, m_hi, k2)
                out_rows += [(row, n2) for row in range(m_lo, m_hi)]
    return LayerProgram(
        m=m,
        n=n,
        k=k,
        tile_m=tile_m,
        csr_writes=tuple(writes),
        stream_words=tuple(words),
        out_beats=len(out_rows),
        out_rows=tuple(out_rows),
        pruning=pruning,
    )


def decode_outputs(
    config: AcceleratorConfig, program: LayerProgram, beats: list[int]
) -> np.ndarray:
    """The ``M x N`` output matrix from the ``m_axis`` words (padded rows and channels
    dropped)."""
    bits = config.array.act_bits
    cols = config.cols
    if len(beats) != program.out_beats:
        raise SpecError(f"expected {program.out_beats} output beats, got {len(beats)}")
    n_tiles = math.ceil(program.n / cols)
    rows_out = max(row for row, _ in program.out_rows) + 1
    out = np.zeros((rows_out, n_tiles * cols), dtype=np.int64)
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    for (row, n2), word in zip(program.out_rows, beats, strict=True):
        for c in range(cols):
            v = (word >> (c * bits)) & mask
            out[row, n2 * cols + c] = v - (1 << bits) if v & sign else v
    return out[: program.m, : program.n]


def im2col(x: torch.Tensor, kernel: tuple[int, int], *, stride, padding, dilation, pad_value: int):
    """``(N*P*Q, C*R*S)`` patches of an integer ``(N, C, H, W)`` tensor (rows ordered
    ``n, p, q``; columns ``c, r, s`` like ``weight.reshape(K, -1)``), padding with
    ``pad_value``; returns ``(patches, (P, Q))``."""
    n, c, h, w = x.shape
    xf = x.to(torch.float64) - pad_value  # exact for integers below 2**53
    cols = torch.nn.functional.unfold(
        xf, kernel, dilation=dilation, padding=padding, stride=stride
    )  # (N, C*R*S, P*Q)
    r, s = kernel
    p = (h + 2 * padding[0] - dilation[0] * (r - 1) - 1) // stride[0] + 1
    q = (w + 2 * padding[1] - dilation[1] * (s - 1) - 1) // stride[1] + 1
    patches = cols.transpose(1, 2).reshape(n * p * q, c * r * s).round().to(torch.int64)
    return patches + pad_value, (p, q)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class GemmOperands:
    """One integer layer as the GEMM the accelerator runs.

    Parameters
    ----------
    a : torch.Tensor
        ``M x K`` int64 activations (im2col patches of a convolution, padded with the input
        zero point).
    w : torch.Tensor
        ``K x N`` int64 weights.
    bias : torch.Tensor
        ``N`` int64 biases with the input zero point folded in.
    multiplier, shift : torch.Tensor
        ``N`` requantization multipliers and shifts.
    zero_point : int
        Output zero point.
    out_shape : tuple of int
        Shape of the layer's output tensor (``(N, K, P, Q)``, ``(N, K, L)`` or
        ``(*leading, out_features)``); `to_output` reshapes the ``M x N`` result into it.
    conv : bool
        Whether the rows of the result are output pixels ``(n, p, q)`` (a convolution).
    """

    a: torch.Tensor
    w: torch.Tensor
    bias: torch.Tensor
    multiplier: torch.Tensor
    shift: torch.Tensor
    zero_point: int
    out_shape: tuple[int, ...]
    conv: bool

    @property
    def gemm(self) -> tuple[int, int, int]:
        """``(M, N, K)``."""
        return self.a.shape[0], self.w.shape[1], self.a.shape[1]

    def to_matrix(self, out: torch.Tensor) -> np.ndarray:
        """The ``M x N`` GEMM view of a layer output tensor (inverse of `to_output`)."""
        o = torch.as_tensor(out).to(torch.int64)
        if self.conv:
            o = o.permute(0, *range(2, o.dim()), 1)
        return o.reshape(-1, self.w.shape[1]).numpy()

    def to_output(self, out: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The layer's output tensor (int64) from the ``M x N`` GEMM result."""
        o = torch.as_tensor(np.asarray(out), dtype=torch.int64)
        if not self.conv:
            return o.reshape(self.out_shape)
        n, k, *spatial = self.out_shape
        o = o.reshape(n, *spatial, k)
        return o.permute(0, o.dim() - 1, *range(1, o.dim() - 1)).contiguous()


def layer_operands(layer: object, x_q: torch.Tensor) -> GemmOperands:
    """The GEMM of an ``IntegerLayer`` (``codesign.quant``: conv1d/conv2d with
    ``groups == 1`` or linear, symmetric weights) on its integer input ``x_q``."""
    if layer.groups != 1:
        raise SpecError(
            f"layer {layer.name!r} has groups={layer.groups}; only groups=1 is supported"
        )
    if bool((layer.weight_zero_point != 0).any()):
        raise SpecError(
            f"layer {layer.name!r} has asymmetric weights (non-zero weight_zero_point); the "
            f"accelerator folds only the input zero point into the bias (use weight_symmetric)"
        )
    zx = int(layer.input_zero_point)
    w_q = layer.weight_q.to(torch.int64)
    x = x_q.to(torch.int64)
    if layer.op in ("conv1d", "conv2d"):
        kout = w_q.shape[0]
        one_d = layer.op == "conv1d"
        if one_d:  # a conv1d is a conv2d of height 1
            x, w_q = x.unsqueeze(2), w_q.unsqueeze(2)
            geometry = [(1, *layer.stride), (0, *layer.padding), (1, *layer.dilation)]
        else:
            geometry = [tuple(layer.stride), tuple(layer.padding), tuple(layer.dilation)]
        patches, (p, q) = im2col(
            x,
            tuple(w_q.shape[2:]),
            stride=geometry[0],
            padding=geometry[1],
            dilation=geometry[2],
            pad_value=zx,
        )
        wmat = w_q.reshape(kout, -1).T.contiguous()
        out_shape = (x.shape[0], kout, q) if one_d else (x.shape[0], kout, p, q)
    elif layer.op == "linear":
        patches = x.reshape(-1, x.shape[-1])
        wmat = w_q.T.contiguous()
        out_shape = (*x.shape[:-1], wmat.shape[1])
    else:
        raise SpecError(f"layer {layer.name!r} is a {layer.op}; supported: conv1d, conv2d, linear")
    return GemmOperands(
        a=patches,
        w=wmat,
        bias=layer.bias_int32.to(torch.int64) - zx * wmat.sum(dim=0),
        multiplier=layer.multiplier,
        shift=layer.shift,
        zero_point=int(layer.output_zero_point),
        out_shape=tuple(int(d) for d in out_shape),
        conv=layer.op != "linear",
    )
