"""What-if sensitivity: which resource is worth improving.

For a platform and a network, scale each resource in turn by ``factor`` (default 2x) and
simulate: every link's bandwidth, every memory's size and port bandwidth, every DMA engine's
``max_outstanding``, every core cluster's ``cores`` and, when the platform has AIMC tiles, the
number of tiles (each tile duplicated, with copies of its links). One simulation per variant
plus the baseline, all through :func:`hwsim.sweep.run_sweep`, so they run in parallel (process
pool or Dask) and can be streamed to a file and resumed.

The answer is causal, not inferred from utilisation: ``speedup = baseline latency / variant
latency`` (> 1: faster) and ``energy_change = variant energy / baseline energy - 1`` (< 0:
saves energy), sorted by speedup, then by energy saving, then by name.

Integer fields (sizes, ports, outstanding transfers, cores) are rounded to the nearest integer,
at least 1; a variant the platform rejects (e.g. a size over a limit) is reported with its error.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import HwsimError
from .platform import _LineLoader
from .sweep import run_sweep


@dataclass
class Variant:
    """One resource scaled: its label, the resource and field, and the platform overrides."""

    label: str
    resource: str
    field: str
    overrides: dict


def _scaled(value, factor: float, integral: bool):
    v = value * factor
    return max(1, int(round(v))) if integral else v


def variants(platform_path, factor: float = 2.0) -> list:
    """The resource variants of a platform file, in file order (links, then components)."""
    from .platform import load_platform

    if not factor > 0:
        raise HwsimError(f"whatif factor must be > 0, got {factor!r}")
    raw = yaml.load(Path(platform_path).read_text(), Loader=_LineLoader)
    platform = load_platform(platform_path)          # validated values (units parsed)
    comps = platform.components
    out = []
    x = f"x{factor:g}"
    for i, link in enumerate(platform.links):
        out.append(Variant(f"link {link.name} bandwidth {x}", link.name, "bandwidth_bytes_per_cycle",
                           {f"links.{i}.bandwidth_bytes_per_cycle":
                            _scaled(link.bandwidth_bytes_per_cycle, factor, False)}))
    for name, c in comps.items():
        t = c.TYPE
        p = f"components.{name}"
        if t == "memory":
            out.append(Variant(f"memory {name} size {x}", name, "size_bytes",
                               {f"{p}.size_bytes": _scaled(c.size_bytes, factor, True)}))
            out.append(Variant(f"memory {name} port bandwidth {x}", name,
                               "port_bandwidth_bytes_per_cycle",
                               {f"{p}.port_bandwidth_bytes_per_cycle":
                                _scaled(c.port_bandwidth_bytes_per_cycle, factor, False)}))
        elif t == "dma":
            out.append(Variant(f"dma {name} max_outstanding {x}", name, "max_outstanding",
                               {f"{p}.max_outstanding": _scaled(c.max_outstanding, factor, True)}))
        elif t == "core_cluster":
            out.append(Variant(f"cluster {name} cores {x}", name, "cores",
                               {f"{p}.cores": _scaled(c.cores, factor, True)}))
    aimc = [n for n, c in comps.items() if c.TYPE == "aimc_tile"]
    if aimc:
        out.append(_aimc_variant(raw, aimc, factor, x))
    return out


def _aimc_variant(raw: dict, tiles: list, factor: float, x: str) -> Variant:
    """More AIMC tiles: copies of the existing tiles (round-robin) with copies of their links."""
    n_new = max(0, int(round(len(tiles) * factor)) - len(tiles))
    comps_raw = raw["components"]
    links_raw = list(raw.get("links") or [])
    overrides: dict = {}
    new_links = []
    for k in range(n_new):
        src = tiles[k % len(tiles)]
        name = f"{src}_whatif{k}"
        while name in comps_raw:
            name += "_"
        overrides[f"components.{name}"] = dict(comps_raw[src])
        for link in links_raw:
            ends = link.get("between") or [link.get("a"), link.get("b")]
            if src in ends:
                nl = dict(link)
                nl.pop("name", None)
                if "between" in link:
                    nl["between"] = [name if e == src else e for e in ends]
                else:
                    nl["a"], nl["b"] = [name if e == src else e for e in ends]
                new_links.append(nl)
    if new_links:
        overrides["links"] = links_raw + new_links
    return Variant(f"aimc tiles {len(tiles)} -> {len(tiles) + n_new}", "aimc", "count", overrides)


@dataclass
class WhatIfRow:
    label: str
    resource: str
    field: str
    speedup: float | None
    energy_change: float | None
    latency_cycles: int | None
    energy_pj: float | None
    error: str | None = None


@dataclass
class WhatIfReport:
    platform: str
    trace: str
    factor: float
    baseline: dict
    rows: list

    def table(self) -> str:
        b = self.baseline
        lines = [f"what-if on {self.platform} / {self.trace}: each resource scaled x{self.factor:g}",
                 f"baseline  {b['latency_cycles']:,} cycles, {b['energy_pj'] / 1e6:.3f} uJ",
                 "", f"{'rank':>4}  {'resource change':<48}{'speedup':>9}{'energy':>9}"
                 f"{'cycles':>14}", "-" * 84]
        for i, r in enumerate(self.rows, 1):
            if r.error:
                lines.append(f"{i:>4}  {r.label[:47]:<48}{'error':>9}  {r.error.splitlines()[0][:60]}")
            else:
                lines.append(f"{i:>4}  {r.label[:47]:<48}{r.speedup:>8.3f}x{100 * r.energy_change:>+8.1f}%"
                             f"{r.latency_cycles:>14,}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from dataclasses import asdict
        return {"platform": self.platform, "trace": self.trace, "factor": self.factor,
                "baseline": self.baseline, "rows": [asdict(r) for r in self.rows]}


def whatif(platform, trace, factor: float = 2.0, *, out=None, workers=None, dask=None,
           executor=None, progress=False, resume=True) -> WhatIfReport:
    """Scale each resource of ``platform`` by ``factor`` and rank what each buys on ``trace``.

    ``out``: JSON-lines file of the underlying sweep (default: a temporary file).
    """
    vs = variants(platform, factor)
    pts = [{}] + [v.overrides for v in vs]
    with tempfile.TemporaryDirectory() as tmp:
        path = out or Path(tmp) / "whatif.jsonl"
        res = run_sweep(platform, trace, points=pts, out=path, workers=workers, dask=dask,
                        executor=executor, progress=progress, resume=resume)
    by_params = {}
    for rec in res.records:
        by_params.setdefault(_key(rec["params"]), rec)
    base = by_params[_key({})]
    if base["status"] != "ok":
        raise HwsimError(f"the baseline simulation failed: {base['error']}")
    b = base["summary"]
    rows = []
    for v in vs:
        rec = by_params[_key(v.overrides)]
        if rec["status"] != "ok":
            rows.append(WhatIfRow(v.label, v.resource, v.field, None, None, None, None, rec["error"]))
            continue
        s = rec["summary"]
        rows.append(WhatIfRow(v.label, v.resource, v.field,
                              speedup=b["latency_cycles"] / s["latency_cycles"],
                              energy_change=s["energy_pj"] / b["energy_pj"] - 1 if b["energy_pj"] else 0.0,
                              latency_cycles=s["latency_cycles"], energy_pj=s["energy_pj"]))
    rows.sort(key=lambda r: (r.error is not None, -(r.speedup or 0), r.energy_change or 0, r.label))
    return WhatIfReport(str(platform), str(trace), factor,
                        {k: b[k] for k in ("latency_cycles", "latency_s", "energy_pj")}, rows)


def _key(params: dict) -> str:
    import json
    return json.dumps(params, sort_keys=True, default=str)
