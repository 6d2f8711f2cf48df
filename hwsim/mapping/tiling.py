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
from bisect import bisect_right
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
    return (_input_bytes(l, co, in_rows(l, h0, h1)),
            _weight_bytes(l, co) if with_weights and l.is_weighted else 0,
            _output_bytes(l, co, h1 - h0))


def _input_bytes(l: Layer, co: int, rows_in: int) -> int:
    """Input bytes of a forward tile of ``co`` output channels reading ``rows_in`` input rows
    (full width); nondecreasing in ``rows_in``."""
    cout, w, b = l.out_channels, l.in_hw[1], l.batch   # (geometry(l) of a forward op)
    if l.op == "linear":
        inp = l.in_channels * b
    elif l.op in ("conv2d", "pointwise"):
        inp = l.in_channels * rows_in * w * b
    elif l.op == "depthwise":
        inp = -(-co * l.in_channels // cout) * rows_in * w * b
    elif l.op in ELEMENTWISE_OPS:
        inp = 2 * co * rows_in * w * b
    else:  # pooling
        inp = co * rows_in * w * b
    return -(-inp * l.bits_input // 8)


def _weight_bytes(l: Layer, co: int) -> int:
    """Weight (and bias) bytes of ``co`` output channels of a weighted forward layer."""
    return -(-co * l.matrix_rows * l.bits_weight // 8) + (-(-co * l.bits_bias // 8) if l.bias else 0)


def _output_bytes(l: Layer, co: int, rows: int) -> int:
    """Output bytes of ``co`` channels x ``rows`` rows (full width) of a forward tile."""
    return -(-co * rows * l.out_hw[1] * l.batch * l.bits_output // 8)


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


def tile_layer(l: Layer, l1: Memory, in_mem, w_mem, out_mem, *, cost, compute_ps,
               weights_move: bool = True, prefer_row_tiles: bool = False,
               budget: int | None = None, max_rows: int | None = None,
               window_fallback: bool = True) -> Tiling:
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


def _channel_choices(cout: int) -> list:
    """Every distinct channels-per-tile ``ceil(cout / k)``, largest first. Distinct sizes have
    distinct tile counts, so no two candidates of one layer tie on (channel tiles, tiles)."""
    out, k = [], 1
    while k <= cout:
        co = -(-cout // k)
        out.append(co)
        k = -(-cout // (co - 1)) if co > 1 else cout + 1   # next k with a smaller tile
    return out


class _LayerTable:
    """Byte counts of one layer's candidate tiles, pure in the layer (shared by every context
    the layer is searched in): the worst-case tile's (input, weights, output) bytes and the
    input bytes summed over all row tiles."""

    def __init__(self, l: Layer):
        self.l = l
        self.cout, self.ho = geometry(l)[:2]
        self.io_of: dict = {}
        self.in_rows_of: dict = {}
        self.inputs_of: dict = {}

    def io(self, co: int, rows: int, with_w: bool) -> tuple:
        """(input, weight, output) bytes of the ``co`` x ``rows`` tile, its input the largest
        over the first, a middle and the last row tile (an interior halo may exceed the
        first tile's rows)."""
        key = (co, rows, with_w)
        v = self.io_of.get(key)
        if v is None:
            l, ho = self.l, self.ho
            if l.op in TRAIN_OPS:
                i, w, o = tile_bytes(l, co, 0, rows, with_w)
                i = max(i, tile_bytes(l, co, max(0, ho - rows), ho, False)[0],
                        tile_bytes(l, co, ho // 2, min(ho, ho // 2 + rows), False)[0])
            else:   # input bytes grow with input rows: the tile of most input rows
                i = _input_bytes(l, co, self.worst_in_rows(rows))
                w = _weight_bytes(l, co) if with_w and l.is_weighted else 0
                o = _output_bytes(l, co, rows)
            v = self.io_of[key] = (i, w, o)
        return v

    def worst_in_rows(self, rows: int) -> int:
        """Input rows of the first, a middle and the last tile of ``rows`` rows: the most."""
        v = self.in_rows_of.get(rows)
        if v is None:
            l, ho = self.l, self.ho
            v = self.in_rows_of[rows] = max(in_rows(l, 0, rows), in_rows(l, max(0, ho - rows), ho),
                                            in_rows(l, ho // 2, min(ho, ho // 2 + rows)))
        return v

    def inputs(self, rows: int) -> int:
        """Input bytes (with halo, all channels) summed over the row tiles of ``rows`` rows."""
        v = self.inputs_of.get(rows)
        if v is None:
            l, cout, ho = self.l, self.cout, self.ho
            v = self.inputs_of[rows] = sum(tile_bytes(l, cout, h0, min(ho, h0 + rows), False)[0]
                                           for h0 in range(0, ho, rows))
        return v


_layer_table = _memo(_LayerTable)


def _hops_ps(hops, nbytes: float) -> float:
    """Mean time of one transfer of ``nbytes`` over ``hops`` (CostModel): per hop its fixed
    cost plus bytes x ps per byte, summed left to right (0 when no byte moves)."""
    if not nbytes:
        return 0.0
    v = 0
    for f, b in hops:
        v += f + nbytes * b
    return v


class _Search:
    """The least-time tile search of one layer in one context: where its operands live,
    whether its weights move, the key. A candidate's working set and key do not depend on
    the budget, so fusion's trials of a layer under many budgets share them (kept on the
    :class:`~hwsim.mapping.cost.CostModel`). And the winner under ``(budget, max_rows)``
    also wins under any smaller pair it still fits: the smaller pair's candidates are a
    subset that contains it (keys are unique, see :func:`_channel_choices`)."""

    def __init__(self, l: Layer, l1: Memory, in_mems: tuple, w_mem, out_mem, with_w: bool,
                 prefer_row_tiles: bool, cost, compute_ps):
        self.l, self.l1, self.in_mems, self.w_mem, self.out_mem = l, l1, in_mems, w_mem, out_mem
        self.with_w, self.prefer_row_tiles = with_w, prefer_row_tiles
        self.table = _layer_table(l)
        self.cout, self.ho = self.table.cout, self.table.ho
        self.in_dma = sum(m != l1.name for m in in_mems) / len(in_mems)   # share moved by DMA
        self.out_dma = out_mem != l1.name
        self.compute_ps = compute_ps
        self.reload_inputs = l.op in ("conv2d", "pointwise", "linear")   # per channel tile
        self.in_hops = [cost.hops(m, l1.name) for m in sorted(set(in_mems)) if m != l1.name]
        self.w_hops = cost.hops(w_mem, l1.name) if with_w and w_mem else []
        self.out_hops = cost.hops(l1.name, out_mem) if self.out_dma else []
        self.total_ops = tile_ops(l, self.cout, self.ho)
        self.w_total = tile_bytes(l, self.cout, 0, 1, True)[1] if with_w else 0
        self.out_total = tile_bytes(l, self.cout, 0, self.ho, False)[2]
        self.row_choices = _row_choices(self.ho)
        self.ws_of: dict = {}      # (channels, rows) -> L1 working set, bytes
        self.key_of: dict = {}     # (channels, rows) -> (key, modelled ps)
        self.a_w_of: dict = {}     # channel groups -> mean weight load of a tile, ps
        self.answers: list = []    # (budget, max_rows, winner) already worked out
        self.ranked = None         # every candidate by its compute-time lower bound
        self.tilings: dict = {}    # (channels, rows) -> Tiling

    @classmethod
    def of(cls, l, l1, in_mems, w_mem, out_mem, with_w, prefer_row_tiles, cost, compute_ps):
        key = (l, l1.name, in_mems, w_mem, out_mem, with_w, prefer_row_tiles, id(compute_ps))
        s = cost.tiling_memo.get(key)
        if s is None:
            s = cost.tiling_memo[key] = cls(l, l1, in_mems, w_mem, out_mem, with_w,
                                            prefer_row_tiles, cost, compute_ps)
            if not prefer_row_tiles and l.op not in TRAIN_OPS:   # the key is the time
                rkey = (l, id(compute_ps))
                ranked = cost.tiling_memo.get(rkey)
                if ranked is None:
                    ranked = cost.tiling_memo[rkey] = _rank_by_compute(s)
                s.ranked = ranked
        return s

    def ws(self, co: int, rows: int) -> int:
        """L1 working set of a ``co`` x ``rows`` tile: double-buffered inputs and outputs
        (the worst-case tile: an interior halo may exceed the first tile's rows), weights
        single-buffered when one channel tile covers the layer."""
        v = self.ws_of.get((co, rows))
        if v is None:
            i, w, o = self.table.io(co, rows, self.with_w)
            wmul = 1 if co == self.cout else 2
            v = self.ws_of[(co, rows)] = (2 * (math.ceil(i * self.in_dma) + o * self.out_dma)
                                          + wmul * w)
        return v

    def choose(self, budget: int, max_rows: int | None) -> tuple:
        """``(key, channels, rows, working set, modelled ps)`` of the best tile that fits."""
        for b, mr, won in self.answers:
            if (b >= budget and (mr is None or max_rows is not None and mr >= max_rows)
                    and won[3] <= budget and (max_rows is None or won[2] <= max_rows)):
                return won
        won = None
        if self.ranked is not None:
            won = self._best_first(budget, max_rows)
        if won is None:   # (also: nothing fits; the exhaustive search says why)
            won = self._search(budget, max_rows)
        self.answers.append((budget, max_rows, won))
        return won

    def _best_first(self, budget: int, max_rows: int | None):
        """The winner by least time, or None when nothing fits. Candidates come in order of
        ``n x c`` (tiles x compute time per tile, :func:`_rank_by_compute`), a lower bound of
        their time (cost.pipeline_ps: every tile computes), so the search stops at the first
        whose bound exceeds the best time found (margin: float rounding)."""
        cap = min(self.ho, max_rows or self.ho)
        ws, key_of = self.ws, self.key_of
        best = None
        stop = float("inf")
        for lb, co, rows, n_co, c in self.ranked:
            if lb > stop:
                break
            if rows > cap or ws(co, rows) > budget:
                continue
            got = key_of.get((co, rows))
            if got is None:
                got = key_of[(co, rows)] = self._key(co, n_co, rows, c)
            if best is None or got[0] < best[0]:
                best = (got[0], co, rows, ws(co, rows), got[1])
                stop = got[1] * (1 + 1e-9)
        return best

    def _search(self, budget: int, max_rows: int | None) -> tuple:
        """The winner over every candidate that fits (the reference the best-first search is
        tested against; also the row-first and training searches), or MappingError
        naming the smallest working set when none fits."""
        l, cout, ho, ws = self.l, self.cout, self.ho, self.ws
        choices, key_of = self.row_choices, self.key_of
        best = None
        smallest = float("inf")   # smallest working set tried (for the error message)
        for co in _channel_choices(cout):
            n_co = -(-cout // co)
            if best is not None and self.prefer_row_tiles and n_co > best[0][0]:
                break   # the key's first field: fewer channel groups always win
            if ws(co, 1) > budget:
                smallest = min(smallest, ws(co, 1))
                continue
            # every row choice up to the largest that fits: choices[:fit] (1 row fits)
            fit, hi = 1, bisect_right(choices, min(ho, max_rows or ho))
            while fit < hi:
                mid = (fit + hi) // 2
                if ws(co, choices[mid]) <= budget:
                    fit = mid + 1
                else:
                    hi = mid
            for rows in choices[:fit]:
                got = key_of.get((co, rows))
                if got is None:
                    got = key_of[(co, rows)] = self._key(co, n_co, rows)
                if best is None or got[0] < best[0]:
                    best = (got[0], co, rows, ws(co, rows), got[1])
        if best is None:
            i, w, o = tile_bytes(l, 1, 0, 1, self.with_w)
            l1 = self.l1
            raise MappingError(
                f"{l.op} cannot be tiled into {l1.name}: even the smallest tile (1 channel x 1 "
                f"row: {i} B in, {w} B weights, {o} B out; {smallest} B with double buffers and "
                "halo) exceeds "
                + (f"its {l1.name}.size_bytes = {budget} B" if budget == l1.size_bytes else
                   f"the {budget} B that L1-resident activations leave of {l1.name}.size_bytes = "
                   f"{l1.size_bytes} B"),
                fix=f"enlarge {l1.name}.size_bytes to at least {smallest + l1.size_bytes - budget}")
        return best

    def _key(self, co: int, n_co: int, rows: int, c: float | None = None) -> tuple:
        """(sort key, modelled ps) of the ``co`` x ``rows`` tile under the cost model: the
        double-buffered pipeline of its mean tile (cost.pipeline_ps), the first row tile of
        each channel group also loading its weights. Weights and outputs move once whatever
        the tiling; inputs (with their halo) are reloaded for every channel tile unless the
        op is channel-wise. Training ops keep DORY's key (fewest DMA bytes). ``c``: the
        tile's compute time when already known."""
        a_w = self.a_w_of.get(n_co)
        if a_w is None:
            a_w = self.a_w_of[n_co] = _hops_ps(self.w_hops, self.w_total / n_co)
        n = n_co * -(-self.ho // rows)
        dma = (self.table.inputs_of.get(rows) or self.table.inputs(rows)) * (
            n_co if self.reload_inputs else 1)
        in_hops = self.in_hops
        a = max([_hops_ps(h, dma / len(self.in_mems) / n) for h in in_hops]) if in_hops else 0.0
        if c is None:
            c = self.compute_ps(self.total_ops / n, co, rows)
        s = _hops_ps(self.out_hops, self.out_total / n)
        a_w = max(a, a_w)
        t = pipeline_ps(n, a, c, s, n_co, a_w)
        if self.l.op in TRAIN_OPS:
            key = (dma, n, -co) if not self.prefer_row_tiles else (n_co, dma, n, -co)
        else:   # a pipelined reader waits for the first tile: count its fill too
            key = (t, n, -co) if not self.prefer_row_tiles else (n_co, t + a_w + c + s, n, -co)
        return key, t

    def tiling(self, co: int, rows: int, l1_bytes: int, modelled: float) -> Tiling:
        """The tiles of the ``co`` x ``rows`` tiling (channel groups outer, rows inner)."""
        got = self.tilings.get((co, rows))
        if got is not None:
            return got
        l, cout, ho, in_mems, out_mem, w_mem = (self.l, self.cout, self.ho, self.in_mems,
                                                self.out_mem, self.w_mem)
        with_w = self.with_w
        tiles = []
        made: dict = {}   # tiles are immutable: equal ones (interior rows) are built once
        for c0 in range(0, cout, co):
            c1 = min(cout, c0 + co)
            for h0 in range(0, ho, rows):
                h1 = min(ho, h0 + rows)
                i, w, o = tile_bytes(l, c1 - c0, h0, h1, with_w and (
                    h1 == ho if l.op in GRAD_WEIGHT_OPS else h0 == 0))
                ops = tile_ops(l, c1 - c0, h1 - h0)
                tile = made.get((i, w, o, ops))
                if tile is None:
                    # an elementwise op reads its operands from their own memories (equal shares)
                    loads = [(m, i // len(in_mems) + (k < i % len(in_mems)))
                             for k, m in enumerate(in_mems)]
                    stores = merge([(out_mem, o)])
                    if w and l.op in GRAD_WEIGHT_OPS:  # the dW accumulator goes out after its last row
                        stores = merge([(out_mem, o), (w_mem, w)])
                    elif w:
                        loads.append((w_mem, w))
                    if l.op == "optimizer_step":       # parameters and state are updated in place
                        stores = ((w_mem, o),)
                    tile = made[(i, w, o, ops)] = Tile(loads=merge(loads), ops=ops, stores=stores)
                tiles.append(tile)
        got = self.tilings[(co, rows)] = Tiling(
            tile_shape={"channels": co, "rows": rows, "cols": geometry(l)[2]}, tiles=tuple(tiles),
            l1_bytes=l1_bytes, weight_mem=w_mem if with_w else None, input_mem=in_mems[0],
            modelled_ps=modelled)
        return got


def _rank_by_compute(search: _Search) -> list:
    """Every candidate ``(n x c, channels, rows, channel groups, c)`` of ``search``'s layer on its
    engine, by ``n x c``: tiles times the engine's time per tile, a lower bound of the
    layer's time whatever the context (every tile computes; cost.pipeline_ps)."""
    cout, ho, ops, compute_ps = search.cout, search.ho, search.total_ops, search.compute_ps
    out = []
    for co in _channel_choices(cout):
        n_co = -(-cout // co)
        for rows in search.row_choices:
            n = n_co * -(-ho // rows)
            c = compute_ps(ops / n, co, rows)
            out.append((n * c, co, rows, n_co, c))
    out.sort()
    return out


def _tile_dory(l: Layer, l1: Memory, in_mem, w_mem, out_mem, weights_move: bool,
               prefer_row_tiles: bool, budget: int, cost, compute_ps, max_rows) -> Tiling:
    """Output channels x rows (full width): the tiling described in the module docstring."""
    with_w = weights_move and (l.is_weighted or l.weights_of is not None and l.weight_elements
                                  or l.op == "optimizer_step")
    in_mems = tuple(in_mem) if isinstance(in_mem, tuple) else (in_mem,)
    search = _Search.of(l, l1, in_mems, w_mem, out_mem, with_w, prefer_row_tiles, cost, compute_ps)
    _, co, rows, l1_bytes, modelled = search.choose(budget, max_rows)
    return search.tiling(co, rows, l1_bytes, modelled)
