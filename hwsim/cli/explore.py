"""Subcommands for design-space exploration: ``hwsim sweep``, ``hwsim whatif``, ``hwsim plot``,
``hwsim report``.

    hwsim sweep PLATFORM TRACE --grid l1.size_bytes=32000,64000,128000 \\
                --grid links.l2--soc_xbar.bandwidth_bytes_per_cycle=4,8 -o out/sweep.jsonl
    hwsim sweep PLATFORM TRACE --points points.yaml --dask tcp://scheduler:8786 -o out/s.jsonl
    hwsim whatif PLATFORM TRACE [--factor 2]
    hwsim plot layers|gantt|roofline PLATFORM TRACE -o out/layers.png
    hwsim plot gantt --timeline out/timeline.json -o out/gantt.svg
    hwsim plot pareto --sweep out/sweep.jsonl -o out/pareto.png [--y sram_bytes]
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..base.errors import HwsimError

__all__ = ["add_commands"]


def _kv(item: str, flag: str) -> tuple:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise HwsimError(f"{flag} expects PATH=VALUE, got {item!r}")
    return key.strip(), value


def _values(text: str) -> list:
    """``a,b,c`` or a YAML list ``[a, b]``; each value parsed as YAML (numbers, strings)."""
    v = yaml.safe_load(text) if text.strip().startswith("[") else None
    if isinstance(v, list):
        return v
    return [yaml.safe_load(x) for x in text.split(",")]


def _points_file(path) -> dict:
    """A YAML/JSON file: a list of points, or {grid: {...}, points: [...], set: {...}};
    ``.jsonl``: one point per line."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise HwsimError(f"cannot read points file {path}: {e.strerror}") from None
    if p.suffix == ".jsonl":
        return {"points": [json.loads(l) for l in text.splitlines() if l.strip()]}
    data = yaml.safe_load(text)
    if isinstance(data, list):
        return {"points": data}
    if isinstance(data, dict) and set(data) <= {"grid", "points", "set"}:
        return data
    raise HwsimError(f"{path}: expected a list of points or a mapping with grid/points/set")


def _sweep(args) -> int:
    from ..explore.sweep import pareto_front, run_sweep

    spec = _points_file(args.points) if args.points else {}
    axes = dict(spec.get("grid") or {})
    for item in args.grid or []:
        k, v = _kv(item, "--grid")
        axes[k] = _values(v)
    fixed = dict(spec.get("set") or {})
    for item in args.set or []:
        k, v = _kv(item, "--set")
        fixed[k] = yaml.safe_load(v)
    res = run_sweep(args.platform, args.trace, grid_axes=axes or None, points=spec.get("points"),
                    fixed=fixed or None, out=args.out, workers=args.workers, dask=args.dask,
                    resume=not args.restart, retry_failed=args.retry_failed,
                    progress=not args.no_progress, timeline_dir=args.timeline_dir)
    print(f"sweep        {res.total} points: {res.ran} run, {res.skipped} already done, "
          f"{res.failed} failed -> {res.out}")
    front = pareto_front(res.records, ("latency_s", "energy_pj"))
    if front:
        print("pareto (latency vs energy):")
        for r in front[:20]:
            s = r["summary"]
            print(f"  {s['latency_cycles']:>14,} cycles  {s['energy_uj']:>10.3f} uJ  "
                  f"{json.dumps(r['params'], sort_keys=True)[:100]}")
    return 1 if res.failed and res.failed == res.total else 0


def _whatif(args) -> int:
    from ..explore.whatif import whatif

    rep = whatif(args.platform, args.trace, args.factor, out=args.out, workers=args.workers,
                 dask=args.dask, progress=not args.no_progress)
    print(rep.table())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rep.to_dict(), indent=1) + "\n")
        print(f"report       {args.json}")
    return 0


def _plot(args) -> int:
    from ..explore import plots

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kind = args.kind
    if kind == "pareto":
        if not args.sweep:
            raise HwsimError("hwsim plot pareto needs --sweep FILE.jsonl")
        plots.plot_pareto(args.sweep, out, x=args.x or "latency_s", y=args.y or "energy_pj")
    elif kind == "gantt" and args.timeline:
        plots.plot_gantt(args.timeline, out)
    else:
        result, platform = _result_for_plot(args)
        if kind == "layers":
            plots.plot_layers(result, out)
        elif kind == "gantt":
            plots.plot_gantt(result, out)
        elif kind == "roofline":
            if platform is None:
                raise HwsimError("hwsim plot roofline needs the PLATFORM file (for the roofs)")
            plots.plot_roofline(result, platform, out)
    print(f"plot         {out}")
    return 0


def _report(args) -> int:
    from ..explore.report_page import write_report

    out = write_report(args.platform, args.trace, args.out, whatif=not args.no_whatif,
                       factor=args.factor, workers=args.workers, progress=not args.no_progress)
    print(f"report       {out}")
    return 0


def _result_for_plot(args):
    from ..api import load_platform, load_trace, simulate

    overrides = {}
    for item in args.set or []:
        k, v = _kv(item, "--set")
        overrides[k] = yaml.safe_load(v)
    platform = load_platform(args.platform, overrides or None) if args.platform else None
    if args.result:
        return json.loads(Path(args.result).read_text()), platform
    if platform is None or not args.trace:
        raise HwsimError(f"hwsim plot {args.kind} needs PLATFORM and TRACE (or --result REPORT.json)")
    return simulate(platform, load_trace(args.trace)), platform


def add_commands(sub) -> None:
    """Register ``sweep``, ``whatif``, ``plot`` and ``report`` on the ``hwsim`` subparsers."""
    sw = sub.add_parser("sweep", help="simulate a grid or list of design points (parallel, resumable)")
    sw.add_argument("platform", help="platform YAML file")
    sw.add_argument("trace", help="layer trace JSON file or zoo network name")
    sw.add_argument("--grid", action="append", metavar="PATH=V1,V2,...",
                    help="a grid axis: platform field (dotted path) or trace option (trace, "
                         "trace.repeat, trace.<builder option>) with its values; repeatable")
    sw.add_argument("--points", metavar="FILE", help="YAML/JSON list of points, or {grid, points, "
                    "set}; .jsonl: one point per line")
    sw.add_argument("--set", action="append", metavar="PATH=VALUE", help="fixed override for every point")
    sw.add_argument("-o", "--out", default="sweep.jsonl", help="results (JSON lines; default sweep.jsonl)")
    sw.add_argument("-j", "--workers", type=int, default=None,
                    help="local worker processes (default: every core; 0 = in this process)")
    sw.add_argument("--dask", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    sw.add_argument("--restart", action="store_true", help="discard the results file and start afresh")
    sw.add_argument("--retry-failed", action="store_true", help="run recorded failed points again")
    sw.add_argument("--timeline-dir", metavar="DIR", help="write each point's timeline to DIR/<id>.json")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.set_defaults(func=_sweep)

    wi = sub.add_parser("whatif", help="scale each resource in turn and rank the speedup each buys")
    wi.add_argument("platform", help="platform YAML file")
    wi.add_argument("trace", help="layer trace JSON file or zoo network name")
    wi.add_argument("--factor", type=float, default=2.0, help="scale factor (default 2)")
    wi.add_argument("-o", "--out", help="keep the underlying sweep records (JSON lines)")
    wi.add_argument("--json", metavar="FILE", help="write the ranking as JSON")
    wi.add_argument("-j", "--workers", type=int, default=None, help="local worker processes")
    wi.add_argument("--dask", metavar="ADDRESS", help="run on a Dask cluster")
    wi.add_argument("--no-progress", action="store_true", help="no progress bar")
    wi.set_defaults(func=_whatif)

    pl = sub.add_parser("plot", help="plots: layers, gantt, roofline, pareto (PNG/SVG by extension)",
                        description="Draw one plot (format by the -o extension). Inputs per kind: "
                        "layers and gantt need PLATFORM TRACE (simulated now) or --result "
                        "REPORT.json; gantt also reads --timeline FILE alone; roofline needs "
                        "PLATFORM and TRACE (or PLATFORM --result REPORT.json); pareto needs "
                        "--sweep FILE.jsonl.")
    pl.add_argument("kind", choices=("layers", "gantt", "roofline", "pareto"))
    pl.add_argument("platform", nargs="?", help="platform YAML file")
    pl.add_argument("trace", nargs="?", help="layer trace JSON file")
    pl.add_argument("-o", "--out", required=True, help="output file (.png, .svg, .pdf)")
    pl.add_argument("--result", metavar="REPORT.json", help="use a `hwsim run --json` report")
    pl.add_argument("--timeline", metavar="FILE", help="gantt from a timeline file")
    pl.add_argument("--sweep", metavar="FILE.jsonl", help="pareto from sweep records")
    pl.add_argument("--x", help="pareto x objective (summary field, default latency_s)")
    pl.add_argument("--y", help="pareto y objective (default energy_pj; e.g. sram_bytes)")
    pl.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a platform field")
    pl.set_defaults(func=_plot)

    rp = sub.add_parser("report", help="one self-contained HTML page: summary, layers, plots, "
                        "bottleneck and what-if ranking")
    rp.add_argument("platform", help="platform YAML file")
    rp.add_argument("trace", help="layer trace JSON file or zoo network name")
    rp.add_argument("-o", "--out", required=True, metavar="FILE.html", help="page to write")
    rp.add_argument("--no-whatif", action="store_true",
                    help="leave out the what-if ranking (it runs one simulation per resource)")
    rp.add_argument("--factor", type=float, default=2.0, help="what-if scale factor (default 2)")
    rp.add_argument("-j", "--workers", type=int, default=None, help="what-if worker processes")
    rp.add_argument("--no-progress", action="store_true", help="no progress bar")
    rp.set_defaults(func=_report)
