"""Reports stay bit-identical across refactorings.

Each bundled platform x trace pair is simulated (with its timeline) and its report and timeline
are hashed; the hashes must equal those saved in ``tests/data/golden_reports.json``.  The saved
file is rewritten only by a deliberate model change (``python tools/golden_reports.py --write``),
named in its commit.  The big pairs (mesh platforms, ResNet-18/50, EfficientNet-B0) are marked ``slow``:
``python -m pytest -m slow`` or ``python tools/golden_reports.py`` checks them all.
"""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import golden_reports  # noqa: E402

SAVED = json.loads(golden_reports.GOLDEN.read_text())
BIG = ("mesh", "resnet18", "resnet50", "efficientnet_b0", "garofalo2022", "bruschi2022")


def _cases():
    for p, t in golden_reports.pairs():
        k = golden_reports.key(p, t)
        marks = [pytest.mark.slow] if any(b in k for b in BIG) else []
        yield pytest.param(p, t, id=k, marks=marks)


def test_every_bundled_pair_has_a_fingerprint():
    assert {golden_reports.key(p, t) for p, t in golden_reports.pairs()} == set(SAVED)


@pytest.mark.parametrize("platform_path,trace_path", list(_cases()))
def test_report_is_bit_identical(platform_path, trace_path):
    k = golden_reports.key(platform_path, trace_path)
    assert golden_reports.fingerprint(platform_path, trace_path) == SAVED[k]
