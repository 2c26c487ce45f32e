"""The accelerator's register map: 32-bit registers on the CSR bus, shared by the RTL
(``codesign.hw.accelerator``), the host runtime (``codesign.accel.program``), the manifest and
the documentation."""

from __future__ import annotations

from dataclasses import dataclass

from codesign.errors import SpecError

__all__ = [
    "CSR_ADDR_BITS",
    "CSR_DATA_BITS",
    "REGISTERS",
    "BitField",
    "Register",
    "register_address",
]

CSR_DATA_BITS = 32
"""Width of the CSR bus data."""

CSR_ADDR_BITS = 8
"""Width of the CSR bus byte address (registers are 32-bit words at multiples of 4)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BitField:
    """A named bit field of a register.

    Parameters
    ----------
    name : str
    lsb : int
        Lowest bit.
    bits : int
        Width.
    description : str
    """

    name: str
    lsb: int
    bits: int
    description: str

    @property
    def mask(self) -> int:
        """The field's bits in the register: ``((1 << bits) - 1) << lsb``."""
        return ((1 << self.bits) - 1) << self.lsb


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
    fields : tuple of BitField
        The named bit fields (none: the whole register is one value).
    """

    name: str
    address: int
    access: str
    description: str
    fields: tuple[BitField, ...] = ()


REGISTERS: tuple[Register, ...] = (
    Register(
        name="CTRL",
        address=0x00,
        access="wo",
        description="write 1 to bit 0 to start the layer (ignored while busy)",
        fields=(BitField(name="START", lsb=0, bits=1, description="1: start the layer"),),
    ),
    Register(
        name="STATUS",
        address=0x04,
        access="ro",
        description="bit 0 busy; bit 1 done (set when the last output beat has left m_axis, "
        "cleared by start); bit 2 error (sticky: a write was refused, because the accelerator "
        "was busy or the address is not a writable register; cleared by start)",
        fields=(
            BitField(name="BUSY", lsb=0, bits=1, description="a layer is running"),
            BitField(name="DONE", lsb=1, bits=1, description="the last layer has finished"),
            BitField(name="ERROR", lsb=2, bits=1, description="a write was refused"),
        ),
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
        fields=(
            BitField(name="COLUMN", lsb=0, bits=8, description="n % cols"),
            BitField(name="TILE", lsb=8, bits=16, description="n // cols"),
        ),
    ),
)
"""The register map (byte addresses, 32-bit registers). Writes while the accelerator is busy
and writes to an address that is not a ``rw`` or ``wo`` register are refused (no effect) and set
STATUS.ERROR."""


def register_address(name: str) -> int:
    """Byte address of the register called ``name``."""
    for reg in REGISTERS:
        if reg.name == name:
            return reg.address
    raise SpecError(f"register must be one of {[r.name for r in REGISTERS]}, not {name!r}")
