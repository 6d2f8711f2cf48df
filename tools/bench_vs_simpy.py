#!/usr/bin/env python3
"""Simulator throughput against SimPy's own limit, linearity in network length, and memory.

    python tools/bench_vs_simpy.py [--network mobilenetv2] [--platform platforms/pulp_cluster.yaml]
                                   [--repeats 3] [--json out/bench_vs_simpy.json]

Measures, in one run:

1. **Event rate vs raw SimPy.** hwsim's events per second (SimPy events scheduled during
   ``env.run``, from SimPy's own event counter, over the wall time of ``env.run``; the best of
   ``--repeats`` runs) on the network, against a raw SimPy loop doing equivalent work: DMA-like
   movers that request a 4-slot ``simpy.Resource`` then a 1-slot link ``Resource`` and hold
   both for a timeout, and an engine process that requests a 1-slot ``Resource`` and holds it
   for a timeout, run to the same number of events and counted the same way. Prints the ratio
   (the issue's target: >= 0.5). Note hwsim's own channels grant a free resource without an
   event, so per unit of modelled work hwsim schedules fewer events than the raw loop; the
   ratio of event rates is therefore the conservative figure.
2. **Linearity.** The network repeated 1x, 2x, 4x back to back (:func:`hwsim.sweep.repeat_trace`):
   wall time end to end (mapping + simulation) and of the simulation alone, each as
   ``t(k) / (k * t(1))`` (1.00 = linear; target within 10%).
3. **Peak memory** (``tracemalloc``) of the 1x and 4x runs with the timeline streamed to a file,
   and without a timeline: the timeline must add no memory that grows with run length.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simpy  # noqa: E402

from hwsim import load_platform, simulate  # noqa: E402
from hwsim.sweep import load_workload, repeat_trace  # noqa: E402


def hwsim_rate(platform, trace, repeats: int) -> dict:
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = simulate(platform, trace)
        total = time.perf_counter() - t0
        if best is None or res.perf["wall_s"] < best["sim_wall_s"]:
            best = {"events": res.perf["events"], "sim_wall_s": res.perf["wall_s"],
                    "end_to_end_s": total, "sim_cycles": res.cycles}
    best["events_per_s"] = best["events"] / best["sim_wall_s"]
    best["events_per_s_end_to_end"] = best["events"] / best["end_to_end_s"]
    best["sim_cycles_per_s"] = best["sim_cycles"] / best["sim_wall_s"]
    return best


def raw_simpy_loop(target_events: int) -> tuple:
    """``(events, wall_s)`` of a raw SimPy model with about ``target_events`` events.

    Three movers each loop: request a DMA slot (Resource, capacity 4), request the link
    (Resource, capacity 1), hold both for a timeout, release both: 5 events per iteration
    (2 requests, 1 timeout, 2 releases). One engine loops: request (capacity 1), timeout,
    release: 3 events per iteration.
    """
    env = simpy.Environment()
    dma = simpy.Resource(env, capacity=4)
    link = simpy.Resource(env, capacity=1)
    engine = simpy.Resource(env, capacity=1)
    movers = 3
    iters = max(1, target_events // (5 * movers + 3))

    def mover(i):
        for _ in range(iters):
            with dma.request() as r1:
                yield r1
                with link.request() as r2:
                    yield r2
                    yield env.timeout(1000 + 7 * i)

    def compute():
        for _ in range(iters):
            with engine.request() as r:
                yield r
                yield env.timeout(2500)

    for i in range(movers):
        env.process(mover(i))
    env.process(compute())
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    return next(env._eid), wall


def simpy_rate(target_events: int, repeats: int) -> dict:
    best = None
    for _ in range(repeats):
        ev, wall = raw_simpy_loop(target_events)
        if best is None or wall < best[1]:
            best = (ev, wall)
    return {"events": best[0], "wall_s": best[1], "events_per_s": best[0] / best[1]}


def linearity(platform, trace, factors, repeats: int) -> list:
    rows = []
    for k in factors:
        tr = repeat_trace(trace, k)
        e2e, sim = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = simulate(platform, tr)
            e2e.append(time.perf_counter() - t0)
            sim.append(res.perf["wall_s"])
        rows.append({"repeat": k, "layers": len(tr.layers), "events": res.perf["events"],
                     "end_to_end_s": min(e2e), "sim_s": min(sim)})
    base = rows[0]
    for r in rows:
        k = r["repeat"] / base["repeat"]
        r["end_to_end_vs_linear"] = r["end_to_end_s"] / (k * base["end_to_end_s"])
        r["sim_vs_linear"] = r["sim_s"] / (k * base["sim_s"])
        r["events_vs_linear"] = r["events"] / (k * base["events"])
    return rows


def peak_memory(platform, trace, factors) -> list:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in factors:
            tr = repeat_trace(trace, k)
            row = {"repeat": k}
            for label, timeline in (("no_timeline", None), ("timeline", os.path.join(tmp, f"t{k}.json"))):
                tracemalloc.start()
                simulate(platform, tr, timeline=timeline)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                row[f"peak_{label}_bytes"] = peak
                if timeline:
                    row["timeline_file_bytes"] = os.path.getsize(timeline)
            row["timeline_extra_bytes"] = row["peak_timeline_bytes"] - row["peak_no_timeline_bytes"]
            rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--platform", default=str(ROOT / "platforms" / "pulp_cluster.yaml"))
    ap.add_argument("--network", default="mobilenetv2",
                    help="trace file or zoo network name (default mobilenetv2)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per figure (best is kept)")
    ap.add_argument("--factors", default="1,2,4", help="network repetitions for linearity/memory")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    spec = args.network
    if not Path(spec).exists() and (ROOT / "traces" / f"{spec}.json").exists():
        spec = str(ROOT / "traces" / f"{spec}.json")
    platform = load_platform(args.platform)
    trace = load_workload(spec)
    factors = [int(x) for x in args.factors.split(",")]

    h = hwsim_rate(platform, trace, args.repeats)
    s = simpy_rate(h["events"], args.repeats)
    ratio = h["events_per_s"] / s["events_per_s"]
    print(f"workload     {trace.name} ({len(trace.layers)} layers) on {platform.name}")
    print(f"hwsim        {h['events']:,} events in {h['sim_wall_s']:.3f} s (env.run) -> "
          f"{h['events_per_s']:,.0f} events/s; {h['sim_cycles_per_s']:,.0f} simulated cycles/s; "
          f"end to end (mapping included) {h['end_to_end_s']:.3f} s")
    print(f"raw SimPy    {s['events']:,} events in {s['wall_s']:.3f} s -> {s['events_per_s']:,.0f} events/s")
    print(f"ratio        hwsim / raw SimPy event rate = {ratio:.2f} (target >= 0.50)")
    print()
    lin = linearity(platform, trace, factors, args.repeats)
    print(f"{'repeat':>6}{'layers':>8}{'events':>10}{'end-to-end s':>14}{'vs linear':>11}"
          f"{'sim s':>9}{'vs linear':>11}")
    for r in lin:
        print(f"{r['repeat']:>6}{r['layers']:>8}{r['events']:>10,}{r['end_to_end_s']:>14.3f}"
              f"{r['end_to_end_vs_linear']:>11.2f}{r['sim_s']:>9.3f}{r['sim_vs_linear']:>11.2f}")
    print()
    mem = peak_memory(platform, trace, [factors[0], factors[-1]])
    print(f"{'repeat':>6}{'peak MB, no timeline':>22}{'peak MB, timeline':>19}{'timeline extra MB':>19}"
          f"{'timeline file MB':>18}")
    for r in mem:
        print(f"{r['repeat']:>6}{r['peak_no_timeline_bytes'] / 1e6:>22.2f}{r['peak_timeline_bytes'] / 1e6:>19.2f}"
              f"{r['timeline_extra_bytes'] / 1e6:>19.2f}{r['timeline_file_bytes'] / 1e6:>18.1f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"hwsim": h, "raw_simpy": s, "ratio": ratio,
                                               "linearity": lin, "memory": mem}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
