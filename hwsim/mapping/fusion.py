"""Activations kept in L1 across layers, and layer fusion by row windows.

A tensor that L2 placement put in L2/L3 is kept in its producer's L1 instead when that does
not make the layers it touches slower by the tiler's closed-form model
(:func:`hwsim.mapping.mapper._tile_layer`, :mod:`hwsim.mapping.cost`):

* **Whole tensor** (any cluster): the tensor occupies its producer's L1 from its producer to
  its last reader (residual branches included); every layer of that range on the same L1
  tiles in what is left (``budget``). Its producer stores and its readers on that L1 load
  nothing for it.
* **Row window** (fusion, policy ``mapping.fusion``): when the whole tensor does not fit and its
  only reader runs next on the same L1 (pw -> dw -> pw, conv -> conv), the pair is fused row by
  row: the tensor lives in a ring of ``W`` rows; the reader starts on the rows it needs
  (pipelined, :mod:`hwsim.sim.pipeline`) and the producer waits before overwriting rows the
  reader still needs (the engine's ring back-pressure). With producer tiles of ``r_p`` rows
  and reader tiles of ``r_c`` output rows (stride ``s``, kernel height ``kh``),
  ``W = r_p + (r_c - 1) * s + kh`` rows never deadlock: both need one channel group, and
  neither holds its engine for the whole layer (a crossbar reprogrammed each inference is
  held from its programming to its last MVM, :mod:`hwsim.models.aimc`: the fused reader, or
  the next ring's, could wait for that engine while the producer waits for the reader).

Tensors are taken greedily in trace order; one is kept when the summed modelled time of the
layers it touches does not grow (ties keep it: it saves L2 traffic and energy). The bytes a
plan no longer moves are reported as ``l1_kept_bytes``.
"""
from __future__ import annotations

from dataclasses import replace

from ..base.errors import MappingError
from ..workload.trace import ELEMENTWISE_OPS, TRAIN_OPS

__all__ = ["keep_in_l1", "fusion_summary", "RING_OPS", "strip_l1"]

#: reader ops that can consume a row window (a linear layer needs its whole input)
RING_OPS = ("conv2d", "pointwise", "depthwise", "maxpool", "avgpool") + tuple(ELEMENTWISE_OPS)


def keep_in_l1(trace, l1_of: dict, tensor_mem: dict, tile, policy) -> list:
    """Decide which activations stay in L1.

    Args:
        l1_of: layer name -> the L1 :class:`~hwsim.hardware.platform.Memory` it computes from.
        tensor_mem: tensor -> memory name from L2/L3 placement; updated in place.
        tile: ``tile(layer, tensor_mem, budget, max_rows=None, row_tiles=False,
            window_fallback=True) -> LayerPlan`` (raises MappingError when the layer does not
            fit ``budget``; ``window_fallback=False``: nor in the channels x rows tiler).
        policy: the platform's :class:`~hwsim.hardware.policy.Policy` (``l1_residency``: whole
            tensors; ``fusion``: row windows of a producer and its single next reader).
    Returns:
        Plans of every layer under the final residency (``l1_kept_bytes`` set, the loads and
        stores that stay in L1 removed; a fused pair's producer carries ``ring`` and its reader
        is ``pipelined``).
    """
    tile = _memoised(tile, trace)
    layers = trace.layers
    readers: dict = {}
    for i, l in enumerate(layers):
        for t in trace.producers(l):
            readers.setdefault(t, []).append(i)
    budget = {l.name: l1_of[l.name].size_bytes for l in layers}
    plans = {l.name: tile(l, tensor_mem, budget[l.name]) for l in layers}
    rings: dict = {}
    limit: dict = {}      # fused layer -> max rows per tile (one channel group, row window)
    training = any(l.op in TRAIN_OPS for l in layers)
    for ip, p in enumerate(layers):
        rd = readers.get(p.name, [])
        if training or not rd or p.op in TRAIN_OPS or rd[0] <= ip:
            continue
        home = l1_of[p.name]
        last = max(rd)
        span = [layers[j] for j in range(ip, last + 1)]
        same = [l for l in span if l1_of[l.name].name == home.name]
        trial_mem = dict(tensor_mem)
        trial_mem[p.name] = home.name
        whole = None if not policy.l1_residency else _try(same, plans, budget, trial_mem, tile, {l.name: p.output_bytes for l in same}, limit)
        ring = None
        c = layers[ip + 1] if ip + 1 < len(layers) else None
        if (policy.fusion and len(rd) == 1 and rd[0] == ip + 1 and l1_of[c.name].name == home.name
                and c.op in RING_OPS and p.op != "linear" and len(c.input_shape) == 3
                and c.in_hw[0] == p.out_hw[0]
                and not (plans[p.name].holds_engine or plans[c.name].holds_engine)):
            ring = _try_ring(p, c, plans, budget, trial_mem, tile, limit)
        if whole is not None and (ring is None or sum(pl.modelled_ps for pl in whole.values()) <= ring[0]):
            tensor_mem[p.name] = home.name
            for l in same:
                budget[l.name] -= p.output_bytes
            plans.update(whole)
        elif ring is not None:
            _, w, new = ring
            tensor_mem[p.name] = home.name
            for l in (p, c):
                budget[l.name] -= _ring_bytes(p, w)
            plans.update(new)
            rings[p.name] = (w, c.name)
            for l in (p, c):
                limit[l.name] = min(limit.get(l.name, l.out_hw[0]), new[l.name].tile_shape["rows"])
    # final pass: every layer re-tiled with the final placement (a reader on another L1 too)
    out = []
    for l in layers:
        ring_of = next((pr for pr, (_, rc) in rings.items() if rc == l.name), None)
        pl = tile(l, tensor_mem, budget[l.name], limit.get(l.name), l.name in limit)
        out.append(strip_l1(replace(pl, ring=rings.get(l.name),
                                    pipelined=pl.pipelined or ring_of is not None)))
    return out


def _memoised(tile, trace):
    """``tile`` answering repeated questions from a table: trials ask for the same layer under
    the same placement and budget again and again, and a plan depends only on the layer, where
    its inputs and output live, the L1 budget and the row limits."""
    planned: dict = {}

    def cached(l, mems, budget, max_rows=None, row_tiles=False, window_fallback=True):
        key = (l.name, tuple(mems.get(t) for t in trace.producers(l)), mems[l.name], budget,
               max_rows, row_tiles, window_fallback)
        if key not in planned:
            planned[key] = tile(l, mems, budget, max_rows, row_tiles, window_fallback)
        return planned[key]
    return cached


def _row_bytes(l) -> int:
    return -(-l.output_bytes // l.out_hw[0])


def _ring_bytes(p, w: int) -> int:
    """L1 bytes of a ``w``-row window of ``p``'s output (at most the whole map)."""
    return min(w, p.out_hw[0]) * _row_bytes(p)


def _try(span, plans, budget, trial_mem, tile, take: dict, limit: dict, max_rows=None,
         slower_ok=False):
    """Plans of ``span`` with ``take[layer]`` bytes less L1 each, or None when one no longer
    fits, a fused layer needs several channel groups, or their summed modelled time grows.
    ``limit`` / ``max_rows``: rows per tile of layers already fused / being fused."""
    new = {}
    for l in span:
        mr = (max_rows or {}).get(l.name, limit.get(l.name))
        old = plans[l.name]
        try:   # (a layer the cost model times must stay in the tiler that times it: below)
            new[l.name] = pl = tile(l, trial_mem, budget[l.name] - take[l.name], mr, mr is not None,
                                    window_fallback=not old.modelled_ps)
        except MappingError:
            return None
        if mr is not None and ("rows" not in pl.tile_shape or _channel_groups(pl) != 1):
            return None   # fused layers need row tiles of one channel group
        if l.ops and not pl.modelled_ps and (old.modelled_ps or pl.n_tiles > old.n_tiles):
            # a tiling the cost model does not time (hwsim.mapping.tiling_nd, a layer squeezed
            # out of the DORY tiler) counts 0 ps: its slow-down would pass the comparison below
            return None
    if not slower_ok and sum(pl.modelled_ps for pl in new.values()) > sum(plans[l.name].modelled_ps for l in span):
        return None
    return new


def _try_ring(p, c, plans, budget, trial_mem, tile, limit):
    """Best row window for the fused pair ``p -> c``: ``(modelled ps, rows, plans)`` or None
    when none is faster than the pair unfused. On different engines the pair overlaps: it
    takes the slower layer's time plus one tile of the other (pipeline fill)."""
    h = p.out_hw[0]
    s, kh = (c.stride[0], c.kernel[0]) if c.op not in ELEMENTWISE_OPS else (1, 1)
    now = plans[p.name].modelled_ps + plans[c.name].modelled_ps
    best = None
    windows = [kh + 1]
    while windows[-1] * 2 < h + kh:
        windows.append(windows[-1] * 2)
    for w in windows + [h + kh]:   # the last holds the map whole (+ halo)
        r_p = max(1, w // 2)
        r_c = (w - r_p - kh) // s + 1
        if r_c >= 1:
            take = dict.fromkeys((p.name, c.name), _ring_bytes(p, w))
            new = _try((p, c), plans, budget, trial_mem, tile, take, limit,
                       {p.name: min(r_p, limit.get(p.name, r_p)), c.name: r_c}, slower_ok=True)
            if new is not None and new[p.name].tile_shape["rows"] + (new[c.name].tile_shape["rows"] - 1) * s + kh <= w:
                t = _pair_ps(new[p.name], new[c.name])
                if t <= now and (best is None or t < best[0]):
                    best = (t, w, new)
    return best


def _pair_ps(a, b) -> float:
    """Modelled time of a fused pair (see :func:`_try_ring`)."""
    ta, tb = a.modelled_ps, b.modelled_ps
    if a.engine == b.engine:
        return ta + tb
    return max(ta, tb) + min(ta / a.n_tiles, tb / b.n_tiles)


def _channel_groups(plan) -> int:
    return -(-plan.layer.out_channels // plan.tile_shape["channels"])


def strip_l1(plan):
    """The plan without the loads and stores that stay in its own L1, counted as kept bytes."""
    kept = sum(n for t in plan.tiles for m, n in t.loads + t.stores if m == plan.l1)
    if not kept:
        return plan
    tiles = tuple(replace(t, loads=tuple((m, n) for m, n in t.loads if m != plan.l1),
                          stores=tuple((m, n) for m, n in t.stores if m != plan.l1))
                  for t in plan.tiles)
    return replace(plan, tiles=tiles, l1_kept_bytes=kept)


def fusion_summary(plans) -> dict:
    """Mapping-summary figures: fused pairs, tensors kept whole in L1, bytes kept in L1."""
    fused = sum(1 for p in plans if p.ring)
    return {"fused_pairs": fused,
            "l1_resident_tensors": sum(1 for p in plans if p.output_mem == p.l1 and not p.ring),
            "l1_kept_bytes": sum(p.l1_kept_bytes for p in plans)}
