"""Peak figures of a platform and the gap between achieved and peak TOPS/W.

**Peaks** (1 MAC = 2 ops):

* AIMC tile: ``2 R C`` ops per ``mvm_latency_cycles + job_overhead_cycles``; efficiency
  ``2 R C / energy_pj_per_mvm`` ops/pJ (= TOPS/W).
* Core cluster / depthwise engine: ``2 * cores * max(kernel MAC/cycle of weighted ops) * f``
  (:func:`best_kernel_rate`); efficiency ``2 / energy_pj_per_op`` of that op (default entry
  otherwise), or ``2 * rate / pj_per_active_core_cycle`` when cores are charged per cycle.

The platform's peak TOPS is the sum over its engines (all busy at once); its peak TOPS/W is the
best engine's (the accelerator's) figure, the number a datasheet quotes.

**Gap** (energy): ``E_total = E_ideal + compute_excess + data_movement + postprocessing +
programming + leakage`` with ``E_ideal = ops / peak_tops_per_w``; ``compute_excess`` is the
compute energy above the ideal (partly-used crossbars, work on less efficient engines). Each
term is reported in pJ and as a share of ``E_total``; they add up exactly.
"""
from __future__ import annotations

from ..mapping.aimc import peak_ops_per_s, peak_tops_per_w
from ..mapping.core_model import PULP_NN_OPS, kernel_throughput
from ..hardware.platform import AimcTile, CoreCluster
from ..workload.trace import WEIGHTED_OPS


def engine_peaks(platform) -> dict:
    """name -> {"tops": peak TOPS, "tops_per_w": peak TOPS/W or None, "kind": ...}."""
    out = {}
    for c in platform.components.values():
        if isinstance(c, AimcTile):
            out[c.name] = {"kind": "aimc", "tops": peak_ops_per_s(c) / 1e12,
                           "tops_per_w": peak_tops_per_w(c)}
        elif isinstance(c, CoreCluster):
            best, op_best = best_kernel_rate(c)
            if not best:
                continue
            # per op, or per active core-cycle at the best kernel's rate
            e = (c.pj_per_active_core_cycle / best if c.pj_per_active_core_cycle else
                 c.energy_pj_per_op.get(op_best, c.energy_pj_per_op.get("default", 0.0)))
            out[c.name] = {"kind": c.TYPE, "tops": 2 * c.cores * best * c.clock.freq_hz / 1e12,
                           "tops_per_w": (2 / e) if e else None}
    return out


def best_kernel_rate(c) -> tuple:
    """``(ops/cycle/core, op)`` of a cluster's fastest weighted-op kernel: its table's best
    entry at any width, and under ``kernel_model: pulp_nn`` the model's asymptotic rate at
    8 bit (:func:`hwsim.mapping.core_model.kernel_throughput`)."""
    best, op_best = 0.0, None
    for op in WEIGHTED_OPS:
        rates = list((c.kernels.get(op) or {}).values())
        if c.kernel_model != "table" and op in PULP_NN_OPS:
            rates = [kernel_throughput(c, op, 8)]
        for thr in rates:
            if thr and thr > best:
                best, op_best = thr, op
    return best, op_best


def platform_peaks(platform) -> dict:
    eng = engine_peaks(platform)
    eff = [v["tops_per_w"] for v in eng.values() if v["tops_per_w"]]
    return {"peak_tops": sum(v["tops"] for v in eng.values()),
            "peak_tops_per_w": max(eff) if eff else None}


def efficiency_totals(platform, records, makespan_ps: int, energy_total_pj: float) -> dict:
    """Achieved vs peak TOPS and TOPS/W, and the energy gap broken down (see module doc)."""
    pk = platform_peaks(platform)
    ops = 2 * sum(r.macs for r in records)
    t = makespan_ps / 1e12
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
            "tops_fraction_of_peak": (ops / t / 1e12 / pk["peak_tops"]) if t and pk["peak_tops"] else 0.0,
            "energy_gap_pj": gap,
            "energy_by_category_pj": cat}
