"""The Perfetto / Chrome Trace Event file: valid format, tracks, and agreement with the report."""
import json
from pathlib import Path

import pytest

import hwsim
from hwsim.base.units import ps_to_us_str

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("tl") / "timeline.json"
    p = hwsim.load_platform(ROOT / "platforms/pulp_imc_cluster.yaml")
    t = hwsim.load_trace(ROOT / "traces/mobilenetv2_bottleneck.json")
    r = hwsim.simulate(p, t, timeline=path)
    return r, json.loads(path.read_text())


def test_format_is_valid_chrome_trace(run):
    _, doc = run
    assert doc["displayTimeUnit"] == "ns"
    events = doc["traceEvents"]
    assert events
    for e in events:
        assert e["ph"] in {"X", "C", "M"}
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
        if e["ph"] == "X":
            assert e["dur"] >= 0 and e["name"] and e["cat"]
        if e["ph"] == "C":
            assert all(isinstance(v, (int, float)) for v in e["args"].values())
    names = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    used = {(e["pid"], e["tid"]) for e in events if e["ph"] == "X"}
    assert used <= names, "every span track is named by a metadata event"


def test_one_track_per_component(run):
    _, doc = run
    threads = {e["args"]["name"] for e in doc["traceEvents"]
               if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"layers", "cluster", "ima", "cluster_dma"} <= threads
    counters = {e["name"] for e in doc["traceEvents"] if e["ph"] == "C"}
    assert {"l2.port", "l1.port", "l2->soc_xbar", "ima->l1"} <= counters


def test_layer_spans_agree_with_the_report(run):
    r, doc = run
    spans = {e["name"]: e for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] == "layer"}
    assert set(spans) == {rec.name for rec in r.layers}
    for rec in r.layers:
        e = spans[rec.name]
        assert e["ts"] == float(ps_to_us_str(rec.start_ps))
        assert e["dur"] == float(ps_to_us_str(rec.end_ps - rec.start_ps))
        assert e["args"]["cycles"] == rec.cycles


def test_compute_spans_sum_to_compute_cycles(run):
    """Core-cluster spans of a core layer add up to its compute time."""
    r, doc = run
    ref = r.reference_clock
    for rec in r.layers:
        if rec.engine_kind != "cores":
            continue
        spans = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] == "compute"
                 and e["name"].startswith(rec.name + " ")]
        total_us = sum(e["dur"] for e in spans)
        assert ref.ps_to_cycles(round(total_us * 1e6)) == pytest.approx(rec.compute_cycles, abs=len(spans))


def test_exact_microsecond_rendering():
    assert ps_to_us_str(0) == "0"
    assert ps_to_us_str(1) == "0.000001"
    assert ps_to_us_str(2_500_000) == "2.5"
    assert ps_to_us_str(123_456_789_012) == "123456.789012"


def test_counter_numbers_are_written_as_json_writes_them():
    """Counters are formatted by hand for speed; the text must equal json.dumps's."""
    import numpy as np

    from hwsim.report.timeline import _number

    for v in (0, 7, 10**20, 2.5, 0.1 + 0.2, 1e-7, np.int64(3), np.float64(0.25)):
        expect = json.dumps(float(v) if isinstance(v, float) else int(v))
        assert _number(v) == expect
