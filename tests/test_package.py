"""Foundation: layering, public API, CLI entry point."""

import importlib
import os
import pkgutil
import subprocess
import sys

import pytest

import codesign
import codesign.cli


def _public_modules():
    """Every public module: ``codesign`` and its packages, with ``codesign.hw`` and
    ``codesign.sim`` (installed from hw/ and sim/, so walked on their own paths)."""
    import codesign.hw
    import codesign.sim

    names = ["codesign"]
    for pkg in (codesign, codesign.hw, codesign.sim):
        if pkg is not codesign:
            names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}."):
            if info.name.rsplit(".", 1)[-1].startswith("_") or info.name in names:
                continue
            names.append(info.name)
    return names


def test_import_codesign_does_not_import_amaranth_or_cocotb():
    code = (
        "import sys, codesign, codesign.workload, codesign.cli\n"
        "codesign.cli.build_parser()\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "bad = sorted(top & {'amaranth', 'cocotb', 'cocotb_tools'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("module_name", _public_modules())
def test_every_name_in_all_resolves(module_name):
    """The one test of every module's ``__all__``: it exists and each name resolves."""
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ lists {name!r} which does not resolve"


def test_hw_and_sim_install_under_codesign_not_top_level(tmp_path):
    code = (
        "import importlib.util as u\n"
        "print([u.find_spec(m) is not None for m in ('codesign.hw', 'codesign.sim', 'hw', 'sim')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[True, True, False, False]"


def test_cli_help_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "codesign.cli", "--help"], capture_output=True, text=True, check=True
    )
    for name in codesign.cli.COMMANDS:
        assert name in out.stdout


def test_cli_output_into_a_closed_pipe_is_not_an_error():
    # `codesign map ... | head -1`: the reader leaves early; no traceback, exit status 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "codesign.cli", "map", "--arch", "ws", "--layer",
         "gemm:M=8,N=8,K=8", "--samples", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
    )  # fmt: skip
    proc.stdout.close()  # nobody reads
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err
