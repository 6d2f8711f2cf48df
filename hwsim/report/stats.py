"""Simulation results: per-layer records, per-resource statistics and the summary.

Every layer's time is attributed to exactly one category at each instant, from the point of
view of the engine running it: ``compute`` (the engine works), ``memory_stall`` (it waits for
data that is moving), ``contention`` (it waits because its data, or the engine itself, queued
behind another requester), ``programming`` (AIMC weights being written) and ``idle`` (the
rest). The categories are kept in ps and converted to reference-clock cycles by cumulative
rounding, so they add up to the layer's cycles exactly.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ..base.units import J_PER_PJ, TERA, Clock, ps_to_s

__all__ = ["CATEGORIES", "split_cycles", "LayerRecord", "ResourceStats", "SimulationResult"]

CATEGORIES = ("compute", "memory_stall", "contention", "programming", "idle")


def split_cycles(clock: Clock, parts_ps: list, total_ps: int, start_ps: int = 0) -> list:
    """Convert consecutive ps parts of a span starting at ``start_ps`` to cycles by their
    boundaries on the clock: they sum to ``ps_to_cycles(start_ps + total_ps) -
    ps_to_cycles(start_ps)`` exactly, so back-to-back spans (layers) add up to the cycles of
    their union with no per-span rounding (rounding each span's length could add a cycle per
    layer)."""
    prev = clock.ps_to_cycles(start_ps)
    out, acc = [], start_ps
    for p in parts_ps:
        acc += p
        cyc = clock.ps_to_cycles(acc)
        out.append(cyc - prev)
        prev = cyc
    return out


@dataclass
class LayerRecord:
    """What happened to one layer. Cycles are of the platform's reference clock."""

    name: str
    op: str
    engine: str
    engine_kind: str
    start_ps: int
    end_ps: int
    cycles: int
    compute_cycles: int
    memory_stall_cycles: int
    contention_cycles: int
    programming_cycles: int
    idle_cycles: int
    macs: int
    ops: int
    n_tiles: int
    tile_shape: dict
    input_in: str
    weights_in: str
    output_in: str
    l1_bytes: int
    bytes_moved: dict            # "src->dst" -> bytes
    bytes_by_level: dict         # memory level -> bytes read + written by transfers
    energy_pj: dict              # category -> pJ
    waits_ps: dict               # resource -> ps of this layer's contention charged to it
    bottleneck: str              # the category or resource that cost the most time
    crossbar_utilisation: float | None = None
    l1_kept_bytes: int = 0      # activation bytes kept in L1 instead of a DMA to L2/L3 (fusion)
    stall_ps: dict = field(default_factory=dict)   # resource -> ps of memory stall charged to it
    queued_ps: dict = field(default_factory=dict)  # resource -> ps its transfers queued on it
    top_wait: str = ""           # the resource the layer waited on most ("" if it never waited)
    top_wait_cycles: int = 0     # ... and for how long (reference-clock cycles)

    @property
    def time_s(self) -> float:
        return ps_to_s(self.end_ps - self.start_ps)

    @property
    def energy_total_pj(self) -> float:
        return sum(self.energy_pj.values())


def bottleneck_label(r: LayerRecord) -> str:
    """The category that cost the layer most time and the resource behind it, e.g. ``stall
    l3`` (memory stall on L3), ``contention l2.port``, ``compute cluster`` (the engine),
    ``idle`` (waiting for its inputs: producers or the engine)."""
    cause, _, res = r.bottleneck.partition(":")
    if cause == "idle":
        return "idle"
    return f"{_SHORT.get(cause, cause)} {res or r.engine}"


_SHORT = {"memory_stall": "stall"}


@dataclass
class ResourceStats:
    """Use of one channel (link direction, memory ports, DMA slots) or engine."""

    name: str
    kind: str
    capacity: int
    utilisation: float           # busy server-time / (capacity x makespan), in [0, 1]
    bytes: int
    grants: int
    waits: int
    mean_wait_cycles: float      # mean queueing time of the grants that had to wait
    max_queue: int
    policy: str = "fifo"         # arbitration policy
    mean_wait_all_cycles: float = 0.0   # mean queueing time over all grants (0 waits included)
    p50_wait_cycles: int = 0     # waiting-time distribution over all grants (nearest rank)
    p95_wait_cycles: int = 0
    max_wait_cycles: int = 0
    mean_queue: float = 0.0      # time-average number of waiting requests


@dataclass
class SimulationResult:
    platform: str
    trace: str
    reference_clock: Clock
    layers: list
    makespan_ps: int
    resources: list
    energy_by_component_pj: dict
    totals: dict
    mapping: dict
    perf: dict = field(default_factory=dict)   # wall-clock figures: not part of the report

    @property
    def cycles(self) -> int:
        return self.reference_clock.ps_to_cycles(self.makespan_ps)

    @property
    def latency_s(self) -> float:
        return ps_to_s(self.makespan_ps)

    @property
    def energy_pj(self) -> float:
        return sum(self.energy_by_component_pj.values())

    def layer(self, name: str) -> LayerRecord:
        return next(r for r in self.layers if r.name == name)

    def to_dict(self) -> dict:
        """The deterministic report (no wall-clock figures)."""
        return {"platform": self.platform, "trace": self.trace,
                "reference_clock": {"name": self.reference_clock.name,
                                    "freq_hz": self.reference_clock.freq_hz},
                "summary": self.summary_dict(),
                "layers": [asdict(r) for r in self.layers],
                "resources": [asdict(r) for r in self.resources],
                "energy_by_component_pj": self.energy_by_component_pj,
                "mapping": self.mapping}

    def to_json(self, path=None) -> str:
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"
        if path:
            with open(path, "w") as f:
                f.write(text)
        return text

    def summary_dict(self) -> dict:
        t = self.latency_s
        macs = sum(r.macs for r in self.layers)
        cyc = {c: sum(getattr(r, f"{c}_cycles") for r in self.layers) for c in CATEGORIES}
        e = self.energy_pj
        d = {"latency_cycles": self.cycles, "latency_s": t,
             "inferences_per_s": 1 / t if t else 0.0, "macs": macs,
             "macs_per_cycle": macs / self.cycles if self.cycles else 0.0,
             "energy_pj": e, "energy_uj": e / 1e6,
             "achieved_tops": 2 * macs / t / TERA if t else 0.0,
             "achieved_tops_per_w": (2 * macs / (e * J_PER_PJ)) / TERA if e else 0.0,
             "cycles_by_category": cyc}
        d.update(self.totals)
        return d

    def summary(self) -> str:
        """Human-readable summary."""
        d = self.summary_dict()
        ref = self.reference_clock
        tot = max(1, sum(d["cycles_by_category"].values()))
        split = ", ".join(f"{c} {100 * v / tot:.1f}%" for c, v in d["cycles_by_category"].items() if v)
        lines = [
            f"platform {self.platform}  trace {self.trace}  ({len(self.layers)} layers)",
            f"latency      {d['latency_cycles']:,} cycles @ {ref.freq_hz / 1e6:g} MHz ({ref.name}) "
            f"= {d['latency_s'] * 1e3:.4f} ms  -> {d['inferences_per_s']:.2f} inferences/s",
            f"work         {d['macs']:,} MACs  -> {d['macs_per_cycle']:.2f} MAC/cycle, "
            f"{d['achieved_tops'] * 1e3:.3f} GOPS",
            f"energy       {d['energy_uj']:.3f} uJ/inference  -> {d['achieved_tops_per_w']:.3f} TOPS/W",
            f"time split   {split}",
            f"DRAM/L3      {d.get('l3_bytes', 0):,} bytes moved",
            _wrap("utilisation", [f"{r.name} {100 * r.utilisation:.1f}%" for r in
                                  sorted(self.resources, key=lambda r: -r.utilisation)[:8]]),
        ]
        if d.get("fidelity"):
            lines.append("fidelity     ON: " + ", ".join(sorted(d["fidelity"])) + " (a paper's "
                         "simplification, hwsim/hardware/fidelity.py; not the hardware's behaviour)")
        if d.get("peak_tops_per_w"):
            lines.append(f"peak         {d['peak_tops']:.3f} TOPS, {d['peak_tops_per_w']:.2f} TOPS/W "
                         f"(best engine); achieved {100 * d['tops_fraction_of_peak']:.1f}% of peak TOPS")
            gap = d["energy_gap_pj"]
            lines.append(_wrap("energy gap", [f"{k} {100 * v / d['energy_pj']:.1f}%"
                                              for k, v in gap.items() if v and d["energy_pj"]]))
        if d.get("steady_state_inferences_per_s"):
            lines.append(_wrap("pipeline", [
                f"steady state {d['steady_state_inferences_per_s']:.2f} inferences/s "
                f"(bottleneck {d['pipeline_bottleneck']}); stage utilisation"] + [
                f"{k} {100 * v:.0f}%" for k, v in sorted(
                    d["stage_utilisation"].items(), key=lambda kv: -kv[1])[:4]], first_sep=" "))
        if self.mapping.get("aimc_programmed", "n/a") != "n/a":
            m = self.mapping
            lines.append(f"AIMC         weights programmed {m['aimc_programmed']} ({m['crossbars_needed']}"
                         f" of {m['crossbars_available']} crossbars)")
            if m.get("crossbars_lower_bound") is not None:
                lb = m["crossbars_lower_bound"]
                by = "/".join(k for k, v in m["crossbar_bounds"].items() if v == lb)
                lines.append(f"             packing {m['crossbar_allocation']}: crossbars used {m['crossbars_used']}, "
                             f"lower bound {lb} ({by}), efficiency "
                             f"{100 * m['crossbar_packing_efficiency']:.0f}%")
        if self.mapping.get("l1_kept_bytes"):
            lines.append(f"L1 reuse     {self.mapping['l1_kept_bytes']:,} B kept in L1 instead of "
                         f"L2/L3 ({self.mapping['l1_resident_tensors']} tensors whole, "
                         f"{self.mapping['fused_pairs']} fused pairs by row windows)")
        if self.mapping.get("replicated_layers"):
            est = self.mapping["estimated_period_us"]
            lines.append(_wrap("replication", [
                f"{self.mapping['replicated_layers']} of {self.mapping['stages']} stages split "
                f"over {sum(self.mapping['replicas'].values())} engines, on "
                f"{self.mapping['clusters_used']} clusters; modelled slowest stage "
                f"{est['unreplicated']:.1f} -> {est['replicated']:.1f} us"]))
        return "\n".join(lines)

    def time_by_cause(self) -> dict:
        """Where the layers' time went, by cause and resource: ``{"compute cluster": ps,
        "stall l3": ps, "contention l2.port": ps, "programming ima": ps, "idle": ps}`` summed
        over layers (memory stall and contention split by the resource charged, compute and
        programming by engine), largest first."""
        out: dict = {}

        def add(k, v):
            if v > 0:
                out[k] = out.get(k, 0) + v

        for r in self.layers:
            span = r.end_ps - r.start_ps
            for cat, cyc in (("compute", r.compute_cycles), ("programming", r.programming_cycles),
                             ("idle", r.idle_cycles)):
                if r.cycles:
                    add(f"{cat} {r.engine}" if cat != "idle" else "idle", span * cyc // r.cycles)
            for k, v in r.stall_ps.items():
                add(f"stall {k}", v)
            for k, v in r.waits_ps.items():
                add(f"contention {k}", v)
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def layers_table(self, wide: bool = False, width: int = 100) -> str:
        """Per-layer table. By default the columns that answer "where did the time go" and
        fit ``width`` characters (the bottleneck label is cut to fit, marked ``~``); ``wide``
        adds the programming and idle cycles, bytes per level, the L1 tiles, the activation
        bytes kept in L1 instead of L2/L3 (:mod:`hwsim.mapping.fusion`) and the resource
        the layer waited on most (stall + contention), with nothing cut."""
        name_w = max([5] + [len(r.name) for r in self.layers])
        if not wide:
            name_w = min(name_w, 18)
        pct = (lambda attr: lambda r: f"{100 * getattr(r, attr) / r.cycles:.0f}" if r.cycles else "0")
        cols = [("layer", "<", lambda r: r.name[:name_w]), ("op", "<", lambda r: r.op[:9]),
                ("engine", "<", lambda r: r.engine_kind[:8]), ("cycles", ">", lambda r: f"{r.cycles:,}")]
        if wide:
            cols.append(("time ms", ">", lambda r: f"{r.time_s * 1e3:.4f}"))
        cols += [("comp%", ">", pct("compute_cycles")), ("stall%", ">", pct("memory_stall_cycles")),
                 ("cont%", ">", pct("contention_cycles"))]
        if wide:
            cols += [("prog%", ">", pct("programming_cycles")), ("idle%", ">", pct("idle_cycles")),
                     ("tiles", ">", lambda r: str(r.n_tiles)),
                     ("L2 bytes", ">", lambda r: f"{r.bytes_by_level.get('L2', 0):,}"),
                     ("L3 bytes", ">", lambda r: f"{r.bytes_by_level.get('L3', 0):,}"),
                     ("L1 kept", ">", lambda r: f"{r.l1_kept_bytes:,}")]
        cols.append(("energy uJ", ">", lambda r: f"{r.energy_total_pj / 1e6:.3f}"))
        if wide:
            cols.append(("waited most on (cycles)", "<",
                         lambda r: f"{r.top_wait} ({r.top_wait_cycles:,})" if r.top_wait else "-"))
        cols.append(("bottleneck", "<", bottleneck_label))
        return _table(cols, self.layers, width=None if wide else width)

    def resources_table(self, wide: bool = False, width: int = 100) -> str:
        """Per-resource table: utilisation, bytes, waiting-time distribution (mean over all
        grants, p95, max, in cycles of the resource's clock) and queue depth; ``wide`` adds
        the kind, arbitration policy, grants and waits."""
        cols = [("resource", "<", lambda r: r.name)]
        if wide:
            cols += [("kind", "<", lambda r: r.kind), ("policy", "<", lambda r: r.policy)]
        cols += [("util %", ">", lambda r: f"{100 * r.utilisation:.1f}"),
                 ("bytes", ">", lambda r: f"{r.bytes:,}")]
        if wide:
            cols += [("grants", ">", lambda r: f"{r.grants:,}"), ("waits", ">", lambda r: f"{r.waits:,}")]
        cols += [("mean wait cyc", ">", lambda r: f"{r.mean_wait_all_cycles:.1f}"),
                 ("p95 wait cyc", ">", lambda r: f"{r.p95_wait_cycles:,}"),
                 ("max wait cyc", ">", lambda r: f"{r.max_wait_cycles:,}"),
                 ("mean q", ">", lambda r: f"{r.mean_queue:.3f}"), ("max q", ">", lambda r: str(r.max_queue))]
        return (_table(cols, self.resources, width=None if wide else width)
                + "\n(waits in cycles of each resource's clock, mean over all grants; "
                  "mean q = time-average queue depth)")


def _wrap(label: str, items: list, width: int = 100, first_sep: str = ", ") -> str:
    """``label`` then ``items`` joined by commas, continued on indented lines so that no
    line is longer than ``width`` (a summary line of the 100-column output)."""
    pad = " " * 13
    lines, cur = [], f"{label:<12} "
    for i, item in enumerate(items):
        sep = "" if i == 0 else (first_sep if i == 1 else ", ")
        if i and len(cur) + len(sep) + len(item) > width:
            lines.append(cur + sep.rstrip())
            cur, sep = pad, ""
        cur += sep + item
    return "\n".join(lines + [cur])


def _table(cols: list, records: list, width: int | None) -> str:
    """A text table of ``records``: ``cols`` are (header, alignment "<"/">", cell function).
    Columns are as wide as their widest cell; with ``width``, lines longer than it are cut
    and end in ``~`` (only the last column should ever need it)."""
    rows = [[f(r) for *_, f in cols] for r in records]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, (h, _, _) in enumerate(cols)]
    lines = []
    for cells in [[h for h, *_ in cols]] + rows:
        line = "  ".join(f"{c:{a}{w}}" for c, (_, a, _), w in zip(cells, cols, widths)).rstrip()
        if width and len(line) > width:
            line = line[:width - 1] + "~"
        lines.append(line)
    lines.insert(1, "-" * max(map(len, lines)))
    return "\n".join(lines)
