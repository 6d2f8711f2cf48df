"""``hwsim report PLATFORM TRACE -o report.html``: simulate, draw, rank, and write one page.

The page (:func:`hwsim.report.html.render_html`) holds the summary, the time by cause, the
layer table, the layer-split, Gantt and roofline plots as inline SVG (when matplotlib is
installed) and, unless ``whatif=False``, the what-if ranking (one simulation per resource
variant: :func:`hwsim.explore.whatif.whatif`).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

__all__ = ["write_report"]


def write_report(platform_path, trace, out, *, whatif: bool = True, factor: float = 2.0,
                 workers=None, progress: bool = False) -> Path:
    """Write the HTML page of ``trace`` on ``platform_path`` to ``out``; returns its path."""
    from ..api import load_platform, simulate
    from ..report.html import render_html
    from .sweep import load_workload

    platform = load_platform(platform_path)
    result = simulate(platform, load_workload(trace))
    plots = _svgs(result, platform)
    ranking = None
    if whatif:
        from .whatif import whatif as run_whatif
        ranking = run_whatif(platform_path, trace, factor, workers=workers, progress=progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(result, plots, ranking))
    return out


def _svgs(result, platform) -> dict:
    """{caption: SVG text} of the plots of a run, or {} without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return {}
    from . import plots

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for caption, draw in (
                ("Cycles of each layer by category", lambda p: plots.plot_layers(result, p)),
                ("Engines over time (Gantt)", lambda p: plots.plot_gantt(result, p)),
                ("Roofline: each layer under the roofs of its engine and memory levels",
                 lambda p: plots.plot_roofline(result, platform, p))):
            path = Path(tmp) / "plot.svg"
            try:
                draw(path)
            except Exception as e:   # a plot that cannot be drawn for this run: say why
                out[caption] = f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"30\">" \
                               f"<text x=\"4\" y=\"20\">cannot draw: {type(e).__name__}</text></svg>"
                continue
            out[caption] = path.read_text()
    return out
