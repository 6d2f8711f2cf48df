"""Plots of simulation results and sweeps (matplotlib, an optional extra: ``pip install hwsim[plot]``).

* :func:`plot_layers`: per-layer stacked bars of reference-clock cycles split into compute,
  memory stall, contention, programming and idle (the attribution of :mod:`hwsim.report.stats`).
* :func:`plot_gantt`: engines over time, from a result's layer records (one row per engine,
  one bar per layer, coloured by the layer's dominant time category) or from a Perfetto
  timeline file (one row per track: layers, engines, DMA slots, channels).
* :func:`plot_roofline`: each layer's achieved throughput (ops/s) against its operational
  intensity (ops per byte moved in or out of L1, DMA and AIMC streamer traffic alike), under
  each engine's compute roof (cores x best kernel ops/cycle x clock; AIMC: rows x cols per
  MVM latency) and the L2 -> L1 bandwidth roof of the platform (slowest link or memory port
  on the route).
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
from ..hardware.registry import model_of

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
    ax.set_title(title or f"{rep.get('trace', '')} on {rep.get('platform', '')}: time per layer")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out)


def _dominant(l: dict) -> str:
    return max(CATS, key=lambda c: l.get(f"{c}_cycles", 0))


def plot_gantt(source, out, title: str | None = None, max_tracks: int = 40) -> Path:
    """Engines over time: from a result (layer records) or a timeline file path (``.json``
    written by ``hwsim run --timeline``)."""
    plt = _plt()
    from matplotlib.patches import Patch

    if isinstance(source, (str, Path)) and _is_timeline(source):
        rows, unit = _timeline_rows(source, max_tracks)
        name = title or f"timeline {Path(source).name}"
        cats = sorted({c for bars in rows.values() for _, _, c in bars})
        palette = dict(COLORS)
        extra = ["#31a354", "#636363", "#e377c2", "#17becf", "#bcbd22", "#8c564b"]
        for i, c in enumerate(c for c in cats if c not in palette):
            palette[c] = extra[i % len(extra)]
    else:
        rep = _report(source)
        unit = "us"
        scale = 1e-6
        rows = {}
        for l in _layers(rep):
            rows.setdefault(l["engine"], []).append(
                (l["start_ps"] * scale, (l["end_ps"] - l["start_ps"]) * scale, _dominant(l)))
        name = title or f"{rep.get('trace', '')} on {rep.get('platform', '')}: layers on engines"
        palette = COLORS
        cats = sorted({c for bars in rows.values() for _, _, c in bars}, key=CATS.index)
    labels = list(rows)
    end = max(s + d for bars in rows.values() for s, d, _ in bars)
    k = 1.0
    if end > 2e4:                        # long runs read better in ms
        k, unit = 1e-3, "ms"
    from_timeline = isinstance(source, (str, Path))   # many thin bars: no edges to hide them
    fig, ax = plt.subplots(figsize=(11, max(2.2, 0.45 * len(labels) + 1.4)))
    for i, lab in enumerate(labels):
        for cat in sorted({c for _, _, c in rows[lab]}):
            ax.broken_barh([(s * k, d * k) for s, d, c in rows[lab] if c == cat], (i - 0.38, 0.76),
                           facecolors=palette.get(cat, "#999999"), edgecolor="white",
                           linewidth=0 if from_timeline else 0.5)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
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


def _timeline_rows(path, max_tracks: int) -> tuple:
    """Rows ``{track: [(start_us, dur_us, cat)]}`` of the ``X`` events of a timeline; read
    line by line (the writer puts one event per line), so large files are not held twice."""
    names: dict = {}
    procs: dict = {}
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
            if ph == "M" and ev.get("name") == "thread_name":
                names[key] = ev["args"]["name"]
            elif ph == "M" and ev.get("name") == "process_name":
                procs[ev.get("pid")] = ev["args"]["name"]
            elif ph == "X":
                rows.setdefault(key, []).append((float(ev["ts"]), float(ev["dur"]), ev.get("cat", "")))
    if not rows:
        raise HwsimError(f"{path}: no spans (X events) in this timeline")
    keys = sorted(rows, key=lambda k: (k[0] or 0, k[1] or 0))[:max_tracks]
    return {f"{procs.get(k[0], k[0])}: {names.get(k, k[1])}": rows[k] for k in keys}, "us"


def _roofs(platform) -> tuple:
    """``({engine: peak ops/s}, (L2->L1 bytes/s, label) or None)`` of a platform."""
    import networkx as nx

    from ..hardware.platform import Memory
    from ..report.efficiency import engine_peaks

    # the engines' peaks (1 MAC = 2 ops) in the plot's unit: MACs (kernel ops) per second
    peaks = {name: pk["tops"] * TERA / 2 for name, pk in engine_peaks(platform).items()}
    bw = None
    clusters = [e for e in platform.engines() if model_of(e).host]
    l2s = platform.memories("L2")
    if clusters and l2s:
        g = platform.graph()
        l1 = clusters[0].l1
        try:
            path = nx.shortest_path(g, l2s[0].name, l1)
        except nx.NetworkXNoPath:
            path = None
        if path:
            cands = []
            for a, b in zip(path, path[1:]):
                link = g.edges[a, b]["link"]
                cands.append(link.bandwidth_bytes_per_cycle * link.clock.freq_hz)
            for n in path:
                comp = platform.components[n]
                if isinstance(comp, Memory):
                    cands.append(comp.port_bandwidth_bytes_per_cycle * comp.ports * comp.clock.freq_hz)
            bw = (min(cands), f"{l2s[0].name} -> {l1}")
    return peaks, bw


def plot_roofline(result, platform, out, title: str | None = None) -> Path:
    """Roofline: achieved ops/s of each layer vs ops per L1 byte, with the platform's roofs."""
    plt = _plt()
    rep = _report(result)
    layers = [l for l in _layers(rep) if l["end_ps"] > l["start_ps"]]
    peaks, bw = _roofs(platform)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    pts = {}
    for l in layers:
        nbytes = l.get("bytes_by_level", {}).get("L1", 0)
        if not nbytes or not l["ops"]:
            continue
        x = l["ops"] / nbytes
        y = l["ops"] / ((l["end_ps"] - l["start_ps"]) / PS_PER_S)
        pts.setdefault(l["engine"], []).append((x, y, l["name"]))
    if not pts:
        raise HwsimError("no layer moved bytes through L1: nothing to place on a roofline")
    xs = [p[0] for v in pts.values() for p in v]
    lo, hi = min(xs) / 4, max(xs) * 4
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    markers = "os^Dv<>"
    palette = ["#2b8cbe", "#e6550d", "#31a354", "#756bb1", "#636363"]
    for i, (eng, v) in enumerate(sorted(pts.items())):
        col = palette[i % len(palette)]
        ax.scatter([p[0] for p in v], [p[1] for p in v], marker=markers[i % len(markers)], s=22,
                   color=col, label=f"layers on {eng}", zorder=3)
        peak = peaks.get(eng)
        if peak:
            roof = [min(peak, bw[0] * x) if bw else peak for x in grid]
            ax.plot(grid, roof, color=col, lw=1.5,
                    label=f"{eng} roof: {peak / 1e9:.3g} Gop/s" + (f", {bw[1]} {bw[0] / 1e9:.3g} GB/s" if bw else ""))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (ops per byte moved in/out of L1)")
    ax.set_ylabel("achieved throughput (ops/s; op = MAC, element op or window read)")
    ax.set_title(title or f"roofline: {rep.get('trace', '')} on {rep.get('platform', '')}")
    ax.grid(which="both", alpha=0.25)
    ys = [p[1] for v in pts.values() for p in v] + list(peaks.values())
    if ys:
        ax.set_ylim(min(ys) / 3, max(ys) * 3)
    ax.legend(fontsize=8, loc="lower right")
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
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.scatter([r["summary"][x] for r in ok], [r["summary"][y] for r in ok], s=14, color="#bdbdbd",
               label=f"{len(ok)} points", zorder=2)
    fx = [r["summary"][x] for r in front]
    fy = [r["summary"][y] for r in front]
    ax.step(fx, fy, where="post", color="#de2d26", lw=1.2, zorder=3)
    ax.scatter(fx, fy, s=30, color="#de2d26", label=f"Pareto front ({len(front)})", zorder=4)
    for r in front[:12]:
        lab = ", ".join(f"{k.split('.')[-2] + '.' if k.count('.') else ''}{k.split('.')[-1]}={v}"
                        for k, v in r["params"].items() if not isinstance(v, (dict, list)))
        ax.annotate(lab[:48], (r["summary"][x], r["summary"][y]), fontsize=6,
                    xytext=(4, 4), textcoords="offset points")
    for axis, k in (("x", x), ("y", y)):
        vals = [r["summary"][k] for r in ok if r["summary"][k] > 0]
        if vals and max(vals) / min(vals) > 20:
            getattr(ax, f"set_{axis}scale")("log")
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    ax.set_title(title or f"sweep: {_label(y)} vs {_label(x)}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out)


def _label(k: str) -> str:
    return {"latency_s": "latency (s)", "energy_pj": "energy per inference (pJ)",
            "energy_uj": "energy per inference (uJ)", "sram_bytes": "on-chip SRAM (bytes, area proxy)",
            "latency_cycles": "latency (cycles)"}.get(k, k)
