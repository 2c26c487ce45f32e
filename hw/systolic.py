"""Systolic arrays: weight-stationary and output-stationary, with valid/ready streams.

The timing of one tile matches ``codesign.cost.systolic`` exactly when no stream stalls; the
test suite measures it in the Amaranth simulator. Flow control:

* Weight-stationary (and the 2:4-sparse variant in ``codesign.hw.sparse``): the whole array is
  one pipeline that advances on every cycle its output register is free or being taken
  (``en = ~outputs.valid | outputs.ready``); input bubbles travel through it as invalid beats.
  Weight beat ``r`` is written into PE row ``r`` column by column along the same skew as the
  activations, so the next tile's weights may follow the previous tile's last input
  immediately without disturbing the vectors still in flight.
* Output-stationary: after the beat marked ``last`` the array accepts no input until its
  accumulators are drained (one row per beat), so tiles never overlap.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from codesign.hw.dsp import check_dsp
from codesign.hw.layouts import input_layout, output_layout, weight_layout
from codesign.hw.pe import OutputStationaryPE, WeightStationaryPE

from codesign.accel.array import Dataflow, SystolicConfig
from codesign.errors import SpecError

__all__ = ["WeightStationaryArray", "OutputStationaryArray"]


def _delayed(m: Module, value: Value, stages: int, en: Value | None, name: str) -> Value:
    """``value`` through ``stages`` registers (each advancing when ``en`` is high, or every
    cycle when ``en`` is None)."""
    value = Value.cast(value)
    for k in range(stages):
        reg = Signal(len(value), name=f"{name}_d{k}")
        update = reg.eq(value)
        if en is None:
            m.d.sync += update
        else:
            with m.If(en):
                m.d.sync += update
        value = reg
    return value


def _require(config: SystolicConfig, dataflows: tuple[Dataflow, ...], what: str) -> None:
    if not isinstance(config, SystolicConfig):
        raise SpecError(f"config must be a SystolicConfig, not {type(config).__name__}")
    if config.dataflow not in dataflows:
        allowed = ", ".join(repr(d.value) for d in dataflows)
        raise SpecError(
            f"dataflow {config.dataflow.value!r} cannot build a {what}; it needs {allowed}"
        )


class WeightStationaryArray(wiring.Component):
    """Weight-stationary ``rows x cols`` systolic array computing ``O = I @ W`` per tile.

    A tile is ``rows`` weight beats (beat ``r`` = row ``r`` of ``W``, ``cols`` weights), then
    ``T >= 1`` input beats (one vector of ``rows`` activations each, the last one flagged
    ``last``). Output beat ``t`` (``cols`` sums, ``last`` on the final one) is valid
    ``rows + cols - 1`` cycles after input beat ``t`` was taken, so a tile takes
    ``rows + T + rows + cols - 1`` cycles (``codesign.cost.systolic.ws_tile_cycles``).
    Activations are skewed on entry and sums de-skewed on exit inside the array.

    Parameters
    ----------
    config : SystolicConfig
        ``dataflow`` must be ``"ws"``.
    zero_gate : bool
        Operand isolation in every PE (`WeightStationaryPE` ``zero_gate``): a multiplier whose
        weight is zero sees a held activation operand. Same results and cycles.
    dsp : str
        ``"inferred"`` or ``"ecp5"``: the retimed PEs' multipliers as ``MULT18X18D`` cells with
        their registers inside (`WeightStationaryPE` ``dsp``). Same results and cycles.

    Members
    -------
    weights : In(stream.Signature(weight_layout(config)))
        Weight rows, accepted while the array is between tiles.
    inputs : In(stream.Signature(input_layout(config)))
        Activation vectors with ``last``; accepted once all ``rows`` weight rows are in.
    outputs : Out(stream.Signature(output_layout(config)))
        Output vectors with ``last``; back-pressure stalls the whole array.
    """

    _dataflows: tuple[Dataflow, ...] = (Dataflow.WEIGHT_STATIONARY,)

    def __init__(
        self, config: SystolicConfig, *, zero_gate: bool = False, dsp: str = "inferred"
    ) -> None:
        _require(config, self._dataflows, type(self).__name__)
        if not isinstance(zero_gate, bool):
            raise SpecError(f"zero_gate must be true or false, not {zero_gate!r}")
        self.config = config
        self.zero_gate = zero_gate
        self.dsp = check_dsp(dsp)
        super().__init__(
            {
                "weights": In(stream.Signature(weight_layout(config))),
                "inputs": In(stream.Signature(input_layout(config))),
                "outputs": Out(stream.Signature(output_layout(config))),
            }
        )

    # The hooks below are what the 2:4-sparse array overrides.
    _RETIMED = True
    """Whether the PEs register their products (`WeightStationaryPE` ``retimed``): every PE but
    the first, whose activation comes from the stream without a register in between, in arrays
    of two rows or more. (The last weight beat is written into PE ``(rows - 1, c)`` ``c`` cycles
    after it was taken and the tile's first activation reaches that PE ``rows - 1 + c`` cycles
    after it was taken, at least one cycle after the weight beat: so with ``rows >= 2`` there
    is a bubble between a PE's weight write and its first activation.)"""

    def _make_pe(self, retimed: int = 0) -> wiring.Component:
        cfg = self.config
        return WeightStationaryPE(
            act_bits=cfg.act_bits,
            weight_bits=cfg.weight_bits,
            acc_bits=cfg.acc_bits,
            retimed=retimed,
            zero_gate=self.zero_gate,
            dsp=self.dsp,
        )

    def _row_activations(self, row: int) -> Value:
        return Value.cast(self.inputs.payload.data[row])

    def _column_weight(self, col: int) -> Value:
        return Value.cast(self.weights.payload[col])

    def _load_weight(self, pe: wiring.Component, bits: Value) -> list:
        return [pe.w_in.eq(bits)]

    def elaborate(self, platform):
        m = Module()
        rows, cols = self.config.rows, self.config.cols

        en = Signal()
        m.d.comb += en.eq(~self.outputs.valid | self.outputs.ready)

        # Tile control: `rows` weight beats, then input beats until one flagged `last`.
        loading = Signal(init=1)
        weight_row = Signal(range(rows))
        m.d.comb += [
            self.weights.ready.eq(en & loading),
            self.inputs.ready.eq(en & ~loading),
        ]
        w_taken = self.weights.valid & self.weights.ready
        i_taken = self.inputs.valid & self.inputs.ready
        with m.If(w_taken):
            with m.If(weight_row == rows - 1):
                m.d.sync += [weight_row.eq(0), loading.eq(0)]
            with m.Else():
                m.d.sync += weight_row.eq(weight_row + 1)
        with m.If(i_taken & self.inputs.payload.last):
            m.d.sync += loading.eq(1)

        # how many cycles ahead each PE forms its product (`WeightStationaryPE` ``retimed``):
        # 2 where the activation two cycles earlier exists (r + c >= 2), 1 next to the first PE
        retimed = [
            [
                min(r + c, 2) if self._RETIMED and rows >= 2 else 0
                for c in range(cols)
            ]
            for r in range(rows)
        ]
        pes = [
            [
                self._make_pe(retimed=retimed[r][c]) if retimed[r][c] else self._make_pe()
                for c in range(cols)
            ]
            for r in range(rows)
        ]
        for r in range(rows):
            for c in range(cols):
                m.submodules[f"pe_{r}_{c}"] = pes[r][c]
                m.d.comb += pes[r][c].en.eq(en)

        # Weights: beat `r` reaches column `c` `c` cycles later, behind the last activation
        # vector of the previous tile that uses PE (r, c).
        w_ctl = Cat(w_taken, weight_row)
        for c in range(cols):
            ctl = _delayed(m, w_ctl, c, en, f"wctl_c{c}")
            bits = _delayed(m, self._column_weight(c), c, en, f"w_c{c}")
            for r in range(rows):
                pe = pes[r][c]
                m.d.comb += pe.w_we.eq(ctl[0] & (ctl[1:] == r))
                m.d.comb += self._load_weight(pe, bits)

        # Activations enter row r after r cycles of skew and move right; sums move down.
        # Row r's activations reach PE (r, c) r + c cycles after the stream: taps[k] is the
        # skew line delayed k (k < r), then the PEs' inputs. A retimed PE also takes the
        # activation it sees `retimed` cycles later, the tap r + c - retimed.
        for r in range(rows):
            taps = [Value.cast(self._row_activations(r))]
            for k in range(r):
                reg = Signal(len(taps[-1]), name=f"a_r{r}_d{k}")
                with m.If(en):
                    m.d.sync += reg.eq(taps[-1])
                taps.append(reg)
            m.d.comb += pes[r][0].a_in.eq(taps[r])
            for c in range(1, cols):
                m.d.comb += pes[r][c].a_in.eq(pes[r][c - 1].a_out)
            taps += [pes[r][c].a_in for c in range(1, cols)]  # taps[r + c] is PE (r, c)'s input
            for c in range(cols):
                if retimed[r][c]:
                    m.d.comb += pes[r][c].a_ahead.eq(taps[r + c - retimed[r][c]])
        for c in range(cols):
            m.d.comb += pes[0][c].psum_in.eq(0)
            for r in range(1, rows):
                m.d.comb += pes[r][c].psum_in.eq(pes[r - 1][c].psum_out)
            bottom = Value.cast(pes[rows - 1][c].psum_out)
            m.d.comb += self.outputs.payload.data[c].eq(
                _delayed(m, bottom, cols - 1 - c, en, f"deskew_c{c}")
            )

        status = _delayed(
            m, Cat(i_taken, i_taken & self.inputs.payload.last), rows + cols - 1, en, "vld"
        )
        m.d.comb += [
            self.outputs.valid.eq(status[0]),
            self.outputs.payload.last.eq(status[1]),
        ]
        return m


class OutputStationaryArray(wiring.Component):
    """Output-stationary ``rows x cols`` systolic array computing ``O = A @ B`` per tile.

    A tile is ``K >= 1`` input beats, beat ``k`` carrying column ``k`` of ``A`` (``rows``
    values) and row ``k`` of ``B`` (``cols`` values), the last one flagged ``last``. PE
    ``(r, c)`` performs step ``k`` ``r + c`` cycles after beat ``k`` was taken; once the last
    step is done the accumulators are drained, one row of ``cols`` per output beat (``last``
    on row ``rows - 1``). A tile takes ``K + rows + cols - 2 + rows`` cycles
    (``codesign.cost.systolic.os_tile_cycles``); no input is accepted from the ``last`` beat
    until the drain is complete.

    Parameters
    ----------
    config : SystolicConfig
        ``dataflow`` must be ``"os"``.

    Members
    -------
    inputs : In(stream.Signature(input_layout(config)))
        Reduction steps ``a``, ``b`` with ``last``.
    outputs : Out(stream.Signature(output_layout(config)))
        Output rows with ``last``.
    """

    def __init__(self, config: SystolicConfig) -> None:
        _require(config, (Dataflow.OUTPUT_STATIONARY,), type(self).__name__)
        self.config = config
        super().__init__(
            {
                "inputs": In(stream.Signature(input_layout(config))),
                "outputs": Out(stream.Signature(output_layout(config))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        rows, cols = cfg.rows, cfg.cols
        payload = self.inputs.payload

        i_taken = self.inputs.valid & self.inputs.ready
        first = Signal(init=1)  # the next beat is step k = 0 of a tile
        with m.If(i_taken):
            m.d.sync += first.eq(payload.last)

        # every PE but the first registers its product (OutputStationaryPE ``retimed``)
        pes = [
            [
                OutputStationaryPE(
                    act_bits=cfg.act_bits,
                    weight_bits=cfg.weight_bits,
                    acc_bits=cfg.acc_bits,
                    retimed=(r, c) != (0, 0),
                )
                for c in range(cols)
            ]
            for r in range(rows)
        ]
        # (valid, first) of the wavefront reaching anti-diagonal r + c.
        diagonal = [Cat(i_taken, first)]
        for d in range(1, rows + cols - 1):
            diagonal.append(_delayed(m, diagonal[-1], 1, None, f"diag{d}"))
        for r in range(rows):
            for c in range(cols):
                pe = pes[r][c]
                m.submodules[f"pe_{r}_{c}"] = pe
                m.d.comb += [pe.valid.eq(diagonal[r + c][0]), pe.first.eq(diagonal[r + c][1])]
                # a retimed PE also takes the operands it sees next: its neighbours' inputs,
                # or the skew lines one register earlier
                if c == 0:
                    a_ahead = _delayed(m, Value.cast(payload.a[r]), max(r - 1, 0), None, f"a{r}")
                    m.d.comb += pe.a_in.eq(_delayed(m, a_ahead, min(r, 1), None, f"a{r}_edge"))
                else:
                    a_ahead = pes[r][c - 1].a_in
                    m.d.comb += pe.a_in.eq(pes[r][c - 1].a_out)
                if r == 0:
                    b_ahead = _delayed(m, Value.cast(payload.b[c]), max(c - 1, 0), None, f"b{c}")
                    m.d.comb += pe.b_in.eq(_delayed(m, b_ahead, min(c, 1), None, f"b{c}_edge"))
                else:
                    b_ahead = pes[r - 1][c].b_in
                    m.d.comb += pe.b_in.eq(pes[r - 1][c].b_out)
                if pe.retimed:
                    m.d.comb += [pe.a_ahead.eq(a_ahead), pe.b_ahead.eq(b_ahead)]

        # The last MAC (PE (rows-1, cols-1)) happens rows + cols - 2 cycles after the last beat;
        # the drain starts the cycle after.
        wait_cycles = rows + cols - 2
        wait_left = Signal(range(max(wait_cycles, 1)))
        drain_row = Signal(range(rows))
        with m.FSM():
            with m.State("COMPUTE"):
                m.d.comb += self.inputs.ready.eq(1)
                with m.If(i_taken & payload.last):
                    if wait_cycles == 0:
                        m.next = "DRAIN"
                    else:
                        m.d.sync += wait_left.eq(wait_cycles - 1)
                        m.next = "WAIT"
            if wait_cycles > 0:
                with m.State("WAIT"):
                    with m.If(wait_left == 0):
                        m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += wait_left.eq(wait_left - 1)
            with m.State("DRAIN"):
                m.d.comb += [
                    self.outputs.valid.eq(1),
                    self.outputs.payload.last.eq(drain_row == rows - 1),
                ]
                for c in range(cols):
                    column = Array(pes[r][c].acc for r in range(rows))
                    m.d.comb += self.outputs.payload.data[c].eq(column[drain_row])
                with m.If(self.outputs.ready):
                    with m.If(drain_row == rows - 1):
                        m.d.sync += drain_row.eq(0)
                        m.next = "COMPUTE"
                    with m.Else():
                        m.d.sync += drain_row.eq(drain_row + 1)
        return m
