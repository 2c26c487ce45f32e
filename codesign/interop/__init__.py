"""Other tools' spec files as codesign objects: Timeloop (`codesign.interop.timeloop`) and
ZigZag (`codesign.interop.zigzag`)."""

__all__: list[str] = []
