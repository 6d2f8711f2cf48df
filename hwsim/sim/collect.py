"""After a run: the simulation's state turned into a :class:`~hwsim.report.stats.SimulationResult`.

Phases, each a function: leakage split over layers (:func:`leakage_by_layer`), one record
per layer (:func:`layer_record`: attributed cycles, bytes by level, bottleneck), energy by
component (:func:`energy_by_component`), resource statistics (:func:`resource_stats`),
one-time set-up (:func:`setup_cost`, from the engine models), and the totals.
"""
from __future__ import annotations

from ..base.errors import SimulationError
from ..base.units import PJ_PER_MW_PS, PS_PER_S
from ..hardware.platform import Memory
from ..hardware.registry import model_of
from ..report.efficiency import efficiency_totals
from ..report.stats import CATEGORIES, LayerRecord, ResourceStats, SimulationResult, split_cycles
from .pipeline import steady_state

__all__ = ["collect", "leakage_by_layer", "powered_leakage_mw", "layer_record", "energy_by_component",
           "resource_stats", "setup_cost"]


def collect(sim) -> SimulationResult:
    """The result of a finished :class:`~hwsim.sim.engine.Simulation`."""
    p, ref = sim.platform, sim.platform.reference_clock
    makespan = sim.env.now
    powered = powered_leakage_mw(sim)
    leakage_by_layer(sim, powered)
    level = {m.name: m.level for m in p.of_type(Memory)}
    records = [layer_record(sim, pl, level) for pl in sim.mapping.plans]
    by_comp = energy_by_component(sim, makespan, powered)
    resources = resource_stats(sim, makespan)
    totals = setup_cost(sim)
    busy = dict(sim.engine_busy_ps)
    for ch in sim.ic.channels:   # the idle ones only as steady_state would drop them (0 ps)
        if ch.busy_ps or ch.name in busy:
            busy[ch.name] = ch.busy_ps / ch.capacity
    totals.update(steady_state(busy, makespan, stages=set(sim.engine_busy_ps)))
    totals.update(efficiency_totals(p, records, makespan, sum(by_comp.values())))
    skipped = (sim.trace.meta.get("onnx") or {}).get("unsupported_skipped")
    if skipped:   # ONNX nodes left out at import: their work is not in this report
        totals["unsupported_skipped"] = list(skipped)
    if sim.fidelity.active():   # a paper's simplification is on: the report says so
        totals["fidelity"] = sim.fidelity.active()
    return SimulationResult(
        platform=p.name, trace=sim.trace.name, reference_clock=ref, layers=records,
        makespan_ps=makespan, resources=resources,
        energy_by_component_pj=dict(sorted(by_comp.items())),
        totals={"l3_bytes": sum(r.bytes_by_level.get("L3", 0) for r in records),
                "l2_bytes": sum(r.bytes_by_level.get("L2", 0) for r in records),
                "weights_in_l3_bytes": sim.mapping.weights_in_l3_bytes, **totals},
        mapping=dict(sim.mapping.summary))


def powered_leakage_mw(sim) -> dict:
    """Leakage (mW) of every component that is powered: all of them, except those with
    ``power_gating`` that did no work in the run (no busy time, no grants on their
    channels, not an end of a link that carried bytes, no dynamic energy)."""
    comps = sim.platform.components.values()
    gated = [c for c in comps if c.leakage_mw and c.power_gating]
    used: set = set()
    if gated:
        used = {n for n, ps in sim.engine_busy_ps.items() if ps}
        ends = {link.name: (link.a, link.b) for link in sim.platform.links}
        for ch in sim.ic.channels:
            if ch.n_grants:
                used.update(ends.get(ch.owner, (ch.owner,)))
        for acct in sim.accts.values():
            used.update(k for k, v in acct.comp_energy.items() if v)
    return {c.name: c.leakage_mw for c in comps
            if c.leakage_mw and (not c.power_gating or c.name in used)}


def leakage_by_layer(sim, powered: dict | None = None) -> None:
    """Leakage: the platform's total static power x makespan, split over the layers by
    completion order (each layer gets the time since the previous one ended). ``powered``:
    :func:`powered_leakage_mw` if the caller has it."""
    if powered is None:
        powered = powered_leakage_mw(sim)
    leak_total_mw = sum(powered.values())
    plans = sim.mapping.plans
    # by end time, ties in plan order (sorted is stable; no list.index on dataclass equality,
    # which made this quadratic in the number of layers)
    order = sorted(plans, key=lambda pl: sim.spans[pl.layer.name][1])
    prev_end = 0
    for pl in order:
        end = sim.spans[pl.layer.name][1]
        sim.accts[pl.layer.name].energy["leakage"] = leak_total_mw * (end - prev_end) * PJ_PER_MW_PS
        prev_end = end


def layer_record(sim, pl, level: dict) -> LayerRecord:
    """One layer's record: every ps of its span in one category (idle: what is left)."""
    ref = sim.platform.reference_clock
    l, acct = pl.layer, sim.accts[pl.layer.name]
    start, end = sim.spans[l.name]
    total = end - start
    attributed = sum(acct.ps[c] for c in CATEGORIES if c != "idle")
    if attributed > total:
        raise SimulationError(f"layer {l.name}: attributed {attributed} ps > span {total} ps")
    acct.ps["idle"] = total - attributed
    cyc = split_cycles(ref, [acct.ps[c] for c in CATEGORIES], total, start)
    by_level: dict = {}
    for key, nb in acct.bytes.items():
        for mem in key.split("->"):
            if mem in level:
                by_level[level[mem]] = by_level.get(level[mem], 0) + nb
    bottleneck, top, top_ps = _bottleneck(acct)
    return LayerRecord(
        name=l.name, op=l.op, engine=pl.engine, engine_kind=pl.engine_kind,
        start_ps=start, end_ps=end, cycles=sum(cyc),
        compute_cycles=cyc[0], memory_stall_cycles=cyc[1], contention_cycles=cyc[2],
        programming_cycles=cyc[3], idle_cycles=cyc[4], macs=l.macs, ops=l.ops,
        n_tiles=pl.n_tiles, tile_shape=pl.tile_shape, input_in=pl.input_mem,
        weights_in=(pl.weight_mem or ("crossbar" if pl.aimc else "-")),
        output_in=pl.output_mem, l1_bytes=pl.l1_bytes, bytes_moved=dict(sorted(acct.bytes.items())),
        bytes_by_level=dict(sorted(by_level.items())), energy_pj=dict(acct.energy),
        waits_ps=dict(sorted(acct.by_res["contention"].items())), bottleneck=bottleneck,
        stall_ps=dict(sorted(acct.by_res["memory_stall"].items())),
        queued_ps=dict(sorted(acct.waits.items())), top_wait=top,
        top_wait_cycles=ref.ps_to_cycles(top_ps),
        crossbar_utilisation=pl.aimc.utilisation if pl.aimc else None,
        l1_kept_bytes=pl.l1_kept_bytes)


def _bottleneck(acct) -> tuple:
    """``(bottleneck, top resource, its ps)``: the largest category (with the resource most
    charged when it is a wait), and the resource the layer waited on most in all."""
    worst = max(CATEGORIES, key=lambda c: acct.ps[c])
    bottleneck = worst
    top, top_ps = "", 0
    both = dict(acct.by_res["memory_stall"])
    for k, v in acct.by_res["contention"].items():
        both[k] = both.get(k, 0) + v
    if both:  # the resource the layer waited on most (stall + contention)
        top = max(sorted(both), key=lambda k: both[k])
        top_ps = both[top]
    if worst in ("memory_stall", "contention") and acct.by_res[worst]:
        d = acct.by_res[worst]
        bottleneck = f"{worst}:{max(sorted(d), key=lambda k: d[k])}"
    return bottleneck, top, top_ps


def energy_by_component(sim, makespan: int, powered: dict | None = None) -> dict:
    """Dynamic energy from every layer, plus each component's leakage over the makespan (pJ);
    ``powered``: :func:`powered_leakage_mw` if the caller has it."""
    if powered is None:
        powered = powered_leakage_mw(sim)
    by_comp: dict = {}
    for acct in sim.accts.values():
        for k, v in acct.comp_energy.items():
            by_comp[k] = by_comp.get(k, 0.0) + v
    for name, mw in powered.items():
        by_comp[name] = by_comp.get(name, 0.0) + mw * PJ_PER_MW_PS * makespan
    return by_comp


def resource_stats(sim, makespan: int) -> list:
    """Utilisation, bytes and waiting statistics of every channel, then every engine."""
    ref = sim.platform.reference_clock
    busy = sim.engine_busy_ps
    return ([_resource(ch, ch.busy_ps, ref, makespan) for ch in sim.ic.channels]
            + [_resource(ch, busy[ch.name], ref, makespan) for ch in sim.engines.values()])


def setup_cost(sim) -> dict:
    """One-time work before the first inference (e.g. programming crossbars whose weights then
    stay), from the engine models: engines in parallel, so its time is the longest engine's."""
    per_engine: dict = {}
    pj = 0.0
    comps = sim.platform.components
    for pl in sim.mapping.program_once:
        for name, ps, e in model_of(comps[pl.engine]).setup_cost(sim.platform, pl):
            per_engine[name] = per_engine.get(name, 0) + ps
            pj += e
    ps = max(per_engine.values(), default=0)
    return {"setup_programming_s": ps / PS_PER_S, "setup_programming_pj": pj}


def _resource(ch, busy: int, ref, makespan: int) -> ResourceStats:
    """The record of channel or engine ``ch`` busy ``busy`` ps: its waiting-time
    distribution over all grants (zero waits included) and queue depth, in cycles of its
    clock (the reference clock for a channel without one). Fields in declaration order: a
    record per channel of a large platform, so no keyword or dict building."""
    if not ch.n_grants and not busy:
        # never used (most channels and engines of a large platform): nothing was busy,
        # moved or waited; the defaults of the fields are those zeros
        return ResourceStats(ch.name, ch.kind, ch.capacity, 0.0, ch.bytes, 0, 0, 0.0, 0, ch.policy)
    cyc = (ch.clock or ref).ps_to_cycles_floor
    n, waits, samples = ch.n_grants, ch.n_waits, ch.wait_samples
    if samples:
        ranked = sorted(samples)   # once for every percentile
        p50 = cyc(ch.wait_percentile_ps(0.50, ranked))
        p95 = cyc(ch.wait_percentile_ps(0.95, ranked))
        top = cyc(ranked[-1])
    else:   # nobody ever waited (most channels of a large platform)
        p50 = p95 = top = 0
    wait = cyc(ch.wait_ps)
    return ResourceStats(
        ch.name, ch.kind, ch.capacity, busy / (ch.capacity * makespan) if makespan else 0.0,
        ch.bytes, n, waits, wait / waits if waits else 0.0, ch.max_queue, ch.policy,
        wait / n if n else 0.0, p50, p95, top, ch.queue_area / makespan if makespan else 0.0)
