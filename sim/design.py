"""A generated array as the test benches see it: its folder, Verilog, parameters and the
payload codecs of its streams, all read from the folder's ``manifest.json``.

The manifest is the one place parameters reach a bench from: `load_design` rebuilds the
`codesign.hw.SystolicConfig` from it and takes the payload layouts from
``codesign.hw.layouts`` (the same ``data.Struct`` layouts the RTL ports use), then checks them
against the port widths the manifest lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from codesign.sim.payload import PayloadCodec

from codesign.accel.array import Dataflow, SystolicConfig
from codesign.errors import SpecError
from codesign.validation import member_file, read_manifest

__all__ = ["ArrayDesign", "load_design", "SUPPORTED_MANIFEST_VERSIONS"]

SUPPORTED_MANIFEST_VERSIONS = (1,)
"""``manifest_version`` values this bench understands."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ArrayDesign:
    """One generated systolic array.

    Parameters
    ----------
    folder : pathlib.Path
        The folder ``codesign generate`` wrote.
    top : str
        Verilog module name.
    verilog_path : pathlib.Path
        The Verilog file.
    config : codesign.hw.SystolicConfig
        Array parameters.
    weights : PayloadCodec or None
        Payload of the ``weights`` stream (None for output-stationary arrays).
    inputs : PayloadCodec
        Payload of the ``inputs`` stream.
    outputs : PayloadCodec
        Payload of the ``outputs`` stream.
    manifest : dict
        The manifest as read.
    """

    folder: Path
    top: str
    verilog_path: Path
    config: SystolicConfig
    weights: PayloadCodec | None
    inputs: PayloadCodec
    outputs: PayloadCodec
    manifest: dict

    @property
    def dataflow(self) -> Dataflow:
        """The array's dataflow."""
        return self.config.dataflow

    @property
    def input_streams(self) -> tuple[str, ...]:
        """Names of the input stream ports, in driving order."""
        return ("inputs",) if self.weights is None else ("weights", "inputs")


def load_design(folder: str | os.PathLike) -> ArrayDesign:
    """Read a generated array's folder.

    Raises
    ------
    SpecError
        If the folder, manifest or Verilog file is missing, the manifest is malformed or of an
        unsupported version, or a stream's payload width disagrees with its layout.
    """
    root = Path(folder)
    path = root / "manifest.json"
    manifest = read_manifest(
        root, f"; create one with `codesign generate --rows R --cols C --dataflow ws -o {root}`"
    )
    version = manifest.get("manifest_version")
    if version not in SUPPORTED_MANIFEST_VERSIONS:
        raise SpecError(
            f"{str(path)!r}: manifest_version must be one of {list(SUPPORTED_MANIFEST_VERSIONS)}, "
            f"not {version!r}"
        )
    for key in ("top", "verilog", "parameters", "ports"):
        if key not in manifest:
            raise SpecError(f"{str(path)!r} is missing key {key!r}")
    config = SystolicConfig.from_dict(manifest["parameters"])
    verilog_path = member_file(root, manifest, "verilog")

    from codesign.hw import layouts  # imports amaranth (layouts only, no elaboration)

    weights = None
    if config.dataflow is not Dataflow.OUTPUT_STATIONARY:
        weights = PayloadCodec.from_layout(layouts.weight_layout(config))
    inputs = PayloadCodec.from_layout(layouts.input_layout(config))
    outputs = PayloadCodec.from_layout(layouts.output_layout(config))
    ports = manifest["ports"]
    if not isinstance(ports, list) or not all(
        isinstance(p, dict) and {"name", "width"} <= set(p) for p in ports
    ):
        raise SpecError(f"{str(path)!r}: ports must be a list of {{name, width}} objects")
    widths = {p["name"]: p["width"] for p in ports}
    for stream, codec in (("weights", weights), ("inputs", inputs), ("outputs", outputs)):
        if codec is None:
            continue
        port = f"{stream}__payload"
        if widths.get(port) != codec.width_bits:
            raise SpecError(
                f"{str(path)!r}: port {port!r} has width {widths.get(port)!r}, but the "
                f"{stream} layout of {config.top_name} is {codec.width_bits} bits"
            )
    return ArrayDesign(
        folder=root,
        top=manifest["top"],
        verilog_path=verilog_path,
        config=config,
        weights=weights,
        inputs=inputs,
        outputs=outputs,
        manifest=manifest,
    )
