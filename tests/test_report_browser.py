"""report.html in a real headless browser (Debian's chromium): the page loads without a script
error or console error, the interactive front is drawn with one marker per Pareto point, a
point's breakdown is selected, and a screenshot is taken. Skipped without chromium."""

import json
import shutil
import subprocess
import time
from html.parser import HTMLParser

import pytest

from codesign.cli import main
from tests.test_report import study_dir  # noqa: F401  (the module-scoped study fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]


class _FrontPoints(HTMLParser):
    """Markers (``path.point``) per scatter trace inside ``div#front``, and the text of
    ``#errors`` and ``#selected``."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "col", "area", "base", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.front_depth: int | None = None
        self.traces: list[int] = []
        self.text_of: str | None = None
        self.texts: dict[str, str] = {"errors": "", "selected": ""}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "div" and a.get("id") == "front":
            self.front_depth = len(self.stack)
        inside = self.front_depth is not None
        if inside and tag == "g" and "trace" in cls and "scatter" in cls:
            self.traces.append(0)
        if inside and tag == "path" and "point" in cls and self.traces:
            self.traces[-1] += 1
        self.text_of = a.get("id") if a.get("id") in self.texts else None
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if self.stack:
            self.stack.pop()
        if self.front_depth is not None and len(self.stack) == self.front_depth:
            self.front_depth = None
        self.text_of = None

    def handle_data(self, data):
        if self.text_of:
            self.texts[self.text_of] += data


def test_report_loads_in_chromium_with_an_interactive_front(study_dir, tmp_path):  # noqa: F811
    page = tmp_path / "report.html"
    assert main(["report", str(study_dir), "-o", str(page)]) == 0
    front = json.loads((study_dir / "pareto.json").read_text())
    t = time.perf_counter()
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, "--enable-logging=stderr", "--v=0", "--window-size=1280,2000",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    console = [ln for ln in done.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not [ln for ln in console if "Uncaught" in ln or ":ERROR:CONSOLE" in ln], console
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, "--dump-dom", page.as_uri() + "#point=1"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    ).stdout  # fmt: skip
    seconds = time.perf_counter() - t
    parsed = _FrontPoints()
    parsed.feed(dom)
    assert parsed.texts["errors"] == ""
    # evaluated (every stored point), the front, the knee: drawn as SVG markers
    assert parsed.traces == [16, len(front), 1]
    assert parsed.texts["selected"] == "1"  # the #point=1 selection ran the click handler's path
    assert "Pareto point 1" in dom and "Energy per layer, point 1" in dom
    assert seconds < 60
