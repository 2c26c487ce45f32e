"""Design-space exploration: the per-layer mapper, the joint design space, search strategies,
result stores, executors and the Pareto front.

Heavy optional packages (optuna, ray, matplotlib, rich) are imported only where used.
"""

from codesign.explore.buildable import ACCELERATOR_AXES, AcceleratorEvaluator, accelerator_config
from codesign.explore.design import (
    DEFAULT_PARAMS,
    AccuracyObjective,
    DesignEvaluator,
    DesignPoint,
    LayerDesign,
    build_architecture,
)
from codesign.explore.executor import (
    EXECUTORS,
    Executor,
    ProcessExecutor,
    RayExecutor,
    SerialExecutor,
    make_executor,
)
from codesign.explore.explorer import ExploreResult, Progress, explore, feasible_records
from codesign.explore.mapper import (
    MAPPER_OBJECTIVES,
    MAPPERS,
    ExhaustiveMapper,
    LocalSearchMapper,
    Mapper,
    MapperResult,
    RandomMapper,
    make_mapper,
    with_exhaustive_gap,
)
from codesign.explore.mapspace import Mapspace, build_mapspace
from codesign.explore.pareto import (
    OBJECTIVES,
    Objective,
    knee_index,
    objective_matrix,
    pareto_indices,
    parse_objectives,
    write_csv,
    write_json,
)
from codesign.explore.space import (
    AXIS_NAMES,
    Axis,
    Constraints,
    DesignSpace,
    load_space,
    parse_pruning,
)
from codesign.explore.store import MemoryStore, Record, ResultStore, SQLiteStore, open_store
from codesign.explore.strategy import (
    STRATEGIES,
    GridStrategy,
    OptunaStrategy,
    RandomStrategy,
    Strategy,
    Trial,
    make_strategy,
)

__all__ = [
    "AXIS_NAMES",
    "DEFAULT_PARAMS",
    "MAPPERS",
    "MAPPER_OBJECTIVES",
    "AccuracyObjective",
    "DesignEvaluator",
    "AcceleratorEvaluator",
    "ACCELERATOR_AXES",
    "accelerator_config",
    "DesignPoint",
    "ExhaustiveMapper",
    "LayerDesign",
    "LocalSearchMapper",
    "Mapper",
    "MapperResult",
    "Mapspace",
    "RandomMapper",
    "build_architecture",
    "build_mapspace",
    "make_mapper",
    "EXECUTORS",
    "OBJECTIVES",
    "STRATEGIES",
    "Axis",
    "Constraints",
    "DesignSpace",
    "ExploreResult",
    "Executor",
    "GridStrategy",
    "MemoryStore",
    "Objective",
    "OptunaStrategy",
    "ProcessExecutor",
    "Progress",
    "RandomStrategy",
    "RayExecutor",
    "Record",
    "ResultStore",
    "SQLiteStore",
    "SerialExecutor",
    "Strategy",
    "Trial",
    "explore",
    "feasible_records",
    "knee_index",
    "load_space",
    "make_executor",
    "make_strategy",
    "objective_matrix",
    "open_store",
    "pareto_indices",
    "parse_objectives",
    "parse_pruning",
    "write_csv",
    "with_exhaustive_gap",
    "write_json",
]
