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

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import fifo, memory, wiring
from amaranth.lib.wiring import In, Out
from codesign.hw.requant import MULT_BITS, SHIFT_BITS, PipelinedRequantizer
from codesign.hw.sparse import SparseWeightStationaryArray
from codesign.hw.systolic import OutputStationaryArray, WeightStationaryArray
from codesign.hw.tile_loops import tile_loops

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
        """The data path and controller, built in the order of the data's travel: input
        stream, CSR bank, tile loops, parameter memories, issue side, controller FSM,
        accumulation, requantization and output (each step a method; ``n`` carries the signals
        the later steps use)."""
        m = Module()
        cfg = self.config
        gate = {"zero_gate": True} if cfg.zero_gate else {}
        if cfg.dsp != "inferred":
            gate["dsp"] = cfg.dsp
        n = SimpleNamespace(os_flow=cfg.output_stationary, overlap=cfg.overlap_passes)
        m.submodules.array = n.array = _array_class(cfg)(cfg.array, **gate)
        m.submodules.fifo = n.prefetch = fifo.SyncFIFOBuffered(
            width=cfg.beat_bits, depth=cfg.fifo_depth
        )
        self._stream_in(m, n)
        self._csr_bank(m, n)
        self._loops(m, n)
        self._param_memories(m, n)
        self._issue_side(m, n)
        self._controller(m, n)
        self._accumulate(m, n)
        self._requantize(m, n)
        return m

    def _stream_in(self, m: Module, n: SimpleNamespace) -> None:
        """``s_axis`` into the prefetch FIFO: ``words_per_beat`` bus words gathered per beat."""
        cfg, prefetch = self.config, n.prefetch
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

    def _csr_bank(self, m: Module, n: SimpleNamespace) -> None:
        """The CSR registers, their writes (refused while busy: ``csr_werr``, the sticky error
        bit), their reads (one cycle of latency) and ``irq``."""
        n.reg_m = reg_m = Signal(DIM_BITS)
        n.reg_tile_m = reg_tile_m = Signal(DIM_BITS)
        n.reg_k_tiles = reg_k_tiles = Signal(DIM_BITS)
        n.reg_k = reg_k = Signal(DIM_BITS)
        n.reg_n_tiles = reg_n_tiles = Signal(DIM_BITS)
        n.reg_zp = reg_zp = Signal(signed(CSR_DATA_BITS))
        n.reg_bias = reg_bias = Signal(SUM_BITS)
        n.reg_mult = reg_mult = Signal(MULT_BITS)
        n.reg_shift = reg_shift = Signal(SHIFT_BITS)
        n.cycles = cycles = Signal(CSR_DATA_BITS)
        n.busy = busy = Signal()
        n.done = done = Signal()
        n.start = start = Signal()

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
        n.param_we = param_we = Signal()
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

    def _loops(self, m: Module, n: SimpleNamespace) -> None:
        """The tile loops. The issue side (which pass the FSM feeds) and the completion side
        (which pass the array's outputs belong to) walk the same loops; they are one set of
        counters when passes run one after another, two when they overlap."""
        cfg = self.config
        if n.os_flow:  # one pass covers the whole K; row tiles of `rows` (M padded by the host)
            n.row_step = cfg.rows
        else:
            n.row_step = n.reg_tile_m

        # Per-layer constants for the loops' look-ahead, registered from the CSRs (which do not
        # change while busy; a loop first uses them at its first advance, a pass after start).
        k = SimpleNamespace(
            k_is1=Signal(name="k_tiles_is1"),
            k_m2=Signal(DIM_BITS, name="k_tiles_m2"),
            n_is1=Signal(name="n_tiles_is1"),
            n_m2=Signal(DIM_BITS, name="n_tiles_m2"),
            m_le_step=Signal(name="m_le_step"),
            two_steps=Signal(DIM_BITS + 2, name="two_row_steps"),
        )
        m.d.sync += [
            k.k_is1.eq(n.reg_k_tiles == 1),
            k.k_m2.eq(n.reg_k_tiles - 2),
            k.n_is1.eq(n.reg_n_tiles == 1),
            k.n_m2.eq(n.reg_n_tiles - 2),
            k.m_le_step.eq(n.reg_m <= n.row_step),
            k.two_steps.eq(n.row_step * 2),
        ]
        n.issue = tile_loops(m, "issue", cfg, n, k)
        n.retire = tile_loops(m, "retire", cfg, n, k) if n.overlap else n.issue

        n.out_valid = Signal()
        n.in_flight = Signal()  # a value in the requantization pipeline
        array = n.array
        n.out_taken = array.outputs.valid & array.outputs.ready
        n.pass_done = n.out_taken & array.outputs.payload.last
        with m.If(n.pass_done & ~n.retire.final):
            m.d.sync += n.retire.advance

    def _param_memories(self, m: Module, n: SimpleNamespace) -> None:
        """One parameter memory per column, one entry (bias, multiplier, shift) per column
        tile, written by PARAM_WRITE and read for the column tile of the next output beat."""
        cfg, wdata = self.config, self.csr_wdata
        n.bias, n.mult, n.shift = [], [], []
        for c in range(cfg.cols):
            mem = memory.Memory(shape=unsigned(PARAM_BITS), depth=cfg.max_n_tiles, init=[])
            m.submodules[f"params_c{c}"] = mem
            wp = mem.write_port()
            rp = mem.read_port()
            m.d.comb += [
                wp.addr.eq(wdata[8:24]),
                wp.data.eq(Cat(n.reg_bias, n.reg_mult, n.reg_shift)),
                wp.en.eq(n.param_we & (wdata[:8] == c)),
                # sync read: the column tile of the next output beat
                rp.addr.eq(Mux(n.pass_done, n.retire.nxt.n2, n.retire.n2)),
            ]
            n.bias.append(rp.data[:SUM_BITS].as_signed())
            n.mult.append(rp.data[SUM_BITS : SUM_BITS + MULT_BITS])
            n.shift.append(rp.data[SUM_BITS + MULT_BITS :])

    def _issue_side(self, m: Module, n: SimpleNamespace) -> None:
        """What the FSM feeds the array: the beat counters, the FIFO's words as weight and
        input beats, the pass's last-beat flag, the optional input buffer, the cycle counter."""
        cfg, array, prefetch = self.config, n.array, n.prefetch
        arr_cfg, rows, cols = cfg.array, cfg.rows, cfg.cols
        os_flow, issue = n.os_flow, n.issue
        n.w_count = Signal(range(rows))
        n.i_count = i_count = Signal(DIM_BITS)
        tile_rows = Signal(DIM_BITS)  # rows of this row tile: the last one may be short
        pass_beats = n.reg_k if os_flow else tile_rows
        m.d.comb += tile_rows.eq(Mux(issue.m_left < n.reg_tile_m, issue.m_left, n.reg_tile_m))

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
        n.in_state = in_state = Signal()  # the FSM is in INPUTS
        n.in_taken = in_taken = array.inputs.valid & array.inputs.ready
        n.from_buffer = from_buffer = Signal()
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
        with m.If(n.busy):
            m.d.sync += n.cycles.eq(n.cycles + 1)

    def _controller(self, m: Module, n: SimpleNamespace) -> None:
        """The FSM: IDLE -> (WEIGHTS ->) INPUTS per pass -> DRAIN -> FLUSH -> IDLE; with
        overlapped passes the next pass's weights follow a pass's inputs at once."""
        rows, array, prefetch = self.config.rows, n.array, n.prefetch
        issue, retire, overlap = n.issue, n.retire, n.overlap
        w_count, i_count, from_buffer = n.w_count, n.i_count, n.from_buffer
        first_state = "INPUTS" if n.os_flow else "WEIGHTS"
        with m.FSM():
            with m.State("IDLE"):
                with m.If(n.start):
                    m.d.sync += [
                        n.busy.eq(1),
                        n.done.eq(0),
                        n.cycles.eq(0),
                        w_count.eq(0),
                        i_count.eq(0),
                        *issue.reset,
                    ]
                    if overlap:
                        m.d.sync += retire.reset
                    m.next = first_state
            if not n.os_flow:
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
                    n.in_state.eq(1),
                    array.inputs.valid.eq(from_buffer | prefetch.r_rdy),
                    prefetch.r_en.eq(~from_buffer & array.inputs.ready),
                ]
                with m.If(n.in_taken):
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
                with m.If(n.pass_done):
                    with m.If(retire.final):
                        m.next = "FLUSH"
                    if not overlap:  # (overlapped: an earlier pass retired; keep waiting)
                        with m.Else():
                            m.next = first_state
            with m.State("FLUSH"):
                with m.If(~n.out_valid & ~n.in_flight):
                    m.d.sync += [n.busy.eq(0), n.done.eq(1)]
                    m.next = "IDLE"

    def _accumulate(self, m: Module, n: SimpleNamespace) -> None:
        """Stage D: each output beat registered with what it adds to (the partial sum read
        from acc_buf or the bias), the column tile's parameters and its flags. The add and the
        acc_buf write happen one cycle later, from registers: the block RAM's read feeds a
        register, not the add and the write port in the same cycle. A row is read again only
        by the next pass's beat of that row, at least two cycles later."""
        cfg, array, retire = self.config, n.array, n.retire
        cols = cfg.cols
        n.advance = advance = Signal()  # the output register can take a value
        m.d.comb += advance.eq(~n.out_valid | self.m_axis_tready)
        n.d_valid, n.d_last_k, n.d_final, n.d_go = Signal(), Signal(), Signal(), Signal()
        d_valid, d_last_k, d_go = n.d_valid, n.d_last_k, n.d_go
        m.d.comb += d_go.eq(~d_valid | ~d_last_k | advance)
        d_data = [Signal(signed(SUM_BITS), name=f"d_data_c{c}") for c in range(cols)]
        d_add = [Signal(signed(SUM_BITS), name=f"d_add_c{c}") for c in range(cols)]
        n.d_mult = [Signal(MULT_BITS, name=f"d_mult_c{c}") for c in range(cols)]
        n.d_shift = [Signal(SHIFT_BITS, name=f"d_shift_c{c}") for c in range(cols)]
        with m.If(d_go):
            m.d.sync += [
                d_valid.eq(n.out_taken),
                d_last_k.eq(retire.last_k),
                n.d_final.eq(retire.final & array.outputs.payload.last),
                *(d_data[c].eq(array.outputs.payload.data[c]) for c in range(cols)),
                *(n.d_mult[c].eq(n.mult[c]) for c in range(cols)),
                *(n.d_shift[c].eq(n.shift[c]) for c in range(cols)),
            ]
        n.sums = sums = []
        for c in range(cols):
            total = Signal(signed(SUM_BITS), name=f"sum_c{c}")
            m.d.comb += total.eq(d_data[c] + d_add[c])
            sums.append(total)
        if n.os_flow:
            with m.If(d_go):
                m.d.sync += [d_add[c].eq(n.bias[c]) for c in range(cols)]
            return
        acc_mem = memory.Memory(shape=unsigned(cols * SUM_BITS), depth=cfg.acc_buf_rows, init=[])
        m.submodules.acc_buf = acc_mem
        acc_wp = acc_mem.write_port()
        acc_rp = acc_mem.read_port(transparent_for=(acc_wp,))
        # the acc_buf row of the next output beat (acc_base + its row in the tile), a
        # register: the read address is a mux of registers and their increment
        acc_row = Signal.like(acc_wp.addr)
        d_row = Signal.like(acc_wp.addr)
        acc_row_next = Mux(array.outputs.payload.last, retire.nxt.acc_base, acc_row + 1)
        with m.If(n.start):
            m.d.sync += acc_row.eq(0)
        with m.Elif(n.out_taken):
            m.d.sync += acc_row.eq(acc_row_next)
        # sync read: the row of the next output beat
        m.d.comb += acc_rp.addr.eq(Mux(n.out_taken, acc_row_next, acc_row))
        with m.If(d_go):
            m.d.sync += d_row.eq(acc_row)
            for c in range(cols):
                stored = acc_rp.data[c * SUM_BITS : (c + 1) * SUM_BITS].as_signed()
                m.d.sync += d_add[c].eq(Mux(retire.first_k, n.bias[c], stored))
        m.d.comb += [
            acc_wp.addr.eq(d_row),
            acc_wp.data.eq(Cat(*sums)),
            acc_wp.en.eq(d_valid & ~d_last_k),
        ]

    def _requantize(self, m: Module, n: SimpleNamespace) -> None:
        """The requantization pipeline and the m_axis output register. One global stall: every
        stage advances when the output register can take a value. Stage 0 registers the sums
        (and the column tile's parameters with them), then the requantizer's
        `requant_stages`, then the output register: `output_latency` cycles from an output
        beat to its m_axis beat (D included), one beat per cycle."""
        cfg, advance = self.config, n.advance
        out_bits = cfg.array.act_bits
        stages = cfg.requant_stages
        valid = Signal(stages + 1)  # stage 0 .. stages
        last = Signal(stages + 1)
        with m.If(advance):
            m.d.sync += [
                valid.eq(Cat(n.d_valid & n.d_last_k, valid[:-1])),
                last.eq(Cat(n.d_final, last[:-1])),
            ]
        quantized = []
        for c in range(cfg.cols):
            s_acc = Signal(signed(SUM_BITS), name=f"s0_acc_c{c}")
            s_mult = Signal(MULT_BITS, name=f"s0_mult_c{c}")
            s_shift = Signal(SHIFT_BITS, name=f"s0_shift_c{c}")
            with m.If(advance):
                m.d.sync += [
                    s_acc.eq(n.sums[c]),
                    s_mult.eq(n.d_mult[c]),
                    s_shift.eq(n.d_shift[c]),
                ]
            rq = PipelinedRequantizer(
                acc_bits=SUM_BITS,
                out_bits=out_bits,
                zp_bits=CSR_DATA_BITS,
                stages=stages,
                dsp=cfg.dsp,
            )
            m.submodules[f"requant_c{c}"] = rq
            m.d.comb += [
                rq.en.eq(advance),
                rq.acc.eq(s_acc),
                rq.mult.eq(s_mult),
                rq.shift.eq(s_shift),
                rq.zero_point.eq(n.reg_zp),
            ]
            quantized.append(rq.out)
        out_data = Signal(cfg.axis_out_bits)
        out_last = Signal()
        m.d.comb += [
            n.in_flight.eq(valid.any() | n.d_valid),
            n.array.outputs.ready.eq(n.d_go),
            self.m_axis_tdata.eq(out_data),
            self.m_axis_tvalid.eq(n.out_valid),
            self.m_axis_tlast.eq(out_last),
        ]
        with m.If(advance):
            m.d.sync += [
                n.out_valid.eq(valid[-1]),
                out_data.eq(Cat(*quantized)),
                out_last.eq(last[-1]),
            ]
