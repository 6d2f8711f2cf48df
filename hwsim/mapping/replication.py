"""Layer replication: one layer's work split over several engines to balance a pipeline.

With weights stationary and inferences overlapped (many clusters, :mod:`hwsim.sim.pipeline`),
throughput is set by the slowest stage. Bruschi et al. (DATE 2023) replicate layers over free
clusters until the stages balance; this module does the same with policy
``mapping.replicate: balance`` (:mod:`hwsim.hardware.policy`).

**Split.** A layer replicated ``k`` ways becomes ``k`` *bands* named ``<layer>@<j>``: band ``j``
computes output rows ``[j * H / k, (j + 1) * H / k)`` (rounded so the first bands take the
extra row) of every channel and sample, reading the input rows those need (its kernel halo
included, so neighbouring bands read some rows twice) and its own copy of the weights (an
AIMC band programs its own crossbars). Each band is an ordinary layer to the rest of the
mapper and to the engine; a consumer waits for every band of its producer. MACs of the bands
sum to the layer's.

**Balance.** Stage time ``T(l)`` is the layer's closed-form estimate on its engine kind
(``estimate_ps`` of its model). Greedily, the stage with the largest ``T(l) / k_l`` gets one
more replica while (a) it has more output rows than replicas, (b) its resources are free: an
AIMC band needs its blocks' crossbars (all crossbars stay programmed once), a digital band a
cluster of its own (at most one band of each digital layer per cluster), and (c) the period
``max T / k`` is above the target (``mapping.throughput_target_inferences_per_s``; none: as
many as resources allow). Splitting by rows keeps each band's per-tile work shape; it stops at
one row per band.
"""
from __future__ import annotations

import heapq
from dataclasses import replace

from ..base.units import PS_PER_S
from ..workload.trace import ELEMENTWISE_OPS, Layer, Trace

__all__ = ["REPLICABLE_OPS", "replication_factors", "band", "expand", "replication_summary"]

#: ops split by output rows (3-D maps): windows of rows, or elementwise rows
REPLICABLE_OPS = ("conv2d", "pointwise", "depthwise", "maxpool", "avgpool") + tuple(ELEMENTWISE_OPS)


def _replicable(l: Layer) -> bool:
    if l.op not in REPLICABLE_OPS or len(l.output_shape) != 3 or len(l.input_shape) != 3:
        return False
    if l.op in ELEMENTWISE_OPS:   # same-shape operands only (no broadcasting along rows)
        return l.input_shape == l.output_shape and all(s == l.input_shape for s in l.input_shapes)
    return True


def replication_factors(layers, stage_ps: dict, demand: dict, crossbars: int,
                        clusters: int, target_period_ps: float | None) -> dict:
    """Layer name -> replicas ``k >= 2`` (layers left whole are absent).

    Args:
        layers: the trace's layers, in order (ties between equal stages go to the earlier).
        stage_ps: layer -> closed-form time of the whole layer on its engine, ps.
        demand: layer -> ``("crossbars", n)`` (an AIMC layer's blocks) or ``("cluster", 1)``.
        crossbars: crossbars on the platform; clusters: core clusters.
        target_period_ps: stop once the slowest stage is at most this (None: no target).
    """
    k = {l.name: 1 for l in layers}
    rows = {l.name: l.out_hw[0] for l in layers}
    free = crossbars - sum(n for kind, n in demand.values() if kind == "crossbars")
    if free < 0:   # the weights do not even fit once: no spare crossbars to replicate into
        free = 0
    order = {l.name: i for i, l in enumerate(layers)}
    heap = [(-stage_ps[l.name], order[l.name], l.name) for l in layers if stage_ps.get(l.name)]
    heapq.heapify(heap)
    while heap:
        neg, _, name = heap[0]
        if target_period_ps is not None and -neg <= target_period_ps:
            break
        layer = layers[order[name]]
        kind, n = demand[name]
        if not _replicable(layer) or k[name] >= rows[name]:
            break   # the slowest stage cannot be split further: the period is set
        if kind == "crossbars":
            if n > free:
                break
            free -= n
        elif k[name] >= clusters:
            break
        k[name] += 1
        heapq.heapreplace(heap, (-stage_ps[name] / k[name], order[name], name))
    return {n: v for n, v in k.items() if v > 1}


def band(l: Layer, j: int, k: int) -> Layer:
    """Band ``j`` of ``k`` of layer ``l`` (module doc): its output rows, the input rows they read
    and the padding that falls inside them."""
    c, h, w = l.output_shape
    base, extra = divmod(h, k)
    h0 = j * base + min(j, extra)
    h1 = h0 + base + (j < extra)
    name = f"{l.name}@{j}"
    if l.op in ELEMENTWISE_OPS:
        shape = (c, h1 - h0, w)
        return replace(l, name=name, input_shape=shape, output_shape=shape,
                       input_shapes=tuple(shape for _ in l.input_shapes))
    cin, hin, win = l.input_shape
    s, kh = l.stride[0], l.kernel[0]
    pt, pl, pb, pr = l.padding
    lo = h0 * s - pt                  # first input row the band reads (negative: padding)
    hi = (h1 - 1) * s - pt + kh       # one past the last
    return replace(l, name=name, input_shape=(cin, min(hin, hi) - max(0, lo), win),
                   output_shape=(c, h1 - h0, w),
                   padding=(max(0, -lo), pl, max(0, hi - hin), pr))


def expand(trace: Trace, factors: dict) -> tuple:
    """``(trace of bands, bands_of)``: ``trace`` with each replicated layer replaced by its
    bands, and layer -> band names. Every layer's ``inputs`` name the original producers
    (an implicit "previous layer" is made explicit: after a split it would be a band)."""
    layers, bands_of = [], {}
    for l in trace.layers:
        if not l.inputs:
            l = replace(l, inputs=trace.producers(l))
        k = factors.get(l.name, 1)
        if k == 1:
            layers.append(l)
            continue
        bs = [band(l, j, k) for j in range(k)]
        layers += bs
        bands_of[l.name] = tuple(b.name for b in bs)
    return replace(trace, layers=tuple(layers)), bands_of


def replication_summary(factors: dict, stage_ps: dict, n_stages: int) -> dict:
    """Mapping-summary figures: stages, replicated layers and their replicas, and the
    closed-form slowest stage before and after (µs)."""
    before = max(stage_ps.values(), default=0.0)
    after = max((t / factors.get(n, 1) for n, t in stage_ps.items()), default=0.0)
    return {"stages": n_stages, "replicated_layers": len(factors),
            "replicas": dict(sorted(factors.items())),
            "estimated_period_us": {"unreplicated": before / PS_PER_S * 1e6,
                                    "replicated": after / PS_PER_S * 1e6}}
