"""ZigZag specs in: a user switching from ZigZag keeps their workload, accelerator, mapping.

`load_zigzag_workload(path)` reads a ZigZag 3.x YAML workload (a list of layers) and returns one
codesign `LoopNest` per multiply-accumulate layer; `load_zigzag_accelerator(path, mapping)` reads
a ZigZag 3.x accelerator YAML and, optionally, its mapping YAML, and returns an `Architecture`.
ONNX workloads are not read. docs/zigzag.md has the walk-through and measured figures.

==============================  ==================================================================
ZigZag                          codesign
==============================  ==================================================================
layer ``equation``,             ``LoopNest``: each operand's indices become ``TensorSpec`` axes;
``dimension_relations``         a relation ``ix=2*ox+1*fx`` becomes the axis ``2*OX + 1*FX``
                                (exact projection). ``O`` is the outputs, ``W`` the weights (a
                                parameter when ``operand_source.W`` is the layer's own id), ``I``
                                the inputs
``loop_dims``, ``loop_sizes``   dims and sizes. A ``Conv``/``Conv_downsample`` layer of the form
                                ``O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]`` is built
                                with `conv2d` (dims ``N K C P Q R S``, op ``conv2d``, the same
                                nest codesign builds for that convolution; attribute
                                ``zigzag_dims`` maps ZigZag's dim names to codesign's); any other
                                MAC layer with `einsum`, keeping ZigZag's dim names (op
                                ``einsum``)
``name`` / ``id``               layer name (``name``, else ``Layer{id}`` as ZigZag names it);
                                attribute ``zigzag_id``
``operand_precision``           ``I`` -> input bits, ``W`` -> weight bits, ``O`` -> output bits
                                (see the approximations)
``padding``                     ``conv2d`` padding (symmetric); the projection is unchanged
``operational_array``           ``ComputeArray``: the two array dimensions -> rows and cols
                                (which is which follows the dataflow), ``unit_energy`` ->
                                ``mac_energy_pj``, ``unit_area`` -> ``mac_area_um2``,
                                ``input_precision`` -> ``input_bits``/``weight_bits`` (default 8)
memory (in file order,          ``MemoryLevel`` (innermost first): ``size`` -> ``size_bits``,
lowest first)                   ``served_dimensions`` -> ``instances`` (none served: one per PE,
                                ``rows*cols``; all served: 1, shared), ``operands`` -> ``holds``
                                through the mapping's ``memory_operand_links`` (default ``I: I1,
                                W: I2, O: O``), ``area`` -> ``area_um2`` (per instance)
memory ports                    ``word_bits`` = the ports' ``bandwidth_min``; read (write)
                                bandwidth = the sum of ``bandwidth_max`` over the ports with a
                                read (write) allocation; ``read_energy_pj`` = ``r_cost *
                                bandwidth_min / bandwidth_max`` (ZigZag charges ``r_cost`` per
                                ``bandwidth_max`` access and pro rata in ``bandwidth_min`` steps:
                                the same energy per word); likewise ``w_cost``
mapping ``spatial_mapping``     ``ComputeArray.dataflow``: the first of ``ws``, ``os``, ``is``,
(entry ``default``)             ``rs`` whose row and column templates admit the dims unrolled on
                                the two array dimensions (``K`` on D1 and ``C`` on D2, as in
                                tpu_like: ``ws``, reduction on the rows = D2, ``K`` on the
                                columns = D1); none fits: ``any``
==============================  ==================================================================

Approximations, each reported as a note when the file uses it (``notes`` list and the
``codesign.interop.zigzag`` logger at INFO level):

* Non-MAC layers (``Pooling``, ``Add``, ``Max``, ...) are skipped: codesign costs such
  operators on a vector unit, not the PE array.
* Outputs have one width in codesign: ``operand_precision.O`` (ZigZag's partial-sum width) at
  every level, where ZigZag writes final outputs at ``O_final``.
* Padding and ``pr_loop_sizes`` shrink ZigZag's stored input; codesign's traffic and
  occupancy count every position the projection spans (the zero padding is fetched like data).
  Asymmetric padding is folded into the input (``conv2d`` padding 0).
* A memory serving a subset of the array dimensions (one per column, say) becomes one shared
  level with the total size, bandwidth and area of its instances (energy per word unchanged).
* Several ports are pooled into one read and one write bandwidth; a ``read_write`` port counts
  towards both.
* The array is not systolic (ZigZag models no fill/drain); the clock is codesign's default
  1000 MHz (ZigZag has none); areas keep the file's numbers and unit, labelled um^2.
* The mapping file fixes ZigZag's spatial unrolling factors (and, optionally, loop orders);
  codesign's mapper searches both within the dataflow. Layer-specific entries whose unrolling
  the dataflow does not admit are noted; ``temporal_ordering`` and ``spatial_mapping_hint``
  are not imposed.
* Duplicate YAML keys: the last one wins (PyYAML, which ZigZag uses, does the same; tpu_like's
  ``sram_2MB`` lists ``ports`` twice).
* Each ZigZag operand has its own chain of memories; codesign has one chain, in file order with
  the per-PE levels first (a reordering that would change an operand's chain is an error).

Strict otherwise: unknown or missing keys, operands other than ``O``/``I``/``W``, a malformed
equation or relation, in-memory computing, CACTI cost extraction, arrays with more than two
dimensions larger than 1, and an outermost memory that does not serve every operand are
`SpecError`s naming the file and the field.

The workload reader is in ``_zigzag_workload``, the mapping reader in ``_zigzag_mapping``, the
accelerator reader in ``_zigzag_accelerator``, the YAML and field checks they share in
``_zigzag_fields``.
"""

from __future__ import annotations

from codesign.interop._zigzag_accelerator import load_zigzag_accelerator
from codesign.interop._zigzag_workload import (
    MAC_OPERATORS,
    SKIPPED_OPERATORS,
    load_zigzag_workload,
)

__all__ = [
    "MAC_OPERATORS",
    "SKIPPED_OPERATORS",
    "load_zigzag_workload",
    "load_zigzag_accelerator",
]
