"""``hwsim compare``: one network on several platforms, side by side.

    hwsim compare traces/mobilenetv2_bottleneck.json \\
        -p platforms/pulp_cluster.yaml \\
        -p "platforms/pulp_imc_cluster.yaml:mapping.accelerators=off" \\
        -p platforms/pulp_imc_cluster.yaml [--markdown] [--plot out/compare.png] [--json F]

A platform argument is a YAML file, optionally followed by ``:path=value,path=value``
overrides (the same dotted paths as ``hwsim run --set``), so variants of one chip (its
accelerators off, a starved streamer, a smaller mesh) compare like separate platforms.

For each platform the table gives latency, steady-state throughput (pipelined), energy per
inference, achieved TOPS and TOPS/W next to the peak of the engines that mapping runs the layers
on (:mod:`hwsim.report.efficiency`: a chip with its accelerators off has its cores' peak),
where the time went (compute / memory stall / contention / programming / idle, shares of the
summed layer time) and where the energy went (the ideal at the peak efficiency of the engines the
mapping uses, compute above it,
data movement, digital post-processing, programming, leakage; shares of the total). The plot
(needs matplotlib: ``pip install hwsim[plot]``) shows the same as stacked bars.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..base.errors import HwsimError
from ..base.yamlio import yaml_value
from ..report.efficiency import energy_gap, engines_used, platform_peaks
from ..mapping.hetero_mapper import REPORTED_KINDS
from ..report.stats import CATEGORIES

__all__ = ["GAP_KEYS", "parse_platform_arg", "compare_runs", "run_compare", "format_table", "plot",
           "cli", "add_parser"]

GAP_KEYS = ("ideal_at_peak", "compute_excess", "data_movement", "postprocessing", "programming", "leakage")


def parse_platform_arg(arg: str) -> tuple:
    """``path[:k=v,k=v]`` -> (path, overrides, label)."""
    path, _, rest = arg.partition(":")
    overrides = {}
    if rest:
        for item in rest.split(","):
            k, eq, v = item.partition("=")
            if not eq:
                raise HwsimError(f"platform variant {arg!r}: expected path=value after ':'")
            overrides[k.strip()] = yaml_value(v, f"platform variant {arg!r}: {k.strip()}")
    label = Path(path).stem + (f" [{rest}]" if rest else "")
    return path, overrides, label


def compare_runs(trace_path: str, platform_args: list):
    """Simulate ``trace_path`` on every platform; yields ``(row, result)`` per platform: the
    row dict of :func:`run_compare` and the run's :class:`~hwsim.api.Result` (per-layer
    records, mapping facts) for callers that look deeper, or ``None`` where the platform cannot
    run the network (the row's ``error`` says why)."""
    from ..api import Simulation, load_platform, load_trace

    trace = load_trace(trace_path)
    for arg in platform_args:
        path, ov, label = parse_platform_arg(arg)
        try:
            platform = load_platform(path, ov or None)
            sim = Simulation(platform, trace)
            res = sim.run()
        except HwsimError as e:     # one platform that cannot run the network: say why
            yield {"platform": label, "trace": trace.name, "error": str(e)}, None
            continue
        yield _row(label, trace.name, platform, sim, res), res


def run_compare(trace_path: str, platform_args: list) -> list:
    """Simulate ``trace_path`` on every platform; returns a list of row dicts."""
    return [row for row, _ in compare_runs(trace_path, platform_args)]


def _row(label: str, trace_name: str, platform, sim, res) -> dict:
    """One platform's row: the summary figures the table and the JSON show."""
    d = res.summary_dict()
    cyc = d["cycles_by_category"]
    tot = sum(cyc.values()) or 1
    e = d["energy_pj"] or 1.0
    # peaks of the engines this mapping runs MACs on (a chip with its accelerators off
    # is compared with its cores' peak), and the energy gap against that peak
    pk = platform_peaks(platform, engines_used(sim.mapping.plans))
    ops = 2 * d["macs"]
    d["peak_tops"], d["peak_tops_per_w"] = pk["peak_tops"], pk["peak_tops_per_w"]
    d["energy_gap_pj"] = energy_gap(d.get("energy_by_category_pj", {}), ops, pk["peak_tops_per_w"])
    return {
        "platform": label, "trace": trace_name,
        "latency_ms": d["latency_s"] * 1e3, "inferences_per_s": d["inferences_per_s"],
        "steady_inferences_per_s": d.get("steady_state_inferences_per_s", 0.0),
        "energy_uj": d["energy_uj"], "achieved_tops": d["achieved_tops"],
        "peak_tops": d.get("peak_tops", 0.0), "achieved_tops_per_w": d["achieved_tops_per_w"],
        "peak_tops_per_w": d.get("peak_tops_per_w") or 0.0,
        "time_split": {c: cyc[c] / tot for c in CATEGORIES},
        "energy_split": {k: d.get("energy_gap_pj", {}).get(k, 0.0) / e for k in GAP_KEYS},
        "engines": res.mapping.get("engines", {"cores": len(res.layers)}),
        "aimc_programmed": res.mapping.get("aimc_programmed", "n/a"),
        "setup_programming_s": d.get("setup_programming_s", 0.0),
    }


HEADERS = ["platform", "latency ms", "inf/s (pipe)", "energy uJ", "TOPS", "peak TOPS",
           "TOPS/W", "peak TOPS/W", "time: comp/stall/cont/prog/idle %",
           "energy: ideal/excess/data/post/prog/leak %", "engines c/a/dw", "AIMC weights"]


def _cells(r: dict) -> list:
    """A row's cells under :data:`HEADERS`."""
    if "error" in r:
        return [r["platform"], "cannot run: " + r["error"][:120]] + [""] * (len(HEADERS) - 2)
    ts = "/".join(f"{100 * r['time_split'][c]:.0f}" for c in CATEGORIES)
    es = "/".join(f"{100 * r['energy_split'][k]:.0f}" for k in GAP_KEYS)
    eng = r["engines"]
    return [r["platform"], f"{r['latency_ms']:.4f}", f"{r['steady_inferences_per_s']:.1f}",
            f"{r['energy_uj']:.3f}", f"{r['achieved_tops']:.4f}", f"{r['peak_tops']:.3f}",
            f"{r['achieved_tops_per_w']:.3f}", f"{r['peak_tops_per_w']:.2f}", ts, es,
            _engines_cell(eng),
            r["aimc_programmed"]]


def format_table(rows: list, markdown: bool = False, wide: bool = False, width: int = 100) -> str:
    """The comparison as text. Default: one column per platform (as many side by side as fit
    ``width`` characters, then the next block), metrics as rows; the platforms are named in a
    legend above. ``wide`` / ``markdown``: one row per platform, every column."""
    body = [_cells(r) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    if wide:
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(HEADERS)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths)).rstrip(),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip() for b in body]
        return "\n".join(lines)
    lines = [f"[{i}] {r['platform']}" + (f": cannot run: {r['error'][:200]}" if "error" in r else "")
             for i, r in enumerate(rows, 1)]
    ok = [(i, b) for i, (r, b) in enumerate(zip(rows, body), 1) if "error" not in r]
    label_w = max(len(h) for h in HEADERS)
    colw = {i: max(len(f"[{i}]"), *(len(c) for c in b[1:])) for i, b in ok}
    while ok:   # as many platforms side by side as fit ``width`` (at least one)
        n = 1
        while n < len(ok) and label_w + sum(colw[i] + 2 for i, _ in ok[:n + 1]) <= width:
            n += 1
        block, ok = ok[:n], ok[n:]
        widths = [colw[i] for i, _ in block]
        lines.append("")
        lines.append(" " * label_w + "".join(f"  {f'[{i}]':>{w}}" for (i, _), w in zip(block, widths)))
        lines.append("-" * (label_w + sum(w + 2 for w in widths)))
        for j, h in enumerate(HEADERS[1:], 1):
            lines.append(f"{h:<{label_w}}" + "".join(f"  {b[j]:>{w}}" for (_, b), w in zip(block, widths)))
    return "\n".join(lines)


def plot(rows: list, path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise HwsimError("--plot needs matplotlib: pip install 'hwsim[plot]'") from None
    rows = [r for r in rows if "error" not in r]
    names = [r["platform"] for r in rows]
    fig, axes = plt.subplots(1, 3, sharey=True, figsize=(17, 1.8 + 0.45 * len(rows)),
                             gridspec_kw={"width_ratios": [1, 1.4, 1]})
    axes[0].barh(names, [r["latency_ms"] for r in rows])
    axes[0].set_xscale("log")
    axes[0].set_xlabel("latency (ms, log)")
    left = [0.0] * len(rows)
    for k in GAP_KEYS:
        vals = [r["energy_split"][k] * r["energy_uj"] for r in rows]
        axes[1].barh(names, vals, left=left, label=k)
        left = [a + b for a, b in zip(left, vals)]
    axes[1].set_xlabel("energy per inference (uJ) by where it went")
    axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3)
    axes[2].barh(names, [r["achieved_tops_per_w"] for r in rows], label="achieved")
    axes[2].scatter([r["peak_tops_per_w"] for r in rows], names, marker="|", s=300, color="k",
                    label="peak (best engine used)")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("TOPS/W (log)")
    axes[2].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    axes[0].invert_yaxis()
    fig.suptitle(rows[0]["trace"] if rows else "")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")   # legends sit below the axes
    plt.close(fig)


def cli(args) -> int:
    from ..base.limits import check_outputs

    check_outputs({f"trace {t}": t for t in args.trace}
                  | {f"platform {a}": parse_platform_arg(a)[0] for a in args.platform},
                  {"--json": args.json, "--plot": args.plot})
    out = []
    for tr in args.trace:
        rows = run_compare(tr, args.platform)
        out.extend(rows)
        print(f"{'### ' if args.markdown else ''}{rows[0]['trace'] if rows else tr}")
        print()
        print(format_table(rows, markdown=args.markdown, wide=args.wide))
        print()
        if args.plot:
            p = Path(args.plot)
            target = p if len(args.trace) == 1 else p.with_name(f"{p.stem}_{Path(tr).stem}{p.suffix}")
            plot(rows, str(target))
            print(f"plot         {target}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    failed = [r for r in out if "error" in r]
    if out and len(failed) == len(out):
        raise HwsimError(f"no platform could run the trace ({len(failed)} tried); first: "
                         f"{failed[0]['platform']}: {failed[0]['error'].splitlines()[0]}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="run one network on several platforms, side by side")
    p.add_argument("trace", nargs="+", help="layer trace JSON file(s)")
    p.add_argument("-p", "--platform", action="append", required=True,
                   metavar="YAML[:path=value,...]", help="a platform (repeat); optional overrides")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--wide", action="store_true",
                   help="one row per platform, every column (default: platforms side by side, "
                        "metrics as rows, in 100 columns)")
    p.add_argument("--plot", metavar="FILE", help="write a bar chart (needs matplotlib)")
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    p.set_defaults(func=cli)


def _engines_cell(eng: dict) -> str:
    """Layers per engine kind: the report's standard kinds as ``c/a/dw``, then any other kind
    used (e.g. ``ne16:12``)."""
    cell = "/".join(str(eng.get(k, 0)) for k in REPORTED_KINDS)
    return " ".join([cell] + [f"{k}:{n}" for k, n in eng.items() if k not in REPORTED_KINDS and n])
