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
