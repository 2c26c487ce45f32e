"""The bad inputs of the hostile-input suite (``tests/test_hostile*.py``): files written once per
session into a folder whose every file is hashed before and after each case."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from codesign.validation import MAX_SPEC_FILE_BYTES

MODELS = '''\
import sys

import torch
from torch import nn


def raises():
    raise RuntimeError("boom")


def exits():
    sys.exit(3)


def recurses():
    return recurses()


def needs_args(width):
    return nn.Linear(width, width)


def not_a_module():
    return 42


def bad_inputs():
    return nn.Linear(4, 4)


def bad_inputs_inputs():
    return 7


def ok():
    return nn.Linear(4, 4), (torch.randn(1, 4),)


def no_mac():
    return nn.ReLU(), (torch.randn(1, 4),)
'''

SPACE = "version: 1\naxes:\n  pe_rows: [4, 8]\n  pe_cols: [4, 8]\n"

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
) + "name: *i\n"

_FILES: dict[str, str | bytes] = {
    "m.py": MODELS,
    "exit_on_import.py": "import sys\nsys.exit(1)\n",
    "raise_on_import.py": "raise ValueError('no')\n",
    "syntax.py": "def f(:\n",
    "afile.txt": "a user's file\n",
    "space.yaml": SPACE,
    "space_axis.yaml": "version: 1\naxes:\n  pe_rowz: [4]\n",
    "space_version.yaml": "version: 7\naxes:\n  pe_rows: [4]\n",
    "nonutf8.yaml": b"name: \xff\xfe\x00bad\n",
    "bomb.yaml": BOMB,
    "unhashable.yaml": "? [a, b]\n: 1\n",
    "dup.yaml": "version: 1\nname: a\nname: b\n",
    "list.yaml": "- 1\n- 2\n",
    "badname.yaml": "version: 1\nname: [1, 2]\ncompute: {}\nlevels: []\n",
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "badjson.json": "{'single': quotes}",
    "list.json": "[1, 2]",
    "m_factor.yaml": f"version: 1\nrows: {{K: {2**70}}}\n",
    "m_zero.yaml": "version: 1\nrows: {K: 0}\n",
    "policy_bits.yaml": "default: {weight_bits: 100000}\n",
    "garbage.db": b"garbage" * 300,
}


def _manifests(root: Path) -> None:
    """Design folders: a real 2x2 array manifest and broken variants of it."""
    from codesign.cli import main

    assert main(["generate", "--rows", "2", "--cols", "2", "-o", str(root / "arr")]) == 0
    real = json.loads((root / "arr" / "manifest.json").read_text())
    (root / "outside.v").write_text("module t; endmodule\n")
    variants = {
        "man_outside": {**real, "verilog": "../outside.v"},
        "man_abs": {**real, "verilog": str(root / "outside.v")},
        "man_missing_v": {**real, "verilog": "nope.v"},
        "man_int_v": {**real, "verilog": 5},
        "man_ports": {**real, "ports": 7},
        "man_version": {**real, "manifest_version": 99},
        "man_list": [1, 2],
    }
    verilog = (root / "arr" / real["verilog"]).read_bytes()
    for name, data in variants.items():
        (root / name).mkdir()
        (root / name / "manifest.json").write_text(json.dumps(data))
        (root / name / real["verilog"]).write_bytes(verilog)
    for name, raw in (("man_badjson", b"{nope"), ("man_nonutf8", b"\xff\xfe")):
        (root / name).mkdir()
        (root / name / "manifest.json").write_bytes(raw)
    (root / "man_big").mkdir()
    (root / "man_big" / "manifest.json").write_text(" " * (MAX_SPEC_FILE_BYTES + 1))
    (root / "nomanifest").mkdir()


def _stores(root: Path) -> None:
    """A store whose study row was deleted (its points stay)."""
    from codesign.explore.store import Record, SQLiteStore

    store = SQLiteStore(root / "nostudy.db")
    store.bind({"model": "x"})
    store.put(Record(params={"pe_rows": 4, "pe_cols": 4}, metrics={"latency_s": 1.0}))
    store.close()
    with sqlite3.connect(root / "nostudy.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'study'")


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    for name, content in _FILES.items():
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    (root / "big.yaml").write_text("# padding\n" * (MAX_SPEC_FILE_BYTES // 10 + 1))
    _manifests(root)
    _stores(root)
    return root


def snapshot(root: Path) -> dict[str, tuple]:
    """``{relative path: (size, mtime, mode, sha256)}`` of every file and folder below ``root``
    (the hash of files up to 1 MiB; a larger file that is written changes its mtime)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.stat()
            small = p.is_file() and st.st_size <= 2**20
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if small else ""
            key = str(p.relative_to(root)) + ("/" if p.is_dir() else "")
            out[key] = (st.st_size if p.is_file() else 0, st.st_mtime_ns, st.st_mode, digest)
    return out


CASE_SECONDS = 20.0
"""Time bound of one case (the slowest trace a small model; most fail before any work)."""


def check_refused(argv: list[str], field: str, root: Path, scratch: Path, capsys) -> None:
    """Run ``codesign ARGV`` in process ({d}: the fixture folder, {s}: a scratch folder):
    exit status 2, one ``error:`` line naming ``field``, within `CASE_SECONDS`, no fixture file
    changed and nothing written to the scratch folder."""
    import time

    from codesign.cli import main

    argv = [a.format(d=root, s=scratch) for a in argv]
    before = snapshot(root)
    capsys.readouterr()
    t0 = time.perf_counter()
    status = main(argv)
    seconds = time.perf_counter() - t0
    captured = capsys.readouterr()
    err = captured.err
    assert status == 2, (status, err[-2000:])
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert field in lines[0], lines[0]
    assert "Traceback" not in err + captured.out
    assert seconds < CASE_SECONDS, f"{seconds:.1f} s"
    assert snapshot(root) == before, "a fixture file changed"
    assert not any(scratch.iterdir()), f"wrote {sorted(p.name for p in scratch.iterdir())}"
