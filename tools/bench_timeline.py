#!/usr/bin/env python3
"""What writing a timeline costs: CPU time of a run with ``--timeline`` over one without.

    python tools/bench_timeline.py [--platform platforms/pulp_imc_cluster.yaml]
                                   [--trace traces/mobilenetv2.json] [--repeats 5] [--full]

Same process, CPU time (``time.process_time``) of ``Simulation.run`` only (the mapping is done
once, before), rounds alternating without / with a timeline so a shared machine's load hits
both alike; prints the median of each and their ratio (the issue's target: <= 1.5), and the
file's size and event count. ``--full`` measures the full-resolution timeline instead.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

__all__ = ["measure"]


def measure(platform_path, trace_path, repeats: int = 5, full: bool = False, suffix=".json") -> dict:
    import hwsim
    from hwsim.report.timeline import Timeline

    platform = hwsim.load_platform(platform_path)
    trace = hwsim.load_trace(trace_path)
    mapping = hwsim.map_trace(platform, trace)
    plain, with_tl = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"timeline{suffix}"
        for _ in range(repeats):
            sim = hwsim.Simulation(platform, trace, mapping=mapping)
            t0 = time.process_time()
            sim.run()
            plain.append(time.process_time() - t0)
            sim = hwsim.Simulation(platform, trace, mapping=mapping,
                                   timeline=Timeline(path, platform, full=full))
            t0 = time.process_time()
            sim.run()
            with_tl.append(time.process_time() - t0)
        size = path.stat().st_size
        events = len(json.loads(path.read_text())["traceEvents"]) if suffix == ".json" else None
    a, b = statistics.median(plain), statistics.median(with_tl)
    return {"cpu_s_without": a, "cpu_s_with": b, "ratio": b / a, "ratio_of_min": min(with_tl) / min(plain),
            "file_bytes": size, "events": events}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default=str(ROOT / "platforms" / "pulp_imc_cluster.yaml"))
    ap.add_argument("--trace", default=str(ROOT / "traces" / "mobilenetv2.json"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--full", action="store_true", help="full-resolution timeline")
    ap.add_argument("--pftrace", action="store_true", help="Perfetto protobuf instead of JSON")
    args = ap.parse_args(argv)
    r = measure(args.platform, args.trace, args.repeats, args.full, ".pftrace" if args.pftrace else ".json")
    print(f"CPU s without timeline {r['cpu_s_without']:.3f}, with {r['cpu_s_with']:.3f}: "
          f"x{r['ratio']:.2f} (median of {args.repeats}; of the fastest: x{r['ratio_of_min']:.2f}); file {r['file_bytes']:,} bytes"
          + (f", {r['events']:,} events" if r["events"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
