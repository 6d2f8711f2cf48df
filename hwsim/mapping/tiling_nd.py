"""Tiling along every dimension a layer has, for the layers the DORY-style tiler of
:mod:`hwsim.mapping.tiling` (output channels x rows, full width) does not cover; its
:func:`~hwsim.mapping.tiling.tile_layer` dispatches here:

* conv / pooling layers whose smallest DORY tile (1 channel x 1 full-width row) exceeds L1:
  :func:`tile_window` cuts **output width and input channels** too (e.g. Stream's fsrcnn,
  960-pixel rows);
* ``matmul`` and per-token ``linear`` layers: :func:`tile_matmul` cuts **M, N and K**;
* element-wise, normalisation and data-movement layers: :func:`tile_stream` cuts the output
  into runs of whole reduction rows (softmax, layernorm) or of elements (the rest).

Each tiler enumerates tile sizes ``ceil(n / 2^i)`` (and the full size) per dimension, keeps
those whose working set fits L1 -- double-buffered inputs and outputs, weights single-buffered
when one tile holds them all -- and picks the fewest DMA bytes, then the fewest tiles. A
layer that fits nowhere raises :class:`MappingError` naming the layer's op, the dimension cut
last and the bytes its smallest tile needs.

Assumptions (stated, not sourced): a split reduction (K of a matmul, input channels of a conv)
keeps 32-bit partial sums in L1 (``ACC_BYTES``) and writes the output after the last chunk;
the inner loop runs over the reduction, so a weight chunk is reloaded for every spatial /
M tile when the reduction is split; operands of a multi-input layer load from their own
memories in proportion to their sizes (a free concatenation read: equal shares).
"""
from __future__ import annotations

import math
import re

from ..base.errors import MappingError
from ..workload.trace import ELEMENTWISE_OPS, NORM_OPS, POOL_OPS, TRAIN_OPS, WEIGHTED_OPS, Layer
from .plan import Tile, merge

__all__ = ["dory_covers", "window_covers", "needed_bytes", "tile_nd", "tile_window",
           "tile_matmul", "tile_stream", "ACC_BYTES"]

#: bytes of one partial sum kept in L1 while a reduction is split (int32 accumulators, ASSUMED)
ACC_BYTES = 4


def dory_covers(l: Layer) -> bool:
    """Layers the DORY-style tiler of :mod:`hwsim.mapping.tiling` handles."""
    if l.op in TRAIN_OPS or l.op in POOL_OPS:
        return True
    if l.op in WEIGHTED_OPS:
        return not l.is_sequence_linear
    return l.op in ELEMENTWISE_OPS and not l.input_shapes


def window_covers(l: Layer) -> bool:
    """Sliding-window layers :func:`tile_window` can cut by columns and input channels."""
    return l.op in ("conv2d", "pointwise", "depthwise") + POOL_OPS


def tile_nd(l: Layer, l1: str, budget: int, in_mem, w_mem, out_mem) -> dict:
    """Tiling of a layer the DORY-style tiler does not cover (see the module docstring)."""
    if l.op == "matmul" or l.is_sequence_linear:
        return tile_matmul(l, l1, budget, in_mem, w_mem, out_mem)
    return tile_stream(l, l1, budget, in_mem, w_mem, out_mem)


def needed_bytes(e: MappingError) -> float:
    """The L1 bytes an untileable-layer error asks for (inf when it states none)."""
    m = re.search(r"at least (\d+)", e.fix)
    return int(m.group(1)) if m else math.inf


def _sizes(n: int) -> list:
    """Candidate tile sizes of a dimension of ``n``: n, ceil(n/2), ceil(n/4), ..., 1."""
    out, k = [], 1
    while True:
        s = -(-n // k)
        if not out or s != out[-1]:
            out.append(s)
        if s == 1:
            return out
        k *= 2


def _b(elements: int, bits: int) -> int:
    return -(-elements * bits // 8)


def _tiling(in_mem, w_mem, tiles, tile_shape, l1_bytes, with_w) -> dict:
    """The fields of a :class:`hwsim.mapping.plan.Tiling`."""
    in_mems = tuple(in_mem) if isinstance(in_mem, tuple) else (in_mem,)
    return {"tile_shape": tile_shape, "tiles": tuple(tiles), "l1_bytes": l1_bytes,
            "weight_mem": w_mem if with_w else None, "input_mem": in_mems[0]}


def _too_big(l: Layer, l1: str, budget: int, dims: str, need: int) -> MappingError:
    return MappingError(
        f"{l.op} cannot be tiled into {l1}: even the smallest tile along {dims} needs "
        f"{need} B (double buffers included), {l1}.size_bytes = {budget} B",
        fix=f"enlarge {l1}.size_bytes to at least {need}")


def _spread(total: int, parts: int, i: int) -> int:
    """Share ``i`` of ``total`` cut into ``parts`` integer shares summing to ``total``."""
    return total * (i + 1) // parts - total * i // parts


# ------------------------------------------------------------------------------------------
def tile_window(l: Layer, l1: str, budget: int, in_mem, w_mem, out_mem) -> dict:
    """Conv / depthwise / pooling cut along output channels, rows, **columns** and (conv2d,
    pointwise with groups 1) **input channels**. Tile loop: channel tiles, row tiles, column
    tiles, input-channel chunks (innermost, accumulating)."""
    cout, (ho, wo) = l.out_channels, l.out_hw
    cin, h, w = l.input_shape
    (kh, kw), (sh, sw), (pt, pl, _, _) = l.kernel, l.stride, l.padding
    b = l.batch
    dense = l.op in ("conv2d", "pointwise") and l.groups == 1
    weighted = l.is_weighted
    in_mem0 = in_mem[0] if isinstance(in_mem, tuple) else in_mem

    def span(o0, o1, s, k, p, size):   # input extent of outputs [o0, o1)
        return max(0, min(size, (o1 - 1) * s - p + k) - max(0, o0 * s - p))

    def extents(n, s, k, p, size, nout):   # (largest, summed) input extent of n-output tiles
        e = [span(o0, min(nout, o0 + n), s, k, p, size) for o0 in range(0, nout, n)]
        return max(e), sum(e)

    def in_ch(co):     # input channels a tile of co output channels reads (all chunks)
        if dense:
            return cin
        if l.op in POOL_OPS or l.op == "depthwise":
            return -(-co * cin // cout)
        return min(cin, -(-co // (cout // l.groups)) * (cin // l.groups))

    def red(ci):       # MACs (window reads) per output element of a ci chunk
        return ci * kh * kw if dense else (l.matrix_rows if weighted else kh * kw)

    def w_bytes(co, ci):
        if not weighted:
            return 0
        return _b(co * red(ci), l.bits_weight) + (_b(co, l.bits_bias) if l.bias else 0)

    rows_c = {r: extents(r, sh, kh, pt, h, ho) for r in _sizes(ho)}
    cols_c = {c: extents(c, sw, kw, pl, w, wo) for c in _sizes(wo)}
    best, smallest = None, math.inf
    for co in _sizes(cout):
        n_co = -(-cout // co)
        for ci in (_sizes(cin) if dense else [cin]):
            n_ci = -(-cin // ci)
            ich = ci if dense else in_ch(co)
            wmul = 1 if (n_co == 1 and n_ci == 1) else 2
            for r, (ir, ir_sum) in rows_c.items():
                for c, (ic, ic_sum) in cols_c.items():
                    out_b = co * r * c * b * ACC_BYTES if n_ci > 1 else _b(co * r * c * b,
                                                                           l.bits_output)
                    ws = 2 * (_b(ich * ir * ic * b, l.bits_input) + out_b) + wmul * w_bytes(co, ci)
                    if ws > budget:
                        smallest = min(smallest, ws)
                        continue
                    n_sp = -(-ho // r) * -(-wo // c)
                    dma = _b(cin * ir_sum * ic_sum * b, l.bits_input) * (n_co if dense else 1)
                    if weighted:
                        dma += _b(l.weight_elements, l.bits_weight) * (n_sp if n_ci > 1 else 1)
                    key = (dma, n_co * n_ci * n_sp, -co)
                    if best is None or key < best[0]:
                        best = (key, co, ci, r, c, ws)
    if best is None:
        raise _too_big(l, l1, budget, "output channels, rows, columns" + (", input channels" if dense
                                                                   else ""), smallest)
    _, co, ci, r, c, ws = best
    n_ci = -(-cin // ci)
    tiles = []
    for c0 in range(0, cout, co):
        cc = min(cout, c0 + co) - c0
        for h0 in range(0, ho, r):
            h1 = min(ho, h0 + r)
            for w0 in range(0, wo, c):
                w1 = min(wo, w0 + c)
                pix = (h1 - h0) * (w1 - w0) * b
                ir, ic = span(h0, h1, sh, kh, pt, h), span(w0, w1, sw, kw, pl, w)
                for k0 in range(0, cin, ci):
                    k1 = min(cin, k0 + ci)
                    ich = k1 - k0 if dense else in_ch(cc)
                    loads = [(in_mem0, _b(ich * ir * ic * b, l.bits_input))]
                    if weighted and (n_ci > 1 or (h0 == 0 and w0 == 0)):
                        loads.append((w_mem, _b(cc * red(k1 - k0), l.bits_weight)
                                      + (_b(cc, l.bits_bias) if l.bias and k0 == 0 else 0)))
                    stores = ((out_mem, _b(cc * pix, l.bits_output)),) if k1 == cin else ()
                    tiles.append(Tile(loads=merge(loads), ops=cc * pix * red(k1 - k0),
                                      stores=stores))
    return _tiling(in_mem, w_mem, tiles,
                   {"channels": co, "out_rows": r, "cols": c, "in_channels": ci}, ws, weighted)


# ------------------------------------------------------------------------------------------
def _matmul_dims(l: Layer):
    """(G, M, K, N, a_bits, b_bits, b_is_weight) of a matmul or per-token linear layer."""
    if l.op == "matmul":
        a, bsh = l.input_shapes
        return (math.prod(l.output_shape[:-2]) * l.batch, a[-2], a[-1], bsh[-1],
                l.bits_input, l.bits_input, False)
    return (1, math.prod(l.output_shape[:-1]) * l.batch, l.in_channels, l.out_channels,
            l.bits_input, l.bits_weight, True)


def tile_matmul(l: Layer, l1: str, budget: int, in_mem, w_mem, out_mem) -> dict:
    """A ``[G] x (M x K) . (K x N)`` product cut along M, N and K. Loop: G, M tiles, N tiles,
    K chunks (innermost, accumulating). A is reloaded for every N tile, B for every M tile
    (per-token linear: B = the weights, loaded once when one tile covers K x N)."""
    g, m, k, n, abits, bbits, b_w = _matmul_dims(l)
    in_mems = tuple(in_mem) if isinstance(in_mem, tuple) else (in_mem,)
    a_mem, b_mem = (in_mems[0], w_mem) if b_w else (in_mems[0], in_mems[-1])
    bias = b_w and l.bias
    best, smallest = None, math.inf
    for mt in _sizes(m):
        for nt in _sizes(n):
            for kt in _sizes(k):
                n_m, n_n, n_k = -(-m // mt), -(-n // nt), -(-k // kt)
                a_t, b_t = _b(mt * kt, abits), _b(kt * nt, bbits) + (_b(nt, l.bits_bias) if bias else 0)
                o_t = mt * nt * ACC_BYTES if n_k > 1 else _b(mt * nt, l.bits_output)
                bmul = 1 if (b_w and n_n == 1 and n_k == 1) else 2
                ws = 2 * (a_t + o_t) + bmul * b_t
                if ws > budget:
                    smallest = min(smallest, ws)
                    continue
                b_loads = 1 if (b_w and n_n == 1 and n_k == 1) else n_m
                dma = g * (_b(m * k, abits) * n_n + _b(k * n, bbits) * b_loads)
                key = (dma, g * n_m * n_n * n_k, -mt * nt)
                if best is None or key < best[0]:
                    best = (key, mt, nt, kt, ws)
    if best is None:
        raise _too_big(l, l1, budget, "M, N, K", smallest)
    _, mt, nt, kt, ws = best
    n_n, n_k = -(-n // nt), -(-k // kt)
    keep_b = b_w and n_n == 1 and n_k == 1
    tiles = []
    for gi in range(g):
        for m0 in range(0, m, mt):
            m1 = min(m, m0 + mt)
            for n0 in range(0, n, nt):
                n1 = min(n, n0 + nt)
                for k0 in range(0, k, kt):
                    k1 = min(k, k0 + kt)
                    loads = [(a_mem, _b((m1 - m0) * (k1 - k0), abits))]
                    if not keep_b or (gi == 0 and m0 == 0):
                        loads.append((b_mem, _b((k1 - k0) * (n1 - n0), bbits)
                                      + (_b(n1 - n0, l.bits_bias) if bias and k0 == 0 else 0)))
                    stores = ((out_mem, _b((m1 - m0) * (n1 - n0), l.bits_output)),) \
                        if k1 == k else ()
                    tiles.append(Tile(loads=merge(loads), ops=(m1 - m0) * (n1 - n0) * (k1 - k0),
                                      stores=stores))
    return _tiling(in_mem, w_mem, tiles, {"m": mt, "n": nt, "k": kt}, ws, b_w)


# ------------------------------------------------------------------------------------------
def tile_stream(l: Layer, l1: str, budget: int, in_mem, w_mem, out_mem) -> dict:
    """Element-wise, normalisation and data-movement layers cut into runs of output units: a
    unit is one reduction row for softmax (the ``axis`` slab) and layernorm (the last axis),
    one element otherwise. Each tile reads its share of every operand (in proportion to the
    output it writes) and writes its share of the output; layernorm's gamma/beta load once."""
    out = l.output_shape
    if l.op in NORM_OPS:
        ax = len(out) - 1 if l.op == "layernorm" or l.axis is None else l.axis
        unit = math.prod(out[ax:])
    else:
        unit = 1
    units = math.prod(out) * l.batch // unit
    in_total, out_total = l.input_bytes, l.output_bytes
    shapes = l.operand_shapes
    in_mems = tuple(in_mem) if isinstance(in_mem, tuple) else (in_mem,)
    if len(in_mems) == len(shapes) > 1:   # operand k from its own memory, at its own size
        sizes = [math.prod(s) for s in shapes]
        shares = [(m, in_total * s // sum(sizes)) for m, s in zip(in_mems, sizes)]
        shares[0] = (shares[0][0], in_total - sum(x for _, x in shares[1:]))
    else:
        shares = [(m, _spread(in_total, len(in_mems), i)) for i, m in enumerate(in_mems)]
    wt = l.weight_bytes

    def ws(u):
        return 2 * (-(-in_total * u // units) + -(-out_total * u // units)) + wt

    if ws(1) > budget:
        raise _too_big(l, l1, budget, "reduction rows" if unit > 1 else "elements", ws(1))
    lo, hi = 1, units
    while lo < hi:   # the largest run that fits (ws is monotone)
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ws(mid) <= budget else (lo, mid - 1)
    u = lo
    n_t = -(-units // u)
    tiles = []
    for i in range(n_t):
        loads = [(m, _spread(x, n_t, i)) for m, x in shares]
        if wt and i == 0:
            loads.append((w_mem, wt))
        tiles.append(Tile(loads=merge(loads), ops=_spread(l.ops, n_t, i),
                          stores=merge([(out_mem, _spread(out_total, n_t, i))])))
    return _tiling(in_mem, w_mem, tiles, {"units": u, "unit_elements": unit}, ws(u), bool(wt))

