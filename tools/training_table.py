#!/usr/bin/env python3
"""Inference vs one training step of MLPerf Tiny networks on the digital and the AIMC platform.

    python tools/training_table.py [--write docs/training.md]

Simulates each network of :data:`NETS` (zoo builders, int8 inference traces) on each platform
of :data:`PLATFORMS`: the inference, and training steps derived by
:func:`hwsim.workload.training.training_step` (batch 1, forward int8, gradients and optimizer state
fp32). Prints a Markdown table; ``--write`` replaces the table between the markers in the
given file (``docs/training.md``), so the document can be regenerated.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import copy  # noqa: E402

import yaml  # noqa: E402

from hwsim import load_platform, simulate  # noqa: E402
from hwsim.hardware.platform import platform_from_dict  # noqa: E402
from hwsim.workload.training import training_step  # noqa: E402
from hwsim.workload.zoo import build  # noqa: E402

NETS = ("resnet8", "ds_cnn")
PLATFORMS = ("platforms/pulp_cluster.yaml", "platforms/pulp_imc_cluster.yaml",
             "platforms/pulp_imc_cluster.yaml+16ima")
#: (label, training_step options or None for inference)
WORKLOADS = (
    ("inference", None),
    ("train all, SGD", dict(trainable="all", optimizer="sgd")),
    ("train all, Adam", dict(trainable="all", optimizer="adam")),
    ("train classifier, SGD", dict(trainable="classifier", optimizer="sgd")),
)
PRECISION = {"forward": 8, "gradient": 32, "optimizer": 32}
BEGIN, END = "<!-- training-table:begin -->", "<!-- training-table:end -->"


def replicated_ima(path: Path, n: int):
    """The IMC cluster with ``n`` copies of its ``ima`` crossbar (each with its own streamer
    link to L1, all parameters unchanged): a what-if in which the crossbars hold every weight,
    so inference programs them once and only a training step re-programs them."""
    data = yaml.safe_load(path.read_text())
    ima = data["components"]["ima"]
    link = next(k for k in data["links"] if sorted(k["between"]) == sorted(["ima", "l1"]))
    for i in range(1, n):
        data["components"][f"ima{i}"] = copy.deepcopy(ima)
        data["links"].append({**copy.deepcopy(link), "between": [f"ima{i}", "l1"]})
    data["name"] = f"{data['name']}_{n}ima"
    return platform_from_dict(data, f"{path}+{n}ima")


def _platform(spec: str):
    path, _, extra = spec.partition("+")
    if extra:
        return replicated_ima(ROOT / path, int(extra.removesuffix("ima")))
    return load_platform(ROOT / path)


def rows():
    for net in NETS:
        fwd = build(net)
        for pf in PLATFORMS:
            plat = _platform(pf)
            for label, opts in WORKLOADS:
                trace = fwd if opts is None else training_step(fwd, batch=1, precision=PRECISION,
                                                               **opts)
                r = simulate(plat, trace)
                prog = sum(x.programming_cycles for x in r.layers)
                tr = trace.meta.get("training", {})
                yield (net, plat.name, label, r.latency_s * 1e3, r.energy_pj / 1e6,
                       r.totals["l3_bytes"], r.totals["l2_bytes"], prog / r.cycles if r.cycles else 0,
                       sum(l.macs for l in trace.layers), tr.get("saved_activation_bytes", 0),
                       tr.get("optimizer_state_bytes", 0))


def table() -> str:
    head = ("| network | platform | workload | latency (ms) | energy (uJ) | bytes from/to DRAM (L3) "
            "| L2 bytes | programming share | MACs | saved activations (B) | optimizer state (B) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for net, plat, label, ms, uj, l3, l2, prog, macs, saved, state in rows():
        lines.append(f"| {net} | {plat} | {label} | {ms:.3f} | {uj:.1f} | {l3:,} | {l2:,} | "
                     f"{prog:.0%} | {macs:,} | {saved:,} | {state:,} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", type=Path, metavar="FILE",
                    help=f"replace the table between {BEGIN} and {END} in FILE")
    args = ap.parse_args(argv)
    text = table()
    if args.write:
        doc = args.write.read_text()
        if BEGIN not in doc or END not in doc:
            print(f"{args.write}: markers {BEGIN} / {END} not found", file=sys.stderr)
            return 1
        pre, rest = doc.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
        args.write.write_text(f"{pre}{BEGIN}\n{text}\n{END}{post}")
        print(f"{args.write}: table updated")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
