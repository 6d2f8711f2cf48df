"""``hwsim report``: one self-contained HTML page, checked by parsing it."""
from html.parser import HTMLParser
from pathlib import Path

import pytest

import hwsim
from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[1]


class _Page(HTMLParser):
    """Collects headings, tables (rows of cell texts), inline SVGs and outside references."""

    def __init__(self):
        super().__init__()
        self.h2, self.tables, self.svgs, self.refs, self.tags = [], [], 0, [], []
        self._text = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        for k in ("src", "href"):
            if k in a and not a[k].startswith("#"):
                self.refs.append(a[k])
        if tag == "svg":
            self.svgs += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th", "h2"):
            self._text = ""

    def handle_data(self, data):
        if self._text is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._text.strip())
            self._text = None
        elif tag == "h2":
            self.h2.append(self._text.strip())
            self._text = None


def test_report_page_is_one_parsable_file(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.html"
    pf, tr = ROOT / "platforms/pulp_cluster.yaml", ROOT / "traces/ds_cnn.json"
    assert main(["report", str(pf), str(tr), "-o", str(out), "-j", "0", "--no-progress"]) == 0
    assert str(out) in capsys.readouterr().out
    page = _Page()
    page.feed(out.read_text())
    assert page.h2[:3] == ["Summary", "Where the time went (bottleneck)", "Layers"]
    assert "Plots" in page.h2 and any(h.startswith("What-if") for h in page.h2)
    assert "script" not in page.tags and not page.refs, "the page must need no other file"
    assert page.svgs == 3
    result = hwsim.simulate(hwsim.load_platform(pf), hwsim.load_trace(tr))
    causes, layers, ranking = page.tables
    assert [row[0] for row in layers[1:]] == [r.name for r in result.layers]
    assert layers[1][3] == f"{result.layers[0].cycles:,}"
    assert abs(sum(float(row[1]) for row in causes[1:]) - 100) < 0.5
    assert len(ranking) > 5 and ranking[1][2].endswith("x")
