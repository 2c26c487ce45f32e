"""ZigZag accelerators in (`codesign.interop.zigzag`): a ZigZag 3.x accelerator YAML (and,
optionally, its mapping YAML) as an `Architecture`: the operational array as the
`ComputeArray`, the memories as `MemoryLevel` s innermost first, their ports pooled into one read
and one write bandwidth."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from codesign.arch.spec import Architecture, ComputeArray, MemoryLevel
from codesign.errors import SpecError
from codesign.interop._zigzag_fields import (
    _DEFAULT_LINKS,
    _MEMORY_OPERANDS,
    _ROLE_OF_OPERAND,
    _fields,
    _in_file,
    _int,
    _list,
    _num,
    _read_yaml,
    _report,
    _str,
)
from codesign.interop._zigzag_mapping import _choose_dataflow, _describe, _mapping, _spatial
from codesign.workload.loopnest import TensorRole

_ACCEL_REQUIRED = ("name", "memories", "operational_array")
_ARRAY_REQUIRED = ("dimensions", "sizes", "unit_energy", "unit_area")
_IMC = ("is_imc", "imc_type", "adc_resolution", "bit_serial_precision")
_ARRAY_OPTIONAL = ("input_precision", *_IMC)
_MEMORY_REQUIRED = (
    "size",
    "r_cost",
    "w_cost",
    "area",
    "latency",
    "operands",
    "ports",
    "served_dimensions",
)
_MEMORY_OPTIONAL = ("mem_type", "auto_cost_extraction", "force_double_buffering")
_PORT_REQUIRED = ("name", "type", "bandwidth_min", "bandwidth_max", "allocation")
_PORT_TYPES = ("read", "write", "read_write")
_READS, _WRITES = ("tl", "th"), ("fh", "fl")


def load_zigzag_accelerator(
    path: str | Path, mapping: str | Path | None = None, *, notes: list[str] | None = None
) -> Architecture:
    """The `Architecture` of a ZigZag 3.x accelerator YAML.

    Parameters
    ----------
    path : str or Path
        The accelerator YAML (e.g. ZigZag's ``inputs/hardware/tpu_like.yaml``).
    mapping : str or Path, optional
        Its ZigZag mapping YAML (e.g. ``inputs/mapping/tpu_like.yaml``): the ``default`` entry's
        ``memory_operand_links`` say which memory operand holds which tensor and its
        ``spatial_mapping`` gives the dataflow. Without it, the links are ZigZag's default
        (``I: I1, W: I2, O: O``) and the accelerator's own ``dataflows`` key must give the
        spatial mapping.
    notes : list of str, optional
        Receives one line per approximation made (see the module docstring), each prefixed
        with the path of the file it concerns; the same lines are logged at INFO level.

    Returns
    -------
    Architecture
        Levels innermost first (per-PE levels, then shared ones, the last memory of the file
        outermost).
    """
    p = Path(path)
    found: list[str] = []
    with _in_file(p):
        raw = _read_yaml(p, found)
        data = _fields(raw, "accelerator", "accelerator", _ACCEL_REQUIRED, ("dataflows",))
        name = _str(data["name"], "name")
        array, unit = _operational_array(data["operational_array"], found)
    if mapping is not None:
        m = Path(mapping)
        found_m: list[str] = []
        with _in_file(m):
            links, dataflow, rows, cols = _mapping(_read_yaml(m, found_m), array, found_m)
        _report(m, found_m, notes)
        if data.get("dataflows") is not None:
            found.append(
                "dataflows is not used: the mapping file's default entry gives the dataflow"
            )
    else:
        with _in_file(p):
            if data.get("dataflows") is None:
                raise SpecError(
                    "dataflows is missing and no mapping file was given; codesign derives the "
                    "array's dataflow from the spatial mapping (pass the ZigZag mapping YAML)"
                )
            links = dict(_DEFAULT_LINKS)
            spatial = _spatial(data["dataflows"], "dataflows", array)
            dataflow, rows, cols = _choose_dataflow(spatial, array, "dataflows", found)
            found.append(
                f"no mapping file: memory operands linked as ZigZag's default {links}, "
                f"dataflow {dataflow.value!r} from dataflows ({_describe(spatial)})"
            )
    with _in_file(p):
        compute = ComputeArray(
            rows=array[rows] if rows else 1,
            cols=array[cols] if cols else 1,
            input_bits=unit["input_bits"],
            weight_bits=unit["weight_bits"],
            mac_energy_pj=unit["energy"],
            mac_area_um2=unit["area"],
            dataflow=dataflow,
            systolic=False,
        )
        role = {mem: _ROLE_OF_OPERAND[layer_op] for layer_op, mem in links.items()}
        levels = _memories(data["memories"], array, role, found)
        arch = Architecture(name=name, compute=compute, levels=levels)
    found.append(
        "not systolic (ZigZag models no fill/drain); clock 1000 MHz (ZigZag has none); areas "
        "are the file's numbers in its own unit, labelled um^2"
    )
    _report(p, found, notes)
    return arch


def _operational_array(value: Any, notes: list[str]) -> tuple[dict[str, int], dict]:
    oa = _fields(value, "operational_array", "operational_array", _ARRAY_REQUIRED, _ARRAY_OPTIONAL)
    if any(oa.get(k) not in (None, False, 0) for k in _IMC):
        raise SpecError(
            "operational_array: in-memory computing (is_imc, imc_type, adc_resolution, "
            "bit_serial_precision) is not supported; codesign models MAC arrays"
        )
    dims = _list(oa["dimensions"], "operational_array.dimensions")
    sizes = _list(oa["sizes"], "operational_array.sizes")
    if len(dims) != len(sizes):
        raise SpecError(
            f"operational_array: dimensions {dims} and sizes {sizes} must have the same length"
        )
    array: dict[str, int] = {}
    for j, (d, n) in enumerate(zip(dims, sizes, strict=True)):
        if not isinstance(d, str) or not re.fullmatch(r"D\d", d) or d in array:
            raise SpecError(
                f"operational_array.dimensions[{j}] must be a new name D1, D2, ..., not {d!r}"
            )
        array[d] = _int(n, f"operational_array.sizes[{j}]")
    if sum(n > 1 for n in array.values()) > 2:
        raise SpecError(
            f"operational_array: codesign models a 2-D PE array (rows x cols); dimensions "
            f"{dims} have sizes {sizes} (at most two may exceed 1)"
        )
    unit = {
        "energy": _num(oa["unit_energy"], "operational_array.unit_energy"),
        "area": _num(oa["unit_area"], "operational_array.unit_area"),
    }
    precision = oa.get("input_precision")
    if precision is None:
        unit["input_bits"] = unit["weight_bits"] = 8
        notes.append(
            "operational_array gives no input_precision: the multipliers take 8-bit inputs "
            "and weights (layers with wider operands do not fit)"
        )
    else:
        precision = _list(precision, "operational_array.input_precision")
        if len(precision) != 2:
            raise SpecError(
                f"operational_array.input_precision must be [input bits, weight bits], "
                f"not {precision!r}"
            )
        unit["input_bits"] = _int(precision[0], "operational_array.input_precision[0]")
        unit["weight_bits"] = _int(precision[1], "operational_array.input_precision[1]")
    return array, unit


def _memories(
    value: Any, array: dict[str, int], role: dict[str, TensorRole], notes: list[str]
) -> tuple[MemoryLevel, ...]:
    if not isinstance(value, dict) or not value:
        raise SpecError(f"memories must be a non-empty mapping of memories, not {value!r}")
    pes = math.prod(array.values())
    built = []  # (level, operands, per PE, copies)
    for name, raw in value.items():
        built.append(_memory(_str(name, "memories (a name)"), raw, array, pes, role, notes))
    order = [b for b in built if b[2]] + [b for b in built if not b[2]]
    if order != built:
        for op in _MEMORY_OPERANDS:
            chain = [b[0].name for b in built if op in b[1]]
            if chain != [b[0].name for b in order if op in b[1]]:
                raise SpecError(
                    f"memories: operand {op}'s hierarchy {chain} puts a shared memory below a "
                    f"per-PE one; codesign needs the per-PE levels innermost"
                )
        notes.append(
            f"memories reordered per-PE first: {[b[0].name for b in order]} (each operand's "
            f"hierarchy is unchanged)"
        )
    top, top_ops, _, top_copies = order[-1]
    top_name = top.name
    if set(top_ops) != set(_MEMORY_OPERANDS):
        raise SpecError(
            f"memories.{top_name}.operands: the outermost memory (last in the file) must serve "
            f"{list(_MEMORY_OPERANDS)}, not {top_ops}"
        )
    if top_copies != 1:
        raise SpecError(
            f"memories.{top_name}.served_dimensions: the outermost memory must serve the whole "
            f"array {list(array)}"
        )
    return tuple(b[0] for b in order)


def _memory(
    name: str,
    raw: Any,
    array: dict[str, int],
    pes: int,
    role: dict[str, TensorRole],
    notes: list[str],
) -> tuple[MemoryLevel, list[str], bool, int]:
    """One memory as a level; also its memory operands, whether it is per PE and how many
    copies ZigZag makes of it (the product of the array dimensions it does not serve)."""
    w = f"memories.{name}"
    mem = _fields(raw, w, "memory", _MEMORY_REQUIRED, _MEMORY_OPTIONAL)
    if mem.get("auto_cost_extraction", False) is not False:
        raise SpecError(
            f"{w}.auto_cost_extraction: CACTI is not available here; give r_cost, w_cost and "
            f"area and set it false"
        )
    _str(mem.get("mem_type", "sram"), f"{w}.mem_type")  # CACTI's memory kind: unused here
    size = _int(mem["size"], f"{w}.size")
    r_cost, w_cost = _num(mem["r_cost"], f"{w}.r_cost"), _num(mem["w_cost"], f"{w}.w_cost")
    area = _num(mem["area"], f"{w}.area")
    latency = _int(mem["latency"], f"{w}.latency", minimum=0)
    if latency != 1:
        notes.append(f"memory {name!r}: latency {latency} cycles is not modelled by codesign")
    double_buffering = mem.get("force_double_buffering", False)
    if not isinstance(double_buffering, bool):
        raise SpecError(
            f"{w}.force_double_buffering must be true or false, not {double_buffering!r}"
        )
    if double_buffering:
        notes.append(
            f"memory {name!r}: force_double_buffering: codesign assumes double buffering "
            f"everywhere without charging capacity for it"
        )
    operands = _list(mem["operands"], f"{w}.operands")
    if not operands:
        raise SpecError(f"{w}.operands must name at least one of {list(_MEMORY_OPERANDS)}")
    for j, op in enumerate(operands):
        if op not in _MEMORY_OPERANDS:
            raise SpecError(
                f"{w}.operands[{j}] must be one of {list(_MEMORY_OPERANDS)}, not {op!r}"
            )
        if operands.count(op) > 1:
            raise SpecError(f"{w}.operands lists {op} twice")
    served = _list(mem["served_dimensions"], f"{w}.served_dimensions")
    for j, d in enumerate(served):
        if d not in array:
            raise SpecError(
                f"{w}.served_dimensions[{j}] must be one of the array's dimensions "
                f"{list(array)}, not {d!r}"
            )
    copies = math.prod(n for d, n in array.items() if d not in served)
    word, read_bw, write_bw, r_max, w_max = _ports(w, name, mem["ports"], operands, notes)
    per_pe = copies == pes and pes > 1
    scale = 1 if per_pe else copies
    if copies not in (1, pes):
        notes.append(
            f"memory {name!r} serves {sorted(served)} only: {copies} instances of {size} bits; "
            f"codesign has shared or per-PE levels, so it is one shared level with {copies} x "
            f"the size, bandwidth and area (energy per word unchanged)"
        )
    level = MemoryLevel(
        name=name,
        size_bits=size * scale,
        instances=pes if per_pe else 1,
        word_bits=word,
        read_bits_per_cycle=read_bw * scale,
        write_bits_per_cycle=write_bw * scale,
        read_energy_pj=r_cost * word / r_max,
        write_energy_pj=w_cost * word / w_max,
        holds=frozenset(role[op] for op in operands),
        area_um2=area * scale,
    )
    return level, operands, per_pe, copies


def _ports(
    w: str, name: str, value: Any, operands: list[str], notes: list[str]
) -> tuple[int, int, int, int, int]:
    """Word (``bandwidth_min``), total read and write bandwidths and the ``bandwidth_max`` of
    the read and of the write accesses of a memory's ports."""
    ports = _list(value, f"{w}.ports")
    names: set[str] = set()
    words: set[int] = set()
    reads: list[tuple[str, int]] = []
    writes: list[tuple[str, int]] = []
    for j, raw in enumerate(ports):
        pw = f"{w}.ports[{j}]"
        port = _fields(raw, pw, "port", _PORT_REQUIRED)
        pname = _str(port["name"], f"{pw}.name")
        if pname in names:
            raise SpecError(f"{pw}.name {pname!r} is used twice")
        names.add(pname)
        if port["type"] not in _PORT_TYPES:
            raise SpecError(f"{pw}.type must be one of {list(_PORT_TYPES)}, not {port['type']!r}")
        bw_min = _int(port["bandwidth_min"], f"{pw}.bandwidth_min")
        bw_max = _int(port["bandwidth_max"], f"{pw}.bandwidth_max")
        if bw_min > bw_max:
            raise SpecError(f"{pw}: bandwidth_min {bw_min} exceeds bandwidth_max {bw_max}")
        directions = set()
        for k, text in enumerate(_list(port["allocation"], f"{pw}.allocation")):
            m = re.fullmatch(r"\s*(\w+)\s*,\s*(\w+)\s*", text) if isinstance(text, str) else None
            if not m or m.group(2) not in _READS + _WRITES:
                raise SpecError(
                    f"{pw}.allocation[{k}] must look like 'I1, tl' (direction fh, tl, fl or "
                    f"th), not {text!r}"
                )
            if m.group(1) not in operands:
                raise SpecError(
                    f"{pw}.allocation[{k}]: {m.group(1)} is not one of the memory's operands "
                    f"{operands}"
                )
            d = m.group(2)
            wrong = "write" if d in _READS else "read"
            if port["type"] == wrong:
                raise SpecError(f"{pw}.allocation[{k}]: a {port['type']} port cannot serve {d}")
            directions.add(d)
        if not directions:
            continue  # ZigZag drops ports without an allocation
        words.add(bw_min)
        if directions & set(_READS):
            reads.append((pname, bw_max))
        if directions & set(_WRITES):
            writes.append((pname, bw_max))
        if directions & set(_READS) and directions & set(_WRITES):
            notes.append(
                f"memory {name!r}: port {pname} ({port['type']}, {bw_max} b/cycle) serves reads "
                f"and writes; it counts towards both codesign bandwidths"
            )
    if len(words) != 1:
        raise SpecError(
            f"{w}.ports: codesign has one word width per level; the allocated ports have "
            f"bandwidth_min {sorted(words) or 'none'}"
        )
    for kind, group in (("read", reads), ("write", writes)):
        if not group:
            raise SpecError(f"{w}.ports: no port is allocated a {kind} direction")
        if len({bw for _, bw in group}) > 1:
            raise SpecError(
                f"{w}.ports: the {kind} ports have different bandwidth_max {group}; codesign "
                f"has one energy per {kind} word"
            )
    if len(reads) > 1 or len(writes) > 1:
        notes.append(
            f"memory {name!r}: ports pooled into one read bandwidth "
            f"({' + '.join(str(b) for _, b in reads)} b/cycle) and one write bandwidth "
            f"({' + '.join(str(b) for _, b in writes)} b/cycle); ZigZag dedicates each port "
            f"to its allocated operand directions"
        )
    return (
        words.pop(),
        sum(b for _, b in reads),
        sum(b for _, b in writes),
        reads[0][1],
        writes[0][1],
    )
