#!/usr/bin/env python3
"""Write the model-zoo traces: ``traces/<name>.json`` for each network of :mod:`hwsim.workload.zoo`.

    python tools/gen_traces.py [--out traces/] [--check] [names...]

Every written file is read back with :func:`hwsim.workload.trace.load_trace`, so a trace that the loader
would reject is never left behind silently. ``--check`` writes nothing and exits 1 if a file is
missing or differs from what the generator produces now (``tests/test_zoo.py`` checks the same).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hwsim.workload.trace import load_trace  # noqa: E402
from hwsim.workload.zoo import NETWORKS, build  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", metavar="name",
                    help=f"networks to generate (default: all of {', '.join(NETWORKS)})")
    ap.add_argument("--out", type=Path, default=ROOT / "traces", help="output folder")
    ap.add_argument("--check", action="store_true",
                    help="compare with the files instead of writing them")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in NETWORKS]
    if unknown:
        ap.error(f"unknown network(s) {', '.join(unknown)}; known: {', '.join(NETWORKS)}")
    stale = []
    for name in args.names or NETWORKS:
        trace, path = build(name), args.out / f"{name}.json"
        if args.check:
            if not path.exists() or json.loads(path.read_text()) != trace.to_dict():
                stale.append(str(path))
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        trace.save(path)
        back = load_trace(path)
        print(f"{path}: {len(back.layers)} layers, {back.total_macs:,} MACs, "
              f"{back.total_params:,} params")
    if stale:
        print("out of date (run tools/gen_traces.py):", *stale, sep="\n  ", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
