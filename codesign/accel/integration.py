"""`Integration`: how the accelerator's top level meets an FPGA design - the CSR interface
(the simple bus or an AXI4-Lite slave), the reset (synchronous active-high or AXI's active-low
``aresetn``) and the target clock of the generated constraints.

The default (``csr="simple"``, ``reset="sync-high"``) is the bare ``codesign.hw.accelerator``
top: ports ``clk``, ``rst``, ``csr_*`` and TDATA of the payload's width. Any other choice is
the integration wrapper ``codesign.hw.integration.IntegratedAccelerator``: ports named as
Vivado's IP packager expects them (``aclk``, ``aresetn`` or ``areset``, ``s_axis_*``,
``m_axis_*``, ``s_axi_control_*``) with ``X_INTERFACE_INFO`` attributes, and both TDATA widths
padded to whole bytes (`tdata_bits`).

This module does not import amaranth: the exporter, the host runtime and the test benches read
the same object (from the manifest's ``integration``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codesign.errors import SpecError

__all__ = ["CSR_INTERFACES", "RESETS", "Integration", "tdata_bits"]

CSR_INTERFACES = ("simple", "axi-lite")
"""The CSR interfaces: the accelerator's one-cycle bus, or an AXI4-Lite slave in front of it."""

RESETS = ("sync-high", "aresetn")
"""The resets: synchronous active-high, or synchronous active-low (AXI's ``aresetn``)."""

_MAX_FREQ_MHZ = 2000.0


def tdata_bits(payload_bits: int) -> int:
    """AXI4-Stream TDATA width of a payload: rounded up to whole bytes (AXI4-Stream counts TDATA
    in bytes: an 18-bit payload travels in 24 bits, its pad bits zero)."""
    if not isinstance(payload_bits, int) or isinstance(payload_bits, bool) or payload_bits < 1:
        raise SpecError(f"payload_bits must be a positive integer, not {payload_bits!r}")
    return -(-payload_bits // 8) * 8


@dataclass(frozen=True, kw_only=True, slots=True)
class Integration:
    """The accelerator's top-level interfaces.

    Parameters
    ----------
    csr : str
        ``"simple"`` (``csr_addr``, ``csr_wdata``, ``csr_we``, ``csr_rdata``, ``csr_werr``) or
        ``"axi-lite"`` (an AXI4-Lite slave ``s_axi_control_*``, 8-bit byte addresses, 32-bit
        data).
    reset : str
        ``"sync-high"`` (``rst``, or ``areset`` in the wrapper) or ``"aresetn"`` (synchronous,
        active low).
    freq_mhz : float
        Target clock of the generated SDC/XDC constraints and of the ``FREQ_HZ`` interface
        parameters.
    """

    csr: str = "simple"
    reset: str = "sync-high"
    freq_mhz: float = 100.0

    def __post_init__(self) -> None:
        if self.csr not in CSR_INTERFACES:
            raise SpecError(f"csr must be one of {', '.join(CSR_INTERFACES)}, not {self.csr!r}")
        if self.reset not in RESETS:
            raise SpecError(f"reset must be one of {', '.join(RESETS)}, not {self.reset!r}")
        f = self.freq_mhz
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= _MAX_FREQ_MHZ:
            raise SpecError(f"freq_mhz must be a number in (0, {_MAX_FREQ_MHZ:g}], not {f!r}")
        object.__setattr__(self, "freq_mhz", float(f))

    @property
    def wrapped(self) -> bool:
        """Whether the top is the integration wrapper (not the bare accelerator)."""
        return (self.csr, self.reset) != (CSR_INTERFACES[0], RESETS[0])

    @property
    def clock_port(self) -> str:
        """The clock port: ``aclk`` in the wrapper, ``clk`` on the bare accelerator."""
        return "aclk" if self.wrapped else "clk"

    @property
    def reset_port(self) -> str:
        """The reset port: ``aresetn``, ``areset`` (wrapper, active high) or ``rst``."""
        if self.reset == "aresetn":
            return "aresetn"
        return "areset" if self.wrapped else "rst"

    @property
    def reset_active_low(self) -> bool:
        """Whether the reset is active low."""
        return self.reset == "aresetn"

    @property
    def period_ns(self) -> float:
        """The target clock period."""
        return 1000.0 / self.freq_mhz

    @property
    def suffix(self) -> str:
        """Appended to the accelerator's module name: ``_axil`` (AXI4-Lite), ``_rstn``
        (``aresetn``); empty for the bare accelerator."""
        return ("_axil" if self.csr == "axi-lite" else "") + (
            "_rstn" if self.reset == "aresetn" else ""
        )

    def stream_bits(self, payload_bits: int) -> int:
        """TDATA width of a stream with ``payload_bits``: byte-padded in the wrapper."""
        return tdata_bits(payload_bits) if self.wrapped else payload_bits

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the derived port names; `from_dict` reads it back."""
        return {
            "csr": self.csr,
            "reset": self.reset,
            "freq_mhz": self.freq_mhz,
            "clock_port": self.clock_port,
            "reset_port": self.reset_port,
            "reset_active_low": self.reset_active_low,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Integration:
        """Strict inverse of `to_dict` (unknown keys are errors; the derived keys must agree)."""
        if not isinstance(data, dict):
            raise SpecError(f"integration must be a mapping, not {type(data).__name__}")
        allowed = set(cls().to_dict())
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(
                f"integration has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
            )
        fields = {k: data[k] for k in ("csr", "reset", "freq_mhz") if k in data}
        result = cls(**fields)
        derived = result.to_dict()
        for key in sorted(set(data) - set(fields)):
            if data[key] != derived[key]:
                raise SpecError(
                    f"integration {key} must be {derived[key]!r} for csr {result.csr!r} and reset "
                    f"{result.reset!r}, not {data[key]!r}"
                )
        return result
