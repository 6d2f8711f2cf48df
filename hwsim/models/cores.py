"""Core cluster model: N cores running a layer's kernel, timed by a table or by PULP-NN.

A tile of ``ops`` operations (kernel-table units: MACs for weighted ops) on ``co`` output
channels x ``rows`` output rows takes :func:`tile_work` cycles + ``tile_overhead_cycles`` of
the cluster's clock, plus the L1 bank-conflict stall of its kernel's access pattern
(:mod:`hwsim.sim.l1banks`, charged as contention on ``<l1>.banks``):

* ``kernel_model: table``: ``ceil(ops / (cores * ops_per_cycle_per_core))`` (linear scaling);
* ``kernel_model: pulp_nn``: conv2d / pointwise / depthwise / linear at <= 8 bit by the
  PULP-NN kernels for the tile's shape (:mod:`hwsim.models.pulp_nn`: split over cores,
  leftovers, imbalance); other ops at the table rate split over the cores by output rows.

Energy (:func:`core_energy_pj`): ``ops * energy_pj_per_op[op]``, or per core-cycle: active
core-cycles x ``pj_per_active_core_cycle`` + idle core-cycles x ``pj_per_idle_core_cycle``.
Peak: ``2 * cores * best weighted-op MAC/cycle * f`` ops/s (:func:`best_kernel_rate`) and
``2 / energy per MAC`` at that rate ops/pJ (= TOPS/W).
"""
from __future__ import annotations

import math

from ..base.units import PS_PER_S, TERA
from ..hardware.platform import CoreCluster
from ..workload.trace import BASE_OP, WEIGHTED_OPS
from . import pulp_nn
from .base import ComponentModel

__all__ = ["CoreModel", "kernel_throughput", "op_energy_pj", "tile_work", "tile_extent", "layer_work",
           "core_energy_pj", "best_kernel_rate"]


def _modelled(cluster, op: str, bits) -> bool:
    return (cluster.kernel_model == "pulp_nn" and op in pulp_nn.PULP_NN_OPS
            and isinstance(bits, int) and bits <= 8)


def kernel_throughput(cluster, op: str, bits) -> float | None:
    """Per-core ops/cycle for ``op`` at ``bits`` (exact width, else the 'any' entry; a training
    op without its own entry uses its forward op's, :data:`hwsim.workload.trace.BASE_OP`), or
    None when the cluster cannot run it. Under ``kernel_model: pulp_nn`` the shape-modelled ops
    report their asymptotic rate (:func:`hwsim.models.pulp_nn.asymptotic_rate`)."""
    if _modelled(cluster, op, bits):
        return pulp_nn.asymptotic_rate(op)
    entry = cluster.kernels.get(op) or cluster.kernels.get(BASE_OP.get(op))
    if not entry:
        return None
    return entry.get(bits, entry.get("any"))


def tile_work(cl, l, op: str, ops: int, co: int, rows: int) -> pulp_nn.KernelWork:
    """Cycles of a tile of ``ops`` ops of ``op`` (``co`` output channels x ``rows`` output rows
    of layer ``l``, all its batch) on cluster ``cl``: the slowest core's cycles and the
    active core-cycles summed over cores (see the module docstring)."""
    if _modelled(cl, op, l.bits_key) and op == l.op:
        return pulp_nn.work(l, op, co, rows, cl.cores)
    thr = kernel_throughput(cl, op, l.bits_key)
    n_rows = rows * l.batch
    if cl.kernel_model == "table" or n_rows <= 0 or op not in pulp_nn.ROW_SPLIT_OPS:
        return pulp_nn.KernelWork(-(-ops // (cl.cores * thr)), math.ceil(ops / thr))
    # PULP-NN's add and pooling kernels (pulp_nn_add.c, pulp_nn_*pool.c) split by rows at the
    # table's rate: the core with most rows sets the time
    total = ops / thr
    return pulp_nn.KernelWork(math.ceil(-(-n_rows // cl.cores) * total / n_rows), math.ceil(total))


def tile_extent(plan, rows: tuple) -> tuple | None:
    """``(output channels, output rows)`` of the tile of a channels x rows tiling whose
    :func:`~hwsim.mapping.plan.tile_rows` are ``rows``; None for a tile cut otherwise."""
    if "rows" in plan.tile_shape and "channels" in plan.tile_shape:
        ci, h0, h1, _ = rows
        co = plan.tile_shape["channels"]
        return min(co, plan.layer.out_channels - ci * co), h1 - h0
    return None


def plan_tile_work(cl, plan, op: str, ops: int, extent: tuple | None) -> pulp_nn.KernelWork:
    """:func:`tile_work` of a tile of ``plan`` of :func:`tile_extent` ``extent``: its channels
    and rows from a channels x rows tiling; a tile cut along other dimensions
    (:mod:`hwsim.mapping.tiling_nd`) runs at the whole layer's modelled rate (its share
    ``ops / layer ops`` of :func:`layer_work`)."""
    l = plan.layer
    if extent is not None:
        return tile_work(cl, l, op, ops, *extent)
    if not (_modelled(cl, op, l.bits_key) and op == l.op) or not l.ops:
        return tile_work(cl, l, op, ops, l.out_channels, l.out_hw[0])
    w = layer_work(cl, l)
    return pulp_nn.KernelWork(math.ceil(w.cycles * ops / l.ops),
                              math.ceil(w.active_core_cycles * ops / l.ops))


def layer_work(cl, l) -> pulp_nn.KernelWork:
    """The whole layer as one tile (closed-form estimates)."""
    return tile_work(cl, l, l.op, l.ops, l.out_channels, l.out_hw[0])


def core_energy_pj(cl, op: str, ops: int, work, span_cycles: int) -> float:
    """pJ of a tile: per op (``energy_pj_per_op``), or per core-cycle: every core is active
    during the tile overhead and bank-conflict stalls (set-up, barrier, stalled pipeline) and
    for its share of the kernel (``work.active_core_cycles``); the rest of the tile's
    ``cores x span_cycles`` it idles at the barrier."""
    if not (cl.pj_per_active_core_cycle or cl.pj_per_idle_core_cycle):
        return ops * op_energy_pj(cl, op)
    total = cl.cores * span_cycles
    active = min(total, work.active_core_cycles + cl.cores * (span_cycles - int(work.cycles)))
    return active * cl.pj_per_active_core_cycle + (total - active) * cl.pj_per_idle_core_cycle


def best_kernel_rate(c) -> tuple:
    """``(ops/cycle/core, op)`` of a cluster's fastest weighted-op kernel: its table's best
    entry at any width, and under ``kernel_model: pulp_nn`` the model's asymptotic rate at
    8 bit; of equally fast ops, the first in :data:`~hwsim.workload.trace.WEIGHTED_OPS`."""
    best, op_best = 0.0, None
    for op in WEIGHTED_OPS:
        rates = list((c.kernels.get(op) or {}).values())
        if c.kernel_model != "table" and op in pulp_nn.PULP_NN_OPS:
            rates = [pulp_nn.asymptotic_rate(op)]
        for thr in rates:
            if thr and thr > best:
                best, op_best = thr, op
    return best, op_best


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
        if comp.kernel_model != "table":
            return layer_work(comp, layer).cycles / comp.clock.freq_hz * PS_PER_S
        return layer.ops / (comp.cores * thr) / comp.clock.freq_hz * PS_PER_S

    def tile_estimate_ps(self, platform, comp, layer, host, ops, channels, rows) -> float:
        return self.tile_estimator(platform, comp, layer, host)(ops, channels, rows)

    def tile_estimator(self, platform, comp, layer, host):
        # the PULP-NN model is shape-dependent (rows split over cores, leftovers): a tile of
        # few rows leaves cores idle, which the tiler must see; a kernel table is not
        if comp.kernel_model == "table" or not kernel_throughput(comp, layer.op, layer.bits_key):
            return self.pro_rata(platform, comp, layer, host)
        op, freq = layer.op, comp.clock.freq_hz

        def estimate(ops, channels, rows):
            return tile_work(comp, layer, op, int(ops), channels, rows).cycles / freq * PS_PER_S
        return estimate

    def step(self, sim, comp, plan, tile, i: int, acct):
        return self.run_ops(sim, comp, plan, tile.ops, plan.layer.op, i, acct)

    def run_ops(self, sim, cl, plan, ops: int, op: str, i: int, acct, label: str = "compute"):
        """Run ``ops`` operations of ``op`` on cluster ``cl`` (``label`` "accumulate": partial
        sums of another engine, charged as ``postprocessing`` energy)."""
        key = (cl.name, plan.layer.name, op, ops, tile_extent(plan, sim.rows(plan)[i]))
        cost = sim.memo.get(key)
        if cost is None:   # a pure function of the tile's shape: a layer's tiles repeat a few
            work = plan_tile_work(cl, plan, op, ops, key[-1])
            dur = cl.clock.cycles_to_ps(int(work.cycles) + cl.tile_overhead_cycles)
            conflict_ps = (sim.bank_conflict_ps(cl, op, int(work.cycles), dur)
                           if self.l1_bank_conflicts else 0)
            pj = core_energy_pj(cl, op, ops, work, cl.clock.ps_to_cycles(dur + conflict_ps))
            cost = sim.memo[key] = (dur, conflict_ps, pj, f"{cl.l1}.banks")
        dur, conflict_ps, pj, banks = cost
        yield from sim.hold(cl.name, acct)
        env = sim.env
        t0 = env._now
        yield env.timeout(dur + conflict_ps)
        sim.release(cl.name, dur + conflict_ps)
        acct.ps["compute"] += dur
        if conflict_ps:
            acct.ps["contention"] += conflict_ps
            acct.add_stall(banks, conflict_ps)
        acct.add_energy("postprocessing" if label == "accumulate" else "compute", cl.name, pj)
        if sim.timeline is not None:
            sim.timeline.compute(cl.name, plan.layer.name, i, label, t0, env._now, {"work_ops": ops})

    def peak(self, comp) -> dict | None:
        best, op_best = best_kernel_rate(comp)
        if not best:
            return None
        # per op, or per active core-cycle at the best kernel's rate
        e = (comp.pj_per_active_core_cycle / best if comp.pj_per_active_core_cycle
             else op_energy_pj(comp, op_best))
        return {"tops": 2 * comp.cores * best * comp.clock.freq_hz / TERA,
                "tops_per_w": (2 / e) if e else None}
