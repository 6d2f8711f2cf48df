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

from ..base.errors import ConfigError, HwsimError
from ..base.limits import check_outputs, write_text_atomic
from ..base.yamlio import parse_yaml, yaml_value
from .options import count, kv, overrides, seconds

__all__ = ["add_commands"]


def _values(text: str, where: str) -> list:
    """``a,b,c`` or a YAML list ``[a, b]``; each value parsed as YAML (numbers, strings)."""
    v = yaml_value(text, where) if text.strip().startswith("[") else None
    if isinstance(v, list):
        return v
    return [yaml_value(x, where) for x in text.split(",")]


def _points_file(path) -> dict:
    """A YAML/JSON file: a list of points, or {grid: {...}, points: [...], set: {...}};
    ``.jsonl``: one point per line. Read within the input limits; every shape error names
    the file, line and field."""
    from ..base.limits import parse_json, read_text
    from ..base.srcmap import attach_line

    p = Path(path)
    jsonl = p.suffix == ".jsonl"
    text = read_text(p, "points", "JSON" if jsonl else "YAML")
    if jsonl:
        pts = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    pts.append(parse_json(line, p))
                except ConfigError as e:
                    raise ConfigError(p, f"line {n}", e.problem, line=n) from None
                if not isinstance(pts[-1], dict):
                    raise ConfigError(p, f"line {n}", "a point is a JSON object {parameter: value}",
                                      line=n)
        return {"points": pts}
    data = parse_yaml(text, p)
    if isinstance(data, list):
        data = {"points": data}
    try:
        if not isinstance(data, dict) or not set(data) <= {"grid", "points", "set"}:
            raise ConfigError(p, "", "expected a list of points or a mapping with grid/points/set")
        for key, kind in (("grid", dict), ("points", list), ("set", dict)):
            if data.get(key) is not None and not isinstance(data[key], kind):
                raise ConfigError(p, key, f"expected a {'mapping' if kind is dict else 'list'}, "
                                  f"got {type(data[key]).__name__}")
        for k, v in (data.get("grid") or {}).items():
            if not isinstance(k, str) or not isinstance(v, list) or not v:
                raise ConfigError(p, f"grid.{k}", "a grid axis is a parameter name with a "
                                  "non-empty list of values")
        for i, pt in enumerate(data.get("points") or []):
            if not isinstance(pt, dict) or not all(isinstance(k, str) for k in pt):
                raise ConfigError(p, f"points[{i}]", "a point is a mapping {parameter: value}")
        if not all(isinstance(k, str) for k in data.get("set") or {}):
            raise ConfigError(p, "set", "keys are parameter names")
    except ConfigError as e:
        raise attach_line(e, text=text, kind="yaml")
    return data


def _sweep(args) -> int:
    from ..explore.sweep import pareto_front, run_sweep

    check_outputs({"platform": args.platform, "trace": args.trace, "--points": args.points},
                  {"-o": args.out})
    spec = _points_file(args.points) if args.points else {}
    axes = dict(spec.get("grid") or {})
    for item in args.grid or []:
        k, v = kv(item, "--grid")
        axes[k] = _values(v, f"--grid {k}")
    fixed = {**(spec.get("set") or {}), **overrides(args.set, "--set")}
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
    if res.failed and res.failed == res.total:
        first = next(r for r in res.records if r["status"] != "ok")
        raise HwsimError(f"all {res.total} points failed (records in {res.out}); first: "
                         f"{first['error'].splitlines()[0]}")
    return 0


def _whatif(args) -> int:
    from ..explore.whatif import whatif

    check_outputs({"platform": args.platform, "trace": args.trace},
                  {"-o": args.out, "--json": args.json})
    rep = whatif(args.platform, args.trace, args.factor, out=args.out, workers=args.workers,
                 dask=args.dask, progress=not args.no_progress)
    print(rep.table())
    if args.json:
        write_text_atomic(args.json, json.dumps(rep.to_dict(), indent=1) + "\n")
        print(f"report       {args.json}")
    return 0


def _plot(args) -> int:
    from ..explore import plots

    check_outputs({"platform": args.platform, "trace": args.trace, "--result": args.result,
                   "--timeline": args.timeline, "--sweep": args.sweep}, {"-o": args.out})
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

    ov = overrides(args.set, "--set")
    platform = load_platform(args.platform, ov or None) if args.platform else None
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
    sw.add_argument("-j", "--workers", type=count(0, 4096), default=None,
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
    wi.add_argument("--factor", type=seconds(1e6, "a factor"), default=2.0, help="scale factor (default 2)")
    wi.add_argument("-o", "--out", help="keep the underlying sweep records (JSON lines)")
    wi.add_argument("--json", metavar="FILE", help="write the ranking as JSON")
    wi.add_argument("-j", "--workers", type=count(0, 4096), default=None,
                    help="local worker processes")
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
