"""Mapper for heterogeneous platforms: AIMC tiles, depthwise accelerators, many clusters.

:func:`hwsim.mapping.mapper.map_trace` hands a platform here when it has an engine besides
its core cluster (crossbars, accelerators) or more than one core cluster. It uses the same
placement (:mod:`hwsim.mapping.placement`) and L1 tiling (:mod:`hwsim.mapping.tiling`) and
adds, one phase each (:func:`map_hetero` reads top to bottom):

* **Engine choice** per layer: the trace hint, else the platform's ``mapping`` policy
  (:mod:`hwsim.hardware.policy`). Dense layers (conv2d / pointwise / linear, groups = 1) and
  depthwise layers go to the engine whose model (:mod:`hwsim.models`) accepts them with the
  smallest closed-form estimate (``estimate_ps``; ties by kind name, so a crossbar wins a tie
  with the cores); crossbars only while their blocks fit the arrays. ``dense: crossbar`` and a
  named ``depthwise`` engine pin the choice.
* **Crossbar allocation** (:func:`hwsim.mapping.aimc.allocate`, policy ``crossbar_packing``):
  one crossbar per weight block while they fit, else the blocks packed by MaxRects (by
  default); when the allocation fits the arrays the weights are programmed once, before
  inference; else every AIMC layer programs its crossbars each inference (``programming``,
  reported apart). The summary reports the crossbars used against lower bounds and the
  packing efficiency.
* **Several clusters** (e.g. a generated mesh): layers are distributed in order over the
  clusters (weights stationary). An AIMC layer takes the next free crossbars, cluster by
  cluster; a digital layer takes the next cluster's cores. A layer's *home* cluster runs its
  digital parts and owns the L1 it computes from.
* **L1 residency and fusion** (:mod:`hwsim.mapping.fusion`, any number of clusters): an output
  stays in its home L1 while the tiler's model says no layer gets slower (consumers on other
  clusters fetch it over the interconnect); a producer and its next reader on that L1 run
  fused by row windows when faster (e.g. IMA pointwise -> depthwise accelerator -> IMA).
* **Pipelining**: a layer whose engines share none with its producers' is marked
  ``pipelined`` (policy ``pipeline: on``): the engine starts its tiles as soon as the producer
  rows they need are stored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..base.errors import MappingError
from ..base.units import PS_PER_S
from ..hardware.platform import Platform
from ..hardware.policy import policy_of
from ..hardware.registry import MODELS, model_of
from ..workload.trace import NETWORK_INPUT, Layer, Trace
from .aimc import aimc_tiles, allocate, layer_blocks, packing_report
from .cost import CostModel, tile_compute_ps
from .fusion import fusion_summary, keep_in_l1
from .placement import input_memories, locate, place
from .replication import expand, replication_factors, replication_summary
from .plan import AimcMapping, LayerPlan, Mapping
from .tiling import tile_layer

__all__ = ["map_hetero", "uses_hetero_mapper", "host_clusters", "Cluster"]

#: dense ops a crossbar or a convolution engine may take (groups = 1)
DENSE_OPS = ("conv2d", "pointwise", "linear")
#: engine kinds every mapping summary counts (report format); other kinds when used
REPORTED_KINDS = ("cores", "aimc", "dw_accelerator")


@dataclass
class Cluster:
    """A host core cluster, its L1 and the engines computing from that L1."""

    core: object
    l1: object
    tiles: list      # crossbar engines on this L1
    accels: dict     # accelerator kind -> components on this L1 (digital engines)


def host_clusters(platform) -> list:
    """The platform's host clusters (models with ``host``), each with the engines on its L1."""
    engines = [(e, model_of(e)) for e in platform.engines()]
    by_l1: dict = {}    # L1 name -> engines computing from it, in file order
    for e, m in engines:
        by_l1.setdefault(e.l1, []).append((e, m))
    out = []
    for core, m in engines:
        if not m.host:
            continue
        tiles = [e for e, em in by_l1[core.l1] if em.crossbar]
        accels: dict = {}
        for e, em in by_l1[core.l1]:
            if not em.host and not em.crossbar:
                accels.setdefault(em.kind, []).append(e)
        out.append(Cluster(core, platform.components[core.l1], tiles, accels))
    if not out:
        raise MappingError("the mapper needs a core_cluster (it runs the layers no accelerator "
                           "takes and orchestrates the DMA)", file=platform.file,
                           field="components", fix="add a component of type core_cluster")
    return out


def uses_hetero_mapper(platform: Platform) -> bool:
    """Whether the platform has an engine besides its host cluster, or several clusters."""
    models = [model_of(e) for e in platform.engines()]
    return any(not m.host for m in models) or sum(m.host for m in models) > 1


def _accelerator_kinds() -> set:
    return {m.kind for m in MODELS.values() if not m.host and not m.crossbar}


# -- phase 1: engine choice --------------------------------------------------------------------
def _candidates(platform, l: Layer, cl: Cluster, aimc_ok: bool) -> dict:
    """kind -> closed-form estimate (ps) of every engine of ``cl`` that can run ``l``."""
    host = cl.core
    out = {"cores": model_of(host).estimate_ps(platform, host, l, host)}
    if aimc_ok and cl.tiles:
        out["aimc"] = model_of(cl.tiles[0]).estimate_ps(platform, cl.tiles[0], l, host)
    for kind, comps in cl.accels.items():
        m = model_of(comps[0])
        if m.accepts(comps[0], l):
            out[kind] = m.estimate_ps(platform, comps[0], l, host)
    return {k: v for k, v in out.items() if v != math.inf}


def _hinted(platform, l: Layer, cls: list, hint: str, aimc_ok: bool, lb, xb, n_tiles) -> str:
    comp = platform.components.get(hint)
    m = model_of(comp) if comp is not None else None
    if hint == "aimc" or (m is not None and m.crossbar):
        if not aimc_ok:
            raise MappingError("engine 'aimc' requested but "
                               + ("the platform has no aimc_tile" if xb is None else
                                  f"it needs {lb.n_blocks if lb else '?'} crossbars of "
                                  f"{xb.rows}x{xb.cols}, the platform has {n_tiles}"),
                               field="engine", fix="remove the hint (engine: auto) or use a "
                               "platform with enough crossbars")
        return "aimc"
    kind = hint if hint in _accelerator_kinds() else (
        m.kind if m is not None and not m.host else None)
    if kind is not None:
        acc = next((a for c in cls for a in c.accels.get(kind, ())), None)
        if acc is None or not model_of(acc).accepts(acc, l):
            raise MappingError(f"engine {kind!r} requested but the platform has none or it "
                               f"cannot run {l.op}", field="engine",
                               fix="remove the hint (engine: auto) or name an engine that runs it")
        return kind
    if hint != "cores" and not (comp is not None and comp in [c.core for c in cls]):
        kinds = ", ".join(repr(k) for k in ["cores", "aimc", *sorted(_accelerator_kinds()), "auto"])
        raise MappingError(f"unknown engine hint {hint!r}", field="engine",
                           fix=f"use {kinds} or a component name")
    return "cores"


def _choose(platform, l: Layer, cls: list, pol, n_tiles: int) -> str:
    """The engine kind for layer ``l`` (``n_tiles``: crossbars it may still take)."""
    cl0 = cls[0]
    xb = next((c.tiles[0] for c in cls if c.tiles), None)
    lb = layer_blocks(l, xb) if (xb is not None and l.is_weighted) else None
    aimc_ok = lb is not None and 0 < lb.n_blocks <= n_tiles
    if l.engine not in (None, "auto"):
        kind = _hinted(platform, l, cls, l.engine, aimc_ok, lb, xb, n_tiles)
    elif not pol.accelerators:
        kind = "cores"
    elif l.op == "depthwise":
        cands = _candidates(platform, l, cl0, aimc_ok)
        if pol.depthwise == "fastest":
            kind = min(cands, key=lambda k: (cands[k], k)) if cands else "cores"
        else:
            kind = {"crossbar": "aimc"}.get(pol.depthwise, pol.depthwise)
            if kind not in cands:
                raise MappingError(
                    f"pins {pol.depthwise}, which cannot run depthwise layer {l.name}"
                    + (f" (it needs {lb.n_blocks} crossbars of {xb.rows}x{xb.cols}; "
                       f"{n_tiles} free)" if kind == "aimc" and lb is not None else ""),
                    file=platform.file, field="mapping.depthwise",
                    fix="use depthwise: fastest, or pin an engine that runs it")
    elif l.op in DENSE_OPS and l.groups == 1 and not l.is_sequence_linear:
        # (crossbar streams are per pixel: a per-token linear stays on the cores)
        cands = _candidates(platform, l, cl0, aimc_ok)
        if pol.dense == "crossbar" and "aimc" in cands:
            kind = "aimc"
        else:
            kind = min(cands, key=lambda k: (cands[k], k)) if cands else "cores"
    else:
        kind = "cores"
    if kind == "cores" and not model_of(cl0.core).accepts(cl0.core, l):
        raise MappingError(f"core cluster {cl0.core.name} has no kernel for {l.op} at "
                           f"{l.bits_key} bits and no accelerator can run layer {l.name}",
                           file=platform.file, field=f"components.{cl0.core.name}.kernels",
                           fix=f"add components.{cl0.core.name}.kernels.{l.op}")
    return kind


def _choose_engines(platform, trace: Trace, cls: list, pol, pool: list) -> dict:
    """Layer name -> kind. Dense layers first; a depthwise layer may take crossbars only while
    every weight so far stays stationary (``fastest`` never trades stationarity for a
    crossbar); with ``overflow: cores``, layers that do not fit the crossbars even packed move
    to the cores, fewest MACs per block first (:func:`_keep_stationary`)."""
    xb0 = pool[0][1] if pool else None

    def choose(l, n_tiles):
        try:
            return _choose(platform, l, cls, pol, n_tiles)
        except MappingError as e:   # a fault of the layer's own fields: point at it
            raise (e if e.file else locate(e, trace, l)) from None

    kinds = {l.name: choose(l, len(pool)) for l in trace.layers if l.op != "depthwise"}
    left = len(pool) - sum(layer_blocks(l, xb0).n_blocks for l in trace.layers
                           if kinds.get(l.name) == "aimc")
    for l in trace.layers:
        if l.op == "depthwise":
            fixed = l.engine not in (None, "auto") or pol.depthwise != "fastest"
            kinds[l.name] = choose(l, len(pool) if fixed else max(0, left))
            if kinds[l.name] == "aimc":
                left -= layer_blocks(l, xb0).n_blocks
    demands = [(l.name, layer_blocks(l, xb0)) for l in trace.layers if kinds[l.name] == "aimc"]
    if demands and pol.overflow == "cores" and allocate(
            demands, xb0.rows, xb0.cols, len(pool), pol.crossbar_packing).assign is None:
        keep = _keep_stationary(trace, demands, cls[0].core, xb0, len(pool), pol.crossbar_packing)
        if keep is not None:
            for name, _ in demands:
                if name not in keep:
                    kinds[name] = "cores"
    return kinds


def _keep_stationary(trace, demands, core, xb0, capacity, packing):
    """Greedy subset of AIMC layers that fits the crossbars (packed), most MACs per block
    first; layers pinned to ``aimc`` or without a core kernel must stay. None if they cannot."""
    layers = {l.name: l for l in trace.layers}
    order = {n: i for i, (n, _) in enumerate(demands)}
    cores = model_of(core)

    def must(n):
        l = layers[n]
        return l.engine not in (None, "auto", "cores") or not cores.accepts(core, l)

    ranked = sorted(demands, key=lambda d: (not must(d[0]), -layers[d[0]].macs / d[1].n_blocks, order[d[0]]))
    keep: set = set()
    for name, lb in ranked:
        trial = [d for d in demands if d[0] in keep or d[0] == name]
        if allocate(trial, xb0.rows, xb0.cols, capacity, packing).assign is not None:
            keep.add(name)
        elif must(name):
            return None
    return keep


# -- phase 1b: replication -------------------------------------------------------------------------
def _replication(platform, trace: Trace, kinds: dict, cls: list, pool: list, pol):
    """``(factors, stage_ps)``: replicas per layer (:mod:`hwsim.mapping.replication`) under
    ``mapping.replicate: balance``, and each layer's closed-form stage time (ps)."""
    if pol.replicate != "balance":
        return {}, {}
    xb0 = pool[0][1] if pool else None
    stage_ps, demand = {}, {}
    for l in trace.layers:
        kind = kinds[l.name]
        stage_ps[l.name] = _candidates(platform, l, cls[0], kind == "aimc").get(kind, 0.0)
        demand[l.name] = (("crossbars", layer_blocks(l, xb0).n_blocks) if kind == "aimc"
                          else ("cluster", 1))
    target = pol.throughput_target_inferences_per_s
    batch = trace.layers[0].batch if trace.layers else 1
    period = batch / target * PS_PER_S if target else None
    return replication_factors(trace.layers, stage_ps, demand, len(pool), len(cls),
                               period), stage_ps


def _wait_for_bands(plan: LayerPlan, bands_of: dict) -> LayerPlan:
    """A reader of a replicated layer waits for all its bands (not row by row: a band's rows
    are not a prefix of the tensor)."""
    if not any(d in bands_of for d in plan.depends_on):
        return plan
    deps = tuple(b for d in plan.depends_on for b in bands_of.get(d, (d,)))
    return replace(plan, depends_on=deps, pipelined=False)


# -- phase 2: crossbar allocation ----------------------------------------------------------------
@dataclass(frozen=True)
class _Crossbars:
    assign: dict          # layer -> [(pool index, rows, cols)] when programmed once
    need: int             # crossbars needed
    packing: str          # dedicated | shelf | maxrects (hwsim.mapping.aimc.allocate)
    shared: set           # layers sharing a crossbar with another layer
    program_once: bool    # every AIMC layer keeps its crossbars (else reprogrammed per layer)
    lbs: dict             # layer -> LayerBlocks
    report: dict          # crossbars used vs lower bounds, packing efficiency


def _allocate_crossbars(trace: Trace, kinds: dict, pool: list, pol) -> _Crossbars:
    """The blocks packed under the policy's ``crossbar_packing``; programmed once if they fit,
    else every AIMC layer programs its crossbars each inference."""
    xb0 = pool[0][1] if pool else None
    demands = [(l.name, layer_blocks(l, xb0)) for l in trace.layers if kinds[l.name] == "aimc"]
    if not demands:
        return _Crossbars({}, 0, "dedicated", set(), True, {}, {})
    al = allocate(demands, xb0.rows, xb0.cols, len(pool), pol.crossbar_packing, exact_need=True)
    report = packing_report(demands, al, xb0.rows, xb0.cols) if al.assign is not None else {}
    return _Crossbars(al.assign or {}, al.need, al.packing, al.shared, al.assign is not None,
                      dict(demands), report)


# -- phase 3: home clusters ------------------------------------------------------------------------
def _home_clusters(trace: Trace, kinds: dict, xbars: _Crossbars, pool: list, n_clusters: int) -> dict:
    """Layer -> index of its home cluster: an AIMC layer's first crossbar's; digital layers
    take the clusters in turn after the last crossbar used so far (multi-cluster)."""
    multi = n_clusters > 1
    home_of: dict = {}
    cursor = 0
    for l in trace.layers:
        if kinds[l.name] == "aimc":
            if xbars.program_once:
                idxs = [b[0] for b in xbars.assign[l.name]]
            else:   # all layers reuse the first crossbars and reprogram them
                idxs = list(range(xbars.lbs[l.name].n_blocks))
            home_of[l.name] = pool[idxs[0]][0]
            cursor = max(cursor, pool[idxs[-1]][0] + 1) if multi else 0
        else:
            home_of[l.name] = cursor % n_clusters if multi else 0
            if multi:
                cursor += 1
    return home_of


# -- phase 4: placement ---------------------------------------------------------------------------
def _placement(platform, trace: Trace, kinds: dict, xbars: _Crossbars):
    """``(tensor_mem, weight_mem, l3)``: L2/L3 placement (L1 residency comes with the plans)."""
    l2 = (platform.memories("L2") or [None])[0]
    l3 = (platform.memories("L3") or [None])[0]
    if l2 is None and l3 is None:
        raise MappingError("no L2 or L3 memory to hold activations and weights",
                           file=platform.file, field="components",
                           fix="add a memory of level L2 (or L3)")
    tensor_mem, weight_mem = place(trace, l2, l3, kinds, xbars.program_once, _updated(trace),
                                   platform.file)
    return tensor_mem, weight_mem, l3


def _updated(trace: Trace) -> set:
    """Layers whose weights a training step rewrites (their crossbars are reprogrammed)."""
    return set((trace.meta.get("training") or {}).get("trainable", ()))


# -- phase 5: engines, pipelining ------------------------------------------------------------------
def _engines(trace: Trace, kinds: dict, xbars: _Crossbars, cls: list, home_of: dict, pool: list):
    """``(engines_of, blocks_of)``: the engine names each layer occupies, and the crossbar
    blocks ``(crossbar, rows, cols)`` of AIMC layers."""
    engines_of: dict = {}
    blocks_of: dict = {}
    for l in trace.layers:
        kind, cl = kinds[l.name], cls[home_of[l.name]]
        if kind == "aimc":
            lb = xbars.lbs[l.name]
            if xbars.program_once:
                blocks = tuple((pool[i][1].name, r, c) for i, r, c in xbars.assign[l.name])
            else:
                blocks = tuple((pool[i][1].name, r, c) for i, (r, c) in enumerate(lb.blocks))
            blocks_of[l.name] = blocks
            engines_of[l.name] = {b[0] for b in blocks} | ({cl.core.name} if lb.partials > 1 else set())
        elif kind == "cores":
            engines_of[l.name] = {cl.core.name}
        else:
            engines_of[l.name] = {cl.accels[kind][0].name}
    return engines_of, blocks_of


def _pipelining(trace: Trace, pol, kinds: dict, xbars: _Crossbars, engines_of: dict,
                blocks_of: dict):
    """``(piped, extra_deps, in_pipe)``: layers that start on their producers' first rows
    (engines disjoint from the producers'; never into reprogrammed crossbars), the extra
    dependency of a reprogrammed crossbar on its previous user, and every layer on either
    side of a pipelined edge (tiled rows first)."""
    def deps(l):
        return [s for s in trace.producers(l) if s in engines_of]   # not the network input

    piped = {l.name: bool(pol.pipeline and deps(l) and all(
        not (engines_of[s] & engines_of[l.name]) for s in deps(l))
        and not (kinds[l.name] == "aimc" and not xbars.program_once)) for l in trace.layers}
    extra_deps: dict = {}
    if not xbars.program_once:
        last_user: dict = {}
        for l in trace.layers:
            if kinds[l.name] == "aimc":
                prev = {last_user[b[0]] for b in blocks_of[l.name] if b[0] in last_user}
                extra_deps[l.name] = tuple(sorted(prev - set(trace.producers(l))))
                for b in blocks_of[l.name]:
                    last_user[b[0]] = l.name
    in_pipe = {n for n, v in piped.items() if v}
    in_pipe |= {s for l in trace.layers if piped[l.name] for s in deps(l)}
    return piped, extra_deps, in_pipe


# -- phase 6: layer plans ---------------------------------------------------------------------------
def _plan(platform, l: Layer, trace: Trace, kind: str, cl: Cluster, mem: tuple, xbars: _Crossbars,
          blocks: tuple | None, pool: list, piped: bool, row_first: bool, extra: tuple,
          cost, budget: int, max_rows: int | None, window_fallback: bool = True) -> LayerPlan:
    """The plan of one layer: tiling for ``budget`` bytes of its home L1 (what resident
    tensors leave, :mod:`hwsim.mapping.fusion`), crossbar work for AIMC layers."""
    tensor_mem, weight_mem = mem
    srcs = trace.producers(l)
    engine = cl.core if kind == "cores" else pool[0][1] if kind == "aimc" else cl.accels[kind][0]
    model = model_of(engine)
    tiling = tile_layer(l, cl.l1, input_memories(l, srcs, tensor_mem), weight_mem.get(l.name),
                        tensor_mem[l.name], weights_move=model.weights_move,
                        prefer_row_tiles=row_first or model.crossbar, budget=budget, cost=cost,
                        compute_ps=tile_compute_ps(platform, engine, l, cl.core, cost),
                        max_rows=max_rows, window_fallback=window_fallback)
    notes = ("waits for " + ", ".join(extra) + " (shared crossbars)",) if extra else ()
    tiles, tile_blocks, aimc, w_mem = tiling.tiles, None, None, tiling.weight_mem
    if model.crossbar:
        lb = xbars.lbs[l.name]
        names = tuple(dict.fromkeys(b[0] for b in blocks))
        xb = pool[0][1]
        aimc = AimcMapping(
            tiles=names, row_splits=lb.row_splits, col_splits=lb.col_splits,
            rows_used=sum(b[1] for b in blocks),
            utilisation=lb.weight_cells / (len(names) * xb.rows * xb.cols),
            program_each_inference=not xbars.program_once or l.name in _updated(trace),
            blocks=blocks, islices=lb.islices, wslices=lb.wslices, partials=lb.partials,
            diagonal=lb.diagonal, packed=l.name in xbars.shared)
        engine = next(x for _, x in pool if x.name == names[0])
        w_mem = weight_mem.get(l.name) if aimc.program_each_inference else None
        tiles, tile_blocks = aimc_tiles(l, tiling, aimc, xb)
        if aimc.packed:
            notes += ("packed with other layers on a shared crossbar",)
    return LayerPlan(
        layer=l, engine=engine.name, engine_kind=model.kind, cluster=cl.core.name, l1=cl.l1.name,
        input_mem=tiling.input_mem, weight_mem=w_mem, output_mem=tensor_mem[l.name],
        tile_shape=tiling.tile_shape, tiles=tiles, l1_bytes=tiling.l1_bytes,
        depends_on=tuple(p for p in srcs if p != NETWORK_INPUT) + extra, aimc=aimc,
        notes=notes, pipelined=piped, tile_blocks=tile_blocks, modelled_ps=tiling.modelled_ps)


def _summary(plans: list, xbars: _Crossbars, pool: list, home_of: dict, pol) -> dict:
    aimc_layers = [p for p in plans if p.aimc]
    used = {b[0] for p in aimc_layers for b in p.aimc.blocks}
    cells = sum(xbars.lbs[p.layer.name].weight_cells for p in aimc_layers)
    xb0 = pool[0][1] if pool else None
    kinds = dict.fromkeys(REPORTED_KINDS + tuple(p.engine_kind for p in plans))
    return {"crossbars_needed": xbars.need, "crossbars_available": len(pool),
            "crossbars_used": len(used), "crossbar_packing": bool(xbars.shared),
            "crossbar_cell_utilisation": (cells / (len(used) * xb0.rows * xb0.cols)) if used else None,
            **({"crossbar_allocation": xbars.packing, **xbars.report} if aimc_layers else {}),
            "aimc_programmed": ("once" if xbars.program_once else "each inference") if aimc_layers else "n/a",
            "engines": {k: sum(1 for p in plans if p.engine_kind == k) for k in kinds},
            "clusters_used": len({home_of[n] for n in home_of}),
            "pipelined_layers": sum(1 for p in plans if p.pipelined),
            "depthwise_policy": pol.depthwise, **fusion_summary(plans)}


def map_hetero(platform: Platform, trace: Trace) -> Mapping:
    """Map ``trace`` onto a heterogeneous platform, phase by phase (module doc)."""
    pol = policy_of(platform)
    cls = host_clusters(platform)
    pool = [(ci, t) for ci, c in enumerate(cls) for t in c.tiles]   # all crossbars, cluster order
    kinds = _choose_engines(platform, trace, cls, pol, pool)
    factors, stage_ps = _replication(platform, trace, kinds, cls, pool, pol)
    original, bands_of = trace, {}
    if factors:
        trace, bands_of = expand(trace, factors)
        kinds.update({b: kinds[n] for n, bs in bands_of.items() for b in bs})
    xbars = _allocate_crossbars(trace, kinds, pool, pol)
    home_of = _home_clusters(trace, kinds, xbars, pool, len(cls))
    tensor_mem, weight_mem, l3 = _placement(platform, original, kinds, xbars)
    for n, bs in bands_of.items():   # bands write the layer's tensor (L2/L3), read its weights
        for b in bs:
            tensor_mem[b] = tensor_mem[n]
            if n in weight_mem:
                weight_mem[b] = weight_mem[n]
    engines_of, blocks_of = _engines(trace, kinds, xbars, cls, home_of, pool)
    piped, extra_deps, in_pipe = _pipelining(trace, pol, kinds, xbars, engines_of, blocks_of)
    cost = CostModel(platform)

    def tile(l, mems, budget, max_rows=None, row_tiles=False, window_fallback=True):
        return _plan(platform, l, trace, kinds[l.name], cls[home_of[l.name]], (mems, weight_mem),
                     xbars, blocks_of.get(l.name), pool, piped[l.name],
                     row_tiles or l.name in in_pipe, extra_deps.get(l.name, ()), cost, budget,
                     max_rows, window_fallback)

    plans = keep_in_l1(trace, {l.name: cls[home_of[l.name]].l1 for l in trace.layers}, tensor_mem,
                       tile, pol)
    if bands_of:
        plans = [_wait_for_bands(p, bands_of) for p in plans]
    l3name = l3.name if l3 is not None else None
    return Mapping(
        plans=plans,
        program_once=[p for p in plans if p.aimc and not p.aimc.program_each_inference],
        weights_in_l3_bytes=sum(p.layer.stored_param_bytes for p in plans
                                if p.weight_mem and p.weight_mem == l3name),
        summary={**_summary(plans, xbars, pool, home_of, pol),
                 **(replication_summary(factors, stage_ps, len(original.layers)) if factors else {})})
