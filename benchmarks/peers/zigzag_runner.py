"""Run ZigZag 3.9.1 on one layer (inside the ZigZag venv): prints one JSON line.

Usage: ``python zigzag_runner.py LAYER_JSON`` where the JSON has ``name``, ``kind``
(``conv`` or ``gemm``) and the sizes. Uses ZigZag's bundled ``tpu_like`` accelerator and mapping.
"""

import json
import logging
import os
import sys
import tempfile
import time

import zigzag
from zigzag.api import get_hardware_performance_zigzag


def layer_dict(spec: dict) -> list[dict]:
    """A ZigZag workload of one layer; a GEMM ``M x N x K`` is the 1x1 convolution with
    ``OY = M``, ``K = N`` output channels and ``C = K`` input channels (so the bundled
    ``tpu_like`` spatial mapping, K and C over the 32 x 32 array, applies)."""
    if spec["kind"] == "gemm":
        spec = {**spec, "K": spec["N"], "C": spec["K"], "P": spec["M"], "Q": 1, "R": 1, "S": 1}
    stride = spec.get("stride", 1)
    return [
        {
            "id": 0,
            "name": spec["name"],
            "operator_type": "Conv",
            "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "dimension_relations": [f"ix={stride}*ox+1*fx", f"iy={stride}*oy+1*fy"],
            "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
            "loop_sizes": [1, spec["K"], spec["C"], spec["P"], spec["Q"], spec["R"], spec["S"]],
            # tpu_like keeps partial sums in 16-bit output registers
            "operand_precision": {"W": 8, "I": 8, "O": 16, "O_final": 8},
            "operand_source": {"I": 0},
        }
    ]


def main() -> None:
    spec = json.loads(sys.argv[1])
    logging.disable(logging.CRITICAL)
    root = os.path.dirname(zigzag.__file__)
    accel = os.path.join(root, "inputs/hardware/tpu_like.yaml")
    mapping = os.path.join(root, "inputs/mapping/tpu_like.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        energy, latency, cmes = get_hardware_performance_zigzag(
            layer_dict(spec),
            accel,
            mapping,
            opt="EDP",
            dump_folder=tmp,
            loma_show_progress_bar=False,
        )
        wall = time.perf_counter() - t0
    cme = cmes[0][1][0][0] if isinstance(cmes[0][1], list) else cmes[0][0]
    print(
        json.dumps(
            {
                "tool": "zigzag",
                "layer": spec["name"],
                "energy_pj": float(energy),
                "latency_cycles": float(latency),
                "wall_s": wall,
                "mac_util": float(getattr(cme, "mac_utilization1", float("nan"))),
            }
        )
    )


if __name__ == "__main__":
    main()
