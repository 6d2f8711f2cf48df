"""Reports stay bit-identical across refactorings.

Each bundled platform x trace pair is simulated (with its timeline) and its report and timeline
are hashed; the hashes must equal those saved in ``tests/data/golden_reports.json``.  The saved
file is rewritten only by a deliberate model change (``python tools/golden_reports.py --write``),
named in its commit.  The big pairs (mesh platforms, ResNet-18/50, EfficientNet-B0) are marked ``slow``:
``python -m pytest -m slow`` or ``python tools/golden_reports.py`` checks them all.

A run without a timeline (no observer: the burst trains' plain path, what the CLI and the
benchmarks run) must give the same report: checked on a few pairs by default, on all under
``-m slow``.
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


#: pairs whose run without a timeline is checked in the default run: HyperRAM with a DMA
#: descriptor queue, open-page LPDDR4, AIMC streams with fusion, heterogeneous engines
PLAIN_DEFAULT = {"pulp_cluster.yaml:resnet8.json", "pulp_cluster_lpddr4.yaml:ds_cnn.json",
                 "pulp_imc_cluster.yaml:mobilenetv2.json", "diana_soc.yaml:ds_cnn.json"}


def _plain_cases():
    for p, t in golden_reports.pairs():
        k = golden_reports.key(p, t)
        marks = [] if k in PLAIN_DEFAULT else [pytest.mark.slow]
        yield pytest.param(p, t, id=k, marks=marks)


def test_the_default_pairs_without_a_timeline_exist():
    assert PLAIN_DEFAULT <= set(SAVED)


@pytest.mark.parametrize("platform_path,trace_path", list(_plain_cases()))
def test_report_without_a_timeline_is_the_same(platform_path, trace_path):
    k = golden_reports.key(platform_path, trace_path)
    sha = golden_reports.report_sha_without_timeline(platform_path, trace_path)
    assert sha is None or sha == SAVED[k]["report_sha256"]
