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
import textwrap
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
    touches: tuple = ()   # names of the resources it scales (default: ``resource``)

    def scales(self, name: str) -> bool:
        return name in (self.touches or (self.resource,))


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
    out += _group_variants(raw, platform, factor, x)
    return out


def _port_override(m, factor: float) -> dict:
    """The override scaling a memory's port bandwidth (a DRAM's: its data rate per clock)."""
    p = f"components.{m.name}"
    if m.TYPE == "dram":
        return {f"{p}.transfers_per_cycle": _scaled(m.transfers_per_cycle, factor, True)}
    return {f"{p}.port_bandwidth_bytes_per_cycle": _scaled(m.port_bandwidth_bytes_per_cycle, factor, False)}


def _group_variants(raw: dict, platform, factor: float, x: str) -> list:
    """Resources scaled together: every route between two memories (or a memory and an
    engine) that has more than one link, its links and the ports of the memories at its ends
    at once (a transfer holds all of them, so scaling one alone moves nothing when another is
    as slow); and every memory with its port bandwidth (or DRAM data rate) and the links that
    touch it (a memory attached to a generated mesh: its router link too). Routes are grouped
    over the platform file's own ``links:``; a mesh's fabric is scaled as one variant
    (``generate.mesh.link_bandwidth_bytes_per_cycle``, :func:`variants`)."""
    import simpy

    from ..hardware.platform import AimcTile, CoreCluster, Memory
    from ..sim.interconnect import Interconnect

    links = raw.get("links") or []
    index = {}
    for i, link in enumerate(links):
        if isinstance(link, dict) and _num(link.get("bandwidth_bytes_per_cycle")) is not None:
            ends = link.get("between") or [link.get("a"), link.get("b")]
            index[frozenset(ends)] = i

    def scale_links(ids):
        return {f"links.{i}.bandwidth_bytes_per_cycle":
                _scaled(links[i]["bandwidth_bytes_per_cycle"], factor, False) for i in ids}

    out = []
    comps = platform.components
    ic = Interconnect(simpy.Environment(), platform)
    # the file's own components: generated copies (a mesh's clusters) are scaled through their
    # template, and pairing thousands of them would cost a route search each
    own = raw.get("components") or {}
    mems = [c for c in comps.values() if isinstance(c, Memory) and c.name in own]
    ends = mems + [c for c in comps.values() if isinstance(c, (CoreCluster, AimcTile)) and c.name in own]
    seen = set()
    for a in mems:
        for b in ends:
            if a is b:
                continue
            try:
                routes = ic.hops(a.name, b.name)
            except Exception:   # no route between them: nothing to scale
                continue
            for r in routes:
                ids = tuple(sorted({index[frozenset(e)] for e in zip(r.nodes, r.nodes[1:])
                                    if frozenset(e) in index}))
                if len(ids) < 2 or ids in seen:
                    continue
                seen.add(ids)
                names = tuple(_link_label(links[i], i) for i in ids)
                ov = scale_links(ids)
                for m in (comps[r.src], comps[r.dst]):   # and the ports at its ends
                    if m.name in (raw.get("components") or {}):
                        ov.update(_port_override(m, factor))
                out.append(Variant(f"route {r.src}<->{r.dst} ({len(ids)} links + ports) bandwidth {x}",
                                   f"route {r.src}<->{r.dst}", "route_bandwidth", ov,
                                   names + tuple(r.nodes) + (f"{r.src}.port", f"{r.dst}.port")))
    mesh = (raw.get("generate") or {}).get("mesh") or {}
    for m in mems:
        if m.name not in (raw.get("components") or {}):
            continue
        ids = [i for e, i in index.items() if m.name in e]
        ov = _port_override(m, factor)
        names = tuple(_link_label(links[i], i) for i in ids)
        if ids:
            ov.update(scale_links(ids))
        # a memory attached to a generated mesh (generate.mesh.connect): its router link too
        for j, c in enumerate(mesh.get("connect") or ()):
            bw = _num((c or {}).get("bandwidth_bytes_per_cycle", mesh.get("link_bandwidth_bytes_per_cycle")))
            if isinstance(c, dict) and c.get("component") == m.name and bw is not None:
                at = c.get("at") or ["?", "?"]
                ov[f"generate.mesh.connect.{j}.bandwidth_bytes_per_cycle"] = _scaled(bw, factor, False)
                names += (f"{m.name}--router_{at[0]}_{at[1]}",)
        if names:
            out.append(Variant(f"memory {m.name} + port + {len(names)} link(s) bandwidth {x}",
                               f"memory {m.name}", "memory_bandwidth", ov,
                               (m.name, f"{m.name}.port") + names))
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
    note: str | None = None    # why a near-1.0x change moved nothing: what else bounds the run


@dataclass
class WhatIfReport:
    platform: str
    trace: str
    factor: float
    baseline: dict
    rows: list
    bound_by: list = None     # [(cause, share of the layers' time)] of the baseline, largest first

    def table(self) -> str:
        b = self.baseline
        lines = [f"what-if on {self.platform} / {self.trace}: each resource scaled x{self.factor:g}",
                 f"baseline  {b['latency_cycles']:,} cycles, {b['energy_pj'] / 1e6:.3f} uJ",
                 "time goes to " + ", ".join(f"{c} {100 * f:.0f}%" for c, f in (self.bound_by or [])[:4]),
                 "", f"{'rank':>4}  {'resource change':<56}{'speedup':>9}{'energy':>9}"
                 f"{'cycles':>14}", "-" * 92]
        for i, r in enumerate(self.rows, 1):
            if r.error:
                lines.append(f"{i:>4}  {r.label[:55]:<56}{'error':>9}  {r.error.splitlines()[0][:60]}")
            else:
                lines.append(f"{i:>4}  {r.label[:55]:<56}{r.speedup:>8.3f}x{100 * r.energy_change:>+8.1f}%"
                             f"{r.latency_cycles:>14,}")
        notes: dict = {}
        for r in self.rows:
            if r.note:
                notes.setdefault(r.note, []).append(r.label)
        if notes:
            lines += ["", f"why ~1.0x (within {100 * NEAR_ONE:g}%):"]
            for note, labels in notes.items():
                lines += textwrap.wrap(note + ":", 100, initial_indent="  ", subsequent_indent="    ")
                lines += textwrap.wrap("; ".join(labels), 100, initial_indent="    - ",
                                       subsequent_indent="      ")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from dataclasses import asdict
        return {"platform": self.platform, "trace": self.trace, "factor": self.factor,
                "baseline": self.baseline, "bound_by": [list(x) for x in self.bound_by or []],
                "rows": [asdict(r) for r in self.rows]}


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
    bound = _bound_by(platform, trace)
    for v, row in zip(vs, rows):
        if row.speedup is not None and abs(row.speedup - 1) < NEAR_ONE:
            own = [f"{c} {100 * f:.0f}%" for c, f in bound if f >= 0.05 and v.scales(c.split(" ", 1)[-1])]
            others = [f"{c} {100 * f:.0f}%" for c, f in bound if not v.scales(c.split(" ", 1)[-1])][:3]
            row.note = ("time goes to " + ", ".join(others)) if others else None
            if own:   # its own wait is large, yet scaling it moved nothing
                row.note = (f"its {', '.join(own)} is set by what it does not scale (another "
                            f"resource on the same path, latency or setup); else {row.note}")
    rows.sort(key=lambda r: (r.error is not None, -(r.speedup or 0), r.energy_change or 0, r.label))
    return WhatIfReport(str(platform), str(trace), factor,
                        {k: b[k] for k in ("latency_cycles", "latency_s", "energy_pj")}, rows, bound)


#: a speedup within this of 1.0 is explained by what else bounds the run
NEAR_ONE = 0.01


def _bound_by(platform, trace) -> list:
    """The baseline's time by cause (:meth:`SimulationResult.time_by_cause`), as shares."""
    from ..api import load_platform, simulate
    from .sweep import load_workload

    res = simulate(load_platform(platform), load_workload(trace))
    causes = res.time_by_cause()
    total = sum(causes.values()) or 1
    return [(c, v / total) for c, v in causes.items()]


def _key(params: dict) -> str:
    import json
    return json.dumps(params, sort_keys=True, default=str)
