#!/usr/bin/env python3
"""Parallel efficiency of a sweep: the same grid on 1 worker and on N workers.

    python tools/bench_sweep.py [--workers 2] [--trace resnet8] [--points 216]

Efficiency = T(1) / (N * T(N)), wall time of :func:`hwsim.explore.sweep.run_sweep` with a local
process pool (pool start-up included). Prints both times, the efficiency and checks that the
records are identical.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hwsim.explore.sweep import run_sweep  # noqa: E402


def _spin(n: int) -> int:
    s = 0
    for i in range(n):
        s += i
    return s


def cpu_headroom(workers: int, n: int = 2_000_000) -> float:
    """Speedup that ``workers`` processes of pure-Python spinning get right now over one:
    the ceiling for any process pool on a machine shared with other jobs."""
    import concurrent.futures as cf
    t0 = time.perf_counter()
    for _ in range(2 * workers):
        _spin(n)
    serial = time.perf_counter() - t0
    with cf.ProcessPoolExecutor(workers) as ex:
        list(ex.map(_spin, [10] * workers))
        t0 = time.perf_counter()
        list(ex.map(_spin, [n] * (2 * workers)))
        par = time.perf_counter() - t0
    return serial / par


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--platform", default=str(ROOT / "platforms" / "pulp_cluster.yaml"))
    ap.add_argument("--trace", default="resnet8", help="trace file or zoo name (default resnet8)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--points", type=int, default=216, help="about this many points (a 3-axis grid)")
    args = ap.parse_args(argv)
    trace = args.trace
    if not Path(trace).exists() and (ROOT / "traces" / f"{trace}.json").exists():
        trace = str(ROOT / "traces" / f"{trace}.json")
    n = max(1, round(args.points ** (1 / 3)))
    axes = {"cluster.cores": list(range(1, n + 1)),
            "l1.size_bytes": [16000 + 8000 * i for i in range(n)],
            "l2.port_bandwidth_bytes_per_cycle": [1 + i for i in range(n)]}
    times, recs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in (1, args.workers):
            t0 = time.perf_counter()
            res = run_sweep(args.platform, trace, grid_axes=axes, out=Path(tmp) / f"w{w}.jsonl",
                            workers=w, progress=False)
            times[w] = time.perf_counter() - t0
            recs[w] = [{k: r[k] for k in ("id", "params", "status", "summary")} for r in res.records]
            print(f"{res.total} points, {w:>2} worker(s): {times[w]:.2f} s wall "
                  f"({res.total / times[w]:.1f} points/s, {res.failed} failed)")
    head = cpu_headroom(args.workers)
    eff = times[1] / (args.workers * times[args.workers])
    print(f"parallel efficiency on {args.workers} workers: {eff:.2f} "
          f"(speedup {times[1] / times[args.workers]:.2f}x); records identical: {recs[1] == recs[args.workers]}")
    print(f"CPU headroom now: {head:.2f}x for {args.workers} spinning processes (the ceiling on "
          f"a shared machine); sweep speedup / headroom = {times[1] / times[args.workers] / head:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
