"""Result stores: SQLite persistence, study binding, corrupt files, no overwrite."""

import sqlite3

import pytest

from codesign.errors import SpecError
from codesign.explore.store import MemoryStore, Record, ResultStore, SQLiteStore, open_store


def _rec(i, error=None):
    return Record(
        params={"pe_rows": i, "dataflow": "ws"},
        metrics={} if error else {"latency_s": 1.0 / i, "area_mm2": 0.1 * i},
        error=error,
        eval_s=0.01 * i,
    )


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_contract_put_get_records(tmp_path, kind):
    store = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "s.db")
    assert isinstance(store, ResultStore)
    store.bind({"strategy": "nsga2"})
    recs = [_rec(4), _rec(8), _rec(2, error="no valid mapping")]
    for r in recs:
        store.put(r)
    assert store.records() == recs
    assert store.get({"dataflow": "ws", "pe_rows": 8}) == recs[1]  # key order does not matter
    assert store.get({"pe_rows": 16, "dataflow": "ws"}) is None
    with pytest.raises(SpecError, match=r"^store: point .* is already stored"):
        store.put(_rec(4))
    store.bind({"strategy": "nsga2"})
    with pytest.raises(SpecError, match=r"^store.* different study"):
        store.bind({"strategy": "tpe"})
    store.close()


def test_sqlite_persists_across_reopen_and_keeps_study(tmp_path):
    p = tmp_path / "runs" / "s.db"
    s = SQLiteStore(p)
    s.bind({"seed": 1, "space": {"a": [1, 2]}})
    s.put(_rec(4))
    s.close()
    s = SQLiteStore(p)
    assert s.records() == [_rec(4)]
    assert s.study() == {"seed": 1, "space": {"a": [1, 2]}}
    with pytest.raises(
        SpecError, match=r"^store '.*s.db' holds a different study \(differs in \['seed'\]\)"
    ):
        s.bind({"seed": 2, "space": {"a": [1, 2]}})
    s.close()


def test_corrupt_file_is_a_clear_error_and_is_never_overwritten(tmp_path):
    p = tmp_path / "r.db"
    junk = b"this is not a database, it is a shopping list\n" * 100
    p.write_bytes(junk)
    with pytest.raises(
        SpecError,
        match=r"^store '.*r.db' is not a codesign result store \(file is not a database\)",
    ):
        SQLiteStore(p)
    with pytest.raises(SpecError, match=r"^store '.*r.db' is not a codesign result store"):
        open_store(p, resume=True)
    assert p.read_bytes() == junk


def test_foreign_sqlite_database_is_rejected_untouched(tmp_path):
    p = tmp_path / "other.db"
    db = sqlite3.connect(p)
    db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('kind', 'something-else')")
    db.commit()
    db.close()
    before = p.read_bytes()
    with pytest.raises(SpecError, match=r"^store '.*other.db' is not a codesign result store"):
        SQLiteStore(p)
    assert p.read_bytes() == before


def test_open_store_refuses_to_overwrite_and_requires_existing_for_resume(tmp_path):
    p = tmp_path / "s.db"
    with pytest.raises(SpecError, match=r"^--resume: store '.*s.db' does not exist"):
        open_store(p, resume=True)
    s = open_store(p, resume=False)
    s.put(_rec(4))
    s.close()
    with pytest.raises(SpecError, match=r"^store '.*s.db' already exists; pass --resume"):
        open_store(p, resume=False)
    s = open_store(p, resume=True)
    assert len(s) == 1
    s.close()
    assert isinstance(open_store(None, resume=False), MemoryStore)
