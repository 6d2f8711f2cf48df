"""Mapper v1: memory placement and L1 tiling on a core cluster, producing a task graph.

It maps platforms whose only engine is one core cluster; platforms with AIMC tiles, depthwise
accelerators or several clusters go to :mod:`hwsim.mapping.hetero_mapper`, which reuses the placement
(:func:`_place`) and tiling (:func:`_tile_layer`) below. Decisions, all recorded in each
:class:`LayerPlan` and shown in the report:

* **Engine**: the core cluster, which must have a kernel for the op and bit width.
* **Placement**: a tensor lives in L2 when every layer touching it has its input+output in L2's
  capacity, else in L3. Weights fill what L2 has left after the largest resident activation
  working set, in layer order; the rest stay in L3 and stream from there each inference
  (staged through L2 when the interconnect has no direct L3->L1 path). Tensors occupy L2 over
  their live range (residual branches included); when the live set exceeds L2, the tensor
  read again furthest in the future spills to L3 (:func:`_live_activations`).
* **Tiling** (DORY-style): the output is cut into ``co_t`` channels x ``ho_t`` rows (full
  width); input rows include the kernel halo. Buffers are double-buffered (weights single when
  one channel tile covers the layer). Among the tilings that fit L1, the one moving the fewest
  DMA bytes wins, then the one with fewest tiles. Loop order: channel tiles outer (each weight
  tile loaded once), row tiles inner.
* **AIMC** layers (planned by :mod:`hwsim.mapping.hetero_mapper`) keep their weights on crossbars; their
  tiles carry the MVM counts and streamer bytes (:class:`Tile`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..base.errors import MappingError
from ..hardware.platform import CoreCluster, Memory, Platform
from . import train_tiling
from .footprint import check_footprint
from ..workload.trace import BASE_OP, ELEMENTWISE_OPS, GRAD_WEIGHT_OPS, NETWORK_INPUT, Layer, POOL_OPS, \
    TRAIN_OPS, Trace


@dataclass(frozen=True)
class Tile:
    """One step of a layer's double-buffered pipeline.

    loads / stores: ``((memory, bytes), ...)`` moved into / out of L1.
    ops: work for the engine in kernel-table units. mvms: AIMC matrix-vector products.
    stream_in / stream_out: bytes the AIMC streamers move for the tile, summed over its crossbars
        (per crossbar: :func:`hwsim.mapping.aimc.crossbar_streams`).
    acc_ops: partial-sum additions on the cores after an AIMC row split.
    """

    loads: tuple
    ops: int
    stores: tuple
    mvms: int = 0
    stream_in: int = 0
    stream_out: int = 0
    acc_ops: int = 0


@dataclass
class AimcMapping:
    """Crossbar placement of one layer (built by :mod:`hwsim.mapping.hetero_mapper`, see
    :mod:`hwsim.mapping.aimc`): ``blocks[i] = (crossbar, rows, cols)``."""

    tiles: tuple               # AIMC tile component names used (one crossbar each)
    row_splits: int
    col_splits: int
    rows_used: int             # crossbar rows written, summed over crossbars
    utilisation: float         # weight cells / (crossbars x rows x cols)
    program_each_inference: bool = False
    blocks: tuple = ()
    islices: int = 1           # MVM passes per pixel (inputs wider than the DACs)
    wslices: int = 1           # column slices per weight (weights wider than a cell)
    partials: int = 1          # partial results per output, added on the cores
    diagonal: bool = False     # depthwise block-diagonal mapping
    packed: bool = False       # shares its crossbar with other layers


@dataclass
class LayerPlan:
    """The mapper's decisions for one layer (a node of the task graph)."""

    layer: Layer
    engine: str                 # component name
    engine_kind: str            # "cores" or "aimc"
    cluster: str                # core cluster that runs digital parts / owns L1
    l1: str
    input_mem: str
    weight_mem: str | None      # None for weight-free layers and stationary AIMC weights
    output_mem: str
    tile_shape: dict
    tiles: tuple
    l1_bytes: int               # working set in L1 incl. double buffers
    depends_on: tuple           # producer layer names
    aimc: AimcMapping | None = None
    notes: list = field(default_factory=list)
    pipelined: bool = False     # starts on the rows its producer has written (hwsim.sim.pipeline)
    tile_blocks: tuple | None = None  # AIMC: indices into aimc.blocks that work on tile i

    @property
    def n_tiles(self) -> int:
        return len(self.tiles)

    def planned_bytes(self) -> dict:
        """Bytes the plan moves, keyed ``"src->dst"`` by memory name."""
        out: dict = {}
        for t in self.tiles:
            for mem, n in t.loads:
                k = f"{mem}->{self.l1}"
                out[k] = out.get(k, 0) + n
            for mem, n in t.stores:
                k = f"{self.l1}->{mem}"
                out[k] = out.get(k, 0) + n
        return out


@dataclass
class Mapping:
    """The task graph: layer plans in trace order, plus one-time set-up work."""

    plans: list
    program_once: list          # AIMC plans whose crossbars are programmed once, before inference
    weights_in_l3_bytes: int
    summary: dict


def kernel_throughput(cluster: CoreCluster, op: str, bits: int) -> float | None:
    """Per-core ops/cycle for ``op`` at ``bits`` (exact width, else the 'any' entry); a
    training op without its own entry uses its forward op's (:data:`hwsim.workload.trace.BASE_OP`)."""
    entry = cluster.kernels.get(op) or cluster.kernels.get(BASE_OP.get(op))
    if not entry:
        return None
    return entry.get(bits, entry.get("any"))


# ------------------------------------------------------------------------------------------
def map_trace(platform: Platform, trace: Trace) -> Mapping:
    """Map every layer of ``trace`` onto ``platform``."""
    from .hetero_mapper import map_hetero, uses_hetero_mapper
    if uses_hetero_mapper(platform):   # AIMC tiles, depthwise accelerators, several clusters
        return map_hetero(platform, trace)
    clusters = platform.of_type(CoreCluster)
    if not clusters:
        raise MappingError("the mapper needs a core_cluster (it runs the layers no accelerator "
                           "takes and orchestrates the DMA)", platform.file, "components",
                           "add a component with type: core_cluster")
    cluster = clusters[0]
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
            raise _locate(e, trace, l) from None
    tensor_mem, weight_mem = _place(trace, l2, l3, engines, True, set(), platform.file)
    plans = []
    for l in trace.layers:
        srcs = trace.producers(l)
        try:
            plan = _tile_layer(l, "cores", cluster, l1, input_memories(l, srcs, tensor_mem),
                               weight_mem.get(l.name), tensor_mem[l.name], srcs)
        except MappingError as e:
            if not e.fix.startswith("enlarge"):
                raise
            e.fix = f"{e.fix[:8]}components.{e.fix[8:]} in {platform.file} or split the layer"
            raise _locate(e, trace, l) from None
        plans.append(plan)
    return Mapping(
        plans=plans, program_once=[],
        weights_in_l3_bytes=sum(p.layer.stored_param_bytes for p in plans
                                if p.weight_mem and l3 is not None and p.weight_mem == l3.name),
        summary={"crossbars_needed": 0, "crossbars_available": 0, "aimc_programmed": "n/a"},
    )


def input_memories(l: Layer, producers: tuple, tensor_mem: dict):
    """Where ``l`` reads its input: one memory, or one per operand of an elementwise op."""
    if l.op in ELEMENTWISE_OPS and len(producers) == 2:
        return tuple(tensor_mem[t] for t in producers)
    return tensor_mem[producers[0]]


def _live_activations(trace: Trace, l2, l3, tensor_mem: dict, platform_file: str) -> int:
    """Peak bytes of activations resident in ``l2`` over the inference, spilling to ``l3``.

    A tensor occupies memory from its producer to its last forward reader, so a residual
    branch stays alive across the layers it skips. While the tensors live in L2 at a layer
    exceed its capacity, the one read again furthest in the future (Belady's choice, ties by
    name) moves to L3 for its whole life; the layer's own inputs and output never move here
    (the per-layer check before this one already sent those that cannot fit)."""
    size: dict = {}
    last: dict = {}     # tensor -> index of its last forward reader
    for i, l in enumerate(trace.layers):
        size.setdefault(l.name, l.output_bytes)
        if l.op in TRAIN_OPS:   # backward readers: saved activations are reserved apart
            continue
        for t in trace.producers(l):
            last[t] = i
            if t == NETWORK_INPUT:
                size.setdefault(t, l.input_bytes // l.operands)
    born = {l.name: i for i, l in enumerate(trace.layers)}
    peak = 0
    for i, l in enumerate(trace.layers):
        if l.op in TRAIN_OPS:
            continue
        live = [t for t in last if born.get(t, 0) <= i <= last[t] and tensor_mem.get(t) == l2.name]
        if l.name not in last and tensor_mem.get(l.name) == l2.name:
            live.append(l.name)          # an output nobody reads (the network's result)
        need = sum(size[t] for t in live)
        keep = set(trace.producers(l)) | {l.name}
        while need > l2.size_bytes:
            movable = [t for t in live if t not in keep]
            if not movable or l3 is None:
                raise _locate(MappingError(
                    f"{need} B of live activations (residual branches included) exceed "
                    f"{l2.name} ({l2.size_bytes} B) and the platform has no L3",
                    fix=f"enlarge components.{l2.name}.size_bytes in {platform_file} to at least "
                    f"{need} or add an L3 memory"), trace, l)
            victim = max(movable, key=lambda t: (last[t], t))
            tensor_mem[victim] = l3.name
            live.remove(victim)
            need -= size[victim]
        peak = max(peak, need)
    return peak


def _place(trace: Trace, l2, l3, engines: dict, program_once: bool, updated: set,
           platform_file: str = "<platform>") -> tuple:
    """Placement of tensors and parameters in L2/L3: ``(tensor_mem, weight_mem)`` by name.
    ``engines[layer] == "aimc"`` layers whose crossbars are programmed once keep no weights
    in memory (unless ``updated`` by a training step)."""
    training = trace.meta.get("training") or {}
    home = l2 or l3
    tensor_mem: dict = {}   # tensor (producer name or "<input>") -> memory name
    for l in trace.layers:
        fits = l2 is not None and l.input_bytes + l.output_bytes <= l2.size_bytes
        for t in trace.producers(l) + (l.name,):
            if not fits:
                if l3 is None:
                    raise _locate(MappingError(
                        f"input+output {l.input_bytes + l.output_bytes} B exceed "
                        f"{home.name} ({home.size_bytes} B) and the platform has no L3",
                        fix=f"enlarge components.{home.name}.size_bytes in {platform_file} to at "
                        f"least {l.input_bytes + l.output_bytes} or add an L3 memory"), trace, l)
                if l.input_bytes + l.output_bytes > l3.size_bytes:
                    raise _locate(MappingError(
                        f"input+output {l.input_bytes + l.output_bytes} B exceed {l3.name} "
                        f"({l3.size_bytes} B), the largest memory",
                        fix=f"enlarge components.{l3.name}.size_bytes in {platform_file} to at "
                        f"least {l.input_bytes + l.output_bytes} or split the layer"), trace, l)
                tensor_mem[t] = l3.name
            else:
                tensor_mem.setdefault(t, home.name)
    resident_act = _live_activations(trace, l2, l3, tensor_mem, platform_file) if l2 else 0
    l2_left = (l2.size_bytes - resident_act) if l2 else 0
    # Training: activations saved for the backward pass stay live from their forward producer
    # to their last backward reader; they take L2 in trace order while it has room, else L3.
    for t, nbytes in (training.get("saved_activations") or {}).items():
        if tensor_mem.get(t) == home.name and l2 is not None:
            if nbytes <= l2_left:
                l2_left -= nbytes
            elif l3 is not None:
                tensor_mem[t] = l3.name
    # Parameters of one layer (weights, their gradient, optimizer state: ``weights_of``) form
    # one group, placed together when its first layer is met.
    group_bytes: dict = {}
    for l in trace.layers:
        key = l.weights_of or l.name
        group_bytes[key] = group_bytes.get(key, 0) + l.stored_param_bytes
    weight_mem: dict = {}
    for l in trace.layers:
        key = l.weights_of or l.name
        if key in weight_mem:
            weight_mem[l.name] = weight_mem[key]
            continue
        if not l.stored_param_bytes and l.op not in TRAIN_OPS or (
                engines[l.name] == "aimc" and program_once and l.name not in updated):
            continue
        nbytes = group_bytes[key]
        if l2 is not None and nbytes <= l2_left:
            weight_mem[l.name] = weight_mem[key] = l2.name
            l2_left -= nbytes
        elif l3 is not None:
            if nbytes > l3.size_bytes:
                raise _locate(MappingError(
                    f"weights ({nbytes} B) do not fit {l3.name} ({l3.size_bytes} B), the largest "
                    "memory", fix=f"enlarge components.{l3.name}.size_bytes in {platform_file} "
                    "or split the layer"), trace, l)
            weight_mem[l.name] = weight_mem[key] = l3.name
        else:
            raise _locate(MappingError(
                f"weights ({nbytes} B) do not fit what is left of {l2.name} "
                f"({max(l2_left, 0)} B) and the platform has no L3",
                fix=f"enlarge components.{l2.name}.size_bytes in {platform_file} or add an L3 "
                "memory"), trace, l)
    for mem in (l2, l3):    # the whole network, at its worst moment, in every level
        check_footprint(trace, mem, tensor_mem, weight_mem, platform_file)
    return tensor_mem, weight_mem


def _locate(err: MappingError, trace: Trace, l: Layer) -> MappingError:
    """Point ``err`` at layer ``l`` of ``trace`` (file, ``layers[i] (name)`` field, line)."""
    from ..base.srcmap import attach_line

    i = trace.layers.index(l)
    err.file = str(getattr(trace, "file", "") or "<trace>")
    err.field = f"layers[{i}] ({l.name})" + (f".{err.field}" if err.field else "")
    err.args = (err._message(),)
    return attach_line(err)


def _choose_engine(l: Layer, cluster: CoreCluster) -> str:
    """Mapper v1 runs every layer on the core cluster (platforms with accelerators go to
    :mod:`hwsim.mapping.hetero_mapper`); a hint may only name the cores."""
    hint = l.engine
    if hint not in (None, "auto", "cores", cluster.name):
        raise MappingError(f"engine hint {hint!r}: the platform has only the core cluster "
                           f"{cluster.name}", field="engine", fix="use 'cores' or 'auto'")
    if kernel_throughput(cluster, l.op, l.bits_key) is None:
        raise MappingError(f"core cluster {cluster.name} has no kernel for {l.op} at "
                           f"{l.bits_key} bits and no accelerator can run it", field="bits",
                           fix=f"add components.{cluster.name}.kernels.{l.op} (for {l.bits_key} "
                           "bits or any width) or use supported bit widths")
    return "cores"


# ------------------------------------------------------------------------------------------
def _geometry(l: Layer):
    """(Cout, Ho, Wo, Hin, Win, stride_h, kh, pad_top) with vectors as 1x1 maps."""
    if l.op in TRAIN_OPS:
        return train_tiling.geometry(l)
    cout, (ho, wo) = l.out_channels, l.out_hw
    h, w = l.in_hw
    return cout, ho, wo, h, w, l.stride[0], l.kernel[0], l.padding[0]


def _in_rows(l: Layer, h0: int, h1: int) -> int:
    """Input rows needed for output rows [h0, h1) (with halo, clipped to the map)."""
    _, _, _, h, _, s, kh, pt = _geometry(l)
    if l.op in ELEMENTWISE_OPS or l.op == "linear":
        return h1 - h0 if l.op in ELEMENTWISE_OPS else 1
    lo = max(0, h0 * s - pt)
    hi = min(h, (h1 - 1) * s - pt + kh)
    return max(0, hi - lo)


def _tile_bytes(l: Layer, co: int, h0: int, h1: int, with_weights: bool):
    """(input, weight, output) bytes of the tile covering channels [.. co) and rows [h0, h1)."""
    if l.op in TRAIN_OPS:
        return train_tiling.tile_bytes(l, co, h0, h1, with_weights)
    cout, ho, wo, h, w, *_ = _geometry(l)
    b = l.batch
    rows = _in_rows(l, h0, h1)
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


def _tile_ops(l: Layer, co: int, rows: int) -> int:
    if l.op in TRAIN_OPS:
        return train_tiling.tile_ops(l, co, rows)
    _, _, wo, *_ = _geometry(l)
    pix = co * rows * wo * l.batch
    if l.is_weighted:
        return pix * l.matrix_rows
    if l.op in POOL_OPS:
        return pix * l.kernel[0] * l.kernel[1]
    return pix


def _tile_layer(l: Layer, kind, cluster, l1: Memory, in_mem, w_mem, out_mem, producers,
                prefer_row_tiles: bool = False) -> LayerPlan:
    cout, ho, wo, *_ = _geometry(l)
    budget = l1.size_bytes
    with_w = kind == "cores" and (l.is_weighted or l.weights_of is not None and l.weight_elements
                                  or l.op == "optimizer_step")
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
            i, w, o = _tile_bytes(l, co, 0, rows, with_w)
            # the worst-case tile: interior halo may exceed the first tile's rows
            i = max(i, _tile_bytes(l, co, max(0, ho - rows), ho, False)[0],
                    _tile_bytes(l, co, ho // 2, min(ho, ho // 2 + rows), False)[0])
            return 2 * (i + o) + wmul * w

        if ws(1) > budget:
            smallest = min(smallest, ws(1))
            continue
        lo, hi = 1, ho
        while lo < hi:  # largest rows that fit (ws is monotone in rows)
            mid = (lo + hi + 1) // 2
            if ws(mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        rows = lo
        n_h = -(-ho // rows)
        # Weights and outputs move once whatever the tiling; inputs (with their halo) are
        # reloaded for every channel tile unless the op is channel-wise.
        if rows not in in_total:
            in_total[rows] = sum(_tile_bytes(l, cout, h0, min(ho, h0 + rows), False)[0]
                                 for h0 in range(0, ho, rows))
        dma = in_total[rows] * (n_co if l.op in ("conv2d", "pointwise", "linear") else 1)
        key = (dma, n_co * n_h, -co) if not prefer_row_tiles else (n_co, dma, n_co * n_h, -co)
        if best is None or key < best[0]:
            best = (key, co, rows, ws(rows))
    if best is None:
        i, w, o = _tile_bytes(l, 1, 0, 1, with_w)
        need = smallest
        raise MappingError(
            f"{l.op} cannot be tiled into {l1.name}: even the smallest tile (1 channel x 1 row: "
            f"{i} B in, {w} B weights, {o} B out; {need} B with double buffers and halo) exceeds its "
            f"{l1.name}.size_bytes = {l1.size_bytes} B",
            fix=f"enlarge {l1.name}.size_bytes to at least {need}")
    _, co, rows, l1_bytes = best
    # an elementwise op reads its operands from their own memories (equal shares)
    in_mems = tuple(in_mem) if isinstance(in_mem, tuple) else (in_mem,)
    in_mem = in_mems[0]
    tiles = []
    for c0 in range(0, cout, co):
        c1 = min(cout, c0 + co)
        for h0 in range(0, ho, rows):
            h1 = min(ho, h0 + rows)
            i, w, o = _tile_bytes(l, c1 - c0, h0, h1, with_w and (
                h1 == ho if l.op in GRAD_WEIGHT_OPS else h0 == 0))
            loads = [(m, i // len(in_mems) + (k < i % len(in_mems)))
                     for k, m in enumerate(in_mems)]
            stores = _merge([(out_mem, o)])
            if w and l.op in GRAD_WEIGHT_OPS:  # the dW accumulator goes out after its last row
                stores = _merge([(out_mem, o), (w_mem, w)])
            elif w:
                loads.append((w_mem, w))
            if l.op == "optimizer_step":       # parameters and state are updated in place
                stores = ((w_mem, o),)
            loads = _merge(loads)
            tile = Tile(loads=loads, ops=_tile_ops(l, c1 - c0, h1 - h0), stores=stores)
            tiles.append(tile)
    return LayerPlan(
        layer=l, engine=cluster.name, engine_kind=kind, cluster=cluster.name, l1=l1.name,
        input_mem=in_mem, weight_mem=w_mem if with_w else None, output_mem=out_mem,
        tile_shape={"channels": co, "rows": rows, "cols": wo}, tiles=tuple(tiles),
        l1_bytes=l1_bytes, depends_on=tuple(p for p in producers if p != NETWORK_INPUT))


def _merge(loads):
    out: dict = {}
    for mem, n in loads:
        out[mem] = out.get(mem, 0) + n
    return tuple((m, n) for m, n in out.items() if n)
