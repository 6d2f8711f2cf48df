"""Platform descriptions: clock domains, components and the links between them.

A platform file (YAML, see ``docs/formats.md``) is *data*, not code: each component is
declared with typed parameters and wired to others by links, like a gem5/SST configuration.
Loading validates every field against the dataclass definitions below (one place: the same
definitions drive validation, defaults, documentation and the JSON Schema) and builds a
NetworkX graph whose nodes are components and whose edges are links.

Units are in the field names: ``*_bytes``, ``*_cycles`` (cycles of the component's own clock
domain), ``*_hz``, ``*_pj``/``*_pj_per_*`` (picojoules), ``*_mw`` (milliwatts).
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..base.errors import ConfigError, did_you_mean
from ..base.limits import read_text
from ..base.srcmap import attach_line
from ..base.units import Clock
from ..base.yamlio import parse_yaml
from .registry import COMPONENT_TYPES

__all__ = ["PLATFORM_FORMAT", "ARBITRATION", "PLATFORM_KEYS", "spec", "Component", "CoreCluster",
           "Memory", "Dram", "DmaEngine", "AimcTile", "Router", "Link", "Platform", "NAME_RE",
           "parse_quantity", "default_invalid", "platform_from_dict", "load_platform",
           "apply_overrides", "connected_components", "shortest_path"]

PLATFORM_FORMAT = "hwsim-platform/1"
#: arbitration policies of links and memory ports (see hwsim.sim.arbitration)
ARBITRATION = ("fifo", "round_robin", "fixed_priority")
#: the top-level keys of a platform file (the one list: loader, sweeps and schema use it)
PLATFORM_KEYS = ("format", "name", "description", "source", "clocks", "reference_clock",
                 "components", "links", "mapping", "generate", "routes", "fidelity")


#: Physical bounds of a numeric field by its unit: ``(least, most)``. ASSUMED: generous
#: ranges outside which no real system lies, there to turn a typo or a fuzzed 1e-300 / 1e300
#: into an error instead of an overflow or a hang (e.g. a link slower than one byte per 1000
#: of its cycles, or an SRAM over 1 PiB). A field may state tighter ones (``max=``).
UNIT_BOUNDS = {
    "bytes": (None, 2**50), "bytes/cycle": (1e-3, 2.0**20), "cycles": (None, 10**9),
    "pJ": (None, 1e12), "pJ/byte": (None, 1e9), "mW": (None, 1e6), "bits": (None, 64),
    "ops/cycle/core": (1e-6, 1e6), "transfers/cycle": (None, 16),
}
#: bound of a count (cores, ports, banks, rows, priorities, ...) with no unit of its own
COUNT_MAX = 2**16
#: clock frequencies a platform may use, Hz: from a 1 kHz always-on domain to 100 GHz,
#: ten times any CMOS clock (ASSUMED bounds)
FREQ_RANGE = (1e3, 1e11)


def spec(unit: str = "", doc: str = "", min=None, gt=None, kind=None, choices=None, max=None,
         **kw):
    """A dataclass field with validation metadata (unit, bounds, doc). Numeric fields also
    get their physical bounds from :data:`UNIT_BOUNDS` (``least``/``max``) unless given."""
    least, most = UNIT_BOUNDS.get(unit, (None, COUNT_MAX))
    md = {"unit": unit, "doc": doc, "min": min, "gt": gt, "kind": kind, "choices": choices,
          "least": least, "max": most if max is None else max}
    return field(metadata=md, **kw)


# ------------------------------------------------------------------------------------------
# Component definitions. Field order: required first, then defaults.
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Component:
    """Fields every component has."""

    name: str = spec(doc="component name (the key under `components`)")
    clock: Clock = spec(kind="clock", doc="clock domain name (a key of `clocks`)")
    leakage_mw: float = spec("mW", "static power while the platform is powered", min=0, default=0.0)
    power_gating: bool = spec(doc="power-gated when unused: a component that does no work in "
                              "the run (no busy time, no bytes, no dynamic energy) leaks nothing",
                              default=False)

    #: the ``type:`` name in platform files; defining a subclass with a TYPE registers it
    TYPE = ""
    #: a compute engine: it ends routes (never a pass-through node) and runs layers
    #: (every engine type has an ``l1`` field: the memory it computes from)
    ENGINE = False
    #: an engine whose own streamers need a link to its L1 (checked at load)
    LINKED_TO_L1 = False
    #: what-if knobs (hwsim.explore.whatif): (field, integer?, label) scaled by the factor
    WHATIF = ()
    #: (group, label) when a what-if scales the number of such components (copies with links)
    WHATIF_COUNT = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        t = cls.__dict__.get("TYPE")
        if t:
            if t in COMPONENT_TYPES and COMPONENT_TYPES[t].__qualname__ != cls.__qualname__:
                raise TypeError(f"component type {t!r} is defined twice "
                                f"({COMPONENT_TYPES[t].__module__} and {cls.__module__})")
            COMPONENT_TYPES[t] = cls

    def check(self, raw: dict, platform_file, where: str) -> None:
        """Constraints between this component's own fields (``raw``: its mapping in the
        platform file, ``where``: its path there); raise :class:`ConfigError` on a violation."""


@dataclass(frozen=True)
class CoreCluster(Component):
    """N RISC-V cores running layer kernels at a throughput from a kernel table.

    Model (:mod:`hwsim.models.cores`): ``kernel_model: table``: a tile of ``ops``
    operations takes ``ceil(ops / (cores * ops_per_cycle_per_core)) + tile_overhead_cycles``
    cycles; the table entry is the *per-core* throughput measured on the full cluster (e.g. an
    8-core PULP-NN figure divided by 8), so sweeping ``cores`` assumes linear parallel
    scaling. ``kernel_model: pulp_nn``: conv2d, pointwise, depthwise and linear layers at
    <= 8 bits take the cycles of the PULP-NN kernels for the tile's shape, split over the
    cores by rows or channels with its leftovers (the table still lists which ops run).

    Energy: either ``energy_pj_per_op`` (per op, whatever the kernel's speed) or
    ``pj_per_active_core_cycle`` (per cycle a core works: slow kernels cost more) plus
    ``pj_per_idle_core_cycle`` for cores waiting on the others within a tile (imbalance).
    """

    TYPE = "core_cluster"
    ENGINE = True
    WHATIF = (("cores", True, "cores"),)
    cores: int = spec("cores", "number of cores working on one layer", gt=0, default=8)
    l1: str = spec(kind="ref:memory", doc="the L1 memory the cores compute from", default="")
    kernels: dict = spec("ops/cycle/core", "op -> throughput or {bits: throughput}",
                         kind="kernels", default_factory=dict)
    tile_overhead_cycles: int = spec("cycles", "fixed cost per tile (loop set-up, sync)", min=0, default=0)
    energy_pj_per_op: dict = spec("pJ", "op -> energy of one operation (MAC) on one core",
                                  kind="op_energy", default_factory=dict)
    kernel_model: str = spec(doc="table: kernels table, linear scaling; pulp_nn: PULP-NN kernel "
                             "cycles by layer shape (hwsim.models.cores)",
                             choices=("table", "pulp_nn"), default="table")
    pj_per_active_core_cycle: float = spec("pJ", "energy of one core for one busy cycle (replaces "
                                           "energy_pj_per_op)", min=0, default=0.0)
    pj_per_idle_core_cycle: float = spec("pJ", "energy of one core for one cycle idle within a "
                                         "tile (waiting at the barrier for the other cores)",
                                         min=0, default=0.0)

    def check(self, raw: dict, platform_file, where: str) -> None:
        if "energy_pj_per_op" in raw and ("pj_per_active_core_cycle" in raw
                                          or "pj_per_idle_core_cycle" in raw):
            raise ConfigError(platform_file, f"{where}.pj_per_active_core_cycle", "core energy is "
                              "given twice: per op (energy_pj_per_op) and per core-cycle",
                              "keep one of energy_pj_per_op or pj_per_*_core_cycle")


@dataclass(frozen=True)
class Memory(Component):
    """A memory level (L1 scratchpad, L2, off-chip L3/DRAM) with ports of fixed bandwidth.

    Model: a transfer touching this memory holds one of its ``ports`` for each burst, at
    ``port_bandwidth_bytes_per_cycle``; ``latency_cycles`` is paid once per transfer
    (first-word latency, pipelined across bursts).
    """

    TYPE = "memory"
    WHATIF = (("size_bytes", True, "size"),
              ("port_bandwidth_bytes_per_cycle", False, "port bandwidth"))
    level: str = spec(doc="hierarchy level", choices=("L1", "L2", "L3"), default="L2")
    size_bytes: int = spec("bytes", "capacity", gt=0, default=0)
    ports: int = spec("ports", "independent access ports", gt=0, default=1)
    port_bandwidth_bytes_per_cycle: float = spec("bytes/cycle", "bandwidth of one port", gt=0, default=8)
    latency_cycles: int = spec("cycles", "first-word access latency per transfer", min=0, default=0)
    banks: int = spec("banks", "word-interleaved banks (L1 conflict model)", gt=0, default=1)
    read_pj_per_byte: float = spec("pJ/byte", "read energy", min=0, default=0.0)
    write_pj_per_byte: float = spec("pJ/byte", "write energy", min=0, default=0.0)
    arbitration: str = spec(doc="port arbitration among masters", choices=ARBITRATION,
                            default="fifo")
    bank_model: str = spec(doc="L1 bank-conflict model for the cores' kernels: fast "
                           "(analytical, default), detailed (cycle-by-cycle), off",
                           choices=("fast", "detailed", "off"), default="fast")


@dataclass(frozen=True)
class Dram(Memory):
    """Off-chip DRAM / HyperRAM with a first-order timing model (see :mod:`hwsim.sim.dram`).

    Per bank one row is open (``page_policy: open``); a burst to the open row pays only its
    data time, a closed bank ``t_rcd`` first, another row ``t_rp + t_rcd`` (precharge no
    earlier than ``t_ras`` after the activate). ``t_cl`` is paid once per transfer (first
    data), and per transaction under ``page_policy: closed`` (HyperRAM-like devices, where
    every transaction pays command/address ``t_rcd`` plus initial latency ``t_cl``). Every
    ``t_refi`` the device refreshes for ``t_rfc`` and closes all rows. The data bus moves
    ``data_bus_bits / 8 * transfers_per_cycle`` bytes per cycle of ``clock``. Timing
    parameters are in cycles of ``clock`` (tCK). ``port_bandwidth_bytes_per_cycle`` and
    ``latency_cycles`` are derived and must not be given.
    """

    TYPE = "dram"
    # its bandwidth is derived: a what-if scales the data rate per clock
    WHATIF = (("size_bytes", True, "size"), ("transfers_per_cycle", True, "transfers per cycle"))
    level: str = spec(doc="hierarchy level", choices=("L2", "L3"), default="L3")
    data_bus_bits: int = spec("bits", "data bus width (DQ)", gt=0, max=1024, default=16)
    transfers_per_cycle: int = spec("transfers/cycle", "2 for DDR, 1 for SDR", gt=0, default=2)
    burst_length: int = spec("transfers", "column burst length (BL)", gt=0, default=16)
    row_bytes: int = spec("bytes", "row (page) size per bank", gt=0, default=2048)
    t_rcd_cycles: int = spec("cycles", "activate to column command (tRCD)", min=0, default=0)
    t_cl_cycles: int = spec("cycles", "column command to first data (tCL / CAS latency)", min=0,
                            default=0)
    t_rp_cycles: int = spec("cycles", "precharge time (tRP)", min=0, default=0)
    t_ras_cycles: int = spec("cycles", "activate to precharge, minimum (tRAS)", min=0, default=0)
    t_refi_cycles: int = spec("cycles", "refresh interval (tREFI); 0 = no refresh", min=0, default=0)
    t_rfc_cycles: int = spec("cycles", "refresh cycle time (tRFC)", min=0, default=0)
    page_policy: str = spec(doc="open: rows stay open (row hits); closed: every transaction "
                            "activates", choices=("open", "closed"), default="open")
    address_map: str = spec(doc="address bit order, high to low", choices=("row_bank_col",
                            "bank_row_col"), default="row_bank_col")
    max_transaction_bytes: int = spec("bytes", "longest transaction (e.g. HyperRAM tCSM cap); "
                                      "0 = unlimited", min=0, default=0)

    #: Memory fields a dram derives (never given in a platform file; absent from its schema)
    DERIVED = ("port_bandwidth_bytes_per_cycle", "latency_cycles")

    def check(self, raw: dict, platform_file, where: str) -> None:
        _check_dram(self, raw, platform_file, where)

    def __post_init__(self):
        # for code that reads any memory's peak rate and first-access latency (roofline
        # plots, estimates): the data bus's peak bytes/cycle and tRCD + tCL
        object.__setattr__(self, "port_bandwidth_bytes_per_cycle",
                           self.data_bus_bits / 8 * self.transfers_per_cycle)
        object.__setattr__(self, "latency_cycles", self.t_rcd_cycles + self.t_cl_cycles)


@dataclass(frozen=True)
class DmaEngine(Component):
    """A DMA engine. It sits on the data path as a graph node; transfers routed through it
    take one of ``max_outstanding`` slots and pay ``setup_cycles`` before the first burst."""

    TYPE = "dma"
    WHATIF = (("max_outstanding", True, "max_outstanding"),)
    max_outstanding: int = spec("transfers", "transfers in flight at once", gt=0, default=2)
    setup_cycles: int = spec("cycles", "descriptor programming per transfer", min=0, default=0)
    burst_bytes: int = spec("bytes", "burst size: one arbitration per burst (accuracy/speed knob)",
                            gt=0, default=1024)
    queue_depth: int = spec("descriptors", "descriptors programmed ahead while max_outstanding "
                            "are active (0: program only once a slot is free)", min=0, default=0)
    max_outstanding_bursts: int = spec("bursts", "bursts in flight per direction on the separate "
                                       "read/write channels (0: no limit)", min=0, default=0)
    bandwidth_bytes_per_cycle: float = spec("bytes/cycle", "per-direction (read/write channel) "
                                            "bandwidth of the engine (0: not limiting)", min=0,
                                            default=0.0)
    priority: int = spec(doc="fixed-priority arbitration: lower number wins", min=0, default=0)


@dataclass(frozen=True)
class AimcTile(Component):
    """Analog in-memory-computing tile: a rows x cols crossbar with stationary weights.

    Model: one matrix-vector product (MVM) per output pixel and crossbar in
    ``mvm_latency_cycles``; inputs stream from its L1 and outputs back through the
    tile's links (its streamers), overlapped with the MVMs. Programming a crossbar costs
    ``program_cycles_per_row`` per written row. Energy of an MVM driving ``r`` rows and reading
    ``c`` columns: ``energy_pj_per_mvm``, or ``mvm_fixed_pj + r * pj_per_active_row +
    c * pj_per_active_column`` (:func:`mvm_pj`).
    """

    TYPE = "aimc_tile"
    ENGINE = True
    LINKED_TO_L1 = True
    WHATIF_COUNT = ("aimc", "aimc tiles")
    rows: int = spec("rows", "crossbar rows (inputs)", gt=0, default=256)
    cols: int = spec("cols", "crossbar columns (outputs)", gt=0, default=256)
    l1: str = spec(kind="ref:memory", doc="the memory its streamers read and write", default="")
    mvm_latency_cycles: int = spec("cycles", "latency of one MVM (DAC + analog + ADC)", gt=0, default=100)
    program_cycles_per_row: int = spec("cycles", "time to program one crossbar row", min=0, default=0)
    input_bits: int = spec("bits", "DAC / input precision", gt=0, default=8)
    output_bits: int = spec("bits", "ADC / output precision", gt=0, default=8)
    energy_pj_per_mvm: float = spec("pJ", "energy of one MVM whatever the rows and columns "
                                    "used (or give the three mvm_* / pj_per_active_* parts)",
                                    min=0, default=0.0)
    mvm_fixed_pj: float = spec("pJ", "fixed energy of one MVM (array bias, control, digital "
                               "periphery)", min=0, default=0.0)
    pj_per_active_row: float = spec("pJ", "energy per driven crossbar row per MVM (DAC)", min=0,
                                    default=0.0)
    pj_per_active_column: float = spec("pJ", "energy per read-out column per MVM (ADC)", min=0,
                                       default=0.0)
    program_pj_per_row: float = spec("pJ", "energy to program one row", min=0, default=0.0)
    weight_bits: int = spec("bits", "weight bits one cell stores; wider weights are bit-sliced over "
                            "several columns and recombined digitally", gt=0, default=8)
    stream_mode: str = spec(doc="overlapped: streamers run under the MVMs (double-buffered); "
                            "sequential: stream-in, MVM, stream-out one after another per job",
                            choices=("overlapped", "sequential"), default="overlapped")
    job_overhead_cycles: int = spec("cycles", "fixed cycles per MVM job (idle, FIFO fill)", min=0,
                                    default=0)
    priority: int = spec(doc="fixed-priority arbitration of its streamers: lower wins", min=0,
                         default=0)

    def check(self, raw: dict, platform_file, where: str) -> None:
        if "energy_pj_per_mvm" in raw and any(
                k in raw for k in ("mvm_fixed_pj", "pj_per_active_row", "pj_per_active_column")):
            raise ConfigError(platform_file, f"{where}.energy_pj_per_mvm", "MVM energy is given "
                              "twice: per MVM and as fixed + per row + per column parts",
                              "keep energy_pj_per_mvm or the mvm_fixed_pj / pj_per_active_* fields")

    def mvm_pj(self, rows: int, cols: int) -> float:
        """Energy of one MVM that drives ``rows`` rows and reads ``cols`` columns."""
        return (self.energy_pj_per_mvm + self.mvm_fixed_pj + rows * self.pj_per_active_row
                + cols * self.pj_per_active_column)


@dataclass(frozen=True)
class Router(Component):
    """A pure interconnect node (bus, crossbar, NoC router): it only forwards."""

    TYPE = "router"




@dataclass(frozen=True)
class Link:
    """An interconnect edge between two components.

    Model: each burst crossing the link holds it for ``ceil(bytes / bandwidth)`` of its clock's
    cycles; ``latency_cycles`` is paid once per transfer. ``duplex: full`` gives each direction
    its own channel (AXI read/write), ``half`` makes both directions share one.
    """

    a: str = spec(kind="ref:component", doc="one end")
    b: str = spec(kind="ref:component", doc="other end")
    clock: Clock = spec(kind="clock", doc="clock domain of the link")
    bandwidth_bytes_per_cycle: float = spec("bytes/cycle", "bandwidth per direction", gt=0)
    latency_cycles: int = spec("cycles", "traversal latency per transfer", min=0, default=0)
    duplex: str = spec(doc="full: a channel per direction; half: one shared", choices=("full", "half"),
                       default="full")
    pj_per_byte: float = spec("pJ/byte", "energy per byte moved", min=0, default=0.0)
    name: str = spec(doc="link name (default 'a--b')", default="")
    arbitration: str = spec(doc="arbitration among masters", choices=ARBITRATION, default="fifo")


@dataclass(frozen=True)
class Platform:
    """A validated platform: clocks, components by name, links, and the interconnect graph."""

    name: str
    clocks: dict
    components: dict
    links: tuple
    reference_clock: Clock
    source: str = ""
    file: str = "<dict>"
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    routes: dict = field(default_factory=dict)   # (src, dst) -> pinned node path

    def of_type(self, cls) -> list:
        """Components that are instances of ``cls``, in file order (indexed once per class:
        mappers ask for every cluster's engines, which would scan a 512-cluster mesh each
        time)."""
        index = self._memo("_of_type")
        hit = index.get(cls)
        if hit is None:
            hit = index[cls] = [c for c in self.components.values() if isinstance(c, cls)]
        return list(hit)

    def engines(self) -> list:
        """The compute engines (components whose type declares ``ENGINE``), in file order."""
        return list(self.derived(_engines))

    def memories(self, level: str) -> list:
        return [m for m in self.of_type(Memory) if m.level == level]

    def adjacency(self) -> dict:
        """Neighbours of every component, ``{name: [name, ...]}``, in the order NetworkX's
        :meth:`graph` lists them (first link naming the pair first): route searches over it
        break ties like ``networkx.shortest_path`` on that graph. Built once; read only."""
        return self.derived(_adjacency)

    def _memo(self, name: str) -> dict:
        """The dict kept on this platform as attribute ``name``: a cache, not a field."""
        memo = self.__dict__.get(name)
        if memo is None:
            memo = {}
            object.__setattr__(self, name, memo)
        return memo

    def derived(self, build):
        """``build(self)``, computed once per platform and ``build`` function and kept: a
        Platform does not change after load (sweeps and what-ifs load new ones), so what the
        layers above derive from it alone (e.g. the interconnect's channel table) is shared by
        every simulation of it."""
        memo = self._memo("_derived")
        hit = memo.get(build)
        if hit is None:
            hit = memo[build] = build(self)
        return hit

    def route_path(self, src: str, dst: str) -> tuple | None:
        """The nodes data passes from ``src`` to ``dst``: the pinned route of the pair (the
        ``routes:`` section), else the fewest-hop path whose inner nodes are routers, links'
        ends and DMA engines (never a memory or an engine), else, staging through memories,
        the fewest-hop path through anything but an engine; ``None`` when there is none. Ties
        break as ``networkx.shortest_path`` breaks them on :meth:`graph` (:func:`shortest_path`).

        Searched once per pair and cached on the platform: a Platform does not change after
        load (sweeps and what-ifs load new ones), so every simulation of it shares the paths.
        A pair whose endpoints touch no common component of the allowed nodes (labelled once,
        linear in the graph) is answered without a search, which could otherwise visit a
        whole component of a large mesh before failing."""
        cache = self._memo("_paths")
        key = (src, dst)
        if key in cache:
            return cache[key]
        path = self.routes.get(key)
        if path is None:
            adj = self.adjacency()
            for allowed, label in self.derived(_route_spaces):
                if _joined(adj, label, src, dst):
                    path = tuple(shortest_path(adj, src, dst, allowed))
                    break
        cache[key] = path
        return path

    def graph(self):
        """Undirected interconnect graph (a ``networkx.Graph``, imported here: simulation
        does not need NetworkX): nodes carry ``component``, edges carry ``link``."""
        import networkx as nx

        g = nx.Graph()
        for name, comp in self.components.items():
            g.add_node(name, component=comp)
        for link in self.links:
            g.add_edge(link.a, link.b, link=link)
        return g


# ------------------------------------------------------------------------------------------
# Quantities: "64 KiB", "170 MHz", 1.7e8, "2 GB/s" is not accepted (use bytes/cycle).
# ------------------------------------------------------------------------------------------
_SIZE = {"": 1, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "kb": 10**3, "mb": 10**6, "gb": 10**9}
_FREQ = {"": 1, "hz": 1, "khz": 10**3, "mhz": 10**6, "ghz": 10**9}
_QTY = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
#: component names: letters, digits, '_' and '-' (no '.', which separates override paths,
#: and no '>', which separates "src->dst" keys in reports)
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def parse_quantity(value, unit: str, file, fld):
    """Parse a number or a string with a unit suffix into a number in the base unit."""
    if isinstance(value, bool):
        raise ConfigError(file, fld, f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ConfigError(file, fld, f"expected a finite number, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ConfigError(file, fld, f"expected a number, got {type(value).__name__} {value!r}")
    table = _FREQ if unit == "Hz" else _SIZE if unit == "bytes" else {"": 1}
    m = _QTY.match(str(value))
    if not m or m.group(2).lower() not in table:
        ex = {"Hz": "'170 MHz'", "bytes": "'64 KiB'"}.get(unit, "a number")
        raise ConfigError(file, fld, f"cannot read {value!r} as {unit or 'a number'}", f"e.g. {ex}")
    num = float(m.group(1)) * table[m.group(2).lower()]
    if not math.isfinite(num):
        raise ConfigError(file, fld, f"expected a finite number, got {value!r}")
    return num


def _in_bounds(num, least, most, unit, value, file, fld):
    """Refuse a value outside the physical bounds of its field (see :data:`UNIT_BOUNDS`)."""
    if least is not None and 0 < num < least:
        raise ConfigError(file, fld, f"{value!r} {unit} is below the physical bound {least:g} "
                          f"{unit}".rstrip(), "physical bounds: UNIT_BOUNDS, FREQ_RANGE in hwsim/hardware/platform.py")
    if most is not None and num > most:
        raise ConfigError(file, fld, f"{value!r} {unit} is above the physical bound {most:g} "
                          f"{unit}".rstrip(), "physical bounds: UNIT_BOUNDS, FREQ_RANGE in hwsim/hardware/platform.py")


def _integral(x, file, fld):
    if float(x) != int(x):
        raise ConfigError(file, fld, f"expected a whole number, got {x}")
    return int(x)


# ------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------
def _build(cls, raw: dict, ctx: dict, file: str, where: str, skip=("name",)):
    """Instantiate dataclass ``cls`` from ``raw``, validating every field by its metadata."""
    if not isinstance(raw, dict):
        raise ConfigError(file, where, f"expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    allowed = set(fields) - set(skip)
    for key in raw:
        if key not in allowed and key != "type":
            raise ConfigError(file, f"{where}.{key}", f"unknown field for {cls.__name__}",
                              did_you_mean(key, allowed))
    values = {}
    for name, f in fields.items():
        if name in skip:
            continue
        fld = f"{where}.{name}"
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if name not in raw:
            if not has_default or default_invalid(f):
                raise ConfigError(file, fld, "missing required field", _expect(f))
            continue
        values[name] = _convert(f, raw[name], ctx, file, fld)
    return values


def default_invalid(f) -> bool:
    """A field whose default breaks its own bounds (e.g. ``size_bytes`` 0 with ``gt=0``) is
    required: the default only exists to satisfy dataclass field ordering."""
    md, d = f.metadata, f.default
    if d is dataclasses.MISSING or isinstance(d, (bool, str)) or not isinstance(d, (int, float)):
        return False
    return (md.get("gt") is not None and not d > md["gt"]) or (
        md.get("min") is not None and not d >= md["min"])


def _expect(f) -> str:
    """What a valid value of field ``f`` looks like (for error messages)."""
    md = f.metadata
    parts = [md.get("doc", "")] if md.get("doc") else []
    if md.get("choices"):
        parts.append("one of " + ", ".join(map(str, md["choices"])))
    elif md.get("gt") is not None:
        parts.append(f"a number > {md['gt']} {md.get('unit', '')}".rstrip())
    elif md.get("min") is not None:
        parts.append(f"a number >= {md['min']} {md.get('unit', '')}".rstrip())
    return "; ".join(parts)


def _convert(f, value, ctx, file, fld):
    md = f.metadata
    kind, unit = md.get("kind"), md.get("unit", "")
    if kind == "clock":
        if not isinstance(value, str) or value not in ctx["clocks"]:
            raise ConfigError(file, fld, f"unknown clock {value!r}", did_you_mean(value, ctx["clocks"]))
        return ctx["clocks"][value]
    if kind and kind.startswith("ref:"):
        if not isinstance(value, str):
            raise ConfigError(file, fld, f"expected a component name, got {value!r}")
        return value  # resolved after all components are known
    if kind == "kernels":
        return _kernel_table(value, file, fld)
    if kind == "op_energy":
        return _op_table(value, file, fld, "pJ")
    if md.get("choices"):
        if not isinstance(value, str) or value not in md["choices"]:
            raise ConfigError(file, fld, f"invalid value {value!r}", did_you_mean(value, md["choices"]))
        return value
    if f.type in ("str", str):
        if not isinstance(value, str):
            raise ConfigError(file, fld, f"expected a string, got {value!r}")
        return value
    if f.type in ("bool", bool):
        if not isinstance(value, bool):
            raise ConfigError(file, fld, f"expected true or false, got {value!r}")
        return value
    num = parse_quantity(value, unit, file, fld)
    if md.get("gt") is not None and not num > md["gt"]:
        raise ConfigError(file, fld, f"must be > {md['gt']} {unit}, got {value!r}",
                          "a zero or negative value has no physical meaning here")
    if md.get("min") is not None and not num >= md["min"]:
        raise ConfigError(file, fld, f"must be >= {md['min']} {unit}, got {value!r}", _expect(f))
    _in_bounds(num, md.get("least"), md.get("max"), unit, value, file, fld)
    if f.type in ("int", int):
        return _integral(num, file, fld)
    return float(num)


def _op_table(value, file, fld, unit):
    from ..workload.trace import OPS

    if not isinstance(value, dict):
        raise ConfigError(file, fld, f"expected a mapping op -> {unit}")
    out = {}
    for op, v in value.items():
        if not isinstance(op, str) or (op not in OPS and op != "default"):
            raise ConfigError(file, f"{fld}.{op}", "unknown op", did_you_mean(op, OPS + ("default",)))
        num = parse_quantity(v, "", file, f"{fld}.{op}")
        if num < 0:
            raise ConfigError(file, f"{fld}.{op}", f"must be >= 0, got {v!r}")
        _in_bounds(num, *UNIT_BOUNDS[unit], unit, v, file, f"{fld}.{op}")
        out[op] = float(num)
    return out


def _kernel_table(value, file, fld):
    """op -> {bits: ops/cycle/core}; a bare number applies to every bit width."""
    from ..workload.trace import OPS

    if not isinstance(value, dict):
        raise ConfigError(file, fld, "expected a mapping op -> ops/cycle/core or {bits: ops/cycle/core}")
    table = {}
    for op, entry in value.items():
        if not isinstance(op, str) or op not in OPS:
            raise ConfigError(file, f"{fld}.{op}", "unknown op", did_you_mean(op, OPS))
        entry = entry if isinstance(entry, dict) else {"any": entry}
        table[op] = {}
        for bits, thr in entry.items():
            f2 = f"{fld}.{op}.{bits}"
            if bits != "any" and (not isinstance(bits, int) or isinstance(bits, bool)
                                  or not 1 <= bits <= 64):
                raise ConfigError(file, f2, "bit-width keys are positive integers up to 64, e.g. 8")
            num = parse_quantity(thr, "", file, f2)
            if not num > 0:
                raise ConfigError(file, f2, f"throughput must be > 0 ops/cycle/core, got {thr!r}",
                                  "remove the entry if the op is unsupported")
            _in_bounds(num, *UNIT_BOUNDS["ops/cycle/core"], "ops/cycle/core", thr, file, f2)
            table[op][bits] = float(num)
    return table


def platform_from_dict(data, file="<dict>") -> Platform:
    """Validate a parsed platform document and build a :class:`Platform`."""
    if not isinstance(data, dict):
        raise ConfigError(file, "", "a platform is a YAML mapping with clocks, components and links")
    if "layers" in data and "components" not in data:
        raise ConfigError(file, "layers", "this looks like a layer trace, not a platform",
                          "the platform YAML comes first: hwsim run PLATFORM TRACE")
    for key in data:
        if key not in PLATFORM_KEYS:
            raise ConfigError(file, key, "unknown top-level field", did_you_mean(key, PLATFORM_KEYS))
    if "generate" in data:
        from .generate import expand_generators
        data = expand_generators(data, file)
    fmt = data.get("format", PLATFORM_FORMAT)
    if fmt != PLATFORM_FORMAT:
        raise ConfigError(file, "format", f"unsupported format {fmt!r}", f"expected {PLATFORM_FORMAT!r}")
    clocks_raw = data.get("clocks")
    if not isinstance(clocks_raw, dict) or not clocks_raw:
        raise ConfigError(file, "clocks", "missing or empty", "e.g. clocks: {cluster: 170 MHz}")
    clocks = {}
    for cname, val in clocks_raw.items():
        if not isinstance(cname, str) or not NAME_RE.match(cname):
            raise ConfigError(file, f"clocks.{cname}", f"invalid clock name {cname!r}",
                              "use letters, digits, '_' and '-'")
        if isinstance(val, dict):
            if set(val) != {"freq_hz"}:
                raise ConfigError(file, f"clocks.{cname}", "expected {freq_hz: ...} or a frequency")
            val = val["freq_hz"]
        hz = parse_quantity(val, "Hz", file, f"clocks.{cname}")
        if not hz > 0:
            raise ConfigError(file, f"clocks.{cname}", f"frequency must be > 0 Hz, got {val!r}")
        _in_bounds(hz, *FREQ_RANGE, "Hz", val, file, f"clocks.{cname}")
        clocks[cname] = Clock(str(cname), _integral(hz, file, f"clocks.{cname}"))
    ctx = {"clocks": clocks}
    comps_raw = data.get("components")
    if not isinstance(comps_raw, dict) or not comps_raw:
        raise ConfigError(file, "components", "missing or empty")
    components = {}
    for cname, raw in comps_raw.items():
        where = f"components.{cname}"
        if not isinstance(cname, str) or not NAME_RE.match(cname):
            raise ConfigError(file, where, f"invalid component name {cname!r}",
                              "use letters, digits, '_' and '-' (no '.', '>' or spaces)")
        if not isinstance(raw, dict) or "type" not in raw:
            raise ConfigError(file, f"{where}.type", "missing component type",
                              "valid: " + ", ".join(COMPONENT_TYPES))
        if not isinstance(raw["type"], str):
            raise ConfigError(file, f"{where}.type", f"expected a type name, got {raw['type']!r}",
                              "valid: " + ", ".join(COMPONENT_TYPES))
        cls = COMPONENT_TYPES.get(raw["type"])
        if cls is None:
            raise ConfigError(file, f"{where}.type", f"unknown component type {raw['type']!r}",
                              did_you_mean(raw["type"], COMPONENT_TYPES))
        components[cname] = cls(name=str(cname), **_build(cls, raw, ctx, file, where))
        components[cname].check(raw, file, where)
    links_raw = data.get("links") or []
    if not isinstance(links_raw, list):
        raise ConfigError(file, "links", "expected a list of links")
    links, names = [], set()
    for i, raw in enumerate(links_raw):
        where = f"links[{i}]"
        if isinstance(raw, dict) and "between" in raw:
            raw = dict(raw)
            pair = raw.pop("between")
            if not isinstance(pair, list) or len(pair) != 2:
                raise ConfigError(file, f"{where}.between", "expected [a, b]")
            if "a" in raw or "b" in raw:
                raise ConfigError(file, f"{where}.between", "both 'between' and 'a'/'b' given",
                                  "use either between: [a, b] or a: and b:")
            raw["a"], raw["b"] = pair
        vals = _build(Link, raw, ctx, file, where, skip=())
        for end in ("a", "b"):
            if vals[end] not in components:
                raise ConfigError(file, f"{where}.between", f"unknown component {vals[end]!r}",
                                  did_you_mean(vals[end], components))
        if vals["a"] == vals["b"]:
            raise ConfigError(file, f"{where}.between", "a link needs two different components")
        vals.setdefault("name", f"{vals['a']}--{vals['b']}")
        if vals["name"] in names:
            raise ConfigError(file, f"{where}", f"duplicate link {vals['name']!r}",
                              "give parallel links distinct names")
        names.add(vals["name"])
        links.append(Link(**vals))
    for key in ("name",):
        if data.get(key) is not None and (not isinstance(data[key], str) or not data[key].isprintable()):
            raise ConfigError(file, key, f"expected a string of printable characters, got {data[key]!r}")
    for link in links:
        if not link.name.isprintable():
            raise ConfigError(file, "links", f"link name {link.name!r} has control characters")
    ref = data.get("reference_clock") or next(iter(clocks))
    if not isinstance(ref, str) or ref not in clocks:
        raise ConfigError(file, "reference_clock", f"unknown clock {ref!r}", did_you_mean(ref, clocks))
    platform = Platform(name=str(data.get("name") or Path(str(file)).stem), clocks=clocks,
                        components=components, links=tuple(links), reference_clock=clocks[ref],
                        source=str(data.get("source", "")), file=str(file), raw=data,
                        routes=_pinned_routes(data.get("routes"), components, links, file))
    _check_references(platform)
    _check_bursts(platform)
    _check_connectivity(platform)
    from .policy import check_policy
    check_policy(platform)
    from .fidelity import fidelity_of
    fidelity_of(platform)
    return platform


def _check_dram(d: Dram, raw: dict, file, where) -> None:
    for key in Dram.DERIVED:
        if key in raw:
            raise ConfigError(file, f"{where}.{key}", "derived for a dram from its data bus and "
                              "timing parameters", "remove it; set data_bus_bits, "
                              "transfers_per_cycle and t_*_cycles instead")
    if d.ports != 1:
        raise ConfigError(file, f"{where}.ports", "a dram has one data bus (ports: 1)",
                          "model a second channel as a second dram component")
    if d.data_bus_bits % 8:
        raise ConfigError(file, f"{where}.data_bus_bits", "must be a multiple of 8 bits")
    atom = d.data_bus_bits // 8 * d.burst_length
    if d.row_bytes % atom:
        raise ConfigError(file, f"{where}.row_bytes", f"must be a multiple of the burst size "
                          f"{atom} bytes (data_bus_bits / 8 x burst_length)")
    if d.banks & (d.banks - 1):
        raise ConfigError(file, f"{where}.banks", "must be a power of two for the address map")
    if d.t_refi_cycles and not 0 < d.t_rfc_cycles < d.t_refi_cycles:
        raise ConfigError(file, f"{where}.t_rfc_cycles", "refresh needs 0 < t_rfc < t_refi",
                          "or set t_refi_cycles: 0 to disable refresh")
    if d.max_transaction_bytes and d.max_transaction_bytes % atom:
        raise ConfigError(file, f"{where}.max_transaction_bytes",
                          f"must be a multiple of the burst size {atom} bytes")


def _check_bursts(p: Platform) -> None:
    """A DRAM holds at least one column burst (``data_bus_bits / 8 x burst_length``) and one
    row: its address map interleaves them. (A DMA's ``burst_bytes`` is the largest piece a
    transfer is split into, not an access size: a memory smaller than it gets one burst.)"""
    for m in p.of_type(Dram):
        for fld, b in (("burst_length", m.data_bus_bits // 8 * m.burst_length),
                       ("row_bytes", m.row_bytes)):
            if b > m.size_bytes:
                raise ConfigError(p.file, f"components.{m.name}.size_bytes", f"{m.size_bytes} B "
                                  f"is smaller than one {fld.split('_')[0]} ({fld}: {b} B)",
                                  f"at least {b} B")


def _check_references(p: Platform) -> None:
    for comp in p.components.values():
        for f in dataclasses.fields(comp):
            kind = f.metadata.get("kind") or ""
            if not kind.startswith("ref:"):
                continue
            target = getattr(comp, f.name)
            where = f"components.{comp.name}.{f.name}"
            if not target:
                raise ConfigError(p.file, where, "missing required field", f.metadata["doc"])
            if target not in p.components:
                raise ConfigError(p.file, where, f"unknown component {target!r}",
                                  did_you_mean(target, p.components))
            want = kind[4:]
            if want != "component" and p.components[target].TYPE != want:
                raise ConfigError(p.file, where, f"{target!r} is a {p.components[target].TYPE}, "
                                  f"expected a {want}")
            if f.name == "l1" and p.components[target].level != "L1":
                l1s = [m.name for m in p.memories("L1")]
                raise ConfigError(p.file, where, f"{target!r} is an {p.components[target].level} "
                                  "memory; engines compute from an L1",
                                  ("valid: " + ", ".join(l1s)) if l1s else "add a memory with level: L1")


def _pinned_routes(raw, components: dict, links: list, file) -> dict:
    """``routes: [{from: a, to: b, path: [a, x, ..., b]}]``: paths that replace the shortest
    path for transfers from ``a`` to ``b`` (one direction). Every step must be a link; a path
    may pass through routers and DMA engines, and through memories (staging), never through
    a compute engine."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ConfigError(file, "routes", "expected a list of {from, to, path}")
    linked = {frozenset((l.a, l.b)) for l in links}
    out: dict = {}
    for i, r in enumerate(raw):
        where = f"routes[{i}]"
        if not isinstance(r, dict) or set(r) != {"from", "to", "path"}:
            raise ConfigError(file, where, "expected {from: A, to: B, path: [A, ..., B]}")
        path = r["path"]
        if not isinstance(path, list) or len(path) < 2 or path[0] != r["from"] or path[-1] != r["to"]:
            raise ConfigError(file, f"{where}.path", "must be a list of component names from "
                              f"{r['from']!r} to {r['to']!r}")
        for j, node in enumerate(path):
            if not isinstance(node, str) or node not in components:
                raise ConfigError(file, f"{where}.path[{j}]", f"unknown component {node!r}",
                                  did_you_mean(str(node), components))
            if 0 < j < len(path) - 1 and components[node].ENGINE:
                raise ConfigError(file, f"{where}.path[{j}]", f"{node!r} is a compute engine: "
                                  "routes end at engines, never pass through them")
        for j, (a, b) in enumerate(zip(path, path[1:])):
            if frozenset((a, b)) not in linked:
                raise ConfigError(file, f"{where}.path[{j + 1}]", f"no link between {a!r} and {b!r}",
                                  "every step of a pinned route must be a link")
        key = (path[0], path[-1])
        if key in out:
            raise ConfigError(file, where, f"a route from {key[0]!r} to {key[1]!r} is already pinned")
        out[key] = tuple(path)
    return out


def _check_connectivity(p: Platform) -> None:
    """Every engine must reach its L1 and every L2/L3 memory through the interconnect.

    Paths are checked as the interconnect routes them: never through a compute engine (a
    core cluster or AIMC tile only ends a route), possibly staged through memories. One pass
    labels the connected components of the graph without engines (linear in its size); an
    engine with its own streamers (``LINKED_TO_L1``) reaches its L1 iff one of its non-engine
    neighbours lies in the L1's component."""
    engines_list = p.engines()
    if not engines_list:
        raise ConfigError(p.file, "components", "no compute engine",
                          "add a core_cluster or an aimc_tile")
    engines = {c.name for c in engines_list}
    l2l3 = p.memories("L2") + p.memories("L3")
    if not l2l3:
        raise ConfigError(p.file, "components", "no L2 or L3 memory: activations and weights "
                          "need a home outside L1", "add a memory with level: L2 (or L3)")
    adj = p.adjacency()
    label = connected_components(adj, skip=engines)
    for eng in engines_list:
        for mem in [p.components[eng.l1]] + l2l3:
            if mem.name != eng.l1 and mem.level == "L1":
                continue
            if label[eng.l1] != label[mem.name]:
                raise ConfigError(p.file, "links", f"no route from {mem.name} to {eng.l1} "
                                  f"(the L1 of {eng.name}): the interconnect is disconnected",
                                  f"add a link chain between {mem.name} and {eng.l1}")
        if eng.LINKED_TO_L1 and not any(
                label.get(n) == label[eng.l1] for n in adj[eng.name] if n not in engines):
            raise ConfigError(p.file, "links", f"{eng.TYPE} {eng.name} has no link to its L1 "
                              f"{eng.l1}", f"add a link between {eng.name} and {eng.l1} (its streamers)")


def connected_components(adj: dict, skip=frozenset()) -> dict:
    """``{node: component number}`` of the undirected graph ``adj`` (``{node: [neighbour]}``)
    with the nodes in ``skip`` removed (they get no label). Iterative, O(nodes + edges)."""
    label: dict = {}
    for root in adj:
        if root in label or root in skip:
            continue
        n = len(label)
        label[root] = n
        stack = [root]
        while stack:
            for w in adj[stack.pop()]:
                if w not in label and w not in skip:
                    label[w] = n
                    stack.append(w)
    return label


def _engines(p: Platform) -> list:
    return [c for c in p.components.values() if c.ENGINE]


def _adjacency(p: Platform) -> dict:
    nbrs: dict = {name: {} for name in p.components}
    for link in p.links:
        nbrs[link.a][link.b] = None
        nbrs[link.b][link.a] = None
    return {name: list(d) for name, d in nbrs.items()}


def _route_spaces(p: Platform) -> tuple:
    """``((allowed nodes, their components), ...)`` for a direct route (no memory or engine
    inside) and a staged one (no engine inside), in the order :meth:`Platform.route_path`
    tries them."""
    adj, comps = p.adjacency(), p.components
    direct = frozenset(n for n, c in comps.items() if not (c.ENGINE or isinstance(c, Memory)))
    staged = frozenset(n for n, c in comps.items() if not c.ENGINE)
    return tuple((a, connected_components(adj, skip=comps.keys() - a)) for a in (direct, staged))


def _joined(adj: dict, label: dict, src, dst) -> bool:
    """Whether a path from ``src`` to ``dst`` exists whose inner nodes all carry a ``label``
    (:func:`connected_components` of the allowed nodes): they are one node or neighbours, or
    a neighbour of each lies in one component."""
    if src == dst or dst in adj[src]:
        return True
    near = {label[n] for n in adj[src] if n in label}
    return any(label.get(n) in near for n in adj[dst])


def shortest_path(adj: dict, src, dst, allowed) -> list | None:
    """Fewest-hop path from ``src`` to ``dst`` over ``adj`` (``{node: [neighbour, ...]}``)
    whose inner nodes are all in ``allowed``, or ``None``. The bidirectional breadth-first
    search of ``networkx.bidirectional_shortest_path`` (networkx 3.x), step for step, so ties
    go the same way as ``networkx.shortest_path`` on the subgraph of ``allowed | {src, dst}``."""
    if src == dst:
        return [src]
    pred, succ = {src: None}, {dst: None}
    fwd, rev = [src], [dst]
    meet = None
    while fwd and rev and meet is None:
        if len(fwd) <= len(rev):
            level, fwd = fwd, []
            for v in level:
                for w in adj[v]:
                    if w not in allowed and w != src and w != dst:
                        continue
                    if w not in pred:
                        fwd.append(w)
                        pred[w] = v
                    if w in succ:
                        meet = w
                        break
                if meet is not None:
                    break
        else:
            level, rev = rev, []
            for v in level:
                for w in adj[v]:
                    if w not in allowed and w != src and w != dst:
                        continue
                    if w not in succ:
                        succ[w] = v
                        rev.append(w)
                    if w in pred:
                        meet = w
                        break
                if meet is not None:
                    break
    if meet is None:
        return None
    path, w = [], meet
    while w is not None:
        path.append(w)
        w = pred[w]
    path.reverse()
    w = succ[path[-1]]
    while w is not None:
        path.append(w)
        w = succ[w]
    return path


def read_platform_document(path):
    """The parsed YAML document of platform file ``path`` and its text, within the input
    limits of :mod:`hwsim.base.limits` (a ``ConfigError`` with file and line otherwise)."""
    text = read_text(path, "platform", "YAML")
    return parse_yaml(text, path), text


def load_platform(path, overrides: dict | None = None) -> Platform:
    """Load and validate a platform YAML file.

    Args:
        path: the YAML file.
        overrides: optional ``{dotted.path: value}`` applied before validation, e.g.
            ``{"components.l1.size_bytes": 131072}`` (used by sweeps).
    """
    path = Path(path)
    data, text = read_platform_document(path)
    try:
        if overrides:
            data = apply_overrides(data, overrides, str(path))
        return platform_from_dict(data, str(path))
    except ConfigError as e:
        raise attach_line(e, text=text, kind="yaml")


def apply_overrides(data: dict, overrides: dict, file="<dict>") -> dict:
    """Return a copy of ``data`` with ``{dotted.path: value}`` set (paths must exist, except
    the last key of a component or link mapping, which may add an optional field)."""
    import copy

    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node, parts = data, dotted.split(".")
        for i, part in enumerate(parts[:-1]):
            key = int(part) if isinstance(node, list) and part.isdigit() else part
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                opts = node.keys() if isinstance(node, dict) else []
                raise ConfigError(file, ".".join(parts[: i + 1]), f"override path {dotted!r} does "
                                  "not exist", did_you_mean(part, opts)) from None
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ConfigError(file, dotted, f"override path {dotted!r} does not exist",
                                  f"list index 0..{len(node) - 1}")
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(file, dotted, "override path does not lead to a mapping")
    return data

