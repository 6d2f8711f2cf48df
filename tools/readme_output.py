"""Regenerate README.md's sample output, so it cannot go stale.

The block between ``<!-- readme_output:begin -->`` and ``<!-- readme_output:end -->`` is what
``hwsim run platforms/pulp_imc_cluster.yaml traces/mobilenetv2.json`` prints: the first layers
of the table, then the summary. The ``simulator`` line (wall-clock time, events/s) depends on
the machine and its load: its wall-clock figures are shown as ``…`` (the event count is
deterministic and kept).

    python tools/readme_output.py           # rewrite README.md
    python tools/readme_output.py --check   # exit 1 if README.md is out of date (a test runs this)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN, END = "<!-- readme_output:begin -->", "<!-- readme_output:end -->"
COMMAND = ["run", "platforms/pulp_imc_cluster.yaml", "traces/mobilenetv2.json"]
LAYER_LINES = 6   # header, rule and the first layers

__all__ = ["sample_output", "render"]


def sample_output() -> str:
    """The command's output, cut to the first layers, with the wall-clock figures masked."""
    sys.path.insert(0, str(ROOT))
    from hwsim.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main([COMMAND[0]] + [str(ROOT / a) for a in COMMAND[1:]])
    if rc:
        raise SystemExit(f"hwsim {' '.join(COMMAND)} failed with status {rc}")
    table, summary = buf.getvalue().split("\n\n", 1)
    lines = table.splitlines()[:LAYER_LINES] + ["..."] + summary.rstrip().splitlines()
    out = []
    for line in lines:
        if line.startswith("simulator "):   # wall-clock figures: machine-dependent
            line = re.sub(r"in [\d.]+ s wall \(.*\)", "in … s wall (… events/s, … simulated cycles/s: "
                          "depends on the machine)", line)
        out.append(line)
    return "\n".join(out)


def render(readme: str, sample: str) -> str:
    """``readme`` with the block between the markers replaced by ``sample``."""
    head, sep, rest = readme.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{README}: markers {BEGIN} / {END} not found")
    cmd = "hwsim " + " ".join(COMMAND)
    return f"{head}{BEGIN}\n```\n$ {cmd}\n{sample}\n```\n{END}{tail}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    args = ap.parse_args(argv)
    old = README.read_text()
    new = render(old, sample_output())
    if args.check:
        if new != old:
            print("README.md sample output is stale: run python tools/readme_output.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
