"""The Perfetto / Chrome Trace Event file: valid format, tracks, counters, lanes, waits,
flows, units, and agreement with the report."""
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

import hwsim
from hwsim.base.units import ps_to_us_str
from hwsim.report.timeline import Timeline, natural_key

ROOT = Path(__file__).resolve().parents[1]
#: argument names that are not quantities (strings), and quantity suffixes that name a unit
TEXT_ARGS = {"route", "layer", "resource", "category", "waits_for"}
UNITS = ("_cycles", "_bytes", "_ops", "_jobs", "_index", "_requests", "GB_per_s")


def _simulate(tmp_path_factory, platform, trace, overrides=None, **kw):
    path = tmp_path_factory.mktemp("tl") / "timeline.json"
    p = hwsim.load_platform(ROOT / "platforms" / platform, overrides)
    t = hwsim.load_trace(ROOT / "traces" / trace)
    sim = hwsim.Simulation(p, t, timeline=Timeline(path, p, **kw))
    return sim.run(), json.loads(path.read_text()), sim


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r, doc, _ = _simulate(tmp_path_factory, "pulp_imc_cluster.yaml", "mobilenetv2_bottleneck.json")
    return r, doc


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """A 4 x 4 mesh running ResNet-8 pipelined: concurrent layers, clusters."""
    return _simulate(tmp_path_factory, "mesh_imc.yaml", "resnet8.json",
                     {"generate.mesh.width": 4, "generate.mesh.height": 4})


def _ps(us) -> int:
    from decimal import Decimal
    return int(Decimal(str(us)) * 10**6)


def test_format_is_valid_chrome_trace(run):
    _, doc = run
    events = doc["traceEvents"]
    assert events and doc["displayTimeUnit"] == "ns"
    assert doc["otherData"]["bandwidth_window_ns"] > 0
    for e in events:
        assert e["ph"] in {"X", "C", "M", "s", "f"}
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
        if e["ph"] == "X":
            assert e["dur"] >= 0 and e["name"] and e["cat"]
        if e["ph"] == "C":
            assert len(e["args"]) == 1 and all(isinstance(v, (int, float)) for v in e["args"].values())
    names = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    used = {(e["pid"], e["tid"]) for e in events if e["ph"] in "Xsf"}
    assert used <= names, "every span track is named by a metadata event"


def test_one_counter_per_link_or_port_not_per_hop(run):
    _, doc = run
    threads = {e["args"]["name"] for e in doc["traceEvents"]
               if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"layers", "cluster", "ima", "cluster_dma"} <= threads
    counters = defaultdict(list)
    for e in doc["traceEvents"]:
        if e["ph"] == "C":
            counters[e["name"]].append((e["ts"], *e["args"].values()))
    # l2 -> soc_xbar -> cluster_dma -> l1 always carries the same transfers: one counter
    assert "l2->soc_xbar->cluster_dma->l1 bandwidth" in counters
    assert not any(n.startswith(("soc_xbar->cluster_dma", "cluster_dma->l1 ")) for n in counters)
    assert {"l2.port bandwidth", "l1.port bandwidth", "ima->l1 bandwidth"} <= set(counters)
    series = [tuple(v) for n, v in counters.items() if n.endswith(" bandwidth")]
    assert len(series) == len(set(series)), "two bandwidth counters repeat each other"


def test_step_counters_merge_instants_and_drop_repeats(run):
    _, doc = run
    by_name = defaultdict(list)
    for e in doc["traceEvents"]:
        if e["ph"] == "C":
            by_name[e["name"]].append((e["ts"], next(iter(e["args"].values()))))
    assert any(n.endswith(" queue") for n in by_name)
    for name, samples in by_name.items():
        samples.sort()
        ts = [t for t, _ in samples]
        assert len(ts) == len(set(ts)), f"{name}: two samples at one instant"
        values = [v for _, v in samples]
        assert all(a != b for a, b in zip(values, values[1:])), f"{name}: an unchanged value written"


def test_layer_spans_agree_with_the_report(run):
    r, doc = run
    spans = {e["name"]: e for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] == "layer"}
    assert set(spans) == {rec.name for rec in r.layers}
    for rec in r.layers:
        e = spans[rec.name]
        assert e["ts"] == float(ps_to_us_str(rec.start_ps))
        assert e["dur"] == float(ps_to_us_str(rec.end_ps - rec.start_ps))
        assert e["args"]["duration_cycles"] == rec.cycles
        assert e["args"].get("compute_cycles", 0) == rec.compute_cycles


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


def test_engine_tracks_show_what_they_wait_for_without_overlap(run):
    r, doc = run
    ev = doc["traceEvents"]
    engine_pid = next(e["pid"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"
                      and e["args"]["name"] == "engines")
    waits = [e for e in ev if e["ph"] == "X" and e["cat"] == "wait"]
    assert waits and all(e["pid"] == engine_pid for e in waits)
    resources = {x.name for x in r.resources} | {"memory"} | {
        k for rec in r.layers for k in (*rec.stall_ps, *rec.waits_ps)}
    for e in waits:
        assert e["args"]["resource"] in resources and e["name"].endswith(e["args"]["resource"])
        assert e["args"]["category"] in ("memory_stall", "contention")
    by_track = defaultdict(list)
    for e in ev:
        if e["ph"] == "X" and e["pid"] == engine_pid:
            by_track[e["tid"]].append((_ps(e["ts"]), _ps(e["ts"]) + _ps(e["dur"])))
    for spans in by_track.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "engine slices overlap"


def test_flows_lead_from_each_load_to_the_compute_that_used_it(run):
    _, doc = run
    ev = doc["traceEvents"]
    starts = {e["id"]: e for e in ev if e["ph"] == "s"}
    ends = {e["id"]: e for e in ev if e["ph"] == "f"}
    assert starts and set(starts) == set(ends)
    slices = defaultdict(list)
    for e in ev:
        if e["ph"] == "X":
            slices[(e["pid"], e["tid"])].append(e)
    for fid, s in starts.items():
        f = ends[fid]
        assert f["bp"] == "e" and _ps(f["ts"]) >= _ps(s["ts"])
        src = [x for x in slices[(s["pid"], s["tid"])] if x["cat"] == "transfer" and x["ts"] == s["ts"]]
        dst = [x for x in slices[(f["pid"], f["tid"])] if x["cat"] in ("compute", "programming")
               and x["ts"] == f["ts"]]
        assert src and dst
        layer = src[0]["name"].split(" ")[0]
        assert dst[0]["name"].startswith(layer + " ")


def test_arguments_name_their_unit_and_keep_their_type(run, mesh):
    types = defaultdict(set)
    for doc in (run[1], mesh[1]):
        for e in doc["traceEvents"]:
            if e["ph"] in "XC":
                for k, v in e["args"].items():
                    types[k].add(type(v).__name__)
                    if k in TEXT_ARGS:
                        assert isinstance(v, str)
                    else:
                        assert k.endswith(UNITS) and isinstance(v, (int, float)), (k, v)
    assert all(len(t) == 1 or t == {"int", "float"} and k == "GB_per_s" for k, t in types.items()), types


def test_tracks_sort_naturally(mesh):
    _, doc, _ = mesh
    ev = doc["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "thread_name"}
    rank = {(e["pid"], e["tid"]): e["args"]["sort_index"] for e in ev
            if e["ph"] == "M" and e["name"] == "thread_sort_index"}
    assert set(rank) == set(names)
    by_pid = defaultdict(list)
    for k, n in names.items():
        by_pid[k[0]].append((rank[k], n))
    for tracks in by_pid.values():
        ordered = [n for _, n in sorted(tracks)]
        assert ordered == sorted(ordered, key=natural_key)
    assert natural_key("ima_2_0") < natural_key("ima_10_0")


def test_concurrent_layers_get_lanes_and_clusters_get_groups(mesh):
    r, doc, _ = mesh
    ev = doc["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    assert "cluster 0_0" in procs.values() and "noc" in procs.values()
    lanes = defaultdict(list)
    for e in ev:
        if e["ph"] == "X" and e["cat"] == "layer":
            lanes[e["tid"]].append((_ps(e["ts"]), _ps(e["ts"]) + _ps(e["dur"])))
    assert len(lanes) > 1, "pipelined layers overlap: they need more than one lane"
    for spans in lanes.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    ima = [e for e in ev if e["ph"] == "X" and e["cat"] == "compute" and "mvm" in e["name"]]
    assert ima and all(procs[e["pid"]].startswith("cluster ") for e in ima)


def test_full_resolution_bandwidth_and_bytes_in_flight(tmp_path_factory):
    r, doc, sim = _simulate(tmp_path_factory, "pulp_cluster.yaml", "ds_cnn.json", full=True)
    assert doc["otherData"]["bandwidth_window_ns"] is None
    ev = doc["traceEvents"]
    assert any(e["ph"] == "C" and e["name"].endswith(" in flight") for e in ev)
    for res in r.resources:
        if res.kind in ("link", "memory") and res.bytes:
            key = sim.timeline.key_of[res.name]
            s = sorted((_ps(e["ts"]), e["args"]["GB_per_s"]) for e in ev
                       if e["ph"] == "C" and e["name"] == f"{key} bandwidth")
            total = sum(a[1] * (b[0] - a[0]) for a, b in zip(s, s[1:])) / 1000   # GB/s x ps
            assert total == pytest.approx(res.bytes, rel=1e-6), res.name
            assert s[-1][1] == 0


def test_exact_microsecond_rendering():
    assert ps_to_us_str(0) == "0"
    assert ps_to_us_str(1) == "0.000001"
    assert ps_to_us_str(2_500_000) == "2.5"
    assert ps_to_us_str(123_456_789_012) == "123456.789012"
    # every digit pattern against exact decimal arithmetic: below, at and above 1 us, whole
    # microseconds, trailing zeros, negative times
    import random
    from decimal import Decimal

    rng = random.Random(7)
    values = [0, 1, 10, 999_999, 1_000_000, 1_000_001, 1_100_000, 10 ** 12, -1, -2_500_000]
    values += [rng.randrange(10 ** rng.randrange(1, 15)) * 10 ** rng.randrange(0, 7) for _ in range(3000)]
    for ps in values:
        exact = format((Decimal(ps) / 10 ** 6).normalize(), "f")
        assert ps_to_us_str(ps) == exact, ps


def test_counter_numbers_are_written_as_json_writes_them():
    """Counters are formatted by hand for speed; the text must equal json.dumps's."""
    import numpy as np

    from hwsim.report.timeline import _number

    for v in (0, 7, 10**20, 2.5, 0.1 + 0.2, 1e-7, np.int64(3), np.float64(0.25)):
        expect = json.dumps(float(v) if isinstance(v, float) else int(v))
        assert _number(v) == expect


def test_perfetto_protobuf_reads_back(tmp_path, run):
    """The .pftrace holds the same tracks, slices, counters and flows as the JSON."""
    pytest.importorskip("perfetto")
    from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import Trace, TrackEvent

    p = hwsim.load_platform(ROOT / "platforms/pulp_imc_cluster.yaml")
    t = hwsim.load_trace(ROOT / "traces/mobilenetv2_bottleneck.json")
    path = tmp_path / "t.pftrace"
    hwsim.simulate(p, t, timeline=path)
    trace = Trace.FromString(path.read_bytes())
    tracks = {pk.track_descriptor.uuid: pk.track_descriptor for pk in trace.packet
              if pk.HasField("track_descriptor")}   # the last descriptor of each track
    ranked = sorted((d.sibling_order_rank, d.name) for d in tracks.values()
                    if d.HasField("sibling_order_rank") and d.parent_uuid == tracks[
                        next(u for u, x in tracks.items() if x.name == "engines")].uuid)
    assert [n for _, n in ranked] == sorted((n for _, n in ranked), key=natural_key)
    assert len(ranked) >= 3
    events = [pk.track_event for pk in trace.packet if pk.HasField("track_event")]
    names = {d.name for d in tracks.values()}
    assert {"layers", "engines", "cluster", "ima", "l2.port bandwidth GB_per_s"} <= names
    doc = run[1]["traceEvents"]
    n_slices = sum(1 for e in doc if e["ph"] == "X")
    assert sum(1 for e in events if e.type == TrackEvent.TYPE_SLICE_BEGIN) == n_slices
    assert sum(1 for e in events if e.type == TrackEvent.TYPE_SLICE_END) == n_slices
    assert sum(1 for e in events if e.type == TrackEvent.TYPE_COUNTER) == sum(1 for e in doc if e["ph"] == "C")
    out = {f for e in events for f in e.flow_ids}
    into = {f for e in events for f in e.terminating_flow_ids}
    assert out and out == into
    # fused layers overlap, so they spread over lanes "layers", "layers #1", ...
    layer_names = {e.name for e in events if e.type == TrackEvent.TYPE_SLICE_BEGIN
                   and re.fullmatch(r"layers( #\d+)?", tracks[e.track_uuid].name)}
    assert layer_names == {rec.name for rec in run[0].layers}
    json_path = tmp_path / "t.json"
    hwsim.simulate(p, t, timeline=json_path)
    assert path.stat().st_size < json_path.stat().st_size / 2


def test_windowed_bandwidth_never_exceeds_a_member_channels_peak(tmp_path_factory):
    """The bytes of a run of bursts are spread over the time it held the link, so no window
    shows more than the slowest channel of a link (or run of hops) can carry."""
    r, doc, sim = _simulate(tmp_path_factory, "pulp_imc_cluster.yaml", "mobilenetv2_bottleneck.json")
    top = defaultdict(float)
    for e in doc["traceEvents"]:
        if e["ph"] == "C" and e["name"].endswith(" bandwidth"):
            top[e["name"][:-len(" bandwidth")]] = max(top[e["name"][:-len(" bandwidth")]],
                                                      e["args"]["GB_per_s"])
    checked = 0
    for ch in sim.ic.channels:
        key = sim.timeline.key_of.get(ch.name)
        if key in top and ch.bandwidth:
            assert top[key] <= ch.bandwidth * ch.clock.freq_hz * ch.capacity / 1e9 * (1 + 1e-9), ch.name
            checked += 1
    assert checked >= 6


def test_fast_string_and_time_formatting_match_the_general_ones():
    """The timeline's hot-path formatters: names as json.dumps writes them, times as the exact
    decimal microseconds (also negative and non-int inputs)."""
    import json
    from decimal import Decimal

    from hwsim.base.units import ps_to_us_str
    from hwsim.report.timeline import _json_str

    for s in ("conv1 t3 in", 'say "hi"', "back\\slash", "tab\there", "naïve", "\x7f", "", "a/b"):
        assert _json_str(s) == json.dumps(s), s
    for ps in (0, 1, 999_999, 1_000_000, 1_000_001, 123_456_789_012, -1, -1_500_000):
        want = Decimal(ps) / Decimal(10 ** 6)
        assert Decimal(ps_to_us_str(ps)) == want, ps
        assert not ps_to_us_str(ps).endswith(".") and (ps % 10 ** 6 == 0 or not ps_to_us_str(ps).endswith("0"))
    assert ps_to_us_str(2_500_000.0) == "2.5"


def test_slice_arguments_are_written_as_json_dumps_writes_them():
    """The hand-written slice arguments (``_json_args``) are ``json.dumps(args,
    sort_keys=True)`` byte for byte: ints, floats, plain strings, and the encoder's cases
    (bools, None, non-finite floats, escapes, non-ASCII, nested values, odd keys)."""
    import json
    import math

    from hwsim.report.timeline import _json_args

    cases = [{}, {"work_ops": 12, "duration_cycles": 3}, {"b": 1.5, "a": -2, "c": "x y"},
             {"f": 1e-20, "g": 123456789.125, "h": 0.1 + 0.2}, {"ok": True}, {"n": None},
             {"x": math.inf}, {"x": math.nan}, {"s": 'say "hi"'}, {"s": "a\\b"}, {"s": "é"},
             {"s": "tab\there"}, {"l": [1, 2]}, {'k"': 1}, {"é": 2}, {"big": 10 ** 30}]
    for args in cases:
        assert _json_args(args) == json.dumps(args, sort_keys=True), args
