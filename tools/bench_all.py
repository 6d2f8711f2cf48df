#!/usr/bin/env python3
"""Every speed figure of hwsim in one table (the README's speed section is generated from it).

    python tools/bench_all.py                    # plain table
    python tools/bench_all.py --markdown         # the README section
    python tools/bench_all.py --write-readme     # replace that section in README.md
    python tools/bench_all.py --quick            # fewer rounds and sweep points (smoke run)

All times are CPU time (``time.process_time`` in this process, ``resource`` for child
processes), the best of ``--rounds`` rounds, the compared runs alternating within a round so a
shared machine's load hits them alike. Figures and their baselines:

* **Event rate**: SimPy events of ``Simulation.run`` per CPU second (one timeout per burst;
  see ``tools/bench_vs_simpy.py``) over the rate of a raw SimPy timeout loop run to the same
  event count (SimPy's own ceiling). MobileNetV2 on ``pulp_imc_cluster`` and ResNet-18 on
  ``mesh_imc`` (512 clusters), repeated runs on one loaded platform; also the first run on a
  freshly loaded one, and the rate counting only the events that passed through SimPy's
  queue (a burst end or a route latency's end that is the very next event is processed in
  place by its train, see
  ``hwsim.sim.interconnect._Train._ended``; it counts as the event it is).
* **CLI**: ``python -m hwsim run platforms/pulp_imc_cluster.yaml traces/mobilenetv2.json -q``
  as a whole process (interpreter start and imports included); **in-process**: load + map +
  simulate of the same pair, the first run in a fresh process (no warm caches).
* **Platform size**: ``load_platform`` of ``mesh_imc`` resized to 64 and 1024 clusters; linear
  when the CPU per cluster stays flat.
* **Timeline**: ``simulate`` with ``timeline=`` a file over without (MobileNetV2 on
  ``pulp_imc_cluster``); the memory the timeline adds (``tracemalloc`` peak with minus
  without) for the network once and repeated 4x: flat when the timeline streams to disk.
* **Sweep**: ResNet-8 on ``pulp_cluster`` over a 6x6x6 grid (216 points), local process pool
  with 1 and 2 workers: parallel efficiency ``T1 / (2 T2)`` in wall time, and in CPU time
  (CPU of parent + workers with 1 worker over that with 2: extra CPU that parallelism costs);
  per-point overhead = sweep CPU per point (1 worker: parent + worker) over the CPU per point
  of the points' own work in this process (build the point's platform, map, simulate), minus
  one: the pool, inter-process traffic, records and the base files' parsing. Each round runs
  both sweeps and the points' own work; each figure is the best of the rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from hwsim import Simulation, load_platform, load_trace, simulate  # noqa: E402

from bench_vs_simpy import raw_simpy_loop, room_for  # noqa: E402

PLAT = ROOT / "platforms"
TRACES = ROOT / "traces"
MESH = PLAT / "mesh_imc.yaml"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench_all:begin -->", "<!-- bench_all:end -->"


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ------------------------------------------------------------------------------------------
def event_rate(platform_file, network: str, rounds: int) -> dict:
    """hwsim's events per CPU second over a raw SimPy timeout loop's (alternating rounds).

    The best round runs on a platform already simulated once in this process (its route
    paths and plans derived); the first round, on the freshly loaded platform, is reported
    too (``first_ratio``, against the loop's best rate), and so is the rate of the events that went through SimPy's queue
    only (``queue_ratio``: without the burst ends and latencies a train processed in place)."""
    platform = load_platform(platform_file)
    trace = load_trace(TRACES / f"{network}.json")
    h_cpu = s_cpu = float("inf")
    events = s_events = in_place = 0
    first = None
    for _ in range(rounds):
        sim = Simulation(platform, trace)
        c0 = time.process_time()
        res = sim.run()
        cpu = time.process_time() - c0
        h_cpu = min(h_cpu, cpu)
        events, in_place = res.perf["events"], sim.ic.in_place
        s = raw_simpy_loop(events)
        s_cpu, s_events = min(s_cpu, s["cpu_s"]), s["events"]
        if first is None:
            first = cpu
    h_rate, s_rate = events / h_cpu, s_events / s_cpu
    return {"events": events, "in_place": in_place, "sim_cpu_s": h_cpu, "events_per_cpu_s": h_rate,
            "simpy_events_per_cpu_s": s_rate, "ratio": h_rate / s_rate,
            "queue_ratio": (events - in_place) / h_cpu / s_rate,
            "first_ratio": events / first / s_rate}


_IN_PROCESS = """
import json, sys, time
sys.path.insert(0, {root!r})
import hwsim
c0 = time.process_time()
p = hwsim.load_platform({plat!r}); t = hwsim.load_trace({trace!r})
r = hwsim.simulate(p, t)
print(json.dumps({{"cpu_s": time.process_time() - c0}}))
"""


def cli_and_in_process(rounds: int) -> dict:
    """Whole-process CPU of ``hwsim run ... -q`` and in-process load+map+simulate (fresh)."""
    plat, trace = str(PLAT / "pulp_imc_cluster.yaml"), str(TRACES / "mobilenetv2.json")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cli = inproc = float("inf")
    for _ in range(rounds):
        c0 = _children_cpu()
        subprocess.run([sys.executable, "-m", "hwsim", "run", plat, trace, "-q"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        cli = min(cli, _children_cpu() - c0)
        out = subprocess.run([sys.executable, "-c", _IN_PROCESS.format(root=str(ROOT), plat=plat,
                                                                       trace=trace)],
                             env=env, check=True, capture_output=True, text=True).stdout
        inproc = min(inproc, json.loads(out.strip().splitlines()[-1])["cpu_s"])
    return {"cli_cpu_s": cli, "in_process_cpu_s": inproc}


def platform_size(rounds: int, sizes=((8, 8), (32, 32))) -> dict:
    """``load_platform`` CPU of the mesh at each size (clusters = width x height)."""
    best = {}
    for _ in range(rounds):
        for w, h in sizes:
            c0 = time.process_time()
            load_platform(MESH, {"generate.mesh.width": w, "generate.mesh.height": h})
            best[w * h] = min(best.get(w * h, float("inf")), time.process_time() - c0)
    (n0, t0), (n1, t1) = sorted(best.items())[0], sorted(best.items())[-1]
    return {"load_cpu_s": best, "per_cluster_growth": (t1 / n1) / (t0 / n0), "largest": n1}


def timeline(rounds: int) -> dict:
    """CPU of a run with a timeline over one without; peak memory 4x vs 1x network."""
    from hwsim.explore.sweep import repeat_trace

    platform = load_platform(PLAT / "pulp_imc_cluster.yaml")
    trace = load_trace(TRACES / "mobilenetv2.json")
    off = on = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        tl = Path(tmp) / "t.json"
        for _ in range(rounds):
            c0 = time.process_time()
            simulate(platform, trace)
            c1 = time.process_time()
            simulate(platform, trace, timeline=tl)
            c2 = time.process_time()
            off, on = min(off, c1 - c0), min(on, c2 - c1)
        extra = {}
        # one platform for both lengths, its last level large enough for 4x the weights
        platform = room_for(PLAT / "pulp_imc_cluster.yaml", 4)
        for k in (1, 4):
            tr = repeat_trace(trace, k)
            peak = {}
            for label, path in (("off", None), ("on", tl)):
                simulate(platform, tr, timeline=path)   # warm caches: measure the run alone
                tracemalloc.start()
                simulate(platform, tr, timeline=path)
                peak[label] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            extra[k] = peak["on"] - peak["off"]
    return {"off_cpu_s": off, "on_cpu_s": on, "ratio": on / off,
            "extra_1x_bytes": extra[1], "extra_4x_bytes": extra[4]}


def sweep(n: int = 6, workers: int = 2, rounds: int = 4) -> dict:
    """Parallel efficiency (wall and CPU) and per-point overhead of an ``n``^3-point sweep.
    Each round runs the sweep on 1 and on ``workers`` workers and then the points' own work
    in this process; each figure is the best of the rounds (a shared machine's load hits
    the compared runs alike)."""
    from hwsim.explore.sweep import (_raw_platform, load_workload, make_points, resolve_path,
                                     run_sweep, split_params)
    from hwsim.hardware.platform import apply_overrides, platform_from_dict

    platform, trace = str(PLAT / "pulp_cluster.yaml"), str(TRACES / "resnet8.json")
    axes = {"cluster.cores": list(range(1, n + 1)),
            "l1.size_bytes": [16000 + 8000 * i for i in range(n)],
            "l2.port_bandwidth_bytes_per_cycle": [1 + i for i in range(n)]}
    inf = float("inf")
    wall, cpu = {1: inf, workers: inf}, {1: inf, workers: inf}
    sim_cpu = inf
    tr = load_workload(trace)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for w in (1, workers):
                w0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
                res = run_sweep(platform, trace, grid_axes=axes,
                                out=Path(tmp) / f"w{w}_{r}.jsonl", workers=w, progress=False)
                wall[w] = min(wall[w], time.perf_counter() - w0)
                cpu[w] = min(cpu[w], time.process_time() - c0 + _children_cpu() - k0)
            # the points' own work, in this process: build the point's platform, map, simulate
            total = 0.0
            for p in make_points(platform, trace, axes):
                over, _, _ = split_params(p.params)
                raw = _raw_platform(platform)
                c0 = time.process_time()
                try:
                    simulate(platform_from_dict(apply_overrides(
                        raw, {resolve_path(raw, k): v for k, v in over.items()}), platform), tr)
                except Exception:   # noqa: BLE001 - an unmappable point is recorded as an error
                    pass
                total += time.process_time() - c0
            sim_cpu = min(sim_cpu, total)
    pts = res.records
    per_point = cpu[1] / len(pts)
    return {"points": len(pts), "workers": workers, "wall_1_s": wall[1], "wall_n_s": wall[workers],
            "cpu_1_s": cpu[1], "cpu_n_s": cpu[workers],
            "efficiency_wall": wall[1] / (workers * wall[workers]),
            "efficiency_cpu": cpu[1] / cpu[workers],
            "sim_cpu_per_point_s": sim_cpu / len(pts), "cpu_per_point_s": per_point,
            "overhead": per_point / (sim_cpu / len(pts)) - 1}


# ------------------------------------------------------------------------------------------
def measure(quick: bool = False) -> dict:
    rounds = 2 if quick else 5
    return {
        "rate_mnv2": event_rate(PLAT / "pulp_imc_cluster.yaml", "mobilenetv2", rounds),
        "rate_r18": event_rate(MESH, "resnet18", max(2, rounds - 2)),
        "cli": cli_and_in_process(rounds),
        "size": platform_size(rounds),
        "timeline": timeline(max(2, rounds - 2)),
        "sweep": sweep(3 if quick else 6),
        "machine": f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
    }


def example_figures() -> dict:
    """Figures with placeholder numbers: the shape :func:`render` needs (for the test that the
    README's section has the current structure and baseline text)."""
    rate = {"events": 1, "in_place": 1, "sim_cpu_s": 1.0, "events_per_cpu_s": 1.0,
            "simpy_events_per_cpu_s": 1.0, "ratio": 1.0, "queue_ratio": 1.0, "first_ratio": 1.0}
    return {"rate_mnv2": rate, "rate_r18": rate, "cli": {"cli_cpu_s": 1.0, "in_process_cpu_s": 1.0},
            "size": {"load_cpu_s": {1: 1.0}, "per_cluster_growth": 1.0, "largest": 1},
            "timeline": {"ratio": 1.0, "extra_1x_bytes": 1, "extra_4x_bytes": 1},
            "sweep": {"points": 1, "workers": 1, "efficiency_wall": 1.0, "efficiency_cpu": 1.0,
                      "overhead": 1.0, "cpu_per_point_s": 1.0, "sim_cpu_per_point_s": 1.0},
            "machine": "1 CPUs, Python 1.1.1"}


def rows(f: dict) -> list:
    """(figure, measured, target, method) rows of the table."""
    m, r = f["rate_mnv2"], f["rate_r18"]
    s, t, sw, c = f["size"], f["timeline"], f["sweep"], f["cli"]
    big = s["largest"]
    return [
        ("event rate, MobileNetV2 / pulp_imc_cluster",
         f"{m['ratio']:.2f}x ({m['events_per_cpu_s'] / 1e3:.0f}k of {m['simpy_events_per_cpu_s'] / 1e3:.0f}k events/s)",
         ">= 0.5x", "Simulation.run CPU vs a raw SimPy timeout loop, same event count; "
         "repeated run on one loaded platform"),
        ("event rate, ResNet-18 / mesh_imc (512 clusters)",
         f"{r['ratio']:.2f}x ({r['events_per_cpu_s'] / 1e3:.0f}k of {r['simpy_events_per_cpu_s'] / 1e3:.0f}k events/s)",
         ">= 0.5x", "as above"),
        ("event rate, first run on a freshly loaded platform",
         f"{m['first_ratio']:.2f}x / {r['first_ratio']:.2f}x", "", "MobileNetV2 / ResNet-18, as above"),
        ("event rate, queued events only", f"{m['queue_ratio']:.2f}x / {r['queue_ratio']:.2f}x", "",
         f"without the burst ends and latencies run in place ({m['in_place']:,} / "
         f"{r['in_place']:,} of them)"),
        ("simulation CPU, MobileNetV2 / pulp_imc_cluster", f"{m['sim_cpu_s']:.3f} s ({m['events']:,} events)",
         "", "Simulation.run"),
        ("simulation CPU, ResNet-18 / mesh_imc", f"{r['sim_cpu_s']:.3f} s ({r['events']:,} events)",
         "", "Simulation.run"),
        ("`hwsim run` MobileNetV2, whole process", f"{c['cli_cpu_s']:.2f} s", "< 0.6 s",
         "python -m hwsim run ... -q, child-process CPU"),
        ("load + map + simulate, in process", f"{c['in_process_cpu_s']:.3f} s", "< 0.25 s",
         "first run in a fresh process"),
        (f"load {big}-cluster mesh", f"{s['load_cpu_s'][big]:.2f} s", "< 1 s", "load_platform, mesh_imc resized"),
        ("load CPU per cluster, 1024 vs 64 clusters", f"{s['per_cluster_growth']:.2f}x", "~1x (linear)", "load_platform"),
        ("`--timeline` cost", f"{t['ratio']:.2f}x", "<= 1.5x", "simulate with vs without a timeline file"),
        ("timeline's extra peak memory, 1x / 4x network", f"{t['extra_1x_bytes'] / 1e6:.2f} / {t['extra_4x_bytes'] / 1e6:.2f} MB",
         "flat", "tracemalloc peak with minus without a timeline"),
        (f"sweep efficiency, {sw['points']} points, {sw['workers']} workers",
         f"{sw['efficiency_wall']:.2f} wall, {sw['efficiency_cpu']:.2f} CPU", "", "T1 / (N TN); CPU: total CPU 1 worker / N workers"),
        ("sweep per-point overhead", f"{100 * sw['overhead']:.1f}%", "< 5%",
         f"sweep CPU per point ({1e3 * sw['cpu_per_point_s']:.1f} ms) over the point's own platform + map + simulate ({1e3 * sw['sim_cpu_per_point_s']:.1f} ms)"),
    ]


def render(f: dict, markdown: bool) -> str:
    rs = rows(f)
    if not markdown:
        w = max(len(r[0]) for r in rs)
        v = max(len(r[1]) for r in rs)
        return "\n".join(f"{a:<{w}}  {b:<{v}}  {c:<12}  {d}" for a, b, c, d in rs)
    out = [f"Measured with `python tools/bench_all.py --write-readme` ({f['machine']}; CPU time,",
           "best of several rounds, compared runs alternating; the figures depend on the machine):",
           "",
           "| figure | measured | target | method and baseline |",
           "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rs]
    return "\n".join(out)


def structure(text: str) -> str:
    """The section with every number masked: what must match between README and script."""
    return re.sub(r"-?\d[\d,.]*", "#", text)


def readme_section(text: str) -> str:
    i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[i:j].strip("\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--write-readme", action="store_true", help="replace the README's speed table")
    ap.add_argument("--quick", action="store_true", help="fewer rounds, a 27-point sweep")
    ap.add_argument("--json", metavar="FILE", help="also write the raw figures")
    args = ap.parse_args(argv)
    f = measure(args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps(f, indent=1, default=str) + "\n")
    md = render(f, True)
    print(md if args.markdown or args.write_readme else render(f, False))
    if args.write_readme:
        text = README.read_text()
        i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
        README.write_text(text[:i] + "\n" + md + "\n" + text[j:])
        print(f"\nwrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
