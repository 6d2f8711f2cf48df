"""Cost against the number of layers: CPU time of each stage for synthetic traces of 1k, 3k
and 10k layers (linear: the time per layer stays flat).

    python tools/bench_layers.py [--layers 1000,3000,10000] [--platform platforms/pulp_cluster.yaml]

The trace is a chain of small blocks (3x3 conv, 1x1 conv, residual add reading the block
input: 16 channels of 8x8, 8 bit), so every stage sees live ranges, residual tensors and
two-operand reads; L3 is enlarged to hold the weights. Times are ``time.process_time`` (CPU
seconds, this process); the baseline for comparison is the same script on the previous
commit (``git stash``; the report notes its figures).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def chain(n_layers: int) -> dict:
    """A trace document of ``n_layers`` layers (a multiple of 3)."""
    layers, prev = [], "input"
    for b in range(n_layers // 3):
        c = {"op": "conv2d", "input_shape": [16, 8, 8], "output_shape": [16, 8, 8],
             "kernel": 3, "padding": 1, "bits": 8}
        layers.append({"name": f"b{b}.conv", "inputs": [prev], **c})
        layers.append({"name": f"b{b}.pw", "op": "pointwise", "input_shape": [16, 8, 8],
                       "output_shape": [16, 8, 8], "bits": 8, "inputs": [f"b{b}.conv"]})
        layers.append({"name": f"b{b}.add", "op": "add", "input_shape": [16, 8, 8],
                       "output_shape": [16, 8, 8], "bits": 8, "inputs": [f"b{b}.pw", prev]})
        prev = f"b{b}.add"
    return {"format": "hwsim-trace/1", "name": f"chain{n_layers}", "layers": layers}


def measure(n: int, platform_path: str) -> dict:
    import hwsim
    from hwsim.mapping.mapper import map_trace
    from hwsim.sim.engine import Simulation

    platform = hwsim.load_platform(platform_path, {"components.l3.size_bytes": 1 << 30})
    doc = chain(n)
    t = time.process_time()
    trace = hwsim.trace_from_dict(doc)
    t_load = time.process_time() - t
    t = time.process_time()
    mapping = map_trace(platform, trace)
    t_map = time.process_time() - t
    t = time.process_time()
    result = Simulation(platform, trace, mapping=mapping).run()
    t_sim = time.process_time() - t
    t = time.process_time()
    result.summary()
    result.to_json()
    t_rep = time.process_time() - t
    total = t_load + t_map + t_sim + t_rep
    return {"layers": len(trace.layers), "load_s": t_load, "map_s": t_map, "simulate_s": t_sim,
            "report_s": t_rep, "total_s": total, "ms_per_layer": 1e3 * total / len(trace.layers)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="1000,3000,10000")
    ap.add_argument("--platform", default=str(ROOT / "platforms" / "pulp_cluster.yaml"))
    args = ap.parse_args(argv)
    print(f"{'layers':>7} {'load s':>8} {'map s':>8} {'sim s':>8} {'report s':>9} {'total s':>8} "
          f"{'ms/layer':>9}")
    for n in (int(x) for x in args.layers.split(",")):
        r = measure(n - n % 3, args.platform)
        print(f"{r['layers']:>7} {r['load_s']:>8.2f} {r['map_s']:>8.2f} {r['simulate_s']:>8.2f} "
              f"{r['report_s']:>9.2f} {r['total_s']:>8.2f} {r['ms_per_layer']:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
