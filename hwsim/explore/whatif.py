"""What-if sensitivity: which resource is worth improving.

For a platform and a network, scale each resource in turn by ``factor`` (default 2x) and
simulate: every link's bandwidth, every memory's size and port bandwidth (a ``dram``'s size
and data transfers per clock: its bandwidth is derived from its data bus), every DMA engine's
``max_outstanding``, every core cluster's (and accelerator's) ``cores`` and, when the platform
has AIMC tiles, the number of tiles (the ``generate.replicate`` count, or each plain tile
duplicated with copies of its links). Generated platforms are scaled in their ``generate``
section (see :func:`variants`). One simulation per variant
plus the baseline, all through :func:`hwsim.explore.sweep.run_sweep`, so they run in parallel (process
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


from ..base.errors import HwsimError
from .sweep import run_sweep

__all__ = ["Variant", "variants", "WhatIfRow", "WhatIfReport", "whatif"]


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


def _link_label(link: dict, i: int) -> str:
    if link.get("name"):
        return str(link["name"])
    ends = link.get("between") or [link.get("a"), link.get("b")]
    return f"{ends[0]}--{ends[1]}" if ends and len(ends) == 2 else f"links[{i}]"


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def variants(platform_path, factor: float = 2.0) -> list:
    """The resource variants of a platform file, in file order (links, then components).

    Variants are overrides of the platform *document*, so generated platforms work too: a
    component replicated by ``generate.replicate`` is scaled once for all its copies (and its
    AIMC tile count is the replicate count); a mesh's template components and links
    (``generate.mesh.cluster``) are scaled in every cluster at once, and the mesh links by
    ``generate.mesh.link_bandwidth_bytes_per_cycle``.
    """
    from ..hardware.platform import load_platform, read_platform_document

    if not (isinstance(factor, (int, float)) and 0 < factor < float("inf")):
        raise HwsimError(f"whatif factor must be > 0, got {factor!r}")
    platform = load_platform(platform_path)          # validated values (units parsed)
    raw, _ = read_platform_document(platform_path)
    comps = platform.components
    gen = raw.get("generate") or {}
    replicate = gen.get("replicate") or {}
    mesh = gen.get("mesh") or {}
    x = f"x{factor:g}"
    out = []

    def link_variants(links, prefix, where=""):
        for i, link in enumerate(links or []):
            if not isinstance(link, dict):
                continue
            bw = _num(link.get("bandwidth_bytes_per_cycle"))
            if bw is None:
                continue
            name = _link_label(link, i)
            out.append(Variant(f"link {name}{where} bandwidth {x}", name, "bandwidth_bytes_per_cycle",
                               {f"{prefix}.{i}.bandwidth_bytes_per_cycle": _scaled(bw, factor, False)}))

    link_variants(raw.get("links"), "links")
    if mesh:
        link_variants((mesh.get("cluster") or {}).get("links"), "generate.mesh.cluster.links",
                      " (every cluster)")
        for fld in ("link_bandwidth_bytes_per_cycle", "attach_bandwidth_bytes_per_cycle"):
            if _num(mesh.get(fld)) is not None:
                out.append(Variant(f"mesh {fld.replace('_bytes_per_cycle', '')} {x}", "mesh", fld,
                                   {f"generate.mesh.{fld}": _scaled(mesh[fld], factor, False)}))

    sources = [(f"components.{n}", n, "", comps.get(n) or comps.get(f"{n}_0"))
               for n in (raw.get("components") or {})]
    if mesh:
        sources += [(f"generate.mesh.cluster.components.{n}", n, " (every cluster)", comps.get(f"{n}_0_0"))
                    for n in ((mesh.get("cluster") or {}).get("components") or {})]
    counted: dict = {}   # (group, label) -> components copied by a count variant
    for p, name, where, c in sources:
        if c is None:
            continue
        for fld, integer, label in c.WHATIF:
            out.append(Variant(f"{c.TYPE} {name}{where} {label} {x}", name, fld,
                               {f"{p}.{fld}": _scaled(getattr(c, fld), factor, integer)}))
        if c.WHATIF_COUNT:
            if name in replicate:
                n = replicate[name]
                out.append(Variant(f"{c.WHATIF_COUNT[1]} {name}{where} {n} -> {_scaled(n, factor, True)}",
                                   name, "count", {f"generate.replicate.{name}": _scaled(n, factor, True)}))
            elif p.startswith("components."):
                counted.setdefault(c.WHATIF_COUNT, []).append(name)
    for (group, label), names in counted.items():
        out.append(_count_variant(raw, names, factor, group, label))
    return out


def _count_variant(raw: dict, tiles: list, factor: float, group: str, label: str) -> Variant:
    """More components of a kind: copies of the existing ones (round-robin) with copies of
    their links."""
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
    return Variant(f"{label} {len(tiles)} -> {len(tiles) + n_new}", group, "count", overrides)


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
