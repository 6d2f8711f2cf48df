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

from ..base.units import Clock, ps_to_s

CATEGORIES = ("compute", "memory_stall", "contention", "programming", "idle")


def split_cycles(clock: Clock, parts_ps: list, total_ps: int) -> list:
    """Convert ps parts to cycles so that they sum to ``clock.ps_to_cycles(total_ps)``."""
    out, acc, prev = [], 0, 0
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
             "achieved_tops": 2 * macs / t / 1e12 if t else 0.0,
             "achieved_tops_per_w": (2 * macs / (e * 1e-12)) / 1e12 if e else 0.0,
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
            "utilisation  " + ", ".join(
                f"{r.name} {100 * r.utilisation:.1f}%" for r in
                sorted(self.resources, key=lambda r: -r.utilisation)[:8]),
        ]
        if d.get("fidelity"):
            lines.append("fidelity     ON: " + ", ".join(sorted(d["fidelity"])) + " (a paper's "
                         "simplification, hwsim/hardware/fidelity.py; not the hardware's behaviour)")
        if d.get("peak_tops_per_w"):
            lines.append(f"peak         {d['peak_tops']:.3f} TOPS, {d['peak_tops_per_w']:.2f} TOPS/W "
                         f"(best engine); achieved {100 * d['tops_fraction_of_peak']:.1f}% of peak TOPS")
            gap = d["energy_gap_pj"]
            lines.append("energy gap   " + ", ".join(
                f"{k} {100 * v / d['energy_pj']:.1f}%" for k, v in gap.items() if v and d["energy_pj"]))
        if d.get("steady_state_inferences_per_s"):
            lines.append(f"pipeline     steady state {d['steady_state_inferences_per_s']:.2f} inferences/s "
                         f"(bottleneck {d['pipeline_bottleneck']}); stage utilisation " + ", ".join(
                             f"{k} {100 * v:.0f}%" for k, v in sorted(
                                 d["stage_utilisation"].items(), key=lambda kv: -kv[1])[:4]))
        if self.mapping.get("aimc_programmed", "n/a") != "n/a":
            lines.append(f"AIMC         weights programmed {self.mapping['aimc_programmed']}"
                         f" ({self.mapping['crossbars_needed']} of "
                         f"{self.mapping['crossbars_available']} crossbars)")
        return "\n".join(lines)

    def layers_table(self) -> str:
        """Per-layer table: cycles and their split, bytes, energy, engine, bottleneck."""
        hdr = (f"{'layer':<22}{'op':<10}{'engine':<9}{'tiles':>6}{'cycles':>13}{'compute':>13}"
               f"{'stall':>12}{'content.':>12}{'prog.':>12}{'L2 B':>12}{'L3 B':>12}{'uJ':>10}"
               "  bottleneck")
        rows = [hdr, "-" * len(hdr)]
        for r in self.layers:
            rows.append(
                f"{r.name[:21]:<22}{r.op[:9]:<10}{r.engine_kind[:8]:<9}{r.n_tiles:>6}{r.cycles:>13,}"
                f"{r.compute_cycles:>13,}{r.memory_stall_cycles:>12,}{r.contention_cycles:>12,}"
                f"{r.programming_cycles:>12,}{r.bytes_by_level.get('L2', 0):>12,}"
                f"{r.bytes_by_level.get('L3', 0):>12,}{r.energy_total_pj / 1e6:>10.3f}  {r.bottleneck}"
                + (f" (waited most on {r.top_wait}: {r.top_wait_cycles:,} cyc)"
                   if r.top_wait and not r.bottleneck.endswith(r.top_wait) else
                   f" ({r.top_wait_cycles:,} cyc)" if r.top_wait else ""))
        return "\n".join(rows)

    def resources_table(self) -> str:
        """Per-resource table: utilisation, bytes, grants, waiting-time distribution (mean
        over all grants, p95, max, in cycles of the resource's clock) and queue depth."""
        hdr = (f"{'resource':<28}{'kind':<8}{'policy':<9}{'util %':>7}{'bytes':>14}{'grants':>9}"
               f"{'waits':>8}{'mean wait':>10}{'p95 wait':>9}{'max wait':>10}{'mean q':>8}"
               f"{'max q':>6}")
        rows = [hdr, "-" * len(hdr)]
        for r in self.resources:
            rows.append(f"{r.name[:27]:<28}{r.kind:<8}{r.policy[:8]:<9}{100 * r.utilisation:>7.1f}"
                        f"{r.bytes:>14,}{r.grants:>9,}{r.waits:>8,}{r.mean_wait_all_cycles:>10.1f}"
                        f"{r.p95_wait_cycles:>9,}{r.max_wait_cycles:>10,}{r.mean_queue:>8.3f}"
                        f"{r.max_queue:>6}")
        rows.append("(waits in cycles of each resource's clock; mean over all grants; "
                    "mean q = time-average queue depth)")
        return "\n".join(rows)
