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
    out = {}
    for c in platform.engines():
        m = model_of(c)
        pk = m.peak(c)
        if pk is not None:
            out[c.name] = {"kind": m.kind, **pk}
    return out


def platform_peaks(platform) -> dict:
    eng = engine_peaks(platform)
    eff = [v["tops_per_w"] for v in eng.values() if v["tops_per_w"]]
    return {"peak_tops": sum(v["tops"] for v in eng.values()),
            "peak_tops_per_w": max(eff) if eff else None}


def efficiency_totals(platform, records, makespan_ps: int, energy_total_pj: float) -> dict:
    """Achieved vs peak TOPS and TOPS/W, and the energy gap broken down (see module doc)."""
    pk = platform_peaks(platform)
    ops = 2 * sum(r.macs for r in records)
    t = makespan_ps / PS_PER_S
    cat: dict = {}
    for r in records:
        for k, v in r.energy_pj.items():
            cat[k] = cat.get(k, 0.0) + v
    ideal = ops / pk["peak_tops_per_w"] if pk["peak_tops_per_w"] else 0.0
    gap = {"ideal_at_peak": ideal, "compute_excess": cat.get("compute", 0.0) - ideal,
           "data_movement": cat.get("data_movement", 0.0),
           "postprocessing": cat.get("postprocessing", 0.0),
           "programming": cat.get("programming", 0.0), "leakage": cat.get("leakage", 0.0)}
    return {"peak_tops": pk["peak_tops"], "peak_tops_per_w": pk["peak_tops_per_w"],
            "tops_fraction_of_peak": (ops / t / TERA / pk["peak_tops"]) if t and pk["peak_tops"] else 0.0,
            "energy_gap_pj": gap,
            "energy_by_category_pj": cat}
