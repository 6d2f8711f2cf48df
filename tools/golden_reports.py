"""Fingerprints of the report (and timeline) of every bundled platform x trace pair.

A refactoring must leave reports bit-identical: ``tests/test_golden.py`` compares each pair's
report with the fingerprint saved here.  A deliberate model change (a fidelity fix) rewrites
the file with ``python tools/golden_reports.py --write`` and says so in its commit.

    python tools/golden_reports.py            # compare, print the pairs that differ
    python tools/golden_reports.py --write    # save new fingerprints
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden_reports.json"


def pairs():
    for p in sorted((ROOT / "platforms").glob("*.yaml")):
        for t in sorted((ROOT / "traces").glob("*.json")):
            yield p, t


def fingerprint(platform_path: Path, trace_path: Path) -> dict:
    """sha256 of the JSON report and of the timeline, plus two readable figures."""
    import hwsim

    try:
        platform = hwsim.load_platform(platform_path)
        trace = hwsim.load_trace(trace_path)
        with tempfile.TemporaryDirectory() as tmp:
            tl = Path(tmp) / "t.json"
            result = hwsim.simulate(platform, trace, timeline=tl)
            timeline_sha = hashlib.sha256(tl.read_bytes()).hexdigest()
    except hwsim.HwsimError as e:
        return {"error": str(e).splitlines()[0].replace(f"{ROOT}/", "")}   # checkout-independent
    report = result.to_json()
    s = result.summary_dict()
    return {"report_sha256": hashlib.sha256(report.encode()).hexdigest(),
            "timeline_sha256": timeline_sha,
            "latency_cycles": s["latency_cycles"], "energy_pj": s["energy_pj"]}


def report_sha_without_timeline(platform_path: Path, trace_path: Path) -> str | None:
    """sha256 of the JSON report of a run without a timeline (None: the pair does not map).
    A timeline observes a run and must not change it: this equals the fingerprint's
    ``report_sha256``. (Without an observer the burst trains take their plain path.)"""
    import hwsim

    try:
        result = hwsim.simulate(hwsim.load_platform(platform_path), hwsim.load_trace(trace_path))
    except hwsim.HwsimError:
        return None
    return hashlib.sha256(result.to_json().encode()).hexdigest()


def key(p: Path, t: Path) -> str:
    return f"{p.name}:{t.name}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="save the current fingerprints")
    args = ap.parse_args(argv)
    current = {key(p, t): fingerprint(p, t) for p, t in pairs()}
    if args.write:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(current)} fingerprints to {GOLDEN.relative_to(ROOT)}")
        return 0
    saved = json.loads(GOLDEN.read_text())
    diff = [k for k in sorted(set(saved) | set(current)) if saved.get(k) != current.get(k)]
    for k in diff:
        print(f"{k}: saved {saved.get(k)} now {current.get(k)}")
    print(f"{len(current) - len(diff)} of {len(current)} pairs identical")
    plain = [key(p, t) for p, t in pairs()
             if report_sha_without_timeline(p, t) not in (None, saved.get(key(p, t), {}).get("report_sha256"))]
    for k in plain:
        print(f"{k}: the report without a timeline differs from the one with it")
    print(f"{len(current) - len(plain)} of {len(current)} reports identical without a timeline")
    return 1 if diff or plain else 0


if __name__ == "__main__":
    sys.exit(main())
