"""The accelerator top: a weight- or output-stationary systolic array with an input prefetch
FIFO, an accumulator buffer and an optional input buffer (weight-stationary), per-channel
parameter memories, requantization, a tile controller, an AXI4-Stream input and output and a
CSR bus.

Weight-stationary data path (see ``docs/accelerator.md`` for the register map and the stream
formats)::

    s_axis --(width converter)--> prefetch FIFO --+--> array.weights   (rows beats per pass)
                                                  +--> array.inputs    (T beats per pass)
                                  (input buffer: written in the n2 = 0 pass, read in the others)
    array.outputs --+--> + bias (k2 = 0) / + acc_buf row (k2 > 0) --> acc_buf   (k2 < last)
                    +--> ... --> requantize (per column) --> output register --> m_axis
                                                                                (k2 = last)

Output-stationary: the FIFO feeds ``array.inputs`` (``K`` beats per pass), and the drained rows
go through ``+ bias`` and the requantizers to the output register.

The controller walks the tile loops of ``AcceleratorConfig.mapping``: passes run one after
another (the next pass's first beat is taken in the cycle after the previous pass's last output
beat), so a pass takes exactly ``codesign.cost.systolic``'s tile cycles when the FIFO holds its
beats, and the FIFO keeps fetching while a pass drains.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import fifo, memory, wiring
from amaranth.lib.wiring import In, Out
from codesign.hw.requant import MULT_BITS, SHIFT_BITS, PipelinedRequantizer
from codesign.hw.sparse import SparseWeightStationaryArray
from codesign.hw.systolic import OutputStationaryArray, WeightStationaryArray

from codesign.accel.config import (
    CSR_ADDR_BITS,
    CSR_DATA_BITS,
    DIM_BITS,
    SUM_BITS,
    AcceleratorConfig,
    register_address,
)
from codesign.errors import SpecError

__all__ = ["Accelerator", "PARAM_BITS"]

PARAM_BITS = SUM_BITS + MULT_BITS + SHIFT_BITS
"""Bits of one output channel's parameters: bias, multiplier, shift (low to high)."""


def _array_class(config: AcceleratorConfig) -> type[wiring.Component]:
    """The array of the accelerator's dataflow (the 2:4 array runs the ``ws`` protocol)."""
    if config.output_stationary:
        return OutputStationaryArray
    return SparseWeightStationaryArray if config.sparse else WeightStationaryArray


class Accelerator(wiring.Component):
    """A whole-layer accelerator around a weight- or output-stationary array, or the 2:4-sparse
    weight-stationary array (``sparse24``: the ``ws`` controller with compressed weight beats
    and ``4 * rows``-element input beats, ``AcceleratorConfig.weight_beat_bits``).

    Parameters
    ----------
    config : AcceleratorConfig

    Members
    -------
    s_axis_tdata, s_axis_tvalid, s_axis_tready : In(axis_in_bits), In(1), Out(1)
        AXI4-Stream input: weight rows and input vectors, ``words_per_beat`` words per beat,
        low word first.
    m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast : Out(axis_out_bits), Out(1),
        In(1), Out(1)
        AXI4-Stream output: one row of ``cols`` requantized outputs per beat; ``tlast`` on the
        layer's last beat.
    csr_addr, csr_wdata, csr_we, csr_rdata : In(8), In(32), In(1), Out(32)
        CSR bus: a write takes effect at the clock edge where ``csr_we`` is high; ``csr_rdata``
        is the register at ``csr_addr`` of the previous cycle (one cycle read latency).
    csr_werr : Out(1)
        High in a cycle where ``csr_we`` is high and the write is refused: the accelerator is
        busy, or ``csr_addr`` is not a writable register. A refused write sets the sticky
        STATUS error bit, which an accepted start clears.
    irq : Out(1)
        The STATUS done bit.
    """

    def __init__(self, config: AcceleratorConfig) -> None:
        if not isinstance(config, AcceleratorConfig):
            raise SpecError(f"config must be an AcceleratorConfig, not {type(config).__name__}")
        self.config = config
        super().__init__(
            {
                "s_axis_tdata": In(config.axis_in_bits),
                "s_axis_tvalid": In(1),
                "s_axis_tready": Out(1),
                "m_axis_tdata": Out(config.axis_out_bits),
                "m_axis_tvalid": Out(1),
                "m_axis_tready": In(1),
                "m_axis_tlast": Out(1),
                "csr_addr": In(CSR_ADDR_BITS),
                "csr_wdata": In(CSR_DATA_BITS),
                "csr_we": In(1),
                "csr_rdata": Out(CSR_DATA_BITS),
                "csr_werr": Out(1),
                "irq": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        arr_cfg = cfg.array
        rows, cols = cfg.rows, cfg.cols

        os_flow = cfg.output_stationary
        array_class = _array_class(cfg)
        gate = {"zero_gate": True} if cfg.zero_gate else {}
        m.submodules.array = array = array_class(arr_cfg, **gate)
        m.submodules.fifo = prefetch = fifo.SyncFIFOBuffered(
            width=cfg.beat_bits, depth=cfg.fifo_depth
        )

        # --- s_axis width converter into the prefetch FIFO -------------------------------------
        words = cfg.words_per_beat
        if words == 1:
            m.d.comb += [
                prefetch.w_data.eq(self.s_axis_tdata),
                prefetch.w_en.eq(self.s_axis_tvalid),
                self.s_axis_tready.eq(prefetch.w_rdy),
            ]
        else:
            bus = cfg.axis_in_bits
            gather = Signal((words - 1) * bus)
            word = Signal(range(words))
            last_word = word == words - 1
            m.d.comb += [
                self.s_axis_tready.eq(~last_word | prefetch.w_rdy),
                prefetch.w_data.eq(Cat(gather, self.s_axis_tdata)),
                prefetch.w_en.eq(self.s_axis_tvalid & last_word),
            ]
            with m.If(self.s_axis_tvalid & self.s_axis_tready):
                m.d.sync += word.eq(Mux(last_word, 0, word + 1))
                with m.If(~last_word):
                    m.d.sync += gather.eq(Cat(gather[bus:], self.s_axis_tdata))

        # --- CSR registers ---------------------------------------------------------------------
        reg_m = Signal(DIM_BITS)
        reg_tile_m = Signal(DIM_BITS)
        reg_k_tiles = Signal(DIM_BITS)
        reg_k = Signal(DIM_BITS)
        reg_n_tiles = Signal(DIM_BITS)
        reg_zp = Signal(signed(CSR_DATA_BITS))
        reg_bias = Signal(SUM_BITS)
        reg_mult = Signal(MULT_BITS)
        reg_shift = Signal(SHIFT_BITS)
        cycles = Signal(CSR_DATA_BITS)
        busy = Signal()
        done = Signal()
        start = Signal()

        addr = self.csr_addr
        wdata = self.csr_wdata
        rw = {
            "M": reg_m,
            "TILE_M": reg_tile_m,
            "K_TILES": reg_k_tiles,
            "K": reg_k,
            "N_TILES": reg_n_tiles,
            "ZP_OUT": reg_zp,
            "PARAM_BIAS": reg_bias,
            "PARAM_MULT": reg_mult,
            "PARAM_SHIFT": reg_shift,
        }
        param_we = Signal()
        error = Signal()  # sticky: a write was refused (csr_werr) since the last start
        with m.If(self.csr_we):
            m.d.comb += self.csr_werr.eq(busy)
            with m.Switch(addr):
                for name, reg in rw.items():
                    with m.Case(register_address(name)):
                        with m.If(~busy):
                            m.d.sync += reg.eq(wdata)
                with m.Case(register_address("CTRL")):
                    m.d.comb += start.eq(wdata[0] & ~busy)
                with m.Case(register_address("PARAM_WRITE")):
                    m.d.comb += param_we.eq(~busy)
                with m.Default():
                    m.d.comb += self.csr_werr.eq(1)
        with m.If(self.csr_werr):
            m.d.sync += error.eq(1)
        with m.Elif(start):
            m.d.sync += error.eq(0)
        readable = {**rw, "STATUS": Cat(busy, done, error), "CYCLES": cycles}
        with m.Switch(addr):
            for name, reg in readable.items():
                with m.Case(register_address(name)):
                    m.d.sync += self.csr_rdata.eq(reg)
            with m.Default():
                m.d.sync += self.csr_rdata.eq(0)
        m.d.comb += self.irq.eq(done)

        # --- tile loops ---------------------------------------------------------------------
        # The issue side (which pass the FSM feeds) and the completion side (which pass the
        # array's outputs belong to) walk the same loops; they are one set of counters when
        # passes run one after another, two when they overlap.
        if os_flow:  # one pass covers the whole K; row tiles of `rows` (M padded by the host)
            row_step = rows
        else:
            row_step = reg_tile_m
        overlap = cfg.overlap_passes

        # Per-layer constants for the loops' look-ahead, registered from the CSRs (which do not
        # change while busy; a loop first uses them at its first advance, a pass after start).
        k_is1 = Signal(name="k_tiles_is1")
        k_m2 = Signal(DIM_BITS, name="k_tiles_m2")
        n_is1 = Signal(name="n_tiles_is1")
        n_m2 = Signal(DIM_BITS, name="n_tiles_m2")
        m_le_step = Signal(name="m_le_step")
        two_steps = Signal(DIM_BITS + 2, name="two_row_steps")
        m.d.sync += [
            k_is1.eq(reg_k_tiles == 1),
            k_m2.eq(reg_k_tiles - 2),
            n_is1.eq(reg_n_tiles == 1),
            n_m2.eq(reg_n_tiles - 2),
            m_le_step.eq(reg_m <= row_step),
            two_steps.eq(row_step * 2),
        ]

        def tile_loops(name: str) -> SimpleNamespace:
            """The tile loops' counters with their first/last flags as registers.

            Each flag is computed one advance ahead (from registers only), so the compare-and-
            advance logic starts from flip-flops: ``m_left`` (rows of M from this row tile on)
            counts down instead of a base counting up, and ``last_m`` is ``m_left <= step``.
            """

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

        issue = tile_loops("issue")
        retire = tile_loops("retire") if overlap else issue

        out_valid = Signal()
        in_flight = Signal()  # a value in the requantization pipeline
        out_taken = array.outputs.valid & array.outputs.ready
        pass_done = out_taken & array.outputs.payload.last
        with m.If(pass_done & ~retire.final):
            m.d.sync += retire.advance

        # --- parameter memories: one per column, one entry per column tile ---------------------
        bias, mult, shift = [], [], []
        for c in range(cols):
            mem = memory.Memory(shape=unsigned(PARAM_BITS), depth=cfg.max_n_tiles, init=[])
            m.submodules[f"params_c{c}"] = mem
            wp = mem.write_port()
            rp = mem.read_port()
            m.d.comb += [
                wp.addr.eq(wdata[8:24]),
                wp.data.eq(Cat(reg_bias, reg_mult, reg_shift)),
                wp.en.eq(param_we & (wdata[:8] == c)),
                # sync read: the column tile of the next output beat
                rp.addr.eq(Mux(pass_done, retire.nxt.n2, retire.n2)),
            ]
            bias.append(rp.data[:SUM_BITS].as_signed())
            mult.append(rp.data[SUM_BITS : SUM_BITS + MULT_BITS])
            shift.append(rp.data[SUM_BITS + MULT_BITS :])

        # --- controller ------------------------------------------------------------------------
        w_count = Signal(range(rows))
        i_count = Signal(DIM_BITS)
        tile_rows = Signal(DIM_BITS)  # rows of this row tile: the last one may be short
        pass_beats = reg_k if os_flow else tile_rows
        m.d.comb += tile_rows.eq(Mux(issue.m_left < reg_tile_m, issue.m_left, reg_tile_m))

        a_bits = rows * arr_cfg.act_bits if os_flow else cfg.input_beat_bits
        if os_flow:
            m.d.comb += [
                array.inputs.payload.a.eq(prefetch.r_data[:a_bits]),
                array.inputs.payload.b.eq(
                    prefetch.r_data[a_bits : a_bits + cols * arr_cfg.weight_bits]
                ),
            ]
        else:
            m.d.comb += array.weights.payload.eq(prefetch.r_data[: cfg.weight_beat_bits])
        # the pass's last beat index, registered (a subtract, compare and mux off the critical
        # path): it changes only when the issue loops advance, and a ws pass starts with its
        # `rows` weight beats, an os pass's length is the constant K
        beat_last = Signal(DIM_BITS)
        m.d.sync += beat_last.eq(pass_beats - 1)
        m.d.comb += array.inputs.payload.last.eq(i_count == beat_last)

        # --- input buffer (ws, optional): the T x rows input slice of (m2, k2), written in its
        # n2 = 0 pass as it streams through, read back in its n2 > 0 passes -----------------
        in_state = Signal()  # the FSM is in INPUTS
        in_taken = array.inputs.valid & array.inputs.ready
        from_buffer = Signal()
        if cfg.input_buffer:
            in_mem = memory.Memory(shape=unsigned(a_bits), depth=cfg.max_tile_m, init=[])
            m.submodules.in_buf = in_mem
            ib_wp = in_mem.write_port()
            ib_rp = in_mem.read_port()
            m.d.comb += [
                from_buffer.eq(~issue.first_n),
                ib_wp.addr.eq(i_count),
                ib_wp.data.eq(prefetch.r_data[:a_bits]),
                ib_wp.en.eq(in_state & in_taken & ~from_buffer),
                # the row wanted in the next cycle (sync read): the current one, or the next
                # once the current one is taken; row 0 while the weights load
                ib_rp.addr.eq(Mux(in_state, i_count + in_taken, 0)),
                array.inputs.payload.data.eq(
                    Mux(from_buffer, ib_rp.data, prefetch.r_data[:a_bits])
                ),
            ]
        elif not os_flow:
            m.d.comb += array.inputs.payload.data.eq(prefetch.r_data[:a_bits])
        with m.If(busy):
            m.d.sync += cycles.eq(cycles + 1)

        first_state = "INPUTS" if os_flow else "WEIGHTS"
        with m.FSM():
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [
                        busy.eq(1),
                        done.eq(0),
                        cycles.eq(0),
                        w_count.eq(0),
                        i_count.eq(0),
                        *issue.reset,
                    ]
                    if overlap:
                        m.d.sync += retire.reset
                    m.next = first_state
            if not os_flow:
                with m.State("WEIGHTS"):
                    m.d.comb += [
                        array.weights.valid.eq(prefetch.r_rdy),
                        prefetch.r_en.eq(array.weights.ready),
                    ]
                    with m.If(array.weights.valid & array.weights.ready):
                        m.d.sync += w_count.eq(w_count + 1)
                        with m.If(w_count == rows - 1):
                            m.d.sync += w_count.eq(0)
                            m.next = "INPUTS"
            with m.State("INPUTS"):
                m.d.comb += [
                    in_state.eq(1),
                    array.inputs.valid.eq(from_buffer | prefetch.r_rdy),
                    prefetch.r_en.eq(~from_buffer & array.inputs.ready),
                ]
                with m.If(in_taken):
                    m.d.sync += i_count.eq(i_count + 1)
                    with m.If(array.inputs.payload.last):
                        m.d.sync += i_count.eq(0)
                        if overlap:  # the next pass's weights follow at once
                            with m.If(issue.final):
                                m.next = "DRAIN"
                            with m.Else():
                                m.d.sync += issue.advance
                                m.next = first_state
                        else:
                            m.next = "DRAIN"
            with m.State("DRAIN"):  # sequential: every pass; overlapped: the final pass
                with m.If(pass_done):
                    with m.If(retire.final):
                        m.next = "FLUSH"
                    if not overlap:  # (overlapped: an earlier pass retired; keep waiting)
                        with m.Else():
                            m.next = first_state
            with m.State("FLUSH"):
                with m.If(~out_valid & ~in_flight):
                    m.d.sync += [busy.eq(0), done.eq(1)]
                    m.next = "IDLE"

        # --- D: each output beat registered with what it adds to ------------------------------
        # (the partial sum read from acc_buf or the bias), the column tile's parameters and its
        # flags. The add and the acc_buf write happen one cycle later, from registers: the block
        # RAM's read feeds a register, not the add and the write port in the same cycle. A row is
        # read again only by the next pass's beat of that row, at least two cycles later.
        advance = Signal()  # the output register can take a value: the requantizer advances
        m.d.comb += advance.eq(~out_valid | self.m_axis_tready)
        d_valid, d_last_k, d_final, d_go = Signal(), Signal(), Signal(), Signal()
        m.d.comb += d_go.eq(~d_valid | ~d_last_k | advance)
        d_data = [Signal(signed(SUM_BITS), name=f"d_data_c{c}") for c in range(cols)]
        d_add = [Signal(signed(SUM_BITS), name=f"d_add_c{c}") for c in range(cols)]
        d_mult = [Signal(MULT_BITS, name=f"d_mult_c{c}") for c in range(cols)]
        d_shift = [Signal(SHIFT_BITS, name=f"d_shift_c{c}") for c in range(cols)]
        with m.If(d_go):
            m.d.sync += [
                d_valid.eq(out_taken),
                d_last_k.eq(retire.last_k),
                d_final.eq(retire.final & array.outputs.payload.last),
                *(d_data[c].eq(array.outputs.payload.data[c]) for c in range(cols)),
                *(d_mult[c].eq(mult[c]) for c in range(cols)),
                *(d_shift[c].eq(shift[c]) for c in range(cols)),
            ]
        sums = []
        for c in range(cols):
            total = Signal(signed(SUM_BITS), name=f"sum_c{c}")
            m.d.comb += total.eq(d_data[c] + d_add[c])
            sums.append(total)
        if os_flow:
            with m.If(d_go):
                m.d.sync += [d_add[c].eq(bias[c]) for c in range(cols)]
        else:
            acc_mem = memory.Memory(
                shape=unsigned(cols * SUM_BITS), depth=cfg.acc_buf_rows, init=[]
            )
            m.submodules.acc_buf = acc_mem
            acc_wp = acc_mem.write_port()
            acc_rp = acc_mem.read_port(transparent_for=(acc_wp,))
            # the acc_buf row of the next output beat (acc_base + its row in the tile), a
            # register: the read address is a mux of registers and their increment
            acc_row = Signal.like(acc_wp.addr)
            d_row = Signal.like(acc_wp.addr)
            acc_row_next = Mux(array.outputs.payload.last, retire.nxt.acc_base, acc_row + 1)
            with m.If(start):
                m.d.sync += acc_row.eq(0)
            with m.Elif(out_taken):
                m.d.sync += acc_row.eq(acc_row_next)
            # sync read: the row of the next output beat
            m.d.comb += acc_rp.addr.eq(Mux(out_taken, acc_row_next, acc_row))
            with m.If(d_go):
                m.d.sync += d_row.eq(acc_row)
                for c in range(cols):
                    stored = acc_rp.data[c * SUM_BITS : (c + 1) * SUM_BITS].as_signed()
                    m.d.sync += d_add[c].eq(Mux(retire.first_k, bias[c], stored))
            m.d.comb += [
                acc_wp.addr.eq(d_row),
                acc_wp.data.eq(Cat(*sums)),
                acc_wp.en.eq(d_valid & ~d_last_k),
            ]

        # --- requantization pipeline and the m_axis output register ---------------------------
        # One global stall: every stage advances when the output register can take a value.
        # Stage 0 registers the sums (and the column tile's parameters with them), then the
        # requantizer's `requant_stages`, then the output register: `output_latency` cycles
        # from an output beat to its m_axis beat (D included), one beat per cycle.
        out_bits = arr_cfg.act_bits
        stages = cfg.requant_stages
        valid = Signal(stages + 1)  # stage 0 .. stages
        last = Signal(stages + 1)
        with m.If(advance):
            m.d.sync += [
                valid.eq(Cat(d_valid & d_last_k, valid[:-1])),
                last.eq(Cat(d_final, last[:-1])),
            ]
        quantized = []
        for c in range(cols):
            s_acc = Signal(signed(SUM_BITS), name=f"s0_acc_c{c}")
            s_mult = Signal(MULT_BITS, name=f"s0_mult_c{c}")
            s_shift = Signal(SHIFT_BITS, name=f"s0_shift_c{c}")
            with m.If(advance):
                m.d.sync += [s_acc.eq(sums[c]), s_mult.eq(d_mult[c]), s_shift.eq(d_shift[c])]
            rq = PipelinedRequantizer(
                acc_bits=SUM_BITS, out_bits=out_bits, zp_bits=CSR_DATA_BITS, stages=stages
            )
            m.submodules[f"requant_c{c}"] = rq
            m.d.comb += [
                rq.en.eq(advance),
                rq.acc.eq(s_acc),
                rq.mult.eq(s_mult),
                rq.shift.eq(s_shift),
                rq.zero_point.eq(reg_zp),
            ]
            quantized.append(rq.out)
        out_data = Signal(cfg.axis_out_bits)
        out_last = Signal()
        m.d.comb += [
            in_flight.eq(valid.any() | d_valid),
            array.outputs.ready.eq(d_go),
            self.m_axis_tdata.eq(out_data),
            self.m_axis_tvalid.eq(out_valid),
            self.m_axis_tlast.eq(out_last),
        ]
        with m.If(advance):
            m.d.sync += [
                out_valid.eq(valid[-1]),
                out_data.eq(Cat(*quantized)),
                out_last.eq(last[-1]),
            ]
        return m
