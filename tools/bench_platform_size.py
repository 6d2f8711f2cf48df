#!/usr/bin/env python3
"""Setup and run cost against platform size: the generated mesh of 16 to 1024 clusters.

    python tools/bench_platform_size.py [--sizes 16,64,256,512,1024] [--network resnet18]
                                        [--rounds 3] [--no-run]

For each size, ``platforms/mesh_imc.yaml`` resized with ``generate.mesh.width/height`` (the
``--set`` overrides a user would give) is loaded and validated (``load_platform``: generator
expansion, field validation, connectivity), the network is mapped and the system built
(``Simulation(...)``: mapping, channels), and simulated (``Simulation.run``: routes are found
on first use, so their cost is in the run); a mesh too small for the network's stationary
weights shows no run figures. CPU time (``time.process_time``) in this one
process, the best of ``--rounds`` rounds, sizes interleaved within a round so a shared
machine's load hits them alike. ``load / cluster`` stays flat when loading is linear in size.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hwsim import MappingError, Simulation, load_platform, load_trace  # noqa: E402

MESH = ROOT / "platforms" / "mesh_imc.yaml"
#: clusters -> (width, height) of the mesh
SHAPES = {16: (4, 4), 64: (8, 8), 128: (8, 16), 256: (16, 16), 512: (16, 32), 1024: (32, 32),
          2048: (32, 64), 4096: (64, 64)}


def one(clusters: int, trace, run: bool = True) -> dict:
    """CPU seconds of loading, mapping + building, and simulating on a ``clusters`` mesh."""
    w, h = SHAPES[clusters]
    c0 = time.process_time()
    p = load_platform(MESH, {"generate.mesh.width": w, "generate.mesh.height": h})
    c1 = time.process_time()
    out = {"clusters": clusters, "components": len(p.components), "links": len(p.links),
           "load_cpu_s": c1 - c0}
    if run:
        try:
            sim = Simulation(p, trace)
        except MappingError:   # the network's stationary weights need more clusters
            return out
        c2 = time.process_time()
        res = sim.run()
        c3 = time.process_time()
        out.update(map_build_cpu_s=c2 - c1, run_cpu_s=c3 - c2, events=res.perf["events"],
                   latency_ps=res.makespan_ps)
    return out


def sweep_sizes(sizes, network: str = "resnet18", rounds: int = 3, run: bool = True) -> list:
    """Best-of-``rounds`` rows (see :func:`one`), one per size."""
    trace = load_trace(ROOT / "traces" / f"{network}.json")
    best: dict = {}
    for _ in range(rounds):
        for n in sizes:
            r = one(n, trace, run)
            b = best.setdefault(n, r)
            for k, v in r.items():
                if k.endswith("_s") and k in b:
                    b[k] = min(b[k], v)
    return [best[n] for n in sizes]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="16,64,256,512,1024")
    ap.add_argument("--network", default="resnet18")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-run", action="store_true", help="time loading only")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    bad = [s for s in sizes if s not in SHAPES]
    if bad:
        print(f"--sizes: no mesh shape for {bad}; use {', '.join(map(str, SHAPES))}", file=sys.stderr)
        return 2
    rows = sweep_sizes(sizes, args.network, args.rounds, not args.no_run)
    print(f"mesh_imc resized; CPU s (process time, best of {args.rounds}); network {args.network}")
    print(f"{'clusters':>8}{'components':>12}{'load s':>9}{'load/cluster ms':>17}"
          + ("" if args.no_run else f"{'map+build s':>13}{'run s':>8}{'events':>9}"))
    for r in rows:
        line = (f"{r['clusters']:>8}{r['components']:>12}{r['load_cpu_s']:>9.3f}"
                f"{1e3 * r['load_cpu_s'] / r['clusters']:>17.3f}")
        if "run_cpu_s" in r:
            line += f"{r['map_build_cpu_s']:>13.3f}{r['run_cpu_s']:>8.3f}{r['events']:>9,}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
