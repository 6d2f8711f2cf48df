"""Per-layer / per-resource attribution of stalls, the --resources table and timeline
counter tracks (queue depth, bandwidth) on the bundled platforms."""
from __future__ import annotations

import dataclasses
import json

from hwsim import load_platform, load_trace
from hwsim.cli import main
from hwsim.sim.engine import Simulation

TRACE = "traces/mobilenetv2_bottleneck.json"


def test_stall_attribution_is_complete_and_names_the_resource():
    """Every ps of memory stall (stall_ps) and contention (waits_ps) of every layer is
    charged to exactly one resource, and the bottleneck / top_wait name the largest."""
    sim = Simulation(load_platform("platforms/pulp_cluster.yaml"), load_trace(TRACE))
    res = sim.run()
    for rec in res.layers:
        acct = sim.accts[rec.name]
        assert sum(rec.waits_ps.values()) == acct.ps["contention"]
        assert sum(rec.stall_ps.values()) == acct.ps["memory_stall"]
        both = {k: rec.waits_ps.get(k, 0) + rec.stall_ps.get(k, 0)
                for k in set(rec.waits_ps) | set(rec.stall_ps)}
        if both:
            top = max(both.values())
            assert both[rec.top_wait] == top
            assert rec.top_wait_cycles == res.reference_clock.ps_to_cycles(top)
            for cat, d in (("memory_stall", rec.stall_ps), ("contention", rec.waits_ps)):
                if rec.bottleneck.startswith(cat + ":"):
                    assert d[rec.bottleneck.split(":", 1)[1]] == max(d.values())


def test_slow_dram_becomes_the_named_bottleneck():
    """With a pathologically slow L3 (every HyperRAM transaction pays 2000 cycles of initial
    latency) the layers that load mostly from L3 wait on it most."""
    p = load_platform("platforms/pulp_cluster.yaml", {"components.l3.t_cl_cycles": 2000})
    # layer by layer, every activation through L2 (fusion would share the cores between layers)
    p = dataclasses.replace(p, raw={**p.raw, "mapping": {"fusion": False, "l1_residency": False}})
    res = Simulation(p, load_trace("traces/mobilenetv2.json")).run()
    l3_layers = [r for r in res.layers
                 if r.bytes_moved.get("l3->l2", 0) >= 0.5 * r.bytes_moved.get("l2->l1", 1)]
    assert len(l3_layers) > 10
    # each waits most on the L3 or on the L2 its L3 data is staged through (a layer of many
    # small tiles queues its staged hops at the L2 port); most name the L3 itself
    waits = [(r.name, r.top_wait) for r in l3_layers]
    assert all(w in ("l3", "l2") for _, w in waits), waits
    assert sum(w == "l3" for _, w in waits) > 0.75 * len(waits), waits
    assert any(r.bottleneck == "memory_stall:l3" for r in l3_layers)


def test_resources_table_and_wait_distribution(capsys):
    assert main(["run", "platforms/pulp_cluster.yaml", TRACE, "-q", "--resources"]) == 0
    out = capsys.readouterr().out
    assert "p95 wait" in out and "mean q" in out and "policy" not in out
    assert max(len(line) for line in out.splitlines()) <= 100
    for name in ("l2.port", "l3.port", "udma->l2", "cluster_dma.slots"):
        assert name in out
    assert main(["run", "platforms/pulp_cluster.yaml", TRACE, "-q", "--resources", "--wide"]) == 0
    assert "policy" in capsys.readouterr().out
    res = Simulation(load_platform("platforms/pulp_cluster.yaml"), load_trace(TRACE)).run()
    for r in res.resources:
        assert r.p50_wait_cycles <= r.p95_wait_cycles <= r.max_wait_cycles
        assert 0 <= r.mean_queue <= r.max_queue


def test_timeline_counter_tracks(tmp_path):
    """Queue-depth and bandwidth counters exist for links and memories; the bandwidth
    counter of each link (or run of hops) and port integrates back to the bytes each of its
    channels moved."""
    path = tmp_path / "t.json"
    sim = Simulation(load_platform("platforms/pulp_cluster.yaml"), load_trace(TRACE), timeline=path)
    res = sim.run()
    doc = json.loads(path.read_text())
    ev = doc["traceEvents"]
    bw = [e for e in ev if e["ph"] == "C" and e["name"].endswith(" bandwidth")]
    q = [e for e in ev if e["ph"] == "C" and e["name"].endswith(" queue")]
    assert bw and q
    window_ns = doc["otherData"]["bandwidth_window_ns"]
    checked = 0
    for r in res.resources:
        if r.kind in ("link", "memory") and r.bytes:
            key = sim.timeline.key_of[r.name]
            series = [e for e in bw if e["name"] == f"{key} bandwidth"]
            # each sample holds until the next: integrate the steps
            total_ns = sum(a["args"]["GB_per_s"] * (b["ts"] - a["ts"]) * 1000
                           for a, b in zip(series, series[1:]))
            assert abs(total_ns - r.bytes) <= 1e-6 * r.bytes, (r.name, key, total_ns, r.bytes)
            assert all((b["ts"] - a["ts"]) * 1000 >= window_ns - 1e-6 for a, b in zip(series, series[1:]))
            checked += 1
    assert checked >= 5
