"""The mapper's output: a task graph of frozen layer plans and their tiles.

A :class:`LayerPlan` is built once by the mapper (:mod:`hwsim.mapping.mapper`) and never
changed afterwards; the engine (:mod:`hwsim.sim.engine`) only reads it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..workload.trace import Layer

__all__ = ["Tile", "Tiling", "merge", "AimcMapping", "LayerPlan", "Mapping", "tile_rows"]


def merge(loads):
    """``((memory, bytes), ...)`` with one entry per memory, zero-byte entries dropped."""
    out: dict = {}
    for mem, n in loads:
        out[mem] = out.get(mem, 0) + n
    return tuple((m, n) for m, n in out.items() if n)


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


@dataclass(frozen=True)
class Tiling:
    """How a layer is cut for L1: tile shape, tiles (loads, ops, stores), L1 working set."""

    tile_shape: dict
    tiles: tuple
    l1_bytes: int            # working set in L1 incl. double buffers
    weight_mem: str | None   # where its weights stream from (None: no weights move)
    input_mem: str           # the first (or only) input memory
    modelled_ps: float = 0.0  # the tiler's closed-form time (hwsim.mapping.cost), ps


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class LayerPlan:
    """The mapper's decisions for one layer (a node of the task graph), built once."""

    layer: Layer
    engine: str                 # component name
    engine_kind: str            # the engine model's kind: "cores", "aimc", "dw_accelerator", ...
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
    notes: tuple = ()
    pipelined: bool = False     # starts on the rows its producer has written (hwsim.sim.pipeline)
    tile_blocks: tuple | None = None  # AIMC: indices into aimc.blocks that work on tile i
    modelled_ps: float = 0.0    # the tiler's closed-form time (hwsim.mapping.cost), ps
    l1_kept_bytes: int = 0      # activation bytes read/written in L1 instead of a DMA to L2/L3
    ring: tuple | None = None   # (rows, reader): output kept as a row window in L1 (fusion)

    @property
    def n_tiles(self) -> int:
        return len(self.tiles)

    @property
    def holds_engine(self) -> bool:
        """Whether the layer holds its engines from its first tile to its last, not tile by
        tile: crossbars reprogrammed each inference are held from programming to the last
        MVM, so no other layer rewrites them in between (:mod:`hwsim.models.aimc`)."""
        return self.aimc is not None and self.aimc.program_each_inference

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


def tile_rows(plan) -> list:
    """``(channel group index, h0, h1, last channel group?)`` of each tile of ``plan``: tiles
    run channel group by channel group, each group's output rows ``[h0, h1)`` top to bottom."""
    ho, n = plan.layer.out_hw[0], len(plan.tiles)
    if "rows" not in plan.tile_shape:   # a hand-built plan: rows complete with its last tile
        return [(0, 0, ho, i == n - 1) for i in range(n)]
    rows = plan.tile_shape["rows"]
    n_h = -(-ho // rows)
    last = -(-plan.layer.out_channels // plan.tile_shape["channels"]) - 1
    bands = [(h0, min(ho, h0 + rows)) for h0 in range(0, n_h * rows, rows)]
    return [(ci, h0, h1, ci == last) for ci in range(-(-n // n_h)) for h0, h1 in bands][:n]
