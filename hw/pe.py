"""Processing elements: one multiply-accumulate cell per dataflow.

Every PE registers what it passes on (activations to the right, partial sums or weights down),
so an array built from them is systolic: PE ``(r, c)`` sees the data of an input beat ``r + c``
cycles after the array's edge.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from codesign.hw.dsp import check_dsp, ecp5_multiply

from codesign.errors import SpecError

__all__ = ["WeightStationaryPE", "SparseWeightStationaryPE", "OutputStationaryPE"]


class WeightStationaryPE(wiring.Component):
    """Weight-stationary MAC: ``psum_out <= psum_in + a_in * weight``.

    Parameters
    ----------
    act_bits, weight_bits, acc_bits : int
        Signed widths of activations, the weight and partial sums.
    retimed : int
        0, 1 or 2: register the product (1: the multiplier and the adder in two cycles) and
        also the multiplier's activation operand (2: a private register beside the DSP, fed from
        wherever the activation is two cycles earlier) without changing the timing: the product
        of the activation the PE will see ``retimed`` enabled cycles later, ``a_ahead``, and of
        its weight is formed early. Exact when the weight changes only in a cycle followed by
        an input bubble at the PE, which holds in an array of two rows or more (a PE's weight is
        written at least two cycles before the first activation of its tile reaches it, see
        `WeightStationaryArray`); the weight load stays off the multiplier's path. False: one
        cycle multiply-add (one-row arrays and the first PE, whose activation comes straight
        from the stream; its ``psum_in`` is zero: no adder).
    zero_gate : bool
        Operand isolation for zero weights: the multiplier's activation operand ``a_mul`` does
        not toggle while the stationary weight is zero, and the product is then zero as it
        would be anyway, so results and cycles are those of the ungated PE. ``retimed == 2``:
        ``a_mul`` is the private operand register, updated only when the weight it will be
        multiplied by (the one being written this cycle, else the held one) is non-zero; a
        weight write sets that operand from the same cycle's ``a_ahead``, so the retiming
        argument above is unchanged. ``retimed`` 0 or 1 (no private register): ``a_mul`` is
        the activation ANDed with ``weight != 0`` (held at zero). ``weight != 0`` is a register
        (``weight_nz``) written with the weight, so no zero detect lies on a multiplier path.

    Members
    -------
    en : In(1)
        Advance: every register of the PE holds while ``en`` is low.
    a_in : In(signed(act_bits))
        Activation from the left neighbour (or the array edge).
    a_ahead : In(signed(act_bits))
        ``retimed`` only: the value ``a_in`` takes ``retimed`` enabled cycles later.
    a_out : Out(signed(act_bits))
        ``a_in`` registered, to the right neighbour.
    psum_in : In(signed(acc_bits))
        Partial sum from the PE above (zero at the top row).
    psum_out : Out(signed(acc_bits))
        ``psum_in + a_in * weight`` registered, to the PE below.
    w_we, w_in : In(1), In(signed(weight_bits))
        Load ``w_in`` into the stationary weight (when ``en``).
    """

    def __init__(
        self,
        *,
        act_bits: int,
        weight_bits: int,
        acc_bits: int,
        retimed: int = 0,
        zero_gate: bool = False,
        dsp: str = "inferred",
    ) -> None:
        check_dsp(dsp)
        if retimed not in (0, 1, 2):
            raise SpecError(f"retimed must be 0, 1 or 2, not {retimed!r}")
        if not isinstance(zero_gate, bool):
            raise SpecError(f"zero_gate must be true or false, not {zero_gate!r}")
        ports = {
            "en": In(1),
            "a_in": In(signed(act_bits)),
            "a_out": Out(signed(act_bits)),
            "psum_in": In(signed(acc_bits)),
            "psum_out": Out(signed(acc_bits)),
            "w_we": In(1),
            "w_in": In(signed(weight_bits)),
        }
        if retimed:
            ports["a_ahead"] = In(signed(act_bits))
        super().__init__(ports)
        self._act_bits = act_bits
        self._weight_bits = weight_bits
        self.retimed = retimed
        self.zero_gate = zero_gate
        self.dsp = dsp

    def _isolated(self, m: Module, value: Value, nonzero: Value | None) -> Value:
        """``value`` as the multiplier sees it: held at zero while the weight is zero when
        gated (``zero_gate``; ``nonzero`` is the registered ``weight != 0``, so the zero
        detect is off the multiplier's path), else ``value`` itself."""
        if not self.zero_gate:
            return value
        gated = Signal(signed(self._act_bits), name="a_mul")
        m.d.comb += gated.eq(Mux(nonzero, value, 0))
        return gated

    def elaborate(self, platform):
        m = Module()
        weight = Signal(signed(self._weight_bits))
        # zero gating: ``weight != 0`` kept in a register written with the weight
        nonzero = Signal(name="weight_nz") if self.zero_gate else None
        with m.If(self.en):
            m.d.sync += self.a_out.eq(self.a_in)
            with m.If(self.w_we):
                m.d.sync += weight.eq(self.w_in)
                if nonzero is not None:
                    m.d.sync += nonzero.eq(self.w_in != 0)
        if not self.retimed:
            operand = self._isolated(m, self.a_in, nonzero)
            with m.If(self.en):
                m.d.sync += self.psum_out.eq(self.psum_in + operand * weight)
            return m
        if self.dsp == "ecp5":
            return self._elaborate_ecp5(m, nonzero)
        # product[n] == a_in[n] * weight[n] whenever a_in[n] is an activation of the tile
        product = Signal(signed(self._act_bits + self._weight_bits))
        if self.retimed == 2:  # the DSP's operand in its own register
            operand = Signal(signed(self._act_bits), name="a_mul" if self.zero_gate else "a_dsp")
            advance = self.en
            if self.zero_gate:  # the weight it will meet: the one written now, else the held
                advance &= Mux(self.w_we, self.w_in != 0, nonzero)
            with m.If(advance):
                m.d.sync += operand.eq(self.a_ahead)
        else:
            operand = self._isolated(m, self.a_ahead, nonzero)
        with m.If(self.en):
            m.d.sync += [
                product.eq(operand * weight),
                self.psum_out.eq(self.psum_in + product),
            ]
        return m

    def _elaborate_ecp5(self, m: Module, nonzero: Value | None) -> Module:
        """The retimed PE with its weight, private operand (``retimed == 2``) and product
        registers inside a ``MULT18X18D``: the registers `elaborate` builds in the fabric, with
        the same enables."""
        product = Signal(signed(self._act_bits + self._weight_bits), name="product")
        write = self.en & self.w_we
        if self.retimed == 2:
            advance = self.en
            if self.zero_gate:  # the weight it will meet: the one written now, else the held
                advance &= Mux(self.w_we, self.w_in != 0, nonzero)
            ecp5_multiply(
                m, "dsp", self.a_ahead, self.w_in, product, a_ce=advance, b_ce=write, p_ce=self.en
            )
        else:
            operand = self._isolated(m, self.a_ahead, nonzero)
            ecp5_multiply(
                m, "dsp", operand, self.w_in, product, a_ce=None, b_ce=write, p_ce=self.en
            )
        with m.If(self.en):
            m.d.sync += self.psum_out.eq(self.psum_in + product)
        return m


class SparseWeightStationaryPE(wiring.Component):
    """2:4-sparse weight-stationary MAC: holds the two non-zero weights of a group of four with
    their 2-bit positions and adds ``a_in[idx0] * w0 + a_in[idx1] * w1`` to the partial sum.

    Parameters
    ----------
    act_bits, weight_bits, acc_bits : int
        Signed widths of activations, weights and partial sums.

    Members
    -------
    en : In(1)
        Advance: every register holds while ``en`` is low.
    a_in : In(ArrayLayout(signed(act_bits), 4))
        The group of four activations from the left neighbour.
    a_out : Out(ArrayLayout(signed(act_bits), 4))
        ``a_in`` registered.
    psum_in, psum_out : In/Out(signed(acc_bits))
        Partial sums from above / registered to below.
    w_we : In(1)
        Load ``w_values`` and ``w_indices`` (when ``en``).
    w_values : In(ArrayLayout(signed(weight_bits), 2))
        The two non-zero weights.
    w_indices : In(ArrayLayout(unsigned(2), 2))
        Their positions in the group of four.
    """

    def __init__(self, *, act_bits: int, weight_bits: int, acc_bits: int) -> None:
        act4 = data.ArrayLayout(signed(act_bits), 4)
        super().__init__(
            {
                "en": In(1),
                "a_in": In(act4),
                "a_out": Out(act4),
                "psum_in": In(signed(acc_bits)),
                "psum_out": Out(signed(acc_bits)),
                "w_we": In(1),
                "w_values": In(data.ArrayLayout(signed(weight_bits), 2)),
                "w_indices": In(data.ArrayLayout(unsigned(2), 2)),
            }
        )
        self._weight_bits = weight_bits

    def elaborate(self, platform):
        m = Module()
        values = [Signal(signed(self._weight_bits), name=f"w{j}") for j in range(2)]
        indices = [Signal(2, name=f"idx{j}") for j in range(2)]
        with m.If(self.en):
            products = [self.a_in[indices[j]] * values[j] for j in range(2)]
            m.d.sync += [
                self.a_out.eq(self.a_in),
                self.psum_out.eq(self.psum_in + products[0] + products[1]),
            ]
            with m.If(self.w_we):
                for j in range(2):
                    m.d.sync += [
                        values[j].eq(self.w_values[j]),
                        indices[j].eq(self.w_indices[j]),
                    ]
        return m


class OutputStationaryPE(wiring.Component):
    """Output-stationary MAC: ``acc <= (0 if first else acc) + a_in * b_in`` on valid steps;
    ``a`` passes to the right and ``b`` down, one register each.

    Parameters
    ----------
    act_bits, weight_bits, acc_bits : int
        Signed widths of the two operands and the accumulator.
    retimed : bool
        Register the product without changing the timing (as `WeightStationaryPE`): the
        product of ``a_ahead`` and ``b_ahead``, the operands of the next cycle.

    Members
    -------
    a_in, a_out : In/Out(signed(act_bits))
        Operand from A, from the left / registered to the right.
    b_in, b_out : In/Out(signed(weight_bits))
        Operand from B, from above / registered to below.
    a_ahead, b_ahead : In(signed(act_bits)), In(signed(weight_bits))
        ``retimed`` only: the values ``a_in`` and ``b_in`` take in the next cycle.
    valid : In(1)
        ``a_in`` and ``b_in`` carry a reduction step this cycle.
    first : In(1)
        The step is ``k = 0`` of a new tile: the accumulator restarts.
    acc : Out(signed(acc_bits))
        The accumulator.
    """

    def __init__(
        self, *, act_bits: int, weight_bits: int, acc_bits: int, retimed: bool = False
    ) -> None:
        ports = {
            "a_in": In(signed(act_bits)),
            "a_out": Out(signed(act_bits)),
            "b_in": In(signed(weight_bits)),
            "b_out": Out(signed(weight_bits)),
            "valid": In(1),
            "first": In(1),
            "acc": Out(signed(acc_bits)),
        }
        if retimed:
            ports |= {"a_ahead": In(signed(act_bits)), "b_ahead": In(signed(weight_bits))}
        super().__init__(ports)
        self._bits = act_bits + weight_bits
        self.retimed = retimed

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [self.a_out.eq(self.a_in), self.b_out.eq(self.b_in)]
        if self.retimed:  # product == a_in * b_in, registered from the next cycle's operands
            product = Signal(signed(self._bits))
            m.d.sync += product.eq(self.a_ahead * self.b_ahead)
        else:
            product = self.a_in * self.b_in
        with m.If(self.valid):
            m.d.sync += self.acc.eq(Mux(self.first, 0, self.acc) + product)
        return m
