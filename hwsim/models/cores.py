"""Core cluster model: N cores running a layer's kernel at a throughput from a kernel table.

A tile of ``ops`` operations (kernel-table units: MACs for weighted ops) takes
``ceil(ops / (cores * ops_per_cycle_per_core)) + tile_overhead_cycles`` cycles of the
cluster's clock, plus the L1 bank-conflict stall of its kernel's access pattern
(:mod:`hwsim.sim.l1banks`, charged as contention on ``<l1>.banks``), and costs
``ops * energy_pj_per_op[op]`` pJ. Peak: ``2 * cores * max(weighted-op MAC/cycle) * f`` ops/s,
``2 / energy_pj_per_op`` of that op ops/pJ (= TOPS/W).
"""
from __future__ import annotations

import math

from ..base.units import PS_PER_S
from ..hardware.platform import CoreCluster
from ..workload.trace import BASE_OP, WEIGHTED_OPS
from .base import ComponentModel

__all__ = ["CoreModel", "kernel_throughput", "op_energy_pj"]


def kernel_throughput(cluster, op: str, bits) -> float | None:
    """Per-core ops/cycle for ``op`` at ``bits`` (exact width, else the 'any' entry); a
    training op without its own entry uses its forward op's (:data:`hwsim.workload.trace.BASE_OP`)."""
    entry = cluster.kernels.get(op) or cluster.kernels.get(BASE_OP.get(op))
    if not entry:
        return None
    return entry.get(bits, entry.get("any"))


def op_energy_pj(cluster, op: str) -> float:
    """Energy of one operation of ``op`` (the table's ``default`` entry otherwise), pJ."""
    return cluster.energy_pj_per_op.get(op, cluster.energy_pj_per_op.get("default", 0.0))


class CoreModel(ComponentModel, spec=CoreCluster):
    kind = "cores"
    host = True
    #: its kernels contend for L1 banks (a fixed-function datapath's access pattern is not
    #: the bundled kernels')
    l1_bank_conflicts = True

    def accepts(self, comp, layer) -> bool:
        return kernel_throughput(comp, layer.op, layer.bits_key) is not None

    def estimate_ps(self, platform, comp, layer, host) -> float:
        thr = kernel_throughput(comp, layer.op, layer.bits_key)
        if not thr:
            return math.inf
        return layer.ops / (comp.cores * thr) / comp.clock.freq_hz * PS_PER_S

    def step(self, sim, comp, plan, tile, i: int, acct):
        return self.run_ops(sim, comp, plan, tile.ops, plan.layer.op, i, acct)

    def run_ops(self, sim, cl, plan, ops: int, op: str, i: int, acct, label: str = "compute"):
        """Run ``ops`` operations of ``op`` on cluster ``cl`` (``label`` "accumulate": partial
        sums of another engine, charged as ``postprocessing`` energy)."""
        thr = kernel_throughput(cl, op, plan.layer.bits_key)
        cycles = -(-ops // (cl.cores * thr)) + cl.tile_overhead_cycles
        yield from sim.hold(cl.name, acct)
        env = sim.env
        t0 = env.now
        dur = cl.clock.cycles_to_ps(int(cycles))
        conflict_ps = (sim.bank_conflict_ps(cl, op, int(cycles) - cl.tile_overhead_cycles, dur)
                       if self.l1_bank_conflicts else 0)
        yield env.timeout(dur + conflict_ps)
        sim.release(cl.name, dur + conflict_ps)
        acct.ps["compute"] += dur
        if conflict_ps:
            acct.ps["contention"] += conflict_ps
            acct.add_stall(f"{cl.l1}.banks", conflict_ps)
        acct.add_energy("postprocessing" if label == "accumulate" else "compute", cl.name,
                        ops * op_energy_pj(cl, op))
        if sim.timeline is not None:
            sim.timeline.compute(cl.name, plan.layer.name, i, label, t0, env.now, {"work_ops": ops})

    def peak(self, comp) -> dict | None:
        best, op_best = 0.0, None
        for op in WEIGHTED_OPS:
            for thr in (comp.kernels.get(op) or {}).values():
                if thr > best:
                    best, op_best = thr, op
        if not best:
            return None
        e = op_energy_pj(comp, op_best)
        return {"tops": 2 * comp.cores * best * comp.clock.freq_hz / 1e12,
                "tops_per_w": (2 / e) if e else None}
