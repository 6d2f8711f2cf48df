"""Mapper for heterogeneous platforms: AIMC tiles, depthwise accelerators, many clusters.

:func:`hwsim.mapping.mapper.map_trace` hands a platform here when it has an ``aimc_tile``, a
``dw_accelerator`` or more than one ``core_cluster``. It reuses mapper v1's L1 tiling
(:func:`hwsim.mapping.mapper._tile_layer`) and adds:

* **Engine choice** per layer: the trace hint, else the platform's ``mapping`` policy
  (:mod:`hwsim.hardware.policy`): dense layers (conv2d / pointwise / linear, groups = 1) go to the
  crossbars when their blocks fit the platform's arrays and (``dense: fastest``) the
  closed-form estimate of :func:`estimate_ps` is no slower than the cores'; depthwise layers go
  where the policy says (``fastest`` compares the estimates of every engine that can run them).
* **Crossbar allocation** (:mod:`hwsim.mapping.aimc`): one crossbar per block in layer order when all
  blocks fit the arrays (weights programmed once, before inference); else single-block layers
  are packed several per crossbar; if even that does not fit, every AIMC layer programs its
  crossbars each inference (``programming``, reported apart).
* **Several clusters** (e.g. a generated mesh): layers are distributed in order over the
  clusters (weights stationary). An AIMC layer takes the next free crossbars, cluster by
  cluster; a digital layer takes the next cluster's cores. A layer's *home* cluster runs its
  digital parts and owns the L1 it computes from. Its output stays in that L1 when it fits
  half of it (ASSUMED split: half for resident activations, half for the tiling working set),
  else in L2/L3; consumers on other clusters fetch it over the interconnect.
* **Pipelining**: a layer whose engines share none with its producers' is marked
  ``pipelined`` (policy ``pipeline: on``): the engine starts its tiles as soon as the producer
  rows they need are stored.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .core_model import layer_work
from .aimc import LayerBlocks, dedicated, layer_blocks, mvm_job_cycles, pack
from ..hardware.dw_accel import DwAccelerator, digital_clusters
from ..base.errors import MappingError
from .mapper import (AimcMapping, LayerPlan, Mapping, Tile, _geometry, _place, _tile_layer,
                     input_memories, kernel_throughput)
from ..hardware.platform import AimcTile, Platform
from ..hardware.policy import policy_of
from ..workload.trace import Layer, Trace


def uses_hetero_mapper(platform: Platform) -> bool:
    return bool(platform.of_type(AimcTile) or platform.of_type(DwAccelerator)
                or len(digital_clusters(platform)) > 1)


@dataclass
class _Cluster:
    core: object
    l1: object
    tiles: list      # AimcTile components on this L1
    dw: list         # DwAccelerator components on this L1


def _link_bw(platform, a: str, b: str) -> float:
    for link in platform.links:
        if {link.a, link.b} == {a, b}:
            return link.bandwidth_bytes_per_cycle * link.clock.freq_hz
    return math.inf


def stream_bytes_per_s(platform, xb: AimcTile) -> float:
    """Streamer bandwidth of a tile: its link to L1, capped by L1's port bandwidth."""
    l1 = platform.components[xb.l1]
    port = l1.port_bandwidth_bytes_per_cycle * l1.clock.freq_hz
    return min(_link_bw(platform, xb.name, xb.l1), port)


def estimate_ps(platform, l: Layer, kind: str, cl: _Cluster, lb: LayerBlocks | None = None) -> float:
    """Closed-form compute time of ``l`` on ``kind`` (used by the ``fastest`` policy).

    cores / dw_accelerator: ``ops / (units * ops_per_cycle)`` cycles. crossbar:
    ``pixels * islices`` jobs of :func:`hwsim.mapping.aimc.mvm_job_cycles` (blocks in parallel, their
    streams sharing L1's bandwidth) plus ``(partials - 1)`` additions per output on the cores.
    Returns ``inf`` when the engine cannot run the layer.
    """
    if kind in ("cores", "dw_accelerator"):
        eng = cl.core if kind == "cores" else (cl.dw[0] if cl.dw else None)
        thr = kernel_throughput(eng, l.op, l.bits_key) if eng is not None else None
        if not thr:
            return math.inf
        if eng.kernel_model != "table":
            return layer_work(eng, l).cycles / eng.clock.freq_hz * 1e12
        return l.ops / (eng.cores * thr) / eng.clock.freq_hz * 1e12
    if not cl.tiles or lb is None or lb.n_blocks == 0:
        return math.inf
    xb = cl.tiles[0]
    bw = stream_bytes_per_s(platform, xb) / xb.clock.freq_hz     # bytes per tile cycle
    r = max(b[0] for b in lb.blocks)
    c = max(b[1] for b in lb.blocks)
    job = mvm_job_cycles(xb, r * l.bits_input / 8, c * xb.output_bits / 8, bw)
    tot_in = sum(b[0] for b in lb.blocks) * l.bits_input / 8 / bw
    pix = l.out_hw[0] * l.out_hw[1] * l.batch
    ps = pix * lb.islices * max(job, tot_in) / xb.clock.freq_hz * 1e12
    if lb.partials > 1:
        thr = kernel_throughput(cl.core, "add", 8) or 0.5
        ps += pix * l.out_channels * (lb.partials - 1) / (cl.core.cores * thr) / cl.core.clock.freq_hz * 1e12
    return ps


def _clusters(platform) -> list:
    out = []
    for core in digital_clusters(platform):
        l1 = platform.components[core.l1]
        out.append(_Cluster(core, l1, [a for a in platform.of_type(AimcTile) if a.l1 == core.l1],
                            [d for d in platform.of_type(DwAccelerator) if d.l1 == core.l1]))
    if not out:
        raise MappingError(f"{platform.file}: the mapper needs a core_cluster (it runs the layers "
                           "no accelerator takes and orchestrates the DMA)")
    return out


def _choose(platform, l: Layer, cls: list, pol, n_tiles: int) -> str:
    """'cores', 'aimc' or 'dw_accelerator' for layer ``l``."""
    cl0 = cls[0]
    xb = next((c.tiles[0] for c in cls if c.tiles), None)
    lb = layer_blocks(l, xb) if (xb is not None and l.is_weighted) else None
    aimc_ok = lb is not None and 0 < lb.n_blocks <= n_tiles
    hint = l.engine
    if hint not in (None, "auto"):
        comp = platform.components.get(hint)
        if hint == "aimc" or isinstance(comp, AimcTile):
            if not aimc_ok:
                raise MappingError(f"layer {l.name}: engine 'aimc' requested but "
                                   + ("the platform has no aimc_tile" if xb is None else
                                      f"it needs {lb.n_blocks if lb else '?'} crossbars of "
                                      f"{xb.rows}x{xb.cols}, the platform has {n_tiles}"))
            return "aimc"
        if hint == "dw_accelerator" or isinstance(comp, DwAccelerator):
            if not any(c.dw for c in cls) or l.op not in DwAccelerator.ACCEPTED_OPS:
                raise MappingError(f"layer {l.name}: engine 'dw_accelerator' requested but the "
                                   "platform has none or it cannot run " + l.op)
            return "dw_accelerator"
        if hint not in ("cores",) and not (comp is not None and comp in [c.core for c in cls]):
            raise MappingError(f"layer {l.name}: unknown engine hint {hint!r} (use 'cores', "
                               "'aimc', 'dw_accelerator', 'auto' or a component name)")
        kind = "cores"
    elif not pol.accelerators:
        kind = "cores"
    elif l.op == "depthwise":
        cands = {"cores": estimate_ps(platform, l, "cores", cl0),
                 "dw_accelerator": estimate_ps(platform, l, "dw_accelerator", cl0),
                 "aimc": estimate_ps(platform, l, "aimc", cl0, lb) if aimc_ok else math.inf}
        if pol.depthwise == "fastest":
            kind = min(cands, key=lambda k: (cands[k], k))
        else:
            kind = {"crossbar": "aimc"}.get(pol.depthwise, pol.depthwise)
            if cands[kind] == math.inf:
                raise MappingError(f"layer {l.name}: mapping.depthwise pins {pol.depthwise}, "
                                   "which cannot run it on this platform")
    elif l.op in ("conv2d", "pointwise", "linear") and l.groups == 1 and aimc_ok:
        faster = estimate_ps(platform, l, "aimc", cl0, lb) <= estimate_ps(platform, l, "cores", cl0)
        kind = "aimc" if pol.dense == "crossbar" or faster else "cores"
    else:
        kind = "cores"
    if kind == "cores" and kernel_throughput(cl0.core, l.op, l.bits_key) is None:
        raise MappingError(f"layer {l.name}: core cluster {cl0.core.name} has no kernel for "
                           f"{l.op} at {l.bits_key} bits (add components.{cl0.core.name}.kernels."
                           f"{l.op}) and no accelerator can run it")
    return kind


def map_hetero(platform: Platform, trace: Trace) -> Mapping:
    pol = policy_of(platform)
    cls = _clusters(platform)
    multi = len(cls) > 1
    pool = [(ci, t) for ci, c in enumerate(cls) for t in c.tiles]   # all crossbars, cluster order
    xb0 = pool[0][1] if pool else None
    # dense layers first; a depthwise layer may take crossbars only while every weight so far
    # stays stationary (the "fastest" policy never trades stationarity for a crossbar)
    kinds = {l.name: _choose(platform, l, cls, pol, len(pool)) for l in trace.layers if l.op != "depthwise"}
    left = len(pool) - sum(layer_blocks(l, xb0).n_blocks for l in trace.layers
                           if kinds.get(l.name) == "aimc")
    for l in trace.layers:
        if l.op == "depthwise":
            fixed = l.engine not in (None, "auto") or pol.depthwise != "fastest"
            kinds[l.name] = _choose(platform, l, cls, pol, len(pool) if fixed else max(0, left))
            if kinds[l.name] == "aimc":
                left -= layer_blocks(l, xb0).n_blocks
    demands = [(l.name, layer_blocks(l, xb0)) for l in trace.layers if kinds[l.name] == "aimc"]
    lbs = dict(demands)
    if demands and pol.overflow == "cores" and dedicated(demands)[1] > len(pool) \
            and pack(demands, xb0.rows, xb0.cols, capacity=len(pool))[0] is None:
        keep = _keep_stationary(trace, demands, cls[0].core, xb0, len(pool))
        if keep is not None:
            for name, _ in demands:
                if name not in keep:
                    kinds[name] = "cores"
            demands = [d for d in demands if d[0] in keep]

    # --- crossbar allocation ----------------------------------------------------------------
    assign, need = dedicated(demands)
    packed = False
    program_once = need <= len(pool)
    if not program_once:
        p_assign, p_need = pack(demands, xb0.rows, xb0.cols, capacity=len(pool))
        if p_assign is not None:
            assign, need, packed, program_once = p_assign, p_need, True, True
        else:
            need = p_need
    # crossbar index -> pool position; clusters hold their tiles contiguously in `pool`
    home_of: dict = {}
    cursor = 0   # next cluster for a digital layer (multi-cluster)
    for l in trace.layers:
        k = kinds[l.name]
        if k == "aimc":
            if program_once:
                idxs = [b[0] for b in assign[l.name]]
            else:   # all layers reuse the first crossbars and reprogram them
                idxs = list(range(lbs[l.name].n_blocks))
            home_of[l.name] = pool[idxs[0]][0]
            cursor = max(cursor, pool[idxs[-1]][0] + 1) if multi else 0
        else:
            home_of[l.name] = cursor % len(cls) if multi else 0
            if multi:
                cursor += 1
    # --- placement --------------------------------------------------------------------------
    l2 = (platform.memories("L2") or [None])[0]
    l3 = (platform.memories("L3") or [None])[0]
    if l2 is None and l3 is None:
        raise MappingError(f"{platform.file}: no L2 or L3 memory to hold activations and weights")
    training = trace.meta.get("training") or {}
    updated = set(training.get("trainable", ()))     # weights rewritten by a training step
    tensor_mem, weight_mem = _place(trace, l2, l3, kinds, program_once, updated, platform.file)
    if multi:   # outputs resident in their home L1 when they fit half of it
        for l in trace.layers:
            l1 = cls[home_of[l.name]].l1
            if l.output_bytes <= l1.size_bytes // 2:
                tensor_mem[l.name] = l1.name

    # --- plans ------------------------------------------------------------------------------
    engines_of: dict = {}
    blocks_of: dict = {}
    for l in trace.layers:
        kind, cl = kinds[l.name], cls[home_of[l.name]]
        if kind == "dw_accelerator":
            engines_of[l.name] = {cl.dw[0].name}
        elif kind == "aimc":
            lb = lbs[l.name]
            if program_once:
                blocks = tuple((pool[i][1].name, r, c) for i, r, c in assign[l.name])
            else:
                blocks = tuple((pool[i][1].name, r, c) for i, (r, c) in enumerate(lb.blocks))
            blocks_of[l.name] = blocks
            engines_of[l.name] = {b[0] for b in blocks} | ({cl.core.name} if lb.partials > 1 else set())
        else:
            engines_of[l.name] = {cl.core.name}
    # crossbars reprogrammed per layer: no pipelining into them, and each waits for the previous
    # layer that used one of its crossbars (its weights are overwritten)
    def deps(l):
        return [s for s in trace.producers(l) if s in engines_of]   # not the network input

    piped = {l.name: bool(pol.pipeline and deps(l) and all(
        not (engines_of[s] & engines_of[l.name]) for s in deps(l))
        and not (kinds[l.name] == "aimc" and not program_once)) for l in trace.layers}
    extra_deps: dict = {}
    if not program_once:
        last_user: dict = {}
        for l in trace.layers:
            if kinds[l.name] == "aimc":
                prev = {last_user[b[0]] for b in blocks_of[l.name] if b[0] in last_user}
                extra_deps[l.name] = tuple(sorted(prev - set(trace.producers(l))))
                for b in blocks_of[l.name]:
                    last_user[b[0]] = l.name
    in_pipe = {n for n, v in piped.items() if v}
    in_pipe |= {s for l in trace.layers if piped[l.name] for s in deps(l)}
    plans = []
    for l in trace.layers:
        kind, cl = kinds[l.name], cls[home_of[l.name]]
        srcs = trace.producers(l)
        in_mem = input_memories(l, srcs, tensor_mem)
        out_mem = tensor_mem[l.name]
        l1 = cl.l1 if not multi else dataclasses.replace(cl.l1, size_bytes=cl.l1.size_bytes // 2)
        pipelined = piped[l.name]
        # row tiles first (full channel groups) so a pipelined consumer can start early
        plan = _tile_layer(l, "cores" if kind != "aimc" else "aimc", cl.core, l1, in_mem,
                           weight_mem.get(l.name), out_mem, srcs,
                           prefer_row_tiles=l.name in in_pipe or kind == "aimc")
        plan.l1 = cl.l1.name
        plan.pipelined = pipelined
        if extra_deps.get(l.name):
            plan.depends_on = plan.depends_on + extra_deps[l.name]
            plan.notes.append("waits for " + ", ".join(extra_deps[l.name]) + " (shared crossbars)")
        if kind == "dw_accelerator":
            plan.engine, plan.engine_kind = cl.dw[0].name, "dw_accelerator"
        elif kind == "aimc":
            lb = lbs[l.name]
            blocks = blocks_of[l.name]
            names = tuple(dict.fromkeys(b[0] for b in blocks))
            xb = pool[0][1]
            pl = AimcMapping(
                tiles=names, row_splits=lb.row_splits, col_splits=lb.col_splits,
                rows_used=sum(b[1] for b in blocks),
                utilisation=lb.weight_cells / (len(names) * xb.rows * xb.cols),
                program_each_inference=not program_once or l.name in updated, blocks=blocks,
                islices=lb.islices,
                wslices=lb.wslices, partials=lb.partials, diagonal=lb.diagonal,
                packed=packed and lb.n_blocks == 1)
            plan.engine, plan.engine_kind, plan.aimc = names[0], "aimc", pl
            plan.weight_mem = weight_mem.get(l.name) if pl.program_each_inference else None
            plan.tiles, plan.tile_blocks = _aimc_tiles(l, plan, pl, xb)
            if pl.packed:
                plan.notes.append("packed with other layers on a shared crossbar")
        if multi:   # data already in this L1 need no DMA
            plan.tiles = tuple(dataclasses.replace(
                t, loads=tuple((m, n) for m, n in t.loads if m != cl.l1.name),
                stores=tuple((m, n) for m, n in t.stores if m != cl.l1.name)) for t in plan.tiles)
        plans.append(plan)
    l3name = l3.name if l3 is not None else None
    aimc_layers = [p for p in plans if p.aimc]
    used = {b[0] for p in aimc_layers for b in p.aimc.blocks}
    cells = sum(lbs[p.layer.name].weight_cells for p in aimc_layers)
    return Mapping(
        plans=plans,
        program_once=[p for p in plans if p.aimc and not p.aimc.program_each_inference],
        weights_in_l3_bytes=sum(p.layer.stored_param_bytes for p in plans
                                if p.weight_mem and p.weight_mem == l3name),
        summary={"crossbars_needed": need, "crossbars_available": len(pool),
                 "crossbars_used": len(used), "crossbar_packing": packed,
                 "crossbar_cell_utilisation": (cells / (len(used) * xb0.rows * xb0.cols)) if used else None,
                 "aimc_programmed": ("once" if program_once else "each inference") if aimc_layers else "n/a",
                 "engines": {k: sum(1 for p in plans if p.engine_kind == k)
                             for k in ("cores", "aimc", "dw_accelerator")},
                 "clusters_used": len({home_of[n] for n in home_of}),
                 "pipelined_layers": sum(1 for p in plans if p.pipelined),
                 "depthwise_policy": pol.depthwise},
    )


def _keep_stationary(trace, demands, core, xb0, capacity):
    """Greedy subset of AIMC layers that fits the crossbars (packed), most MACs per block
    first; layers pinned to ``aimc`` or without a core kernel must stay. None if they cannot."""
    layers = {l.name: l for l in trace.layers}
    order = {n: i for i, (n, _) in enumerate(demands)}

    def must(n):
        l = layers[n]
        return l.engine not in (None, "auto", "cores") or kernel_throughput(core, l.op, l.bits_key) is None

    ranked = sorted(demands, key=lambda d: (not must(d[0]), -layers[d[0]].macs / d[1].n_blocks, order[d[0]]))
    keep: set = set()
    for name, lb in ranked:
        trial = [d for d in demands if d[0] in keep or d[0] == name]
        if pack(trial, xb0.rows, xb0.cols, capacity=capacity)[0] is not None:
            keep.add(name)
        elif must(name):
            return None
    return keep


def _block_channels(l: Layer, pl: AimcMapping, xb: AimcTile) -> list:
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


def _aimc_tiles(l: Layer, plan: LayerPlan, pl: AimcMapping, xb: AimcTile) -> tuple:
    """Rebuild the tiling's tiles with AIMC work. A tile of output channels ``[c0, c1)`` uses
    the blocks producing them (``tile_blocks[i]``: indices into ``pl.blocks``); each runs
    ``pixels * islices`` MVMs; stream bytes are summed over those blocks; ``partials - 1``
    additions per output."""
    cout, ho, wo, *_ = _geometry(l)
    co, rows = plan.tile_shape["channels"], plan.tile_shape["rows"]
    chans = _block_channels(l, pl, xb)
    out, active, i = [], [], 0
    for c0 in range(0, cout, co):
        c1 = min(cout, c0 + co)
        act = tuple(k for k, (b0, b1) in enumerate(chans) if b0 < c1 and b1 > c0)
        for h0 in range(0, ho, rows):
            h1 = min(ho, h0 + rows)
            t = plan.tiles[i]
            i += 1
            pix = (h1 - h0) * wo * l.batch
            out.append(Tile(loads=t.loads, ops=t.ops, stores=t.stores, mvms=pix * pl.islices,
                            stream_in=sum(-(-pix * pl.blocks[k][1] * l.bits_input // 8) for k in act),
                            stream_out=sum(-(-pix * pl.islices * pl.blocks[k][2] * xb.output_bits // 8)
                                           for k in act),
                            acc_ops=pix * (c1 - c0) * (pl.partials - 1)))
            active.append(act)
    assert i == len(plan.tiles)
    return tuple(out), tuple(active)
