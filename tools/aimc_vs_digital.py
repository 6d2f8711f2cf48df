#!/usr/bin/env python3
"""Regenerate the numbers of ``docs/aimc_vs_digital.md`` so they cannot go stale.

    python tools/aimc_vs_digital.py            # print what changed (unified diff), write nothing
    python tools/aimc_vs_digital.py --write    # rewrite the generated blocks (and, with
                                               # matplotlib, docs/img/compare_<network>.png)
    python tools/aimc_vs_digital.py --check    # exit 1 if the document is stale
    python tools/aimc_vs_digital.py --fast ... # only FAST_TRACES (what the default tests check)

The comparisons (:data:`COMPARISONS`: networks x platform variants) run in-process through
``hwsim compare``'s own code (:func:`hwsim.explore.compare.compare_runs`); the document's
command block, every table and every number of its findings are written from that run, between
``<!-- aimc_vs_digital.py: NAME begin -->`` / ``end`` markers. The prose outside the markers
states no numbers; its directional statements (``X is faster than Y on every network``) are
:data:`CLAIMS`, each checked against the run: a claim that no longer holds fails ``--check``
and ``--write`` until the prose is rewritten.
"""
from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hwsim.explore.compare import (_engines_cell, compare_runs, format_table,  # noqa: E402
                                   parse_platform_arg)

__all__ = ["COMPARISONS", "CLAIMS", "FAST_TRACES", "commands", "run", "render", "update",
           "stale", "failed_claims", "unquoted_claims"]

DOC = ROOT / "docs" / "aimc_vs_digital.md"
IMG = ROOT / "docs" / "img"
MARK = "<!-- aimc_vs_digital.py: {} {} -->"

# platform variants (a YAML file, optionally ``:path=value,...`` overrides, as ``hwsim compare``)
CORES8 = "platforms/pulp_cluster.yaml"
IMC_OFF = "platforms/pulp_imc_cluster.yaml:mapping.accelerators=off"
IMC = "platforms/pulp_imc_cluster.yaml"
IMC_PIPE = "platforms/pulp_imc_cluster.yaml:mapping.pipeline=on"
IMC_XBAR = "platforms/pulp_imc_cluster.yaml:mapping.dense=crossbar"
MULTI = "platforms/pulp_imc_cluster_multi.yaml"
DIANA = "platforms/diana_soc.yaml"
MESH16 = "platforms/mesh_imc.yaml:generate.mesh.width=4,generate.mesh.height=4"
MESH = "platforms/mesh_imc.yaml"
MESH_REP = "platforms/mesh_imc.yaml:mapping.replicate=balance"
BRUSCHI = "platforms/bruschi2022_mesh.yaml"
DW18 = "platforms/pulp_imc_cluster.yaml:components.dw_acc.kernels.depthwise=18"
IMC_REPROG = "platforms/pulp_imc_cluster.yaml:mapping.overflow=reprogram"

BOTTLENECK = "mobilenetv2_bottleneck"


@dataclass(frozen=True)
class Comparison:
    name: str            # the block its tables go to
    traces: tuple        # trace files, relative to the repository
    platforms: tuple     # platform variants
    plot: bool = False   # draw docs/img/compare_<network>.png on --write


COMPARISONS = (
    Comparison("networks", ("traces/mobilenetv2_bottleneck.json", "traces/mobilenetv2.json",
                            "traces/resnet8.json", "traces/ds_cnn.json",
                            "traces/mobilenet_v1_025.json"),
               (CORES8, IMC_OFF, IMC, IMC_PIPE, IMC_XBAR, MULTI, DIANA, MESH16, MESH), plot=True),
    # what-if (an override, not a platform change): a faster depthwise accelerator
    Comparison("whatif", ("traces/mobilenetv2_bottleneck.json",), (DW18,)),
    Comparison("scaleout", ("traces/resnet18.json",), (MULTI, MESH, MESH_REP, BRUSCHI)),
    # weights beyond the one crossbar: on the cores (as committed) or reprogrammed each inference
    Comparison("reprogram", ("traces/mobilenet_v1_025.json", "traces/mobilenetv2.json"),
               (IMC, IMC_REPROG)),
)
# the networks the default test run checks (seconds); the slow test checks everything
FAST_TRACES = ("mobilenetv2_bottleneck", "ds_cnn")


def commands() -> str:
    """The document's command block: one ``hwsim compare`` per comparison."""
    out = []
    for c in COMPARISONS:
        lines = ["hwsim compare"] + list(c.traces) + [f"-p {p}" for p in c.platforms]
        lines += ["--markdown"] + (["--plot docs/img/compare.png"] if c.plot else [])
        out.append(" \\\n    ".join(lines))
    return "```\n" + "\n\n".join(out) + "\n```"


# ------------------------------------------------------------------------------------------
class Runs:
    """Rows and results of the comparisons, keyed by (network name, platform variant string):
    ``row`` (:func:`hwsim.explore.compare.run_compare`'s), ``summary`` and ``mapping`` (of the
    run's :class:`hwsim.api.Result`), ``results`` (the results themselves)."""

    def __init__(self, only=None):
        self.rows, self.results, self.by_comparison = {}, {}, {}
        for c in COMPARISONS:
            for tr in c.traces:
                name = Path(tr).stem
                if only is not None and name not in only:
                    continue
                args = [str(ROOT / p) for p in c.platforms]
                got = list(compare_runs(str(ROOT / tr), args))
                self.by_comparison.setdefault(c.name, []).append((name, [r for r, _ in got]))
                for variant, (row, res) in zip(c.platforms, got):
                    self.rows[name, variant], self.results[name, variant] = row, res

    def networks(self, comparison: str) -> list:
        return [n for n, _ in self.by_comparison.get(comparison, [])]

    def row(self, net, variant) -> dict:
        row = self.rows[net, variant]
        if "error" in row:      # a finding needs this run: say which and why
            raise SystemExit(f"{_label(variant)} cannot run {net}: {row['error']}")
        return row

    def ok(self, net, variant) -> bool:
        return (net, variant) in self.rows and "error" not in self.rows[net, variant]

    def summary(self, net, variant) -> dict:
        return self.results[net, variant].summary_dict()

    def mapping(self, net, variant) -> dict:
        return self.results[net, variant].mapping


def run(fast: bool = False) -> Runs:
    return Runs(FAST_TRACES if fast else None)


# ------------------------------------------------------------------------------------------
def _x(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _label(variant: str) -> str:
    return parse_platform_arg(variant)[2]


def _bound(r: Runs, net, variant) -> str:
    """What bounds the run's steady state (the busiest resource)."""
    return r.summary(net, variant)["pipeline_bottleneck"]


def _table(head: list, rows: list) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _split(row: dict, *keys) -> float:
    src = row["time_split"] if keys[0] in row["time_split"] else row["energy_split"]
    return sum(src[k] for k in keys)


def block_networks(r: Runs) -> str:
    parts = []
    for net, rows in r.by_comparison.get("networks", []):
        parts.append(f"### {net}\n\n{format_table(rows, markdown=True)}")
    return "\n\n".join(parts)


def block_bottleneck(r: Runs) -> str:
    net = BOTTLENECK
    if not r.ok(net, IMC):
        return ""
    imc, off, c8 = r.row(net, IMC), r.row(net, IMC_OFF), r.row(net, CORES8)

    def vs(a, b):   # speed-up and energy ratio of a over b, with the figures
        t, e = _x(b["latency_ms"], a["latency_ms"]), _x(b["energy_uj"], a["energy_uj"])
        return [f"{b['latency_ms']:.4f} / {a['latency_ms']:.4f} ms = **{t}**",
                f"{b['energy_uj']:.3f} / {a['energy_uj']:.3f} uJ = **{e}**"]

    rows = [["`pulp_imc_cluster`", "the same cluster on its 8 cores (`mapping.accelerators=off`, "
             "the paper's comparison)"] + vs(imc, off),
            ["`pulp_imc_cluster`", "`pulp_cluster` (GAP8-class)"] + vs(imc, c8)]
    if r.ok(net, DW18):
        rows.append([f"what-if `{_label(DW18)}`", "the 8 cores"] + vs(r.row(net, DW18), off))
    out = [_table(["run", "vs", "speed-up", "energy ratio"], rows), ""]

    lay_imc = {l.name: l for l in r.results[net, IMC].layers}
    lay_off = {l.name: l for l in r.results[net, IMC_OFF].layers}
    us = lambda l: (l.end_ps - l.start_ps) / 1e6   # noqa: E731  (the layer's span, us)
    out.append(_table(
        ["layer", "AIMC cluster: engine", "span us (start-end)", "busy us", "8 cores: span us"],
        [[f"`{n}`", f"`{l.engine}`", f"{us(l):.1f} ({l.start_ps / 1e6:.1f}-{l.end_ps / 1e6:.1f})",
          f"{(l.cycles - l.idle_cycles) / l.cycles * us(l):.1f}", f"{us(lay_off[n]):.1f}"]
         for n, l in lay_imc.items()]))
    d = r.summary(net, IMC)
    lat_us, off_us = imc["latency_ms"] * 1e3, off["latency_ms"] * 1e3
    dw = max((l for l in lay_imc.values() if l.engine_kind == "dw_accelerator"),
             key=lambda l: l.cycles - l.idle_cycles, default=None)
    m = r.mapping(net, IMC)
    out += ["", f"* Layers overlap (row-window fusion: {m.get('fused_pairs', 0)} fused producer/"
                f"consumer pairs); the steady-state bottleneck is `{d['pipeline_bottleneck']}`."]
    if dw is not None:
        busy = (dw.cycles - dw.idle_cycles) / dw.cycles * us(dw)
        out.append(f"* The depthwise layer keeps `{dw.engine}` busy {busy:.1f} us of the "
                   f"{lat_us:.1f} us latency; the 8 cores alone take {off_us:.1f} us, so with "
                   f"this depthwise engine no crossbar could give more than {off_us / busy:.1f}x.")
    if r.ok(net, DW18):
        out.append(f"* What-if `{DW18.partition(':')[2]}`: the bottleneck moves to "
                   f"`{r.summary(net, DW18)['pipeline_bottleneck']}`, the one crossbar that "
                   f"expand and project share.")
    out.append(f"* Crossbar cells used: {_pct(m['crossbar_cell_utilisation'])} "
               f"({m['crossbars_used']} of {m['crossbars_available']} crossbar); energy: "
               + ", ".join(f"{k.replace('_', ' ')} {_pct(imc['energy_split'][k])}"
                           for k in ("ideal_at_peak", "compute_excess", "data_movement", "leakage"))
               + f"; achieved {imc['achieved_tops_per_w']:.2f} TOPS/W of the "
               f"{imc['peak_tops_per_w']:.0f} TOPS/W peak.")
    return "\n".join(out)


def block_findings(r: Runs) -> str:
    nets = r.networks("networks")
    single = []
    for n in nets:
        imc, off = r.row(n, IMC), r.row(n, IMC_OFF)
        m = r.mapping(n, IMC)
        single.append([
            n, _x(off["latency_ms"], imc["latency_ms"]), _x(off["energy_uj"], imc["energy_uj"]),
            f"{off['achieved_tops_per_w']:.2f} -> {imc['achieved_tops_per_w']:.2f}",
            _engines_cell(imc["engines"]), _pct(m["crossbar_cell_utilisation"] or 0),
            _pct(_split(imc, "memory_stall", "contention")), _pct(_split(imc, "data_movement")),
            _x(r.row(n, IMC_PIPE)["latency_ms"], imc["latency_ms"]),
            _x(r.row(n, IMC_XBAR)["latency_ms"], imc["latency_ms"])])
    others = []
    for n in nets:
        off, mu, di = r.row(n, IMC_OFF), r.row(n, MULTI), r.row(n, DIANA)
        mm = r.mapping(n, MULTI)
        mesh = ["-"] * 4
        if r.ok(n, MESH):
            me = r.row(n, MESH)
            mesh = [f"{me['latency_ms']:.3f}", f"{me['steady_inferences_per_s']:,.0f}",
                    f"`{_bound(r, n, MESH)}`", _pct(_split(me, "leakage"))]
        others.append([
            n, _x(off["latency_ms"], mu["latency_ms"]) + " / "
            + _x(off["energy_uj"], mu["energy_uj"]),
            f"{mm['crossbars_used']} of {mm['crossbars_available']}", _engines_cell(di["engines"]),
            f"{di['achieved_tops_per_w']:.2f} of {di['peak_tops_per_w']:.0f}"] + mesh)
    return "\n".join([
        "The heterogeneous cluster (`pulp_imc_cluster`) against its own 8 cores "
        "(`mapping.accelerators=off`), and two variants of its mapping (latency relative to "
        "the platform as committed):", "",
        _table(["network", "speed-up", "energy ratio", "TOPS/W cores -> AIMC", "layers c/a/dw",
                "crossbar cells used", "time: stall + contention", "energy: data movement",
                "`pipeline=on` latency", "`dense=crossbar` latency"], single), "",
        "128 IMAs (`pulp_imc_cluster_multi`, speed-up / energy ratio vs the 8 cores), the "
        "DIANA-like SoC and the 512-cluster mesh (`mesh_imc`):", "",
        _table(["network", "128 IMAs vs cores", "128 IMAs: crossbars used", "DIANA layers c/a/dw",
                "DIANA TOPS/W of peak", "mesh latency ms", "mesh inf/s (pipe)", "mesh bound by",
                "mesh energy: leakage"], others)])


def block_scaleout(r: Runs) -> str:
    parts = []
    for net, rows in r.by_comparison.get("scaleout", []):
        parts.append(f"### {net}\n\n{format_table(rows, markdown=True)}\n")
        for v in next(c for c in COMPARISONS if c.name == "scaleout").platforms:
            if not r.ok(net, v):
                continue
            row, d, m = r.row(net, v), r.summary(net, v), r.mapping(net, v)
            tops = d["steady_state_inferences_per_s"] * 2 * d["macs"] / 1e12
            rep = (f", {m['replicated_layers']} of {m['stages']} layers replicated"
                   if m.get("replicated_layers") else "")
            parts.append(
                f"* `{_label(v)}`: {row['latency_ms']:.2f} ms ({row['achieved_tops']:.2f} TOPS), "
                f"steady state {row['steady_inferences_per_s']:,.0f} inf/s ({tops:.2f} TOPS), "
                f"bound by `{d['pipeline_bottleneck']}`; {m['crossbars_used']} of "
                f"{m['crossbars_available']} crossbars on {m.get('clusters_used', 1)} "
                f"cluster{'s' if m.get('clusters_used', 1) > 1 else ''}{rep}; "
                f"leakage {_pct(_split(row, 'leakage'))} of the energy.")
    return "\n".join(parts)


def block_reprogram(r: Runs) -> str:
    """Weights that do not fit the crossbar: kept on the cores vs reprogrammed each inference."""
    rows = []
    for net in r.networks("reprogram"):
        once, rep = r.row(net, IMC), r.row(net, IMC_REPROG)
        rows.append([net, _engines_cell(once["engines"]), _engines_cell(rep["engines"]),
                     f"{once['latency_ms']:.3f} -> {rep['latency_ms']:.3f}",
                     f"{once['energy_uj']:.2f} -> {rep['energy_uj']:.2f}",
                     _pct(rep["time_split"]["programming"]),
                     _pct(rep["energy_split"]["programming"]), _pct(rep["energy_split"]["leakage"])])
    if not rows:
        return ""
    return _table(["network", "layers c/a/dw, overflow on cores", "layers c/a/dw, reprogrammed",
                   "latency ms", "energy uJ", "reprogrammed: time programming",
                   "energy programming", "energy leakage"], rows)


def _size(n: int) -> str:
    """Bytes in the unit the platform file uses: decimal where exact (512 kB), else binary."""
    for unit, k in (("GB", 10 ** 9), ("MB", 10 ** 6), ("kB", 10 ** 3),
                    ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= k and n % k == 0:
            return f"{n // k} {unit}"
    return f"{n} B"


def block_platforms(r: Runs) -> str:
    """The platform files' own description and key parameters (variants are overrides)."""
    from collections import Counter

    from hwsim import load_platform
    from hwsim.report.efficiency import platform_peaks

    files = dict.fromkeys(parse_platform_arg(v)[0] for c in COMPARISONS for v in c.platforms)
    rows = []
    for f in files:
        p = load_platform(ROOT / f)
        eng = Counter()
        for c in p.engines():
            n = getattr(c, "cores", 0)
            shape = (f" {c.rows}x{c.cols}" if c.TYPE == "aimc_tile" else
                     f" ({n} core{'s' if n > 1 else ''})" if c.TYPE == "core_cluster" else "")
            eng[f"`{c.TYPE}`{shape} at {c.clock.freq_hz / 1e6:g} MHz"] += 1
        mem = Counter(f"{m.level} {_size(m.size_bytes)}" for lv in ("L1", "L2", "L3")
                      for m in p.memories(lv))
        pk = platform_peaks(p)
        rows.append([f"`{Path(f).stem}`", p.source,
                     ", ".join(f"{n} x {k}" for k, n in eng.items()),
                     ", ".join(f"{n} x {k}" if n > 1 else k for k, n in mem.items()),
                     f"{pk['peak_tops']:.3g} / {pk['peak_tops_per_w']:.3g}"])
    return _table(["platform", "source (the file's `source:`)", "engines", "memories",
                   "peak TOPS / TOPS/W"], rows)


BLOCKS = {"command": lambda r: commands(), "platforms": block_platforms, "networks": block_networks,
          "bottleneck": block_bottleneck, "findings": block_findings, "scaleout": block_scaleout,
          "reprogram": block_reprogram}


def render(r: Runs) -> dict:
    """Block name -> its generated text (blocks whose networks were not run are left out)."""
    out = {}
    for name, fn in BLOCKS.items():
        text = fn(r)
        if text:
            out[name] = text
    return out


# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    quote: str                       # the statement, as the prose says it
    holds: Callable[[Runs], bool]


def _all(r: Runs, comparison: str, pred) -> bool:
    return all(pred(n) for n in r.networks(comparison))


def _layer_engines(r: Runs, net, variant) -> dict:
    return {l.name: l.engine_kind for l in r.results[net, variant].layers}


def _biggest(row: dict) -> str:
    return max(row["energy_split"], key=row["energy_split"].get)


def _pipe_gain(r: Runs) -> list:
    """Latency with ``pipeline=on`` over the platform as committed, per network."""
    return [r.row(n, IMC_PIPE)["latency_ms"] / r.row(n, IMC)["latency_ms"]
            for n in r.networks(_NETS)]


_NETS, _BIG = "networks", "mobilenetv2"
CLAIMS = (
    # the bottleneck section
    Claim("Expand and project share the single crossbar", lambda r: not r.ok(BOTTLENECK, IMC)
          or (_layer_engines(r, BOTTLENECK, IMC) == {
              "block.expand": "aimc", "block.dw": "dw_accelerator", "block.project": "aimc",
              "block.add": "cores"} and r.mapping(BOTTLENECK, IMC)["crossbars_used"] == 1)),
    Claim("the mapper fuses each producer with its reader row by row",
          lambda r: not r.ok(BOTTLENECK, IMC) or r.mapping(BOTTLENECK, IMC)["fused_pairs"] == 3),
    Claim("the depthwise accelerator bounds the bottleneck block",
          lambda r: not r.ok(BOTTLENECK, IMC) or _bound(r, BOTTLENECK, IMC) == "dw_acc"),
    Claim("the single IMA that holds both pointwise layers is the next bound",
          lambda r: not r.ok(BOTTLENECK, DW18) or _bound(r, BOTTLENECK, DW18) == "ima"),
    Claim('"compute above ideal" is most of the energy', lambda r: not r.ok(BOTTLENECK, IMC)
          or r.row(BOTTLENECK, IMC)["energy_split"]["compute_excess"] > 0.5),
    # findings across networks
    Claim("On every network the heterogeneous cluster is faster and uses less energy than its "
          "own 8 cores", lambda r: _all(r, _NETS, lambda n: (
              r.row(n, IMC)["latency_ms"] < r.row(n, IMC_OFF)["latency_ms"]
              and r.row(n, IMC)["energy_uj"] < r.row(n, IMC_OFF)["energy_uj"]))),
    Claim("achieved TOPS/W stays below a tenth of the IMA's peak",
          lambda r: _all(r, _NETS, lambda n: r.row(n, IMC)["achieved_tops_per_w"]
                         < 0.1 * r.row(n, IMC)["peak_tops_per_w"])),
    Claim("on MobileNetV2, whose activations and weights spill to L2 and HyperRAM, data movement",
          lambda r: _BIG not in r.networks(_NETS) or (
              _biggest(r.row(_BIG, IMC)) == "data_movement"
              and r.summary(_BIG, IMC)["weights_in_l3_bytes"] > 0)),
    Claim("Forcing every fitting dense layer onto the crossbar is nowhere faster",
          lambda r: _all(r, _NETS, lambda n: r.row(n, IMC_XBAR)["latency_ms"]
                         >= r.row(n, IMC)["latency_ms"])),
    Claim("With one IMA, MobileNetV2 keeps only the dense layers with the most MACs per crossbar "
          "block stationary", lambda r: _BIG not in r.networks(_NETS) or (
              r.row(_BIG, IMC)["aimc_programmed"] == "once"
              and r.row(_BIG, IMC)["engines"]["aimc"] < r.row(_BIG, MULTI)["engines"]["aimc"])),
    Claim("With 128 arrays every network's crossbar layers are programmed once",
          lambda r: _all(r, _NETS, lambda n: r.row(n, MULTI)["aimc_programmed"] in ("once", "n/a")
                         and r.mapping(n, MULTI)["crossbars_available"] == 128)),
    Claim("MobileNetV2 then runs many times faster than on the cores, but by less in energy",
          lambda r: _BIG not in r.networks(_NETS) or (
              5 < r.row(_BIG, IMC_OFF)["latency_ms"] / r.row(_BIG, MULTI)["latency_ms"]
              and r.row(_BIG, IMC_OFF)["energy_uj"] / r.row(_BIG, MULTI)["energy_uj"]
              < r.row(_BIG, IMC_OFF)["latency_ms"] / r.row(_BIG, MULTI)["latency_ms"])),
    Claim("it helps on some networks and not on others", lambda r: len(r.networks(_NETS)) < 3 or (
        min(_pipe_gain(r)) < 1 < max(_pipe_gain(r)))),
    Claim("runs most layers of these int8 networks on its digital array",
          lambda r: _all(r, _NETS, lambda n: r.row(n, DIANA)["engines"].get("cores", 0)
                         > r.row(n, DIANA)["engines"].get("aimc", 0))),
    Claim("its achieved TOPS/W is far below its AiMC's peak",
          lambda r: _all(r, _NETS, lambda n: r.row(n, DIANA)["achieved_tops_per_w"] < 0.1 * max(
              r.row(m, DIANA)["peak_tops_per_w"] for m in r.networks(_NETS)))),
    Claim("leakage is most of the 512-cluster mesh's energy on every network",
          lambda r: _all(r, _NETS, lambda n: _split(r.row(n, MESH), "leakage") > 0.5
                         and r.mapping(n, MESH)["crossbars_available"] == 512)),
    # scale-out
    Claim("the first convolution's IMA", lambda r: _all(r, "scaleout", lambda n: _bound(r, n, MESH)
          == r.results[n, MESH].layers[0].engine and r.results[n, MESH].layers[0].op == "conv2d")),
    Claim("layers over free clusters raises the mesh's steady-state throughput",
          lambda r: _all(r, "scaleout", lambda n: r.row(n, MESH_REP)["steady_inferences_per_s"]
                         > r.row(n, MESH)["steady_inferences_per_s"])),
    Claim("the bound moves from an IMA to the shared L2", lambda r: _all(r, "scaleout", lambda n: (
        _bound(r, n, MESH).startswith("ima") and "l2" in _bound(r, n, MESH_REP)
        and "l2" in _bound(r, n, BRUSCHI)))),
    # reprogramming
    Claim("is slower and costs more energy on both networks",
          lambda r: _all(r, "reprogram", lambda n: r.row(n, IMC_REPROG)["latency_ms"]
                         > r.row(n, IMC)["latency_ms"]
                         and r.row(n, IMC_REPROG)["energy_uj"] > r.row(n, IMC)["energy_uj"])),
    Claim("on MobileNetV1-0.25 programming takes most of the time", lambda r: not r.ok(
        "mobilenet_v1_025", IMC_REPROG) or r.row("mobilenet_v1_025", IMC_REPROG)["time_split"][
            "programming"] > 0.5),
    Claim("the cluster's leakage over that time costs more than the PCM writes", lambda r: not r.ok(
        "mobilenet_v1_025", IMC_REPROG) or r.row("mobilenet_v1_025", IMC_REPROG)["energy_split"][
            "leakage"] > r.row("mobilenet_v1_025", IMC_REPROG)["energy_split"]["programming"]),
)


def failed_claims(r: Runs) -> list:
    return [c.quote for c in CLAIMS if not c.holds(r)]


def unquoted_claims(doc: str) -> list:
    """Claims whose statement the prose no longer makes (rewritten: update the claim too)."""
    flat = " ".join(doc.split())
    return [c.quote for c in CLAIMS if c.quote not in flat]


# ------------------------------------------------------------------------------------------
def _span(doc: str, name: str) -> tuple:
    b, e = MARK.format(name, "begin"), MARK.format(name, "end")
    i, j = doc.find(b), doc.find(e)
    if i < 0 or j < i:
        raise SystemExit(f"{DOC.relative_to(ROOT)}: markers {b} / {e} not found")
    return i + len(b), j


def update(doc: str, blocks: dict) -> str:
    """``doc`` with each generated block replaced."""
    for name, text in blocks.items():
        i, j = _span(doc, name)
        doc = doc[:i] + "\n" + text + "\n" + doc[j:]
    return doc


def stale(doc: str, blocks: dict, partial: bool = False) -> list:
    """Names of the blocks that differ from the document. ``partial`` (a run of some networks
    only): a block is stale when one of its generated lines is missing from the document's."""
    out = []
    for name, text in blocks.items():
        i, j = _span(doc, name)
        have = doc[i:j].strip("\n")
        if (not set(text.splitlines()) <= set(have.splitlines())) if partial else have != text:
            out.append(name)
    return out


def _plots(r: Runs) -> None:
    from hwsim.base.errors import HwsimError
    from hwsim.explore.compare import plot

    for c in COMPARISONS:
        for net, rows in r.by_comparison.get(c.name, []) if c.plot else []:
            try:
                plot(rows, str(IMG / f"compare_{net}.png"))
            except HwsimError as e:     # matplotlib missing: an optional extra
                print(f"plots not redrawn: {e}", file=sys.stderr)
                return


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="rewrite the generated blocks")
    g.add_argument("--check", action="store_true", help="exit 1 if the document is stale")
    ap.add_argument("--fast", action="store_true", help=f"only {', '.join(FAST_TRACES)}")
    args = ap.parse_args(argv)
    r = run(args.fast)
    blocks, doc = render(r), DOC.read_text()
    bad = failed_claims(r)
    for q in bad:
        print(f"claim no longer holds, rewrite the prose: {q!r}", file=sys.stderr)
    for q in unquoted_claims(doc):
        print(f"claim not in the prose (update CLAIMS with it): {q!r}", file=sys.stderr)
        bad.append(q)
    if args.write:
        if args.fast:
            ap.error("--write needs every network (drop --fast)")
        DOC.write_text(update(doc, blocks))
        _plots(r)
        print(f"wrote {DOC.relative_to(ROOT)}")
        return 1 if bad else 0
    names = stale(doc, blocks, partial=args.fast)
    if args.check:
        if names:
            print(f"{DOC.relative_to(ROOT)} is stale in blocks {', '.join(names)}: "
                  "run python tools/aimc_vs_digital.py --write", file=sys.stderr)
        return 1 if names or bad else 0
    if not args.fast:
        sys.stdout.writelines(difflib.unified_diff(
            doc.splitlines(True), update(doc, blocks).splitlines(True),
            str(DOC.relative_to(ROOT)), "regenerated"))
    else:
        print("stale blocks:", ", ".join(names) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
