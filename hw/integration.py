"""The integration wrapper: the accelerator behind the ports an FPGA design expects.

`IntegratedAccelerator` instantiates ``codesign.hw.accelerator.Accelerator`` unchanged and adds

* its own ``sync`` clock domain from ``aclk`` and ``aresetn`` (synchronous, active low) or
  ``areset`` (synchronous, active high), so the Verilog has no ``clk``/``rst``;
* ``s_axis_tdata`` and ``m_axis_tdata`` padded to whole bytes: input pad bits are ignored,
  output pad bits are zero;
* the CSR bank as the simple bus (``csr_*``, as on the accelerator) or behind `AxiLiteCsr`, an
  AXI4-Lite slave ``s_axi_control_*``;
* Xilinx ``X_INTERFACE_INFO`` / ``X_INTERFACE_PARAMETER`` attributes on the ports (written by
  Amaranth into the Verilog as ``(* ... *)`` port attributes), from `interface_attributes`.

AXI4-Lite responses (`AxiLiteCsr`): a write answers ``SLVERR`` when the accelerator refuses it
(busy, or not a writable register: ``csr_werr``, which also sets STATUS.ERROR) or when ``WSTRB``
is not all ones (then nothing is written: the registers are whole 32-bit words); a read answers
``SLVERR`` for an address that is no register (data 0); everything else is ``OKAY``.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from codesign.hw.accelerator import Accelerator

from codesign.accel.config import CSR_ADDR_BITS, CSR_DATA_BITS, REGISTERS, AcceleratorConfig
from codesign.accel.integration import Integration
from codesign.errors import SpecError

__all__ = [
    "AXI_OKAY",
    "AXI_SLVERR",
    "AXI_LITE_PREFIX",
    "AxiLiteCsr",
    "IntegratedAccelerator",
    "axi_lite_signature",
    "csr_signature",
    "interface_attributes",
]

AXI_OKAY = 0b00
AXI_SLVERR = 0b10
AXI_LITE_PREFIX = "s_axi_control"
"""Port prefix of the AXI4-Lite slave (Vivado HLS's name for a control interface)."""


def axi_lite_signature(addr_bits: int, data_bits: int) -> wiring.Signature:
    """An AXI4-Lite port as its master drives it (a slave is ``In`` of it); no ``AxPROT``."""
    return wiring.Signature(
        {
            "awaddr": Out(addr_bits),
            "awvalid": Out(1),
            "awready": In(1),
            "wdata": Out(data_bits),
            "wstrb": Out(data_bits // 8),
            "wvalid": Out(1),
            "wready": In(1),
            "bresp": In(2),
            "bvalid": In(1),
            "bready": Out(1),
            "araddr": Out(addr_bits),
            "arvalid": Out(1),
            "arready": In(1),
            "rdata": In(data_bits),
            "rresp": In(2),
            "rvalid": In(1),
            "rready": Out(1),
        }
    )


def csr_signature() -> wiring.Signature:
    """The accelerator's CSR bus as its master drives it (the accelerator is ``In`` of it)."""
    return wiring.Signature(
        {
            "addr": Out(CSR_ADDR_BITS),
            "wdata": Out(CSR_DATA_BITS),
            "we": Out(1),
            "rdata": In(CSR_DATA_BITS),
            "werr": In(1),
        }
    )


class AxiLiteCsr(wiring.Component):
    """AXI4-Lite slave driving the accelerator's CSR bus.

    AW and W are accepted independently (each into a one-entry holding register); the write goes
    to the CSR bus in the first cycle both are held and no response is pending, and its B
    response follows in the next cycle. A read drives ``csr.addr`` in its AR handshake cycle;
    the CSR bus's one-cycle read latency gives the data in the next cycle, which is registered:
    R is valid two cycles after the AR handshake and stays stable until ``rready``. A write and
    a read never use the CSR bus in the same cycle (AR waits for a write in progress).

    Members
    -------
    axi : In(axi_lite_signature(8, 32))
        The slave port.
    csr : Out(csr_signature())
        To the accelerator.
    """

    def __init__(self) -> None:
        super().__init__(
            {
                "axi": In(axi_lite_signature(CSR_ADDR_BITS, CSR_DATA_BITS)),
                "csr": Out(csr_signature()),
            }
        )

    def elaborate(self, platform):
        m = Module()
        issue = Signal()  # the held write goes to the CSR bus in this cycle
        aw_addr = Signal(CSR_ADDR_BITS)  # the held write's address
        self._write(m, issue, aw_addr)
        self._read(m, issue, aw_addr)
        return m

    def _write(self, m: Module, issue: Signal, aw_addr: Signal) -> None:
        axi, csr = self.axi, self.csr
        aw_full, w_full = Signal(), Signal()
        w_data, w_strb = Signal(CSR_DATA_BITS), Signal(CSR_DATA_BITS // 8)
        whole = w_strb.all()
        m.d.comb += [
            axi.awready.eq(~aw_full),
            axi.wready.eq(~w_full),
            issue.eq(aw_full & w_full & ~axi.bvalid),
            csr.wdata.eq(w_data),
            csr.we.eq(issue & whole),
        ]
        with m.If(axi.awvalid & axi.awready):
            m.d.sync += [aw_full.eq(1), aw_addr.eq(axi.awaddr)]
        with m.If(axi.wvalid & axi.wready):
            m.d.sync += [w_full.eq(1), w_data.eq(axi.wdata), w_strb.eq(axi.wstrb)]
        with m.If(issue):
            m.d.sync += [
                aw_full.eq(0),
                w_full.eq(0),
                axi.bvalid.eq(1),
                axi.bresp.eq(Mux(whole & ~csr.werr, AXI_OKAY, AXI_SLVERR)),
            ]
        with m.Elif(axi.bready):
            m.d.sync += axi.bvalid.eq(0)

    def _read(self, m: Module, issue: Signal, aw_addr: Signal) -> None:
        axi, csr = self.axi, self.csr
        pending = Signal()  # the CSR bus returns the accepted read's data in this cycle
        known = Signal()
        m.d.comb += [
            axi.arready.eq(~pending & ~axi.rvalid & ~issue),
            csr.addr.eq(Mux(issue, aw_addr, axi.araddr)),
        ]
        is_register = Const(0)
        for reg in REGISTERS:
            is_register = is_register | (axi.araddr == reg.address)
        with m.If(axi.arvalid & axi.arready):
            m.d.sync += [pending.eq(1), known.eq(is_register)]
        with m.If(pending):
            m.d.sync += [
                pending.eq(0),
                axi.rvalid.eq(1),
                axi.rdata.eq(csr.rdata),
                axi.rresp.eq(Mux(known, AXI_OKAY, AXI_SLVERR)),
            ]
        with m.Elif(axi.rready):
            m.d.sync += axi.rvalid.eq(0)


def interface_attributes(
    config: AcceleratorConfig, integration: Integration
) -> dict[str, dict[str, str]]:
    """Vivado interface attributes of the wrapper's ports: ``{port: {attribute: value}}``
    (``X_INTERFACE_INFO`` on every port of a standard interface, ``X_INTERFACE_PARAMETER`` on
    one port of each)."""
    hz = round(integration.freq_mhz * 1e6)
    clk, rst = integration.clock_port, integration.reset_port
    info = "X_INTERFACE_INFO"
    param = "X_INTERFACE_PARAMETER"
    attrs: dict[str, dict[str, str]] = {}

    def bus(prefix: str, kind: str, members: list[str], parameters: str) -> None:
        for i, member in enumerate(members):
            port = attrs[f"{prefix}_{member}"] = {
                info: f"xilinx.com:interface:{kind} {prefix} {member.upper()}"
            }
            if i == 0:
                port[param] = f"XIL_INTERFACENAME {prefix}, {parameters}, FREQ_HZ {hz}"

    streams = []
    for name, payload, last in (
        ("s_axis", config.axis_in_bits, False),
        ("m_axis", config.axis_out_bits, True),
    ):
        members = ["tdata", "tvalid", "tready"] + (["tlast"] if last else [])
        parameters = (
            f"TDATA_NUM_BYTES {integration.stream_bits(payload) // 8}, HAS_TREADY 1, "
            f"HAS_TLAST {int(last)}, HAS_TKEEP 0, HAS_TSTRB 0, TUSER_WIDTH 0, TID_WIDTH 0, "
            f"TDEST_WIDTH 0"
        )
        bus(name, "axis:1.0", members, parameters)
        streams.append(name)
    if integration.csr == "axi-lite":
        members = list(axi_lite_signature(CSR_ADDR_BITS, CSR_DATA_BITS).members)
        parameters = (
            f"PROTOCOL AXI4LITE, DATA_WIDTH {CSR_DATA_BITS}, ADDR_WIDTH {CSR_ADDR_BITS}, "
            f"HAS_PROT 0, HAS_WSTRB 1, HAS_BRESP 1, HAS_RRESP 1"
        )
        bus(AXI_LITE_PREFIX, "aximm:1.0", members, parameters)
        streams.append(AXI_LITE_PREFIX)
    polarity = "ACTIVE_LOW" if integration.reset_active_low else "ACTIVE_HIGH"
    attrs[clk] = {
        info: f"xilinx.com:signal:clock:1.0 {clk} CLK",
        param: f"XIL_INTERFACENAME {clk}, ASSOCIATED_BUSIF {':'.join(streams)}, "
        f"ASSOCIATED_RESET {rst}, FREQ_HZ {hz}",
    }
    attrs[rst] = {
        info: f"xilinx.com:signal:reset:1.0 {rst} RST",
        param: f"XIL_INTERFACENAME {rst}, POLARITY {polarity}",
    }
    attrs["irq"] = {
        info: "xilinx.com:signal:interrupt:1.0 irq INTERRUPT",
        param: "XIL_INTERFACENAME irq, SENSITIVITY LEVEL_HIGH",
    }
    return attrs


class IntegratedAccelerator(wiring.Component):
    """The accelerator with an integrator's ports (module docstring).

    Parameters
    ----------
    config : AcceleratorConfig
    integration : Integration
        A wrapped one (``integration.wrapped``; the default is the bare `Accelerator`).

    Members
    -------
    aclk, aresetn (or areset) : In(1), In(1)
        Clock; synchronous reset, active low (active high).
    s_axis_tdata, s_axis_tvalid, s_axis_tready : In(8 * ceil(axis_in_bits / 8)), In(1), Out(1)
        As on the accelerator; the pad bits above ``axis_in_bits`` are ignored.
    m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast : Out(8 * ceil(axis_out_bits / 8)),
        Out(1), In(1), Out(1)
        As on the accelerator; the pad bits are zero.
    csr_addr, csr_wdata, csr_we, csr_rdata, csr_werr : ``csr="simple"``
        The accelerator's CSR bus.
    s_axi_control_awaddr ... s_axi_control_rready : ``csr="axi-lite"``
        The AXI4-Lite slave (`AxiLiteCsr`).
    irq : Out(1)
        STATUS.DONE.
    """

    def __init__(self, config: AcceleratorConfig, integration: Integration) -> None:
        if not isinstance(config, AcceleratorConfig):
            raise SpecError(f"config must be an AcceleratorConfig, not {type(config).__name__}")
        if not isinstance(integration, Integration) or not integration.wrapped:
            raise SpecError(
                f"integration must be an Integration other than csr 'simple' with reset "
                f"'sync-high' (that is the bare Accelerator), not {integration!r}"
            )
        self.config = config
        self.integration = integration
        members = {
            integration.clock_port: In(1),
            integration.reset_port: In(1),
            "s_axis_tdata": In(integration.stream_bits(config.axis_in_bits)),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "m_axis_tdata": Out(integration.stream_bits(config.axis_out_bits)),
            "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        }
        if integration.csr == "axi-lite":
            slave = axi_lite_signature(CSR_ADDR_BITS, CSR_DATA_BITS).flip()
            for name, member in slave.members.items():
                members[f"{AXI_LITE_PREFIX}_{name}"] = member
        else:
            for name, member in csr_signature().flip().members.items():
                members[f"csr_{name}"] = member
        members["irq"] = Out(1)
        super().__init__(members)
        for port, attrs in interface_attributes(config, integration).items():
            getattr(self, port).attrs.update(attrs)

    def elaborate(self, platform):
        m = Module()
        itg = self.integration
        m.domains.sync = sync = ClockDomain("sync")
        reset = getattr(self, itg.reset_port)
        m.d.comb += [
            sync.clk.eq(getattr(self, itg.clock_port)),
            sync.rst.eq(~reset if itg.reset_active_low else reset),
        ]
        m.submodules.core = core = Accelerator(self.config)
        self._csr(m, core)
        m.d.comb += [
            core.s_axis_tdata.eq(self.s_axis_tdata[: self.config.axis_in_bits]),
            core.s_axis_tvalid.eq(self.s_axis_tvalid),
            self.s_axis_tready.eq(core.s_axis_tready),
            self.m_axis_tdata.eq(core.m_axis_tdata),  # zero-extended: pad bits 0
            self.m_axis_tvalid.eq(core.m_axis_tvalid),
            core.m_axis_tready.eq(self.m_axis_tready),
            self.m_axis_tlast.eq(core.m_axis_tlast),
            self.irq.eq(core.irq),
        ]
        return m

    def _csr(self, m: Module, core: Accelerator) -> None:
        """The core's CSR bus from the ``csr_*`` ports or from the AXI4-Lite slave."""
        if self.integration.csr == "axi-lite":
            m.submodules.axi_lite = bridge = AxiLiteCsr()
            for name, member in bridge.axi.signature.members.items():
                port = getattr(self, f"{AXI_LITE_PREFIX}_{name}")
                inner = getattr(bridge.axi, name)
                m.d.comb += inner.eq(port) if member.flow is In else port.eq(inner)
            bus = {name: getattr(bridge.csr, name) for name in csr_signature().members}
        else:
            bus = {name: getattr(self, f"csr_{name}") for name in csr_signature().members}
        m.d.comb += [
            core.csr_addr.eq(bus["addr"]),
            core.csr_wdata.eq(bus["wdata"]),
            core.csr_we.eq(bus["we"]),
            bus["rdata"].eq(core.csr_rdata),
            bus["werr"].eq(core.csr_werr),
        ]
