"""DORY-style L1 tiling of one layer (:func:`tile_layer`).

The output is cut into ``co_t`` channels x ``ho_t`` rows (full width); input rows include the
kernel halo. Buffers are double-buffered (weights single when one channel tile covers the
layer); operands already in L1 (resident activations, :mod:`hwsim.mapping.fusion`) take no
buffer and no DMA. Among every (channels, rows) tile that fits, the one of least modelled time
wins (:func:`hwsim.mapping.cost.pipeline_ps` of the mean tile; ties: fewer tiles, then wider),
so a larger L1 never gives a slower modelled layer. Training ops keep DORY's rule (fewest DMA
bytes, then fewest tiles): the time model covers inference kernels. Loop order: channel tiles
outer (each weight tile loaded once), row tiles inner.
"""
from __future__ import annotations

import math
from functools import lru_cache

from ..base.errors import MappingError
from ..hardware.platform import Memory
from ..workload.trace import ELEMENTWISE_OPS, GRAD_WEIGHT_OPS, POOL_OPS, TRAIN_OPS, Layer
from . import train_tiling
from . import tiling_nd
from .cost import pipeline_ps
from .plan import Tile, Tiling, merge

__all__ = ["Tiling", "tile_layer", "geometry", "in_rows", "tile_bytes", "tile_ops", "merge"]


#: The tiling arithmetic below is pure in (layer, tile bounds), and the tile-size search
#: evaluates the same tiles many times: memoised by argument (layers are frozen, with a
#: cached hash; see hwsim.workload.trace.Layer). Bounded, so memory stays flat on long runs.
_memo = lru_cache(maxsize=1 << 12)


@_memo
def geometry(l: Layer):
    """(Cout, Ho, Wo, Hin, Win, stride_h, kh, pad_top) with vectors as 1x1 maps."""
    if l.op in TRAIN_OPS:
        return train_tiling.geometry(l)
    cout, (ho, wo) = l.out_channels, l.out_hw
    h, w = l.in_hw
    return cout, ho, wo, h, w, l.stride[0], l.kernel[0], l.padding[0]


@_memo
def in_rows(l: Layer, h0: int, h1: int) -> int:
    """Input rows needed for output rows [h0, h1) (with halo, clipped to the map)."""
    _, _, _, h, _, s, kh, pt = geometry(l)
    if l.op in ELEMENTWISE_OPS or l.op == "linear":
        return h1 - h0 if l.op in ELEMENTWISE_OPS else 1
    lo = max(0, h0 * s - pt)
    hi = min(h, (h1 - 1) * s - pt + kh)
    return max(0, hi - lo)


@_memo
def tile_bytes(l: Layer, co: int, h0: int, h1: int, with_weights: bool):
    """(input, weight, output) bytes of the tile covering channels [.. co) and rows [h0, h1)."""
    if l.op in TRAIN_OPS:
        return train_tiling.tile_bytes(l, co, h0, h1, with_weights)
    cout, ho, wo, h, w, *_ = geometry(l)
    b = l.batch
    rows = in_rows(l, h0, h1)
    if l.op == "linear":
        inp = l.in_channels * b
    elif l.op in ("conv2d", "pointwise"):
        inp = l.in_channels * rows * w * b
    elif l.op == "depthwise":
        inp = -(-co * l.in_channels // cout) * rows * w * b
    elif l.op in ELEMENTWISE_OPS:
        inp = 2 * co * rows * w * b
    else:  # pooling
        inp = co * rows * w * b
    out = co * (h1 - h0) * wo * b
    wt = 0
    if with_weights and l.is_weighted:
        wt = -(-co * l.matrix_rows * l.bits_weight // 8) + (-(-co * l.bits_bias // 8) if l.bias else 0)
    return -(-inp * l.bits_input // 8), wt, -(-out * l.bits_output // 8)


@_memo
def tile_ops(l: Layer, co: int, rows: int) -> int:
    if l.op in TRAIN_OPS:
        return train_tiling.tile_ops(l, co, rows)
    _, _, wo, *_ = geometry(l)
    pix = co * rows * wo * l.batch
    if l.is_weighted:
        return pix * l.matrix_rows
    if l.op in POOL_OPS:
        return pix * l.kernel[0] * l.kernel[1]
    return pix


def tile_layer(l: Layer, l1: Memory, in_mem, w_mem, out_mem, weights_move: bool = True,
               prefer_row_tiles: bool = False, budget: int | None = None, cost=None,
               compute_ps=None, max_rows: int | None = None, window_fallback: bool = True) -> Tiling:
    """Tile ``l`` for ``l1`` (``budget`` bytes of it, default all). ``in_mem``: one memory or
    one per elementwise operand; ``weights_move``: the engine reads its weights from ``w_mem``
    each inference (False: stationary in crossbars); ``prefer_row_tiles``: full channel groups
    first, so that a pipelined consumer can start early (then least time plus one tile: the
    fill a pipelined reader waits for). ``cost``: the platform's
    :class:`hwsim.mapping.cost.CostModel`; ``compute_ps(ops, channels, rows)``: the engine's time for a tile
    of ``ops`` operations (:func:`hwsim.mapping.cost.tile_compute_ps`); ``max_rows``: at most that many output rows per
    tile (a fused pair's row window); ``window_fallback=False``: raise instead of cutting
    a layer the channels x rows tiler cannot fit along every dimension.

    Layers this DORY-style tiler does not cover (matmul, per-token linear, element-wise with
    broadcasting, normalisation and data-movement ops), and conv / pooling layers whose
    smallest channel x full-width-row tile does not fit, go to :mod:`hwsim.mapping.tiling_nd`
    (every dimension); when neither fits, the error with the smaller minimum is raised."""
    budget = l1.size_bytes if budget is None else budget
    if not tiling_nd.dory_covers(l):
        return Tiling(**tiling_nd.tile_nd(l, l1.name, budget, in_mem, w_mem, out_mem))
    try:
        return _tile_dory(l, l1, in_mem, w_mem, out_mem, weights_move, prefer_row_tiles, budget,
                          cost, compute_ps, max_rows)
    except MappingError as e:
        if not (window_fallback and weights_move and tiling_nd.window_covers(l)):
            raise
        first = e
    try:
        return Tiling(**tiling_nd.tile_window(l, l1.name, budget, in_mem, w_mem, out_mem))
    except MappingError as e:
        raise min((first, e), key=tiling_nd.needed_bytes) from None


def _row_choices(ho: int) -> list:
    """Every distinct rows-per-tile ``ceil(ho / k)``, smallest first."""
    return sorted({-(-ho // k) for k in range(1, ho + 1)})


def _hops_ps(hops, nbytes: float, transfers: float) -> float:
    """Mean time of ``transfers`` transfers totalling ``nbytes`` over ``hops`` (CostModel)."""
    if not nbytes:
        return 0.0
    return sum(f * transfers + nbytes * b for f, b in hops)


def _tile_dory(l: Layer, l1: Memory, in_mem, w_mem, out_mem, weights_move: bool,
               prefer_row_tiles: bool, budget: int, cost, compute_ps, max_rows) -> Tiling:
    """Output channels x rows (full width): the tiling described in the module docstring."""
    cout, ho, wo, *_ = geometry(l)
    with_w = weights_move and (l.is_weighted or l.weights_of is not None and l.weight_elements
                                  or l.op == "optimizer_step")
    in_mems = tuple(in_mem) if isinstance(in_mem, tuple) else (in_mem,)
    in_dma = sum(m != l1.name for m in in_mems) / len(in_mems)   # share of input moved by DMA
    out_dma = out_mem != l1.name
    if cost is not None:
        in_hops = [cost.hops(m, l1.name) for m in sorted(set(in_mems)) if m != l1.name]
        w_hops = cost.hops(w_mem, l1.name) if with_w and w_mem else []
        out_hops = cost.hops(l1.name, out_mem) if out_dma else []
        total_ops = tile_ops(l, cout, ho)
        w_total = tile_bytes(l, cout, 0, 1, True)[1] if with_w else 0
        out_total = tile_bytes(l, cout, 0, ho, False)[2]
    row_choices = _row_choices(ho)
    # working sets and candidate keys depend on the tile, not on the budget: fusion asks for
    # the same layer under many budgets, so they are kept per context on the cost model
    ws_memo, cand_memo = (cost.tiling_memo.setdefault(
        (l, l1.name, in_mems, w_mem, out_mem, with_w, prefer_row_tiles, id(compute_ps)), ({}, {}))
        if cost is not None else ({}, {}))
    best = None
    seen = set()
    in_total: dict = {}   # rows per tile -> input bytes over all row tiles (all channels)
    smallest = float("inf")   # smallest working set tried (for the error message)
    k = 1
    while k <= cout:   # every distinct channel-tile size ceil(cout / k), largest first
        co = -(-cout // k)
        k = -(-cout // (co - 1)) if co > 1 else cout + 1   # next k with a smaller tile
        if co in seen:
            continue
        seen.add(co)
        n_co = -(-cout // co)
        wmul = 1 if n_co == 1 else 2

        def ws(rows, co=co, wmul=wmul):
            v = ws_memo.get((co, rows))
            if v is None:
                i, w, o = tile_bytes(l, co, 0, rows, with_w)
                # the worst-case tile: interior halo may exceed the first tile's rows
                i = max(i, tile_bytes(l, co, max(0, ho - rows), ho, False)[0],
                        tile_bytes(l, co, ho // 2, min(ho, ho // 2 + rows), False)[0])
                v = ws_memo[(co, rows)] = 2 * (math.ceil(i * in_dma) + o * out_dma) + wmul * w
            return v

        if ws(1) > budget:
            smallest = min(smallest, ws(1))
            continue
        lo, hi = 1, min(ho, max_rows or ho)
        while lo < hi:  # largest rows that fit (ws is monotone in rows)
            mid = (lo + hi + 1) // 2
            if ws(mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        for rows in (row_choices if cost is not None else (lo,)):
            if rows > lo:
                break
            got = cand_memo.get((co, rows))
            if got is not None:
                key, t = got
                if best is None or key < best[0]:
                    best = (key, co, rows, ws(rows), t)
                continue
            n_h = -(-ho // rows)
            n = n_co * n_h
            # Weights and outputs move once whatever the tiling; inputs (with their halo)
            # are reloaded for every channel tile unless the op is channel-wise.
            if rows not in in_total:
                in_total[rows] = sum(tile_bytes(l, cout, h0, min(ho, h0 + rows), False)[0]
                                     for h0 in range(0, ho, rows))
            dma = in_total[rows] * (n_co if l.op in ("conv2d", "pointwise", "linear") else 1)
            t = fill = 0.0
            if cost is not None:
                # mean tile; the first row tile of each channel group also loads its weights
                a = max([_hops_ps(h, dma / len(in_mems) / n, 1) for h in in_hops], default=0.0)
                a_w = max(a, _hops_ps(w_hops, w_total / n_co, 1))
                c = compute_ps(total_ops / n, co, rows)
                s = _hops_ps(out_hops, out_total / n, 1)
                t = pipeline_ps(n, a, c, s, n_co, a_w)
                fill = a_w + c + s
            if cost is None or l.op in TRAIN_OPS:   # DORY: fewest DMA bytes, then fewest tiles
                key = (dma, n, -co) if not prefer_row_tiles else (n_co, dma, n, -co)
            else:   # a pipelined reader waits for the first tile: count its fill too
                key = (t, n, -co) if not prefer_row_tiles else (n_co, t + fill, n, -co)
            cand_memo[(co, rows)] = (key, t)
            if best is None or key < best[0]:
                best = (key, co, rows, ws(rows), t)
    if best is None:
        i, w, o = tile_bytes(l, 1, 0, 1, with_w)
        need = smallest
        raise MappingError(
            f"{l.op} cannot be tiled into {l1.name}: even the smallest tile (1 channel x 1 row: "
            f"{i} B in, {w} B weights, {o} B out; {need} B with double buffers and halo) exceeds "
            + (f"its {l1.name}.size_bytes = {budget} B" if budget == l1.size_bytes else
               f"the {budget} B that L1-resident activations leave of {l1.name}.size_bytes = "
               f"{l1.size_bytes} B"),
            fix=f"enlarge {l1.name}.size_bytes to at least {need + l1.size_bytes - budget}")
    _, co, rows, l1_bytes, modelled = best
    # an elementwise op reads its operands from their own memories (equal shares)
    in_mem = in_mems[0]
    tiles = []
    for c0 in range(0, cout, co):
        c1 = min(cout, c0 + co)
        for h0 in range(0, ho, rows):
            h1 = min(ho, h0 + rows)
            i, w, o = tile_bytes(l, c1 - c0, h0, h1, with_w and (
                h1 == ho if l.op in GRAD_WEIGHT_OPS else h0 == 0))
            loads = [(m, i // len(in_mems) + (k < i % len(in_mems)))
                     for k, m in enumerate(in_mems)]
            stores = merge([(out_mem, o)])
            if w and l.op in GRAD_WEIGHT_OPS:  # the dW accumulator goes out after its last row
                stores = merge([(out_mem, o), (w_mem, w)])
            elif w:
                loads.append((w_mem, w))
            if l.op == "optimizer_step":       # parameters and state are updated in place
                stores = ((w_mem, o),)
            loads = merge(loads)
            tile = Tile(loads=loads, ops=tile_ops(l, c1 - c0, h1 - h0), stores=stores)
            tiles.append(tile)
    return Tiling(tile_shape={"channels": co, "rows": rows, "cols": wo}, tiles=tuple(tiles),
                  l1_bytes=l1_bytes, weight_mem=w_mem if with_w else None, input_mem=in_mem,
                  modelled_ps=modelled)
