"""Plots of simulation results and sweeps (matplotlib, an optional extra: ``pip install hwsim[plot]``).

* :func:`plot_layers`: per-layer stacked bars of reference-clock cycles split into compute,
  memory stall, contention, programming and idle (the attribution of :mod:`hwsim.report.stats`).
* :func:`plot_gantt`: engines over time, from a result's layer records (one row per engine,
  one bar per layer, coloured by the layer's dominant time category) or from a Perfetto
  timeline file (one row per track: layers, engines, DMA slots, channels).
* :func:`plot_roofline`: each layer's achieved throughput (Gop/s) against its operational
  intensity at the memory level that bounds it (ops per byte moved at L1, L2 or L3), under a
  roof per level traversed (the slowest link or port on the way: L1 port, L2 -> L1, L3 -> L2)
  and per engine used (its peak, :func:`hwsim.report.efficiency.engine_peaks`).
* :func:`plot_pareto`: the points of a sweep and their Pareto front (latency vs energy, or any
  two summary fields, e.g. ``sram_bytes`` as area proxy).

The output format follows the file extension (``.png``, ``.svg``, ``.pdf``). Functions accept a
:class:`~hwsim.report.stats.SimulationResult` or the dict of a ``hwsim run --json`` report.
"""
from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path

from ..base.errors import HwsimError
from ..base.units import PS_PER_S, TERA

__all__ = ["COLORS", "CATS", "plot_layers", "plot_gantt", "plot_roofline", "plot_pareto"]

COLORS = {"compute": "#2b8cbe", "memory_stall": "#f03b20", "contention": "#feb24c",
          "programming": "#756bb1", "idle": "#d9d9d9"}
CATS = ("compute", "memory_stall", "contention", "programming", "idle")


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise HwsimError("plots need matplotlib: pip install 'hwsim[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _report(result) -> dict:
    if isinstance(result, dict):
        return result
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if isinstance(result, (str, Path)):
        return json.loads(Path(result).read_text())
    raise HwsimError(f"cannot plot a {type(result).__name__}: pass a SimulationResult or a report")


def _layers(result) -> list:
    return [asdict(l) if is_dataclass(l) else l for l in _report(result)["layers"]]


def _save(fig, out) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return out


def _freq(rep: dict) -> float:
    return float(rep.get("reference_clock", {}).get("freq_hz") or 0)


def plot_layers(result, out, title: str | None = None) -> Path:
    """Stacked bars: each layer's cycles split by category (reference-clock cycles)."""
    plt = _plt()
    rep = _report(result)
    layers = _layers(rep)
    n = len(layers)
    fig, ax = plt.subplots(figsize=(max(7.0, min(40.0, 0.22 * n + 3)), 4.8))
    bottom = [0] * n
    x = range(n)
    for c in CATS:
        vals = [l[f"{c}_cycles"] for l in layers]
        if any(vals):
            ax.bar(x, vals, bottom=bottom, color=COLORS[c], label=c.replace("_", " "), width=0.8)
            bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(list(x))
    ax.set_xticklabels([l["name"] for l in layers], rotation=90, fontsize=7 if n > 30 else 8)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylabel(f"cycles ({rep.get('reference_clock', {}).get('name', 'reference')} clock)")
    from matplotlib.ticker import FuncFormatter
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))   # no 1e6 offset
    ax.set_title(title or f"{rep.get('trace', '')} on {rep.get('platform', '')}: time per layer")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out)


def _dominant(l: dict) -> str:
    return max(CATS, key=lambda c: l.get(f"{c}_cycles", 0))


def plot_gantt(source, out, title: str | None = None, max_tracks: int = 40) -> Path:
    """Engines over time: from a result (one row per engine, one bar per layer, named, coloured
    by the layer's dominant time category) or a timeline file path (``.json`` written by
    ``hwsim run --timeline``: one row per track in the file's track order, layer bars named).
    Bars have edges, so layers that follow each other stay apart; time in us or ms."""
    plt = _plt()
    from matplotlib.patches import Patch

    if isinstance(source, (str, Path)) and _is_timeline(source):
        rows = _timeline_rows(source, max_tracks)
        name = title or f"timeline {Path(source).name}"
        cats = sorted({c for bars in rows.values() for _, _, c, _ in bars})
        palette = dict(COLORS)
        extra = ["#31a354", "#636363", "#e377c2", "#17becf", "#bcbd22", "#8c564b"]
        for i, c in enumerate(c for c in cats if c not in palette):
            palette[c] = extra[i % len(extra)]
    else:
        rep = _report(source)
        rows = {}
        for l in _layers(rep):
            rows.setdefault(l["engine"], []).append(
                (l["start_ps"] / 1e6, (l["end_ps"] - l["start_ps"]) / 1e6, _dominant(l), l["name"]))
        name = title or f"{rep.get('trace', '')} on {rep.get('platform', '')}: layers on engines"
        palette = COLORS
        cats = sorted({c for bars in rows.values() for _, _, c, _ in bars}, key=CATS.index)
    labels = list(rows)
    end = max(s + d for bars in rows.values() for s, d, _, _ in bars)
    k, unit = (1e-3, "ms") if end > 2e3 else (1.0, "us")   # long runs read better in ms
    fig, ax = plt.subplots(figsize=(12, max(2.2, 0.45 * len(labels) + 1.4)))
    char_w = end * k / 230   # data units per character of a 6 pt label on a 12 in wide plot
    for i, lab in enumerate(labels):
        bars = rows[lab]
        for cat in sorted({c for _, _, c, _ in bars}):
            ax.broken_barh([(s * k, d * k) for s, d, c, _ in bars if c == cat], (i - 0.38, 0.76),
                           facecolors=palette.get(cat, "#999999"), edgecolor="white",
                           linewidth=0.6 if len(bars) < 2000 else 0)
        for s, d, _, text in bars:
            if text and d * k >= (len(text) + 1) * char_w:   # named where the name fits
                ax.text((s + d / 2) * k, i, text, ha="center", va="center", fontsize=6, clip_on=True)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(0, end * k)
    ax.set_xlabel(f"time ({unit})")
    ax.set_title(name)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=[Patch(color=palette.get(c, "#999999"), label=c.replace("_", " ")) for c in cats],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return _save(fig, out)


def _is_timeline(path) -> bool:
    with open(path) as f:
        head = f.read(4096)
    return '"traceEvents"' in head


def _timeline_rows(path, max_tracks: int) -> dict:
    """Rows ``{"group: track": [(start_us, dur_us, cat, name)]}`` of the ``X`` events of a
    timeline (``name`` only on layer slices), in the file's track order (process and thread
    sort indices); read line by line (the writer puts one event per line), so large files
    are not held twice."""
    names: dict = {}
    procs: dict = {}
    order: dict = {}
    porder: dict = {}
    rows: dict = {}
    with open(path) as f:
        for line in f:
            line = line.strip().rstrip(",")
            if not line.startswith("{\"ph\""):
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            ph = ev.get("ph")
            key = (ev.get("pid"), ev.get("tid"))
            if ph == "M":
                what = ev.get("name")
                if what == "thread_name":
                    names[key] = ev["args"]["name"]
                elif what == "process_name":
                    procs[key[0]] = ev["args"]["name"]
                elif what == "thread_sort_index":
                    order[key] = ev["args"]["sort_index"]
                elif what == "process_sort_index":
                    porder[key[0]] = ev["args"]["sort_index"]
            elif ph == "X":
                cat = ev.get("cat", "")
                rows.setdefault(key, []).append((float(ev["ts"]), float(ev["dur"]), cat,
                                                 ev["name"] if cat == "layer" else ""))
    if not rows:
        raise HwsimError(f"{path}: no spans (X events) in this timeline")
    keys = sorted(rows, key=lambda k: (porder.get(k[0], k[0] or 0), order.get(k, k[1] or 0)))[:max_tracks]
    return {f"{procs.get(k[0], k[0])}: {names.get(k, k[1])}": rows[k] for k in keys}


def _roofs(platform) -> tuple:
    """``({engine: peak kernel ops/s}, {level: (bytes/s, label)})`` of a platform. A level's
    roof is the slowest resource (link, memory port) on the path its data takes one level
    closer to the engines: L3 -> L2, L2 -> L1, and the L1 port for L1."""
    import networkx as nx

    from ..hardware.platform import Memory
    from ..report.efficiency import engine_peaks

    # the engines' peaks (1 MAC = 2 ops) in the plot's unit: MACs (kernel ops) per second
    peaks = {name: pk["tops"] * TERA / 2 for name, pk in engine_peaks(platform).items()}
    g = platform.graph()

    def port(m):
        return m.port_bandwidth_bytes_per_cycle * m.ports * m.clock.freq_hz

    def path_bw(a, b):
        try:
            path = nx.shortest_path(g, a, b)
        except nx.NetworkXNoPath:
            return None
        cands = [g.edges[x, y]["link"].bandwidth_bytes_per_cycle * g.edges[x, y]["link"].clock.freq_hz
                 for x, y in zip(path, path[1:])]
        cands += [port(platform.components[n]) for n in path
                  if isinstance(platform.components[n], Memory) and port(platform.components[n])]
        return min(cands) if cands else None

    levels = {}
    l1s, l2s, l3s = platform.memories("L1"), platform.memories("L2"), platform.memories("L3")
    if l1s and port(l1s[0]):
        levels["L1"] = (port(l1s[0]), f"{l1s[0].name} port")
    for lvl, src, dst in (("L2", l2s, l1s), ("L3", l3s, l2s or l1s)):
        if src and dst:
            bw = path_bw(src[0].name, dst[0].name)
            if bw:
                levels[lvl] = (bw, f"{src[0].name} -> {dst[0].name}")
    return peaks, levels


LEVEL_COLORS = {"L1": "#31a354", "L2": "#3182bd", "L3": "#de2d26"}


def plot_roofline(result, platform, out, title: str | None = None) -> Path:
    """Roofline with a roof per memory level the layers traversed (L1, L2, L3: the slowest
    link or port on the way, see :func:`_roofs`) and per engine used (its peak). Each layer
    is placed at the level that bounds it (the most time at that level's bandwidth): x = its
    ops per byte moved at that level, y = its achieved throughput; colour = level, marker =
    engine. Every roof and ridge point is inside the axes; legend outside."""
    plt = _plt()
    rep = _report(result)
    layers = [l for l in _layers(rep) if l["end_ps"] > l["start_ps"] and l["ops"]]
    peaks, levels = _roofs(platform)
    pts = []   # (level, engine, x ops/byte, y Gop/s, name)
    for l in layers:
        by = l.get("bytes_by_level", {})
        bound = [(by[lv] / levels[lv][0], lv) for lv in levels if by.get(lv)]
        if not bound:
            continue
        _, lv = max(bound)
        pts.append((lv, l["engine"], l["ops"] / by[lv], l["ops"] / ((l["end_ps"] - l["start_ps"]) / PS_PER_S) / 1e9,
                    l["name"]))
    if not pts:
        raise HwsimError("no layer moved bytes through a memory level: nothing to place on a roofline")
    used_levels = sorted({p[0] for p in pts} | {lv for l in layers for lv in l.get("bytes_by_level", {})
                                                if lv in levels})
    used_engines = sorted({p[1] for p in pts if p[1] in peaks})
    gpeaks = {e: peaks[e] / 1e9 for e in used_engines}
    ridges = [gpeaks[e] * 1e9 / levels[lv][0] for e in gpeaks for lv in used_levels]
    xs = [p[2] for p in pts] + ridges
    lo, hi = min(xs) / 4, max(xs) * 4
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    top = max(gpeaks.values(), default=max(p[3] for p in pts))
    for lv in used_levels:
        bw, lab = levels[lv]
        ax.plot(grid, [min(top, bw / 1e9 * x) for x in grid], color=LEVEL_COLORS.get(lv, "#636363"),
                lw=1.5, label=f"{lv} roof: {lab}, {bw / 1e9:.3g} GB/s")
    styles = ["-", "--", ":", "-."]
    for i, (e, pk) in enumerate(sorted(gpeaks.items(), key=lambda kv: -kv[1])):
        ax.axhline(pk, color="#444444", lw=1, ls=styles[i % len(styles)],
                   label=f"{e} peak: {pk:.3g} Gop/s")
    markers = "os^Dv<>P*"
    eng_marker = {e: markers[i % len(markers)] for i, e in enumerate(sorted({p[1] for p in pts}))}
    for lv in used_levels:
        for e, m in eng_marker.items():
            sel = [p for p in pts if p[0] == lv and p[1] == e]
            if sel:
                ax.scatter([p[2] for p in sel], [p[3] for p in sel], marker=m, s=26, zorder=3,
                           color=LEVEL_COLORS.get(lv, "#636363"), edgecolor="black", linewidth=0.3,
                           label=f"layers on {e}, bound by {lv}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ys = [p[3] for p in pts] + list(gpeaks.values())
    ax.set_ylim(min(ys) / 3, max(ys) * 3)
    ax.set_xlabel("operational intensity at the bounding level (ops per byte moved there)")
    ax.set_ylabel("achieved throughput (Gop/s; op = MAC, element op or window read)")
    ax.set_title(title or f"roofline: {rep.get('trace', '')} on {rep.get('platform', '')}")
    ax.grid(which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, out)


def plot_pareto(sweep, out, x: str = "latency_s", y: str = "energy_pj",
                title: str | None = None) -> Path:
    """All successful points of a sweep and their Pareto front (both objectives minimised)."""
    plt = _plt()
    from .sweep import pareto_front, read_records

    recs = read_records(sweep) if isinstance(sweep, (str, Path)) else list(sweep)
    ok = [r for r in recs if r.get("status") == "ok"]
    if not ok:
        raise HwsimError(f"no successful point in {sweep} to plot")
    for k in (x, y):
        if k not in ok[0]["summary"]:
            raise HwsimError(f"unknown objective {k!r}; summary fields: {', '.join(sorted(ok[0]['summary']))}")
    front = pareto_front(ok, (x, y))
    (kx, lx), (ky, ly) = _unit(x), _unit(y)

    def vx(r):
        return r["summary"][x] * kx

    def vy(r):
        return r["summary"][y] * ky

    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.scatter([vx(r) for r in ok], [vy(r) for r in ok], s=14, color="#bdbdbd",
               label=f"{len(ok)} points", zorder=2)
    ax.step([vx(r) for r in front], [vy(r) for r in front], where="post", color="#de2d26", lw=1.2, zorder=3)
    ax.scatter([vx(r) for r in front], [vy(r) for r in front], s=30, color="#de2d26",
               label=f"Pareto front ({len(front)})", zorder=4)
    for r in front[:12]:
        lab = ", ".join(f"{k.split('.')[-2] + '.' if k.count('.') else ''}{k.split('.')[-1]}={v}"
                        for k, v in r["params"].items() if not isinstance(v, (dict, list)))
        ax.annotate(lab[:48], (vx(r), vy(r)), fontsize=6, xytext=(4, 4), textcoords="offset points")
    for axis, k in (("x", x), ("y", y)):
        vals = [r["summary"][k] for r in ok if r["summary"][k] > 0]
        if vals and max(vals) / min(vals) > 20:
            getattr(ax, f"set_{axis}scale")("log")
    for axis in (ax.xaxis, ax.yaxis):   # plain numbers in readable units, no offset
        fmt = axis.get_major_formatter()
        if hasattr(fmt, "set_useOffset"):
            fmt.set_useOffset(False)
    ax.set_xlabel(lx)
    ax.set_ylabel(ly)
    ax.set_title(title or f"sweep: {ly} vs {lx}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, out)


def _unit(k: str) -> tuple:
    """(scale, axis label) showing summary field ``k`` in a readable unit (ms, uJ)."""
    return {"latency_s": (1e3, "latency (ms)"), "energy_pj": (1e-6, "energy per inference (uJ)"),
            "energy_uj": (1.0, "energy per inference (uJ)"),
            "sram_bytes": (1e-3, "on-chip SRAM (kB, area proxy)"),
            "latency_cycles": (1.0, "latency (cycles)")}.get(k, (1.0, k))
