"""The accelerator's register map: 32-bit registers on the CSR bus, shared by the RTL
(``codesign.hw.accelerator``), the host runtime (``codesign.accel.program``), the manifest and
the documentation."""

from __future__ import annotations

from dataclasses import dataclass

from codesign.errors import SpecError

__all__ = ["CSR_ADDR_BITS", "CSR_DATA_BITS", "REGISTERS", "Register", "register_address"]

CSR_DATA_BITS = 32
"""Width of the CSR bus data."""

CSR_ADDR_BITS = 8
"""Width of the CSR bus byte address (registers are 32-bit words at multiples of 4)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Register:
    """One 32-bit register of the CSR bus.

    Parameters
    ----------
    name : str
        Register name.
    address : int
        Byte address.
    access : str
        ``"rw"``, ``"ro"`` or ``"wo"`` (writes have a side effect, reads return 0).
    description : str
        What the bits mean.
    """

    name: str
    address: int
    access: str
    description: str


REGISTERS: tuple[Register, ...] = (
    Register(
        name="CTRL",
        address=0x00,
        access="wo",
        description="write 1 to bit 0 to start the layer (ignored while busy)",
    ),
    Register(
        name="STATUS",
        address=0x04,
        access="ro",
        description="bit 0 busy; bit 1 done (set when the last output beat has left m_axis, "
        "cleared by start)",
    ),
    Register(name="M", address=0x08, access="rw", description="rows of I and O (1..65535)"),
    Register(
        name="TILE_M",
        address=0x0C,
        access="rw",
        description="rows streamed per pass, T (1..max_tile_m); the last row tile may be shorter",
    ),
    Register(
        name="K_TILES",
        address=0x10,
        access="rw",
        description="passes per output tile: ceil(K / rows) (K zero-padded by the host)",
    ),
    Register(
        name="N_TILES",
        address=0x14,
        access="rw",
        description="output-channel tiles: ceil(N / cols) (1..max_n_tiles)",
    ),
    Register(
        name="ZP_OUT",
        address=0x18,
        access="rw",
        description="output zero point, signed (two's complement in 32 bits)",
    ),
    Register(
        name="CYCLES",
        address=0x1C,
        access="ro",
        description="clock cycles from start to done of the last layer",
    ),
    Register(
        name="K",
        address=0x30,
        access="rw",
        description="os only: reduction length K, input beats per pass (1..65535)",
    ),
    Register(
        name="PARAM_BIAS",
        address=0x20,
        access="rw",
        description="staging: int32 bias of one output channel (zero-point terms folded in)",
    ),
    Register(
        name="PARAM_MULT",
        address=0x24,
        access="rw",
        description="staging: requantization multiplier M (unsigned, < 2**31)",
    ),
    Register(
        name="PARAM_SHIFT",
        address=0x28,
        access="rw",
        description="staging: requantization shift (1..62)",
    ),
    Register(
        name="PARAM_WRITE",
        address=0x2C,
        access="wo",
        description="write (n // cols) << 8 | (n % cols): stores the three staged values as "
        "the parameters of output channel n",
    ),
)
"""The register map (byte addresses, 32-bit registers). Writes to the ``rw`` registers and to
PARAM_WRITE are ignored while the accelerator is busy."""


def register_address(name: str) -> int:
    """Byte address of the register called ``name``."""
    for reg in REGISTERS:
        if reg.name == name:
            return reg.address
    raise SpecError(f"register must be one of {[r.name for r in REGISTERS]}, not {name!r}")
