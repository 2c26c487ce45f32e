"""Session-wide test settings: no test writes into the user's cache."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _codesign_cache_dir(tmp_path_factory):
    """One cache folder shared by the xdist workers of this run (trained weights are written
    atomically, so concurrent workers are safe)."""
    path = tmp_path_factory.getbasetemp().parent / "codesign-cache"
    path.mkdir(exist_ok=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("CODESIGN_CACHE_DIR", str(path))
    yield path
    mp.undo()


# The quick tier (`make check`, `pytest -m quick`): the unit tests of the cost model, mapping,
# architecture, explorer, accelerator configuration, quantization policy and spec readers; no
# simulator, no Yosys, no browser, no torchvision/transformers model, no subprocess CLI runs.
# A module listed here keeps its rtl/synth/verilator/browser/slow tests out of the tier.
QUICK_MODULES = frozenset(
    {
        "test_accelerator",
        "test_activity",
        "test_arch",
        "test_buffers",
        "test_buildable",
        "test_cost_command",
        "test_cost_model",
        "test_explore_design",
        "test_explore_report",
        "test_fpga_area",
        "test_fpga_fmax",
        "test_hw_config",
        "test_layering",
        "test_loopnest",
        "test_mapping",
        "test_quant_fakequant",
        "test_quant_policy",
        "test_space",
        "test_sparse_accelerator",
        "test_store",
        "test_strategy",
        "test_timeloop",
        "test_vector",
        "test_workload",
        "test_zero_gate",
        "test_zigzag_import",
    }
)
_NOT_QUICK = ("rtl", "synth", "verilator", "browser", "slow")
# whole explorer runs on a model (seconds each): the full suite has them
_NOT_QUICK_TESTS = frozenset(
    {
        "test_accuracy_objective_policy_and_ordering",
        "test_explore_reports_the_non_mac_layers_of_a_transformer",
        "test_explore_cli_labels_buildable_points",
        "test_hw_does_not_import_the_explorer",
        "test_transformer_peak_holds_the_largest_layer_and_its_live_residual",
    }
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if item.module else ""
        if (
            module in QUICK_MODULES
            and item.originalname not in _NOT_QUICK_TESTS
            and not any(item.get_closest_marker(m) for m in _NOT_QUICK)
        ):
            item.add_marker(pytest.mark.quick)
