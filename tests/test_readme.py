"""Every command block of README.md runs (from the repository root, in order).

``sh`` blocks are run line by line with the ``codesign`` of this environment; ``python`` blocks
are executed in a fresh interpreter. Outputs go to ``build/readme/`` (the project's own scratch
folder, replaced by each run).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README, flags=re.M | re.S)


def _commands() -> list[str]:
    lines = []
    for block in _blocks("sh"):
        lines += [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    return lines


def test_readme_has_command_blocks():
    commands = _commands()
    for sub in ("analyze", "map", "quant", "explore", "generate", "verify", "synth"):
        assert any(c.startswith(f"codesign {sub} ") for c in commands), sub
    assert _blocks("python")


@pytest.mark.rtl
@pytest.mark.synth
def test_readme_command_blocks_run():
    scratch = ROOT / "build" / "readme"
    shutil.rmtree(scratch, ignore_errors=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in _commands():
        argv = shlex.split(command)
        assert argv[0] == "codesign", command
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_readme_python_blocks_run(index):
    code = _blocks("python")[index]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
