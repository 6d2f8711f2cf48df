"""AIMC crossbar mapping: im2col blocks, splits, packing of small layers, per-MVM costs.

All counts here are closed forms, checked by hand-computed cases in ``tests/test_aimc.py``.

**Blocks (im2col).** A weighted layer is the matrix ``rows = kh*kw*cin/groups`` x
``cols = cout * wslices``, where ``wslices = ceil(bits_weight / tile.weight_bits)`` columns hold
one weight (bit slicing, recombined digitally). It is cut into ``row_splits = ceil(rows / R)``
x ``col_splits = ceil(cols / C)`` blocks of at most R x C, one per crossbar; all blocks of a
layer work in parallel on the same input pixel.

**Depthwise (diagonal mapping).** Channel ``c`` uses ``k = kh*kw`` rows and ``wslices`` columns
of a block-diagonal matrix; ``per_xb = min(R // k, C // wslices)`` channels share a crossbar,
so ``ceil(cout / per_xb)`` crossbars each hold a ``k*ch x wslices*ch`` block of which only
``k*ch*wslices`` cells carry weights. The blocks' MVMs run in parallel like column splits.

**Allocation** (:func:`allocate`, policy ``mapping.crossbar_packing``). ``dedicated`` gives
each block its own crossbar while they all fit, else packs as ``maxrects``. ``maxrects`` places
every block of every AIMC layer into as few crossbars as it can
(:mod:`hwsim.mapping.packing`, MaxRects with best short side fit), a layer's blocks in distinct
crossbars so its MVMs stay parallel; only when that exceeds the crossbars may a layer's blocks
share one. ``shelf`` (the earlier policy) is dedicated while they fit, else packs single-block
layers (first fit in layer order, shelves inside a crossbar: a band of rows as tall as its
first block, blocks side by side along the columns) and keeps multi-block layers on dedicated
crossbars. The weights are programmed once only if the allocation fits the crossbars;
otherwise every AIMC layer reprograms its crossbars each inference
(:mod:`hwsim.mapping.hetero_mapper`).

**A packed crossbar.** Blocks never overlap, so one MVM drives only its block's rows and reads
only its block's columns (energy :meth:`AimcTile.mvm_pj`: fixed + per active row + per active
column). ASSUMED: a crossbar runs one block's MVM at a time (one set of DAC inputs: blocks
sharing rows would need different inputs; blocks on disjoint rows and columns could in
principle share one MVM, which the IMA's job interface does not express): blocks of different
layers interleave tile by tile (the tile is one engine), and ``n`` blocks of one layer on a
crossbar cost ``n`` MVMs per pixel there, one after another (:func:`crossbar_mvms`).
Programming writes each block's rows on its own (ASSUMED: blocks side by side are not merged
into one row write), blocks of one crossbar one after another.

**Per MVM.** One MVM = DAC of ``input_bits`` per row, analog evaluation, ADC of ``output_bits``
per column, in ``mvm_latency_cycles``; layer inputs wider than the DAC are bit-serial:
``islices = ceil(bits_input / input_bits)`` MVMs per pixel. Partial results of row splits,
input slices and weight slices are combined digitally on the cores:
``partials = row_splits * islices * wslices`` values per output, ``partials - 1`` additions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..hardware.platform import AimcTile
from ..workload.trace import Layer
from .packing import lower_bounds, maxrects
from .plan import Tile
from .tiling import geometry

__all__ = ["LayerBlocks", "layer_blocks", "fits", "pack", "dedicated", "maxrects_pack", "Allocation",
           "allocate", "packing_report", "crossbar_mvms", "tile_mvm_pj", "mvm_job_cycles",
           "link_bytes_per_s", "stream_bytes_per_s", "peak_ops_per_s", "peak_tops_per_w",
           "crossbar_streams", "blocks_to_program", "aimc_tiles"]


@dataclass(frozen=True)
class LayerBlocks:
    """How one layer maps onto R x C crossbars."""

    layer: str
    row_splits: int
    col_splits: int
    blocks: tuple              # ((rows, cols), ...) bounding rectangles, one per crossbar
    weight_cells: int          # cells carrying weights (weight elements x wslices)
    islices: int               # MVMs per pixel per block (bit-serial inputs)
    wslices: int               # columns per weight (bit-sliced weights)
    diagonal: bool = False

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def partials(self) -> int:
        """Partial values combined digitally per output element."""
        return self.row_splits * self.islices * self.wslices


def layer_blocks(l: Layer, xb: AimcTile) -> LayerBlocks:
    """Blocks of ``l`` on crossbars shaped like ``xb`` (see the module docstring)."""
    R, C = xb.rows, xb.cols
    ws = math.ceil(l.bits_weight / xb.weight_bits)
    isl = math.ceil(l.bits_input / xb.input_bits)
    if l.op == "depthwise":
        k = l.kernel[0] * l.kernel[1]
        per_xb = min(R // k, C // ws)
        if per_xb < 1:
            return LayerBlocks(l.name, math.ceil(k / R), 1, (), l.weight_elements * ws, isl, ws, True)
        n = math.ceil(l.out_channels / per_xb)
        blocks = []
        for i in range(n):
            ch = min(per_xb, l.out_channels - i * per_xb)
            blocks.append((k * ch, ws * ch))
        return LayerBlocks(l.name, 1, n, tuple(blocks), l.weight_elements * ws, isl, ws, True)
    rows, cols = l.matrix_rows, l.out_channels * ws
    rs, cs = math.ceil(rows / R), math.ceil(cols / C)
    blocks = tuple((min(R, rows - i * R), min(C, cols - j * C)) for i in range(rs) for j in range(cs))
    return LayerBlocks(l.name, rs, cs, blocks, l.weight_elements * ws, isl, ws)


def fits(lb: LayerBlocks) -> bool:
    """A layer can use crossbars at all (a depthwise kernel taller than a crossbar cannot)."""
    return lb.n_blocks > 0


@dataclass
class _Shelf:
    top: int
    height: int
    used_cols: int


@dataclass
class _Xbar:
    R: int
    C: int
    shelves: list
    rows_used: int = 0

    def place(self, r: int, c: int) -> tuple | None:
        """(row, col) of a new r x c block, or None. Shelf first-fit."""
        for s in self.shelves:
            if r <= s.height and s.used_cols + c <= self.C:
                pos = (s.top, s.used_cols)
                s.used_cols += c
                return pos
        if self.rows_used + r <= self.R and c <= self.C:
            s = _Shelf(self.rows_used, r, c)
            self.shelves.append(s)
            self.rows_used += r
            return (s.top, 0)
        return None


def pack(demands: list, R: int, C: int, capacity: int | None = None, origin: dict | None = None) -> tuple:
    """Shelf packing of single-block layers (the ``shelf`` policy, module docstring).

    Args:
        demands: ``[(layer name, LayerBlocks), ...]`` in layer order.
        capacity: crossbars available (None = unlimited, to count the need).
        origin: if given, filled with layer -> ``((row, col), ...)``, each block's top-left cell.
    Returns:
        ``(assignment, n_crossbars)`` where assignment maps a layer name to a tuple of
        ``(crossbar index, rows, cols)`` per block; ``None`` when ``capacity`` is exceeded.
        Single-block layers share crossbars (first fit, shelf packing); multi-block layers
        take dedicated crossbars.
    """
    xbars: list = []
    out: dict = {}
    origin = {} if origin is None else origin
    for name, lb in demands:
        if lb.n_blocks == 1:
            r, c = lb.blocks[0]
            for idx, xb in enumerate(xbars):
                pos = xb.place(r, c) if xb is not None else None
                if pos is not None:
                    out[name], origin[name] = ((idx, r, c),), (pos,)
                    break
            else:
                xb = _Xbar(R, C, [])
                origin[name] = (xb.place(r, c),)
                xbars.append(xb)
                out[name] = ((len(xbars) - 1, r, c),)
        else:
            assigned = []
            for r, c in lb.blocks:
                xbars.append(None)          # dedicated: nothing else goes here
                assigned.append((len(xbars) - 1, r, c))
            out[name], origin[name] = tuple(assigned), ((0, 0),) * lb.n_blocks
        if capacity is not None and len(xbars) > capacity:
            return None, len(xbars)
    return out, len(xbars)


def dedicated(demands: list) -> tuple:
    """One crossbar per block, in layer order: ``(assignment, n_crossbars)``."""
    out, n = {}, 0
    for name, lb in demands:
        out[name] = tuple((n + i, r, c) for i, (r, c) in enumerate(lb.blocks))
        n += lb.n_blocks
    return out, n


def maxrects_pack(demands: list, R: int, C: int, capacity: int | None = None,
                  origin: dict | None = None) -> tuple:
    """Every block of every layer packed by MaxRects (:func:`hwsim.mapping.packing.maxrects`):
    a layer's blocks in distinct crossbars; if that exceeds ``capacity``, without that rule.
    Same arguments and result as :func:`pack`."""
    items = [b for _, lb in demands for b in lb.blocks]
    owner = [n for n, lb in demands for _ in lb.blocks]
    place, n = maxrects(items, R, C, owner, capacity)
    if place is None:
        place, n = maxrects(items, R, C, None, capacity)
        if place is None:
            return None, n
    out: dict = {}
    org = {} if origin is None else origin
    for (b, r0, c0), (h, w), name in zip(place, items, owner):
        out[name] = out.get(name, ()) + ((b, h, w),)
        org[name] = org.get(name, ()) + ((r0, c0),)
    return out, n


@dataclass(frozen=True)
class Allocation:
    """Where the AIMC layers' blocks sit (:func:`allocate`)."""

    assign: dict | None   # layer -> ((crossbar index, rows, cols), ...) per block; None: over capacity
    origin: dict          # layer -> ((row, col), ...): each block's top-left cell in its crossbar
    need: int             # crossbars the allocation uses (when over capacity: see allocate)
    packing: str          # how they were placed: dedicated | shelf | maxrects

    @property
    def shared(self) -> set:
        """Layers with a crossbar that also holds another layer's block."""
        users: dict = {}
        for name, blocks in (self.assign or {}).items():
            for b in blocks:
                users.setdefault(b[0], set()).add(name)
        return {n for u in users.values() if len(u) > 1 for n in u}


def allocate(demands: list, R: int, C: int, capacity: int | None, method: str = "maxrects",
             exact_need: bool = False) -> Allocation:
    """Crossbars for ``demands`` (``[(layer, LayerBlocks), ...]``) under ``method`` (one of
    :data:`hwsim.hardware.policy.PACKING_CHOICES`, module docstring). Over ``capacity``, ``assign`` is None and ``need`` is
    a count past the capacity (the exact need of the method with ``exact_need``)."""
    origin: dict = {}
    assign, need = dedicated(demands)
    if method != "maxrects" and (capacity is None or need <= capacity):
        return Allocation(assign, {n: ((0, 0),) * lb.n_blocks for n, lb in demands}, need, "dedicated")
    if method == "shelf":
        assign, need = pack(demands, R, C, capacity, origin)
        return Allocation(assign, origin, need, "shelf")
    assign, need = maxrects_pack(demands, R, C, capacity, origin)
    if assign is None and exact_need:
        need = maxrects_pack(demands, R, C)[1]
    return Allocation(assign, origin, need, "maxrects")


def packing_report(demands: list, alloc: Allocation, R: int, C: int) -> dict:
    """Crossbars used against lower bounds (:func:`hwsim.mapping.packing.lower_bounds`, a
    layer's blocks counted as distinct when the packing kept them so) and the packing
    efficiency: block area / (crossbars used x R x C)."""
    items = [b for _, lb in demands for b in lb.blocks]
    groups = [n for n, lb in demands for _ in lb.blocks]
    distinct = alloc.assign is not None and all(
        len({b[0] for b in blocks}) == len(blocks) for blocks in alloc.assign.values())
    lb = lower_bounds(items, R, C, groups if distinct else None)
    used = len({b[0] for blocks in (alloc.assign or {}).values() for b in blocks})
    return {"crossbars_lower_bound": lb["bound"],
            "crossbar_bounds": {k: lb[k] for k in ("area", "columns", "rows", "large", "group")},
            "crossbar_packing_efficiency": (sum(h * w for h, w in items) / (used * R * C)) if used else None}


def crossbar_mvms(blocks) -> dict:
    """MVMs per pixel (per input slice) each crossbar runs for ``blocks``
    (``[(crossbar, rows, cols), ...]``): one per block it holds (module docstring)."""
    out: dict = {}
    for n, _, _ in blocks:
        out[n] = out.get(n, 0) + 1
    return out


# ------------------------------------------------------------------------------------------
# Closed-form estimates used by the "fastest" depthwise policy and by peak figures.
# ------------------------------------------------------------------------------------------
def mvm_job_cycles(xb: AimcTile, in_bytes: int, out_bytes: int, stream_bw: float) -> float:
    """Cycles of one MVM job including streaming, for the tile's stream mode."""
    mvm = xb.mvm_latency_cycles + xb.job_overhead_cycles
    s_in, s_out = in_bytes / stream_bw, out_bytes / stream_bw
    if xb.stream_mode == "sequential":
        return s_in + mvm + s_out
    return max(mvm, s_in, s_out)


def link_bytes_per_s(platform, a: str, b: str) -> float:
    for link in platform.links:
        if {link.a, link.b} == {a, b}:
            return link.bandwidth_bytes_per_cycle * link.clock.freq_hz
    return math.inf


def stream_bytes_per_s(platform, xb: AimcTile) -> float:
    """Streamer bandwidth of a tile: its link to L1, capped by L1's port bandwidth."""
    l1 = platform.components[xb.l1]
    port = l1.port_bandwidth_bytes_per_cycle * l1.clock.freq_hz
    return min(link_bytes_per_s(platform, xb.name, xb.l1), port)


def peak_ops_per_s(xb: AimcTile) -> float:
    """Peak of one crossbar: 2 R C ops per ``mvm_latency_cycles + job_overhead_cycles``."""
    return 2 * xb.rows * xb.cols * xb.clock.freq_hz / (xb.mvm_latency_cycles + xb.job_overhead_cycles)


def peak_tops_per_w(xb: AimcTile) -> float | None:
    """Configured peak efficiency of the analog array: 2 R C ops per full-array MVM energy."""
    pj = xb.mvm_pj(xb.rows, xb.cols)
    if not pj:
        return None
    return 2 * xb.rows * xb.cols / pj  # ops/pJ == TOPS/W


def tile_mvm_pj(plan, i: int, tile, components) -> dict:
    """Energy of tile ``i``'s MVMs by crossbar: ``{name: pJ}``. Each active block runs
    ``tile.mvms`` MVMs driving its rows and reading its columns (:meth:`AimcTile.mvm_pj`); a
    crossbar priced per MVM (``energy_pj_per_mvm``) pays it per MVM whatever the block's size."""
    blocks = plan.aimc.blocks
    if plan.tile_blocks is not None:
        blocks = tuple(blocks[k] for k in plan.tile_blocks[i])
    out: dict = {}
    for n, r, c in blocks:
        xb = components[n]
        if xb.energy_pj_per_mvm:
            out[n] = out.get(n, 0.0) + tile.mvms * xb.energy_pj_per_mvm
        else:
            out[n] = out.get(n, 0.0) + tile.mvms * xb.mvm_pj(r, c)
    return out


def crossbar_streams(plan, i: int, tile, components) -> dict:
    """Bytes each crossbar streams for tile ``i`` of an AIMC ``plan``: ``{name: [in, out]}``.

    A block of ``r`` rows and ``c`` columns reads ``pixels x r`` inputs at the layer's input
    width and writes ``mvms x c`` ADC values at the tile's output width; only the blocks that
    produce the tile's channels work (``plan.tile_blocks``)."""
    pl = plan.aimc
    blocks = pl.blocks
    if plan.tile_blocks is not None:
        blocks = tuple(blocks[k] for k in plan.tile_blocks[i])
    pix = tile.mvms // pl.islices
    per: dict = {}
    for n, r, c in blocks:
        b_in = -(-pix * r * plan.layer.bits_input // 8)
        b_out = -(-tile.mvms * c * components[n].output_bits // 8)
        acc = per.setdefault(n, [0, 0])
        acc[0] += b_in
        acc[1] += b_out
    return per


def blocks_to_program(plan) -> list:
    """``[(crossbar, rows written, weight bytes)]`` to program an AIMC ``plan``; the layer's
    weight bytes are split over its blocks by block area."""
    blocks = plan.aimc.blocks
    area = sum(r * c for _, r, c in blocks)
    return [(x, r, -(-plan.layer.weight_bytes * r * c // area)) for x, r, c in blocks]


def _block_channels(l: Layer, pl, xb: AimcTile) -> list:
    """Output channels ``[c0, c1)`` each block of ``pl`` produces."""
    out = []
    if pl.diagonal:
        c0 = 0
        for _, _, c in pl.blocks:
            ch = c // pl.wslices
            out.append((c0, c0 + ch))
            c0 += ch
        return out
    for k in range(len(pl.blocks)):
        j = k % pl.col_splits
        lo, hi = j * xb.cols, min((j + 1) * xb.cols, l.out_channels * pl.wslices)
        out.append((lo // pl.wslices, -(-hi // pl.wslices)))
    return out


def aimc_tiles(l: Layer, tiling, pl, xb: AimcTile) -> tuple:
    """The tiling's tiles with AIMC work: ``(tiles, tile_blocks)``. A tile of output channels ``[c0, c1)`` uses
    the blocks producing them (``tile_blocks[i]``: indices into ``pl.blocks``); each runs
    ``pixels * islices`` MVMs; stream bytes are summed over those blocks; ``partials - 1``
    additions per output."""
    cout, ho, wo, *_ = geometry(l)
    co, rows = tiling.tile_shape["channels"], tiling.tile_shape["rows"]
    chans = _block_channels(l, pl, xb)
    out, active, i = [], [], 0
    for c0 in range(0, cout, co):
        c1 = min(cout, c0 + co)
        act = tuple(k for k, (b0, b1) in enumerate(chans) if b0 < c1 and b1 > c0)
        for h0 in range(0, ho, rows):
            h1 = min(ho, h0 + rows)
            t = tiling.tiles[i]
            i += 1
            pix = (h1 - h0) * wo * l.batch
            out.append(Tile(loads=t.loads, ops=t.ops, stores=t.stores, mvms=pix * pl.islices,
                            stream_in=sum(-(-pix * pl.blocks[k][1] * l.bits_input // 8) for k in act),
                            stream_out=sum(-(-pix * pl.islices * pl.blocks[k][2] * xb.output_bits // 8)
                                           for k in act),
                            acc_ops=pix * (c1 - c0) * (pl.partials - 1)))
            active.append(act)
    assert i == len(tiling.tiles)
    return tuple(out), tuple(active)
