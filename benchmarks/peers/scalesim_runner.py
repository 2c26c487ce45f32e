"""Run SCALE-Sim 3.0.0 on one layer (inside the SCALE-Sim venv): prints one JSON line.

Usage: ``python scalesim_runner.py LAYER_JSON ROWS COLS DATAFLOW`` (dataflow ``os``, ``ws`` or
``is``). Buffers: 256 KiB ifmap and filter SRAMs, 64 KiB ofmap SRAM; DRAM bandwidth computed by
SCALE-Sim (``CALC``: no stalls). SCALE-Sim reports cycles only (no energy).
"""

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

from scalesim.scale_sim import scalesim

CONFIG = """\
[general]
run_name = peer

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 256
FilterSramSzkB: 256
OfmapSramSzkB: 64
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10
Dataflow: {dataflow}
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def topology_row(spec: dict) -> str:
    """SCALE-Sim convolution row: ifmap H, W (padded), filter H, W, channels, filters, stride.
    A GEMM ``M x N x K`` is the 1x1 convolution with ``M`` pixels (an M x 1 ifmap)."""
    if spec["kind"] == "gemm":
        return f"{spec['name']}, {spec['M']}, 1, 1, 1, {spec['K']}, {spec['N']}, 1,"
    s = spec.get("stride", 1)
    h = (spec["P"] - 1) * s + spec["R"]
    w = (spec["Q"] - 1) * s + spec["S"]
    return f"{spec['name']}, {h}, {w}, {spec['R']}, {spec['S']}, {spec['C']}, {spec['K']}, {s},"


def main() -> None:
    spec = json.loads(sys.argv[1])
    rows, cols, dataflow = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "peer.cfg").write_text(CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
        (d / "topo.csv").write_text(
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\n" + topology_row(spec) + "\n"
        )
        (d / "layout.csv").write_text(
            "Layer name," + "x," * 20 + "\n" + spec["name"] + ", " + "1, " * 20 + "\n"
        )
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(
                save_disk_space=True,
                verbose=False,
                config=str(d / "peer.cfg"),
                topology=str(d / "topo.csv"),
                layout=str(d / "layout.csv"),
            )
            sim.run_scale(top_path=str(d))
        wall = time.perf_counter() - t0
        items = sim.runner.single_layer_sim_object_list[0].get_compute_report_items()
    print(
        json.dumps(
            {
                "tool": "scalesim",
                "layer": spec["name"],
                "array": f"{rows}x{cols}",
                "dataflow": dataflow,
                "latency_cycles": float(items[0]),
                "compute_cycles": float(items[1]),
                "stall_cycles": float(items[2]),
                "utilization_pct": float(items[3]),
                "wall_s": wall,
            }
        )
    )


if __name__ == "__main__":
    main()
