"""SystolicConfig: validation messages, the accumulator-width rule (brute force), serialization,
derivation from an Architecture / design JSON, and the public API of codesign.hw."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
from codesign.hw import Dataflow, SystolicConfig, required_acc_bits

from codesign.errors import SpecError

# every module's __all__: tests/test_package.py


def test_config_and_synth_do_not_import_amaranth():
    code = (
        "import sys, codesign.hw, codesign.hw.command, codesign.synth, codesign.synth_command\n"
        "codesign.hw.SystolicConfig(rows=2, cols=2)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'amaranth'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hw_does_not_import_the_explorer():
    code = (
        "import sys, codesign.hw, codesign.hw.export\n"
        "print(sorted(m for m in sys.modules if m.startswith('codesign.explore')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("a", "w", "depth"), list(itertools.product([2, 3, 4], [2, 3], [1, 2, 3, 5]))
)
def test_required_acc_bits_matches_brute_force(a, w, depth):
    ops_a = range(-(1 << (a - 1)), 1 << (a - 1))
    ops_w = range(-(1 << (w - 1)), 1 << (w - 1))
    products = [x * y for x in ops_a for y in ops_w]
    lo, hi = depth * min(products), depth * max(products)
    bits = next(n for n in range(2, 64) if -(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1)
    assert required_acc_bits(a, w, depth) == bits


def test_defaults_and_derived_values():
    cfg = SystolicConfig(rows=8, cols=4)
    assert (cfg.act_bits, cfg.weight_bits, cfg.acc_bits) == (8, 8, 32)
    assert cfg.dataflow is Dataflow.WEIGHT_STATIONARY
    assert cfg.reduction_depth == 8 and cfg.dense_reduction_depth == 8
    assert cfg.top_name == "ws_array_8x4_a8w8acc32"
    sparse = SystolicConfig(rows=3, cols=2, dataflow="sparse24", acc_bits=19)
    assert (sparse.reduction_depth, sparse.dense_reduction_depth) == (6, 12)
    os_cfg = SystolicConfig(rows=2, cols=2, dataflow="os", act_bits=4, weight_bits=4, acc_bits=12)
    # (2**11 - 1) // 64 = 31 products of 4x4-bit fit in 12 signed bits, 32 do not
    assert os_cfg.reduction_depth == 31
    assert required_acc_bits(4, 4, 31) == 12 < required_acc_bits(4, 4, 32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0, "cols": 2}, r"^rows must be an integer in 1\.\.256, not 0$"),
        ({"rows": 2, "cols": -1}, r"^cols must be an integer in 1\.\.256, not -1$"),
        ({"rows": 2.0, "cols": 2}, r"^rows must be an integer in 1\.\.256, not 2\.0$"),
        ({"rows": 2, "cols": 2, "act_bits": 1}, r"^act_bits must be an integer in 2\.\.32"),
        ({"rows": 2, "cols": 2, "weight_bits": 33}, r"^weight_bits must be an integer in 2\.\.32"),
        (
            {"rows": 2, "cols": 2, "dataflow": "systolic"},
            r"^dataflow must be one of 'ws', 'os', 'sparse24', not 'systolic'$",
        ),
        ({"rows": 2, "cols": 2, "acc_bits": 65}, r"^acc_bits must be an integer in 2\.\.64"),
        (
            {"rows": 8, "cols": 8, "acc_bits": 18},
            r"^acc_bits=18 is too narrow: a reduction depth of 8 of 8-bit x 8-bit signed "
            r"products needs acc_bits >= 19$",
        ),
        (
            {"rows": 4, "cols": 2, "dataflow": "sparse24", "acc_bits": 18},
            r"^acc_bits=18 is too narrow: a reduction depth of 8 non-zero products \(2:4 of "
            r"dense depth 16\) of 8-bit x 8-bit signed products needs acc_bits >= 19$",
        ),
        (
            {"rows": 2, "cols": 2, "dataflow": "os", "acc_bits": 20, "max_reduction_len": 64},
            r"^acc_bits=20 is too narrow: a reduction depth of 64 .* needs acc_bits >= 22$",
        ),
        (
            {"rows": 2, "cols": 2, "dataflow": "os", "acc_bits": 15},
            r"^acc_bits=15 is too narrow: a reduction depth of 1 .* needs acc_bits >= 16$",
        ),
        (
            {"rows": 2, "cols": 2, "max_reduction_len": 4},
            r"^max_reduction_len applies only to dataflow 'os', not 'ws'",
        ),
    ],
)
def test_invalid_configs_name_the_field(kwargs, message):
    with pytest.raises(SpecError, match=message):
        SystolicConfig(**kwargs)


def test_dict_round_trip_and_strictness():
    for cfg in [
        SystolicConfig(rows=3, cols=5, act_bits=4, weight_bits=6, acc_bits=13),
        SystolicConfig(rows=2, cols=2, dataflow="os", max_reduction_len=100),
        SystolicConfig(rows=2, cols=7, dataflow=Dataflow.SPARSE_2_4),
    ]:
        data = json.loads(json.dumps(cfg.to_dict()))
        assert SystolicConfig.from_dict(data) == cfg
    with pytest.raises(SpecError, match=r"^config has unknown key 'colums'; allowed: "):
        SystolicConfig.from_dict({"rows": 2, "colums": 2})
    with pytest.raises(SpecError, match=r"^config is missing 'cols'$"):
        SystolicConfig.from_dict({"rows": 2})


def test_from_architecture_uses_the_compute_array():
    from codesign.arch import output_stationary, weight_stationary

    ws = SystolicConfig.from_architecture(weight_stationary(4, 8, input_bits=6, weight_bits=4))
    assert ws == SystolicConfig(rows=4, cols=8, act_bits=6, weight_bits=4, acc_bits=32)
    os_arch = output_stationary(3, 5)
    os_cfg = SystolicConfig.from_architecture(os_arch)
    assert (os_cfg.rows, os_cfg.cols, os_cfg.dataflow) == (3, 5, Dataflow.OUTPUT_STATIONARY)
    sparse = SystolicConfig.from_architecture(weight_stationary(2, 2), dataflow="sparse24")
    assert sparse.dataflow is Dataflow.SPARSE_2_4


def test_from_architecture_errors_name_the_field():
    from codesign.arch import Sparsity, eyeriss, output_stationary, weight_stationary
    from codesign.workload.loopnest import TensorRole

    with pytest.raises(SpecError, match=r"^compute\.dataflow 'rs' of architecture .* cannot be"):
        SystolicConfig.from_architecture(eyeriss())
    with pytest.raises(SpecError, match=r"^dataflow 'sparse24' needs compute\.dataflow 'ws'"):
        SystolicConfig.from_architecture(output_stationary(2, 2), dataflow="sparse24")
    skip = weight_stationary(
        2, 2, sparsity=Sparsity.SKIP, sparse_operands=frozenset({TensorRole.WEIGHTS})
    )
    with pytest.raises(SpecError, match=r"^compute\.sparsity 'skip' of architecture"):
        SystolicConfig.from_architecture(skip)
    with pytest.raises(
        SpecError, match=r"^architecture 'ws16x16' cannot be generated: acc_bits=16 is too narrow"
    ):
        SystolicConfig.from_architecture(weight_stationary(accum_bits=16))
    with pytest.raises(SpecError, match=r"^arch must be a codesign\.arch\.Architecture, not dict"):
        SystolicConfig.from_architecture({"rows": 2})


def test_from_design_json(tmp_path):
    from codesign.arch import architecture_to_dict, weight_stationary

    path = tmp_path / "design.json"
    path.write_text(json.dumps({"arch": architecture_to_dict(weight_stationary(2, 3))}))
    assert SystolicConfig.from_design_json(path) == SystolicConfig(rows=2, cols=3)
    with pytest.raises(SpecError, match=r"^design has no 'arch' key \(keys: 'rows'\)"):
        SystolicConfig.from_design_json({"rows": 2})
    with pytest.raises(SpecError, match=r"^design file '.*missing\.json' does not exist$"):
        SystolicConfig.from_design_json(tmp_path / "missing.json")


def test_from_architecture_builds_the_2_4_array_from_an_nm_architecture(tmp_path):
    from codesign.arch import architecture_to_dict, weight_stationary

    arch = weight_stationary(4, 6, nm=(2, 4), weight_bits=4)
    cfg = SystolicConfig.from_architecture(arch)
    assert cfg == SystolicConfig(rows=4, cols=6, weight_bits=4, dataflow="sparse24")
    # the model's dense reduction depth of a pass is the RTL's
    assert cfg.dense_reduction_depth == arch.compute.dense_rows == 16
    assert SystolicConfig.from_architecture(arch, dataflow="sparse24") == cfg
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"arch": architecture_to_dict(arch)}))
    assert SystolicConfig.from_design_json(path) == cfg
    with pytest.raises(
        SpecError,
        match=r"^dataflow 'ws' cannot be generated from architecture 'ws4x6-sparse24': its "
        r"compute\.nm \[2, 4\] needs dataflow 'sparse24'$",
    ):
        SystolicConfig.from_architecture(arch, dataflow="ws")
    with pytest.raises(
        SpecError,
        match=r"^compute\.nm \[1, 4\] of architecture 'ws4x6-sparse14' cannot be generated; "
        r"codesign\.hw builds 2:4 arrays",
    ):
        SystolicConfig.from_architecture(weight_stationary(4, 6, nm=(1, 4)))
