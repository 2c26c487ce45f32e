"""Mappings: per-level tile factors and loop orders, spatial unrolling, bypass; dataflow
templates as data; batches of mappings as numpy arrays."""

from codesign.mapping.dataflow import ROLE_ORDER, TEMPLATES, Dataflow, DataflowTemplate, dim_roles
from codesign.mapping.mapping import (
    LevelMapping,
    Mapping,
    MappingBatch,
    load_mapping,
    mapping_from_dict,
    mapping_to_dict,
    save_mapping,
    validate_batch,
)

__all__ = [
    "Dataflow",
    "DataflowTemplate",
    "TEMPLATES",
    "ROLE_ORDER",
    "dim_roles",
    "LevelMapping",
    "Mapping",
    "MappingBatch",
    "validate_batch",
    "mapping_to_dict",
    "mapping_from_dict",
    "load_mapping",
    "save_mapping",
]
