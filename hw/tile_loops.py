"""The accelerator controller's tile loops (`tile_loops`): the ``k2``, ``m2``, ``n2`` counters
of ``AcceleratorConfig.mapping`` with their first/last flags as registers, in the loop order of
the configuration (``n2, m2, k2``; ``m2, k2, n2`` with the input buffer). The accelerator builds
one set for the issue side and, with overlapped passes, a second for the completion side."""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Const, Module, Signal

from codesign.accel.config import DIM_BITS, AcceleratorConfig

__all__ = ["tile_loops"]


def tile_loops(
    m: Module, name: str, cfg: AcceleratorConfig, n: SimpleNamespace, k: SimpleNamespace
) -> SimpleNamespace:
    """The tile loops' counters with their first/last flags as registers (``k``: the
    per-layer look-ahead constants; ``n``: the CSRs, ``row_step`` and the dataflow).

    Each flag is computed one advance ahead (from registers only), so the compare-and-
    advance logic starts from flip-flops: ``m_left`` (rows of M from this row tile on)
    counts down instead of a base counting up, and ``last_m`` is ``m_left <= step``.
    """
    os_flow, row_step = n.os_flow, n.row_step
    reg_m, reg_tile_m = n.reg_m, n.reg_tile_m
    reg_k_tiles, reg_n_tiles = n.reg_k_tiles, n.reg_n_tiles
    k_is1, k_m2, n_is1, n_m2 = k.k_is1, k.k_m2, k.n_is1, k.n_m2
    m_le_step, two_steps = k.m_le_step, k.two_steps

    def reg(shape, suffix):
        return Signal(shape, name=f"{name}_{suffix}")

    cur = SimpleNamespace(
        k2=reg(DIM_BITS, "k2"),
        n2=reg(DIM_BITS, "n2"),
        m_left=reg(DIM_BITS + 1, "m_left"),
        acc_base=reg(range(cfg.acc_buf_rows + 1), "acc_base"),
        last_k=Const(1) if os_flow else reg(1, "last_k"),
        first_k=Const(1) if os_flow else reg(1, "first_k"),
        last_m=reg(1, "last_m"),
        last_n=reg(1, "last_n"),
        first_n=reg(1, "first_n"),
    )
    counters = [k for k, v in vars(cur).items() if isinstance(v, Signal)]
    nxt = SimpleNamespace(
        **{k: Signal.like(getattr(cur, k), name=f"{name}_{k}_next") for k in counters}
    )
    m.d.comb += [getattr(nxt, k).eq(getattr(cur, k)) for k in counters]

    def step_k():
        if os_flow:
            return
        with m.If(cur.last_k):
            m.d.comb += [nxt.k2.eq(0), nxt.last_k.eq(k_is1), nxt.first_k.eq(1)]
        with m.Else():
            m.d.comb += [
                nxt.k2.eq(cur.k2 + 1),
                nxt.last_k.eq(cur.k2 == k_m2),
                nxt.first_k.eq(0),
            ]

    def step_m(wrap: bool):
        down = [
            nxt.m_left.eq(cur.m_left - row_step),
            nxt.last_m.eq(cur.m_left <= two_steps),
        ]
        if not wrap:
            m.d.comb += down
            return
        with m.If(cur.last_m):
            m.d.comb += [nxt.m_left.eq(reg_m), nxt.last_m.eq(m_le_step)]
        with m.Else():
            m.d.comb += down

    def step_n():
        with m.If(cur.last_n):
            m.d.comb += [
                nxt.n2.eq(0),
                nxt.last_n.eq(n_is1),
                nxt.first_n.eq(1),
                nxt.acc_base.eq(0),
            ]
        with m.Else():
            m.d.comb += [
                nxt.n2.eq(cur.n2 + 1),
                nxt.last_n.eq(cur.n2 == n_m2),
                nxt.first_n.eq(0),
                nxt.acc_base.eq(cur.acc_base + reg_tile_m),
            ]

    if cfg.input_buffer:  # loop order m2, k2, n2 (m never wraps: final before)
        step_n()
        with m.If(cur.last_n):
            step_k()
            with m.If(cur.last_k):
                step_m(wrap=False)
    else:  # loop order n2, m2, k2 (acc_base stays 0; n never wraps)
        step_k()
        with m.If(cur.last_k):
            step_m(wrap=True)
            with m.If(cur.last_m):
                m.d.comb += [
                    nxt.n2.eq(cur.n2 + 1),
                    nxt.last_n.eq(cur.n2 == n_m2),
                    nxt.first_n.eq(0),
                ]
    reset = [
        cur.k2.eq(0),
        cur.n2.eq(0),
        cur.m_left.eq(reg_m),
        cur.acc_base.eq(0),
        cur.last_m.eq(reg_m <= row_step),
        cur.last_n.eq(reg_n_tiles == 1),
        cur.first_n.eq(1),
    ]
    if not os_flow:
        reset += [cur.last_k.eq(reg_k_tiles == 1), cur.first_k.eq(1)]
    return SimpleNamespace(
        **vars(cur),
        nxt=nxt,
        final=cur.last_k & cur.last_m & cur.last_n,
        advance=[getattr(cur, k).eq(getattr(nxt, k)) for k in counters],
        reset=reset,
    )
