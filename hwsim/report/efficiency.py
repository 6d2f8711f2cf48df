"""Peak figures of a platform and the gap between achieved and peak TOPS/W.

**Peaks** (1 MAC = 2 ops):

each engine's model states its own (:mod:`hwsim.models`), e.g. an AIMC tile ``2 R C`` ops per
MVM job and ``2 R C / energy_pj_per_mvm`` ops/pJ (= TOPS/W); a core cluster
``2 * cores * max(kernel MAC/cycle of weighted ops) * f`` and ``2 / energy_pj_per_op``.

The platform's peak TOPS is the sum over its engines (all busy at once); its peak TOPS/W is the
best engine's (the accelerator's) figure, the number a datasheet quotes.

**Gap** (energy): ``E_total = E_ideal + compute_excess + data_movement + postprocessing +
programming + leakage`` with ``E_ideal = ops / peak_tops_per_w``; ``compute_excess`` is the
compute energy above the ideal (partly-used crossbars, work on less efficient engines). Each
term is reported in pJ and as a share of ``E_total``; they add up exactly.
"""
from __future__ import annotations

from ..base.units import PS_PER_S, TERA
from ..hardware.registry import model_of

__all__ = ["engine_peaks", "platform_peaks", "efficiency_totals"]


def engine_peaks(platform) -> dict:
    """name -> {"tops": peak TOPS, "tops_per_w": peak TOPS/W or None, "kind": ...}, from each
    engine's model (:meth:`hwsim.models.base.ComponentModel.peak`)."""
    return {k: dict(v) for k, v in platform.derived(_engine_peaks).items()}


def _engine_peaks(platform) -> dict:
    """:func:`engine_peaks`, derived once per platform (every report asks for them: a
    512-cluster mesh has 1,024 engines), shared: read only."""
    out = {}
    for c in platform.engines():
        m = model_of(c)
        pk = m.peak(c)
        if pk is not None:
            out[c.name] = {"kind": m.kind, **pk}
    return out


def engines_used(plans) -> set:
    """Names of the engines that run the layers' MACs in a mapping's ``plans``: each layer's
    engine, and every crossbar of an AIMC layer (post-processing on the cores is not counted)."""
    used = set()
    for p in plans:
        used.update(p.aimc.tiles if p.aimc is not None else (p.engine,))
    return used


def platform_peaks(platform, engines=None) -> dict:
    """Peak TOPS (sum) and TOPS/W (best) over the platform's engines, or only ``engines``
    (names, e.g. :func:`engines_used` of a mapping: a chip with its accelerators off)."""
    eng = {k: v for k, v in platform.derived(_engine_peaks).items()
           if engines is None or k in engines}
    eff = [v["tops_per_w"] for v in eng.values() if v["tops_per_w"]]
    return {"peak_tops": sum(v["tops"] for v in eng.values()),
            "peak_tops_per_w": max(eff) if eff else None}


def energy_gap(energy_by_category_pj: dict, ops: int, peak_tops_per_w) -> dict:
    """The energy gap terms in pJ (see module doc); they add up to the total energy."""
    cat = energy_by_category_pj
    ideal = ops / peak_tops_per_w if peak_tops_per_w else 0.0
    return {"ideal_at_peak": ideal, "compute_excess": cat.get("compute", 0.0) - ideal,
            "data_movement": cat.get("data_movement", 0.0),
            "postprocessing": cat.get("postprocessing", 0.0),
            "programming": cat.get("programming", 0.0), "leakage": cat.get("leakage", 0.0)}


def efficiency_totals(platform, records, makespan_ps: int, energy_total_pj: float) -> dict:
    """Achieved vs peak TOPS and TOPS/W, and the energy gap broken down (see module doc)."""
    pk = platform_peaks(platform)
    ops = 2 * sum(r.macs for r in records)
    t = makespan_ps / PS_PER_S
    cat: dict = {}
    for r in records:
        for k, v in r.energy_pj.items():
            cat[k] = cat.get(k, 0.0) + v
    gap = energy_gap(cat, ops, pk["peak_tops_per_w"])
    return {"peak_tops": pk["peak_tops"], "peak_tops_per_w": pk["peak_tops_per_w"],
            "tops_fraction_of_peak": (ops / t / TERA / pk["peak_tops"]) if t and pk["peak_tops"] else 0.0,
            "energy_gap_pj": gap,
            "energy_by_category_pj": cat}
