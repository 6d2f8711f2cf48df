"""The mapper's entry point: :func:`map_trace` turns a trace into a task graph of frozen
:class:`~hwsim.mapping.plan.LayerPlan` s, and mapper v1 for platforms whose only engine is one
core cluster.

Platforms with other engines (crossbars, accelerators) or several clusters go to
:mod:`hwsim.mapping.hetero_mapper`. Both use the same placement
(:mod:`hwsim.mapping.placement`) and L1 tiling (:mod:`hwsim.mapping.tiling`). Decisions, all
recorded in each plan and shown in the report:

* **Engine**: the core cluster, which must have a kernel for the op and bit width.
* **Placement**: tensors and weights in L2 by live range, the rest in L3
  (:func:`hwsim.mapping.placement.place`).
* **Tiling** (DORY-style): output channels x rows per tile, double-buffered, least modelled
  time (:func:`hwsim.mapping.tiling.tile_layer`).
* **L1 residency and fusion**: activations stay in L1 across layers, and producer/reader pairs
  run fused by row windows, when the model says no slower (:mod:`hwsim.mapping.fusion`).
"""
from __future__ import annotations

from ..base.errors import MappingError
from ..hardware.platform import Platform
from ..hardware.registry import model_of
from ..workload.trace import NETWORK_INPUT, Layer, Trace
from ..hardware.policy import policy_of
from .cost import CostModel, tile_compute_ps
from .fusion import fusion_summary, keep_in_l1
from .hetero_mapper import map_hetero, uses_hetero_mapper
from .placement import input_memories, locate, place
from .plan import AimcMapping, LayerPlan, Mapping, Tile
from .tiling import tile_layer

__all__ = ["map_trace", "LayerPlan", "Mapping", "Tile", "AimcMapping"]


def map_trace(platform: Platform, trace: Trace) -> Mapping:
    """Map every layer of ``trace`` onto ``platform``."""
    if uses_hetero_mapper(platform):   # crossbars, accelerators, several clusters
        return map_hetero(platform, trace)
    hosts = [e for e in platform.engines() if model_of(e).host]
    if not hosts:
        raise MappingError("the mapper needs a core_cluster (it runs the layers no accelerator "
                           "takes and orchestrates the DMA)", platform.file, "components",
                           "add a component with type: core_cluster")
    cluster = hosts[0]
    l1 = platform.components[cluster.l1]
    l2 = (platform.memories("L2") or [None])[0]
    l3 = (platform.memories("L3") or [None])[0]
    if l2 is None and l3 is None:
        raise MappingError("no L2 or L3 memory to hold activations and weights", platform.file,
                           "components", "add a memory with level: L2")
    engines = {}
    for l in trace.layers:
        try:
            engines[l.name] = _choose_engine(l, cluster)
        except MappingError as e:
            raise locate(e, trace, l) from None
    tensor_mem, weight_mem = place(trace, l2, l3, engines, True, set(), platform.file)
    cost = CostModel(platform)
    kind = model_of(cluster).kind

    def tile(l, mems, budget, max_rows=None, row_tiles=False, window_fallback=True):
        srcs = trace.producers(l)
        t = tile_layer(l, l1, input_memories(l, srcs, mems), weight_mem.get(l.name), mems[l.name],
                       prefer_row_tiles=row_tiles, budget=budget, cost=cost, max_rows=max_rows,
                       compute_ps=tile_compute_ps(platform, cluster, l, cluster, cost),
                       window_fallback=window_fallback)
        return LayerPlan(
            layer=l, engine=cluster.name, engine_kind=kind, cluster=cluster.name,
            l1=l1.name, input_mem=t.input_mem, weight_mem=t.weight_mem, output_mem=mems[l.name],
            tile_shape=t.tile_shape, tiles=t.tiles, l1_bytes=t.l1_bytes,
            depends_on=tuple(p for p in srcs if p != NETWORK_INPUT), modelled_ps=t.modelled_ps)

    for l in trace.layers:   # each layer alone first, so that an error names its layer
        try:
            tile(l, tensor_mem, l1.size_bytes)
        except MappingError as e:
            if not e.fix.startswith("enlarge"):
                raise
            e.fix = f"{e.fix[:8]}components.{e.fix[8:]} in {platform.file} or split the layer"
            raise locate(e, trace, l) from None
    plans = keep_in_l1(trace, dict.fromkeys((l.name for l in trace.layers), l1), tensor_mem, tile,
                       policy_of(platform))
    return Mapping(
        plans=plans, program_once=[],
        weights_in_l3_bytes=sum(p.layer.stored_param_bytes for p in plans
                                if p.weight_mem and l3 is not None and p.weight_mem == l3.name),
        summary={"crossbars_needed": 0, "crossbars_available": 0, "aimc_programmed": "n/a",
                 **fusion_summary(plans)},
    )


def _choose_engine(l: Layer, cluster) -> str:
    """Mapper v1 runs every layer on the core cluster (platforms with accelerators go to
    :mod:`hwsim.mapping.hetero_mapper`); a hint may only name the cores."""
    hint = l.engine
    if hint not in (None, "auto", "cores", cluster.name):
        raise MappingError(f"engine hint {hint!r}: the platform has only the core cluster "
                           f"{cluster.name}", field="engine", fix="use 'cores' or 'auto'")
    if not model_of(cluster).accepts(cluster, l):
        raise MappingError(f"core cluster {cluster.name} has no kernel for {l.op} at "
                           f"{l.bits_key} bits and no accelerator can run it", field="bits",
                           fix=f"add components.{cluster.name}.kernels.{l.op} (for {l.bits_key} "
                           "bits or any width) or use supported bit widths")
    return "cores"


