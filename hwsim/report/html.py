"""One self-contained HTML page of a run, to send to a colleague.

:func:`render_html` lays out what :mod:`hwsim.explore.report_page` gathers: the summary, the
time by cause (the bottleneck of the run), the layer table (every column), the plots inline as
SVG, and the what-if ranking. No scripts, no external files or fonts: the page is one file.
"""
from __future__ import annotations

from dataclasses import asdict, is_dataclass
from html import escape

from .stats import bottleneck_label

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #eee}
th{text-align:left;background:#f5f5f5;position:sticky;top:0}td.n{text-align:right;
font-variant-numeric:tabular-nums}pre{background:#f8f8f8;padding:1em;overflow-x:auto}
.plot svg{max-width:100%;height:auto}.note{color:#666}
"""


def _table(headers: list, rows: list, numeric: set) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{escape(str(c))}</td>' if i in numeric else
                         f"<td>{escape(str(c))}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(result, plots: dict | None = None, whatif=None, title: str | None = None) -> str:
    """The page as text. ``result``: a :class:`~hwsim.report.stats.SimulationResult`;
    ``plots``: {caption: SVG text} (their ``<svg>`` element is inlined); ``whatif``: a
    :class:`~hwsim.explore.whatif.WhatIfReport`-like object with ``rows``, ``factor`` and
    ``bound_by``, or None."""
    ref = result.reference_clock
    title = title or f"hwsim: {result.trace} on {result.platform}"
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{escape(title)}</h1>"]
    parts.append("<h2>Summary</h2><pre>" + escape(result.summary()) + "</pre>")
    causes = result.time_by_cause()
    total = sum(causes.values()) or 1
    parts.append("<h2>Where the time went (bottleneck)</h2><p>Summed over layers; memory stall "
                 "and contention by the resource they were charged to, compute by engine.</p>")
    parts.append(_table(["cause", "share of layer time %", "time ms"],
                        [[c, f"{100 * v / total:.1f}", f"{v / 1e9:.4f}"] for c, v in causes.items()],
                        {1, 2}))
    heads = ["layer", "op", "engine", "cycles", "time ms", "compute %", "stall %", "contention %",
             "programming %", "idle %", "tiles", "L2 bytes", "L3 bytes", "energy uJ",
             "waited most on", "bottleneck"]
    rows = []
    for r in result.layers:
        c = r.cycles or 1
        rows.append([r.name, r.op, r.engine, f"{r.cycles:,}", f"{r.time_s * 1e3:.4f}",
                     *(f"{100 * getattr(r, f'{k}_cycles') / c:.0f}" for k in
                       ("compute", "memory_stall", "contention", "programming", "idle")),
                     r.n_tiles, f"{r.bytes_by_level.get('L2', 0):,}", f"{r.bytes_by_level.get('L3', 0):,}",
                     f"{r.energy_total_pj / 1e6:.3f}",
                     f"{r.top_wait} ({r.top_wait_cycles:,} cycles)" if r.top_wait else "-",
                     bottleneck_label(r)])
    parts.append(f"<h2>Layers</h2><p class=\"note\">Cycles of the reference clock ({escape(ref.name)}, "
                 f"{ref.freq_hz / 1e6:g} MHz); shares of each layer's cycles.</p>")
    parts.append(_table(heads, rows, {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}))
    if plots:
        parts.append("<h2>Plots</h2>")
        for caption, svg in plots.items():
            start = svg.find("<svg")
            parts.append(f"<figure class=\"plot\">{svg[start:]}<figcaption>{escape(caption)}"
                         "</figcaption></figure>")
    elif plots is not None:
        parts.append("<h2>Plots</h2><p class=\"note\">Plots need matplotlib: pip install "
                     "'hwsim[plot]'.</p>")
    if whatif is not None:
        parts.append(f"<h2>What-if: each resource x{whatif.factor:g}</h2>")
        wrows = []
        for i, r in enumerate(whatif.rows, 1):
            r = asdict(r) if is_dataclass(r) else r
            if r.get("error"):
                wrows.append([i, r["label"], "error", "", "", r["error"].splitlines()[0]])
            else:
                wrows.append([i, r["label"], f"{r['speedup']:.3f}x", f"{100 * r['energy_change']:+.1f}",
                              f"{r['latency_cycles']:,}", r.get("note") or ""])
        parts.append(_table(["rank", "resource change", "speedup", "energy change %", "cycles",
                             "why ~1.0x"], wrows, {0, 2, 3, 4}))
    parts.append("</body></html>\n")
    return "".join(parts)
