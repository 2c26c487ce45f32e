"""ZigZag specs in (`codesign.interop.zigzag`): ZigZag's own ResNet-18 workload and tpu_like
accelerator and mapping (verbatim copies in tests/fixtures/zigzag/) import with the figures the
files state, every layer maps, and bad input is a SpecError naming the file and the field."""

import json
import logging
import math
import re
from pathlib import Path

import pytest
import yaml

from codesign.arch.dataflow import Dataflow
from codesign.cost import evaluate_one
from codesign.errors import SpecError
from codesign.explore.mapper import make_mapper
from codesign.interop.zigzag import load_zigzag_accelerator, load_zigzag_workload
from codesign.workload.loopnest import TensorRole, conv2d

FIXTURES = Path(__file__).parent / "fixtures" / "zigzag"
WORKLOAD = FIXTURES / "workload" / "resnet18.yaml"
HARDWARE = FIXTURES / "hardware" / "tpu_like.yaml"
MAPPING = FIXTURES / "mapping" / "tpu_like.yaml"

# ResNet-18 at 224 x 224 as torchvision builds it, (id in the ZigZag file, out channels, in
# channels, input size, kernel, stride, padding), torch.nn.Conv2d semantics. The ZigZag file
# writes the downsample convolutions (ids 10, 17, 24) with 3x3 kernels: listed here as such
# (with padding 1, the same output size), and separately as torchvision's 1x1 in the MAC total.
RESNET18 = [
    (0, 64, 3, 224, 7, 2, 3),
    (2, 64, 64, 56, 3, 1, 1),
    (3, 64, 64, 56, 3, 1, 1),
    (5, 64, 64, 56, 3, 1, 1),
    (6, 64, 64, 56, 3, 1, 1),
    (8, 128, 64, 56, 3, 2, 1),
    (9, 128, 128, 28, 3, 1, 1),
    (10, 128, 64, 56, 3, 2, 1),
    (12, 128, 128, 28, 3, 1, 1),
    (13, 128, 128, 28, 3, 1, 1),
    (15, 256, 128, 28, 3, 2, 1),
    (16, 256, 256, 14, 3, 1, 1),
    (17, 256, 128, 28, 3, 2, 1),
    (19, 256, 256, 14, 3, 1, 1),
    (20, 256, 256, 14, 3, 1, 1),
    (22, 512, 256, 14, 3, 2, 1),
    (23, 512, 512, 7, 3, 1, 1),
    (24, 512, 256, 14, 3, 2, 1),
    (26, 512, 512, 7, 3, 1, 1),
    (27, 512, 512, 7, 3, 1, 1),
    (30, 1000, 512, 1, 1, 1, 0),  # the classifier, written as a 1x1 convolution
]
TORCHVISION_RESNET18_MACS = 1_814_073_344  # convolutions + fc at 224 x 224 ("1.81 GMACs")
DOWNSAMPLE_1X1_MACS = 128 * 64 * 28 * 28  # = 256*128*14*14 = 512*256*7*7 = 6,422,528


@pytest.fixture(scope="module")
def resnet():
    notes = []
    return load_zigzag_workload(WORKLOAD, notes=notes), notes


@pytest.fixture(scope="module")
def tpu():
    notes = []
    return load_zigzag_accelerator(HARDWARE, MAPPING, notes=notes), notes


def _raw(path):
    return yaml.safe_load(path.read_text())


# --- the ResNet-18 workload --------------------------------------------------------------------


def test_resnet18_imports_its_21_mac_layers_and_skips_pooling_and_adds(resnet):
    nests, notes = resnet
    assert [n.attr("zigzag_id") for n in nests] == [row[0] for row in RESNET18]
    assert [n.op for n in nests] == ["conv2d"] * 21
    assert nests[0].name == "example_name_of_layer0"  # the file's name
    assert nests[1].name == "Layer2"  # ZigZag's name for a layer without one
    assert any(
        "skipped 10 layers that are not multiply-accumulates (Pooling: ids [1, 29]; "
        "Add: ids [4, 7, 11, 14, 18, 21, 25, 28])" in n
        for n in notes
    )


def test_each_layer_has_the_files_macs_by_the_hand_formula(resnet):
    nests, _ = resnet
    layers = {layer["id"]: layer for layer in _raw(WORKLOAD)}
    for nest in nests:
        layer = layers[nest.attr("zigzag_id")]
        size = dict(zip(layer["loop_dims"], layer["loop_sizes"], strict=True))
        hand = size["K"] * size["C"] * size["OY"] * size["OX"] * size["FY"] * size["FX"]
        assert nest.macs == hand * size["B"], nest.name


def test_total_macs_are_torchvisions_plus_the_3x3_downsamples(resnet):
    nests, _ = resnet
    # torchvision's 1x1 downsamples cost 6,422,528 MACs each; the file's 3x3 ones nine times that
    total = TORCHVISION_RESNET18_MACS + 3 * (9 - 1) * DOWNSAMPLE_1X1_MACS
    assert sum(n.macs for n in nests) == total == 1_968_214_016


def test_each_layer_is_the_nest_codesign_builds_for_that_convolution(resnet):
    nests, _ = resnet
    for nest, (_, k, c, size, kernel, stride, pad) in zip(nests, RESNET18, strict=True):
        torch_like = conv2d(
            "ref", in_channels=c, out_channels=k, input_size=(size, size),
            kernel_size=kernel, stride=stride, padding=pad, output_bits=16,
        )  # fmt: skip
        assert nest.shape_key() == torch_like.shape_key(), nest.name
    first = nests[0]
    assert first.inputs.axes[2] == (("P", 2), ("R", 1))  # iy = 2*oy + 1*fy
    assert first.weights.is_parameter and not first.inputs.is_parameter
    assert (first.inputs.bits, first.weights.bits, first.outputs.bits) == (8, 8, 16)
    assert dict(first.attr("zigzag_dims")) == {
        "B": "N", "K": "K", "C": "C", "OY": "P", "OX": "Q", "FY": "R", "FX": "S",
    }  # fmt: skip


def test_output_width_note(resnet):
    _, notes = resnet
    assert any("(O, O_final) = [(16, 8)]" in n for n in notes)


# --- the tpu_like accelerator ------------------------------------------------------------------


def test_tpu_like_array_and_dataflow(tpu):
    arch, _ = tpu
    raw = _raw(HARDWARE)["operational_array"]
    c = arch.compute
    assert (c.rows, c.cols) == tuple(raw["sizes"]) == (32, 32)
    assert c.mac_energy_pj == raw["unit_energy"] == 0.04
    assert c.mac_area_um2 == raw["unit_area"]
    # K on D1, C on D2 in the mapping's default entry: reduction down the rows, K across
    assert c.dataflow is Dataflow.WEIGHT_STATIONARY
    assert not c.systolic
    assert arch.name == "tpu_like"


def test_tpu_like_levels_have_the_files_sizes_bandwidths_and_energies(tpu):
    arch, _ = tpu
    mems = _raw(HARDWARE)["memories"]  # PyYAML keeps sram_2MB's second `ports`
    assert [lv.name for lv in arch.levels] == list(mems) == ["rf_128B", "rf_2B", "sram_2MB", "dram"]
    expect = {  # instances, holds, word, read and write bits/cycle, bandwidth_max per access
        "rf_128B": (1024, {"weights"}, 8, 8, 8, 8),
        "rf_2B": (1024, {"outputs"}, 16, 32, 32, 16),  # two read, two write ports of 16
        "sram_2MB": (1, {"inputs", "outputs"}, 64, 2048, 2048, 2048),
        "dram": (1, {"inputs", "weights", "outputs"}, 64, 64, 64, 64),  # one read_write port
    }
    for lv in arch.levels:
        inst, holds, word, rbw, wbw, bw_max = expect[lv.name]
        mem = mems[lv.name]
        assert lv.size_bits == mem["size"]
        assert lv.instances == inst
        assert {r.value for r in lv.holds} == holds
        assert (lv.word_bits, lv.read_bits_per_cycle, lv.write_bits_per_cycle) == (word, rbw, wbw)
        # ZigZag charges r_cost per bandwidth_max access, pro rata in bandwidth_min steps
        assert lv.read_energy_pj == pytest.approx(mem["r_cost"] * word / bw_max)
        assert lv.write_energy_pj == pytest.approx(mem["w_cost"] * word / bw_max)
        assert lv.area_um2 == mem["area"]
    sram = arch.levels[2]
    assert (sram.read_energy_pj, sram.write_energy_pj) == pytest.approx((13.005, 11.825))
    assert arch.levels[-1].size_bits == 10_000_000_000


def test_tpu_like_notes(tpu, caplog):
    _, notes = tpu
    text = "\n".join(notes)
    assert f"{HARDWARE}: key 'ports' appears twice (lines 67 and 74)" in text
    assert "memory 'rf_2B': ports pooled into one read bandwidth (16 + 16 b/cycle)" in text
    assert "port rw_port_1 (read_write, 64 b/cycle) serves reads and writes" in text
    assert f"{MAPPING}: dataflow 'ws' from default.spatial_mapping (D1: K 32, D2: C 32)" in text
    assert "'example_name_of_layer0' unrolls D1: C 32, D2: K 32: the same dataflow on the " in text
    with caplog.at_level(logging.INFO, logger="codesign.interop.zigzag"):
        again = []
        load_zigzag_accelerator(HARDWARE, MAPPING, notes=again)
    assert [r.getMessage() for r in caplog.records] == again == notes


# --- mapping ResNet-18 on tpu_like -------------------------------------------------------------


def test_every_resnet18_layer_maps_on_tpu_like(resnet, tpu):
    nests, _ = resnet
    arch, _ = tpu
    mapper = make_mapper("local", budget=200, seed=0)
    for nest in nests:
        result = mapper.map(nest, arch)
        report = evaluate_one(nest, arch, result.mapping)  # validates; MappingError if too big
        assert report.cycles == result.cycles and math.isfinite(result.value), nest.name
        assert report.macs == nest.macs
        for lv in arch.levels:
            assert report.occupancy_bits[lv.name] <= lv.size_bits
        rows = math.prod(f for _, f in result.mapping.rows)
        cols = math.prod(f for _, f in result.mapping.cols)
        assert rows <= 32 and cols <= 32
        assert {d for d, _ in result.mapping.rows} <= {"C", "R", "S"}  # ws: reduction on rows
        assert {d for d, _ in result.mapping.cols} <= {"K"}


# --- other constructs --------------------------------------------------------------------------

GEMM = """
- id: 0
  operator_type: Gemm
  equation: O[d0][d1]+=I[d0][d2]*W[d2][d1]
  dimension_relations: []
  loop_dims: [D0, D1, D2]
  loop_sizes: [64, 32, 16]
  operand_precision: {W: 4, I: 8, O: 32, O_final: 32}
  operand_source: {I: 0, W: 0}
"""

PADDED_CONV = """
- id: 7
  name: padded
  operator_type: Conv
  equation: O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]
  dimension_relations: [ix=1*ox+1*fx, iy=1*oy+1*fy]
  loop_dims: [B, K, C, OY, OX, FY, FX]
  loop_sizes: [2, 16, 8, 14, 14, 3, 3]
  operand_precision: {W: 8, I: 8, O: 24, O_final: 24}
  operand_source: {I: 7, W: 7}
  pr_loop_dims: [IY, IX]
  padding: [[1, 1], [1, 1]]
"""

SMALL_ARRAY = """
name: small
memories:
  reg:
    size: 8
    r_cost: 0.1
    w_cost: 0.2
    area: 5
    latency: 1
    operands: [I2]
    ports:
      - {name: r_port_1, type: read, bandwidth_min: 8, bandwidth_max: 8, allocation: ["I2, tl"]}
      - {name: w_port_1, type: write, bandwidth_min: 8, bandwidth_max: 8, allocation: ["I2, fh"]}
    served_dimensions: []
  column_buffer:
    size: 4096
    r_cost: 2.0
    w_cost: 3.0
    area: 100
    latency: 1
    operands: [I1, O]
    ports:
      - {name: r_port_1, type: read, bandwidth_min: 32, bandwidth_max: 32,
         allocation: ["I1, tl", "O, tl", "O, th"]}
      - {name: w_port_1, type: write, bandwidth_min: 32, bandwidth_max: 32,
         allocation: ["I1, fh", "O, fh", "O, fl"]}
    served_dimensions: [D1]
  dram:
    size: 1000000000
    r_cost: 100
    w_cost: 100
    area: 0
    latency: 1
    operands: [I1, I2, O]
    ports:
      - {name: rw_port_1, type: read_write, bandwidth_min: 64, bandwidth_max: 64,
         allocation: ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"]}
    served_dimensions: [D1, D2]
operational_array:
  unit_energy: 0.5
  unit_area: 10
  dimensions: [D1, D2]
  sizes: [4, 2]
  input_precision: [8, 4]
dataflows:
  D1: ["C, 4"]
  D2: ["K, 2"]
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_gemm_keeps_zigzags_dim_names(tmp_path):
    (nest,) = load_zigzag_workload(_write(tmp_path, "gemm.yaml", GEMM))
    assert nest.op == "einsum" and nest.name == "Layer0"
    assert nest.dims == (("D0", 64), ("D1", 32), ("D2", 16))
    assert nest.inputs.axes == ((("D0", 1),), (("D2", 1),))
    assert nest.weights.axes == ((("D2", 1),), (("D1", 1),))
    assert nest.outputs.axes == ((("D0", 1),), (("D1", 1),))
    assert (nest.inputs.bits, nest.weights.bits, nest.outputs.bits) == (8, 4, 32)
    assert nest.macs == 64 * 32 * 16 and nest.weights.is_parameter


def test_padding_becomes_conv2d_padding_with_a_note(tmp_path):
    notes = []
    (nest,) = load_zigzag_workload(_write(tmp_path, "pad.yaml", PADDED_CONV), notes=notes)
    ref = conv2d(
        "padded", in_channels=8, out_channels=16, input_size=(14, 14), kernel_size=3,
        padding=1, batch=2, output_bits=24,
    )  # fmt: skip
    assert nest.shape_key() == ref.shape_key()
    assert (nest.attr("padding"), nest.attr("input_size")) == ((1, 1), (14, 14))
    assert any("ZigZag stores 14 of the 16 IY positions" in n for n in notes)


def test_a_memory_serving_one_array_dimension_becomes_one_shared_level(tmp_path):
    notes = []
    arch = load_zigzag_accelerator(_write(tmp_path, "small.yaml", SMALL_ARRAY), notes=notes)
    # dataflows: C on D1 (rows), K on D2 (cols): ws
    assert (arch.compute.rows, arch.compute.cols) == (4, 2)
    assert arch.compute.dataflow is Dataflow.WEIGHT_STATIONARY
    assert (arch.compute.input_bits, arch.compute.weight_bits) == (8, 4)
    reg, buf, dram = arch.levels
    assert (reg.instances, reg.holds, reg.area_um2) == (8, frozenset({TensorRole.WEIGHTS}), 5)
    # served along D1 only: one per column, 2 instances, aggregated into one shared level
    assert (buf.instances, buf.size_bits, buf.read_bits_per_cycle, buf.area_um2) == (
        1, 2 * 4096, 2 * 32, 2 * 100,
    )  # fmt: skip
    assert (buf.read_energy_pj, buf.write_energy_pj) == (2.0, 3.0)
    assert dram.size_bits == 10**9
    assert any("memory 'column_buffer' serves ['D1'] only: 2 instances" in n for n in notes)
    assert any("no mapping file: memory operands linked as ZigZag's default" in n for n in notes)


def test_an_unrolling_no_template_admits_gets_dataflow_any(tmp_path):
    text = SMALL_ARRAY.replace('D1: ["C, 4"]', 'D1: ["K, 4"]')
    notes = []
    arch = load_zigzag_accelerator(_write(tmp_path, "kk.yaml", text), notes=notes)
    assert arch.compute.dataflow is Dataflow.UNCONSTRAINED
    assert any("fits none of the dataflows ['ws', 'os', 'is', 'rs']" in n for n in notes)


# --- bad input ---------------------------------------------------------------------------------


def _variant(tmp_path, source, old, new, name="bad.yaml"):
    text = source.read_text() if isinstance(source, Path) else source
    assert old in text, old
    return _write(tmp_path, name, text.replace(old, new, 1))


def _fails(path, message, loader=load_zigzag_workload, **kwargs):
    with pytest.raises(SpecError, match="^" + re.escape(f"{path}: {message}")):
        loader(path, **kwargs)


WORKLOAD_ERRORS = [
    ("  loop_sizes: [1, 64, 3, 112, 112, 7, 7]\n", "",
     "layers[0].loop_sizes is missing (required ZigZag layer field)"),
    ("  operator_type: Conv\n", "  operator_type: Conv\n  stride: 2\n",
     "layers[0].stride is not a ZigZag layer field; allowed: ["),
    ("*I[b][c][iy][ix]", "*X[b][c][iy][ix]",
     "layers[0] (id 0).equation 'O[b][k][oy][ox]+=W[k][c][fy][fx]*X[b][c][iy][ix]': unknown "
     "operand 'X'; ZigZag layers use O (output), I and W"),
    ("[fx]*I[b]", "[fx]I[b]", "layers[0] (id 0).equation must look like"),
    ("+=W[k][c][fy][fx]*I", "+=W[k][c][fy][fx]+I",
     "layers[0] (id 0).equation 'O[b][k][oy][ox]+=W[k][c][fy][fx]+I[b][c][iy][ix]': a Conv "
     "layer must be a multiply-accumulate"),
    ("[ix=2*ox+1*fx,", "[ix=2*ox*fx,",
     "layers[0] (id 0).dimension_relations[0] must look like 'ix=2*ox+1*fx', not 'ix=2*ox*fx'"),
    ("*I[b][c][iy][ix]", "*I[b][c][iz][ix]",
     "layers[0] (id 0).equation: operand I index iz is neither in loop_dims"),
    ("    W: 8\n    I: 8\n", "    W: 8\n", "layers[0] (id 0).operand_precision.I is missing"),
    ("- id: 1 #", "- id: 0 #", "layers[0] (id 0): id 0 is used by 2 layers"),
    ("    I: 0\n    W: 0\n", "    I: 99\n    W: 0\n",
     "layers[0] (id 0).operand_source.I refers to layer id 99, which is not in the file"),
    ("operator_type: Conv\n", "operator_type: Transformer\n",
     "layers[0] (id 0).operator_type must be one of ['Conv', 'Conv_downsample', 'Gemm', 'Max'"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), WORKLOAD_ERRORS)
def test_bad_workload_is_a_spec_error_naming_file_and_field(tmp_path, old, new, message):
    _fails(_variant(tmp_path, WORKLOAD, old, new), message)


def test_missing_and_malformed_files(tmp_path):
    _fails(tmp_path / "nope.yaml", "file does not exist")
    _fails(_write(tmp_path, "x.yaml", "a: [1"), "file is not valid YAML")
    _fails(_write(tmp_path, "y.yaml", "{}"), "a ZigZag workload must be a non-empty list")


ACCEL_ERRORS = [
    ("    operands: [I2]\n", "    operands: [I3]\n",
     "memories.rf_128B.operands[0] must be one of ['I1', 'I2', 'O'], not 'I3'"),
    ("    r_cost: 0.095\n", "",
     "memories.rf_128B.r_cost is missing (required ZigZag memory field)"),
    ("    latency: 1\n", "    latency: 1\n    banks: 4\n",
     "memories.rf_128B.banks is not a ZigZag memory field"),
    ("served_dimensions: [] # Fully", "served_dimensions: [D3] # Fully",
     "memories.rf_128B.served_dimensions[0] must be one of the array's dimensions ['D1', 'D2']"),
    ("  unit_energy: 0.04 # pJ\n", "  unit_energy: 0.04 # pJ\n  is_imc: true\n",
     "operational_array: in-memory computing"),
    ("  dimensions: [D1, D2]\n  sizes: [32, 32]",
     "  dimensions: [D1, D2, D3]\n  sizes: [32, 32, 2]",
     "operational_array: codesign models a 2-D PE array (rows x cols)"),
    ("          - I2, tl\n      - name: w_port_1", "          - I2, xx\n      - name: w_port_1",
     "memories.rf_128B.ports[0].allocation[0] must look like 'I1, tl'"),
    ("    latency: 1\n", "    latency: 1\n    auto_cost_extraction: true\n",
     "memories.rf_128B.auto_cost_extraction: CACTI is not available here"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), ACCEL_ERRORS)
def test_bad_accelerator_is_a_spec_error_naming_file_and_field(tmp_path, old, new, message):
    path = _variant(tmp_path, HARDWARE, old, new)
    _fails(path, message, load_zigzag_accelerator, mapping=MAPPING)


def test_the_outermost_memory_must_serve_every_operand(tmp_path):
    text = SMALL_ARRAY.replace("operands: [I1, I2, O]", "operands: [I1, O]").replace(
        '"I2, fh", "I2, tl", ', ""
    )
    _fails(
        _write(tmp_path, "top.yaml", text),
        "memories.dram.operands: the outermost memory (last in the file) must serve",
        load_zigzag_accelerator,
    )


MAPPING_ERRORS = [
    ("- name: default\n", "- name: fallback\n", "needs an entry named 'default'"),
    ("      - C, 32\n  memory_operand_links:\n    O: O\n    W: I2\n    I: I1\n\n- name: Add",
     "      - C, 64\n  memory_operand_links:\n    O: O\n    W: I2\n    I: I1\n\n- name: Add",
     "default.spatial_mapping.D2 unrolls 64 ways ({'C': 64}); the array dimension has 32 units"),
    ("      - K, 32\n    D2:\n      - C, 32\n", "      - K, 32\n    D2:\n      - D0, 32\n",
     "default.spatial_mapping unrolls ['D0'], not ZigZag's convolution dims"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), MAPPING_ERRORS)
def test_bad_mapping_is_a_spec_error_naming_file_and_field(tmp_path, old, new, message):
    path = _variant(tmp_path, MAPPING, old, new)
    with pytest.raises(SpecError, match="^" + re.escape(f"{path}: {message}")):
        load_zigzag_accelerator(HARDWARE, path)


def test_a_layer_entry_linking_operands_differently_is_an_error(tmp_path):
    text = MAPPING.read_text()
    head, sep, tail = text.partition("- name: example_name_of_layer0")
    swapped = tail.replace("W: I2\n    I: I1", "W: I1\n    I: I2")
    path = _write(tmp_path, "links.yaml", head + sep + swapped)
    message = f"{path}: example_name_of_layer0.memory_operand_links differs from default's"
    with pytest.raises(SpecError, match="^" + re.escape(message)):
        load_zigzag_accelerator(HARDWARE, path)


def test_without_a_mapping_the_accelerator_needs_its_dataflows(tmp_path):
    _fails(HARDWARE, "dataflows is missing and no mapping file was given", load_zigzag_accelerator)


def _move_reg_after_buffer(text):
    """SMALL_ARRAY with the per-PE weight register listed after the shared column buffer."""
    start, middle = text.index("  reg:\n"), text.index("  column_buffer:\n")
    end = text.index("  dram:\n")
    return text[:start] + text[middle:end] + text[start:middle] + text[end:]


def test_per_pe_memories_listed_late_move_first_when_no_chain_changes(tmp_path):
    notes = []
    text = _move_reg_after_buffer(SMALL_ARRAY)
    arch = load_zigzag_accelerator(_write(tmp_path, "late.yaml", text), notes=notes)
    assert [lv.name for lv in arch.levels] == ["reg", "column_buffer", "dram"]
    assert any(
        "memories reordered per-PE first: ['reg', 'column_buffer', 'dram']" in n for n in notes
    )


def test_a_shared_memory_below_a_per_pe_one_is_an_error(tmp_path):
    text = (
        _move_reg_after_buffer(SMALL_ARRAY)
        .replace("operands: [I2]", "operands: [I1, I2]")
        .replace('allocation: ["I2, tl"]', 'allocation: ["I2, tl", "I1, tl"]')
    )
    _fails(
        _write(tmp_path, "below.yaml", text),
        "memories: operand I1's hierarchy ['column_buffer', 'reg', 'dram'] puts a shared memory "
        "below a per-PE one",
        load_zigzag_accelerator,
    )


def test_map_command_maps_every_layer_of_the_zigzag_files(tmp_path, capsys):
    from codesign.cli import main

    root = Path(__file__).parent / "fixtures" / "zigzag"
    files = [
        "--zigzag-workload", str(root / "workload" / "resnet18.yaml"),
        "--zigzag-accelerator", str(root / "hardware" / "tpu_like.yaml"),
        "--zigzag-mapping", str(root / "mapping" / "tpu_like.yaml"),
    ]  # fmt: skip
    out = tmp_path / "r.json"
    assert main(["map", *files, "--samples", "1000", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "21 layers of" in captured.out and "note: " in captured.err
    data = json.loads(out.read_text())
    assert len(data) == 21 and all(r["cycles"] > 0 for r in data.values())
    assert sum(r["macs"] for r in data.values()) == 1_968_214_016
    assert main(["map", *files, "--layer", "Layer30", "--samples", "200"]) == 0
    assert "cycles" in capsys.readouterr().out
    assert main(["map", *files[:2]]) == 2
    assert "--zigzag-workload and --zigzag-accelerator go together" in capsys.readouterr().err
