"""Platform generators: expand a few parameters into components and links before validation.

A platform file may carry a ``generate:`` section; :func:`expand_generators` rewrites the
document into plain ``components`` / ``links`` (then validated like any hand-written file), so
a 512-cluster mesh is a dozen lines, and ``--set generate.mesh.width=4`` resizes it.

``replicate`` — N copies of a component, each with copies of the links that name it::

    generate:
      replicate: {ima: 64}        # ima -> ima_0 .. ima_63, links to `ima` copied per instance

``mesh`` — a 2-D mesh network-on-chip of clusters::

    generate:
      mesh:
        width: 16                  # clusters along x
        height: 32                 # clusters along y
        clock: noc                 # clock of the router-to-router links
        link_bandwidth_bytes_per_cycle: 8
        router_latency_cycles: 1   # per hop, charged on each router-to-router link
        link_pj_per_byte: 0.0      # optional
        attach: dma                # template component wired to its cluster's router
        cluster:                   # template: names are local to one cluster
          components: {cores: {...}, l1: {...}, ima: {...}, dma: {...}}
          links: [{between: [dma, l1], ...}, ...]
        connect:                   # global components attached to a router
          - {component: l2_xbar, at: [0, 0]}

Cluster ``(x, y)`` gets components ``<name>_<x>_<y>`` (string fields naming a template
component, e.g. ``l1: l1``, are renamed too) and router ``router_<x>_<y>``; routers link to
their 4 neighbours. Clusters are emitted in snake order (row 0 left to right, row 1 right to
left, ...) so consecutive clusters are mesh neighbours: the mapper distributes layers in this
order.
"""
from __future__ import annotations

import copy

from ..base.errors import ConfigError, did_you_mean

__all__ = ["MESH_FIELDS", "MAX_COPIES", "MAX_COMPONENTS", "MAX_LINKS", "expand_generators"]

#: most copies one generator makes (replicate count, mesh clusters), and most components and
#: links a generated platform may hold: beyond them building and routing the graph alone
#: takes minutes (ASSUMED limits; the largest published TinyML meshes have ~1000 clusters)
MAX_COPIES = 4096
MAX_COMPONENTS = 65536
MAX_LINKS = 4 * MAX_COMPONENTS

MESH_FIELDS = {"width", "height", "clock", "link_bandwidth_bytes_per_cycle", "router_latency_cycles",
               "link_pj_per_byte", "attach", "cluster", "connect", "attach_bandwidth_bytes_per_cycle"}


def expand_generators(data: dict, file="<dict>") -> dict:
    """Return a copy of ``data`` with its ``generate`` section expanded."""
    data = copy.deepcopy(data)
    gen = data.pop("generate")
    if not isinstance(gen, dict):
        raise ConfigError(file, "generate", "expected a mapping with `mesh` and/or `replicate`")
    for key in gen:
        if key not in ("mesh", "replicate"):
            raise ConfigError(file, f"generate.{key}", "unknown generator",
                              did_you_mean(key, ("mesh", "replicate")))
    data.setdefault("components", {})
    data.setdefault("links", [])
    if data["components"] is None:
        data["components"] = {}
    if "replicate" in gen:
        _replicate(data, gen["replicate"], file)
    if "mesh" in gen:
        _mesh(data, gen["mesh"], file)
    for key, most in (("components", MAX_COMPONENTS), ("links", MAX_LINKS)):
        if isinstance(data[key], (dict, list)) and len(data[key]) > most:
            raise ConfigError(file, "generate", f"generates {len(data[key]):,} {key}, over the "
                              f"limit of {most:,}", "generate fewer copies")
    return data


def _int(v, file, fld, lo=1, hi=MAX_COPIES):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ConfigError(file, fld, f"expected a whole number in {lo}..{hi:,}, got {v!r}")
    return v


def _replicate(data, spec, file):
    if not isinstance(spec, dict) or not spec:
        raise ConfigError(file, "generate.replicate", "expected {component: count}")
    comps = data["components"]
    for name, n in spec.items():
        fld = f"generate.replicate.{name}"
        if name not in comps:
            raise ConfigError(file, fld, f"unknown component {name!r}", did_you_mean(name, comps))
        n = _int(n, file, fld)
        named = sum(1 for link in data["links"] or [] if isinstance(link, dict)
                    and name in _ends(link))
        if len(comps) + n > MAX_COMPONENTS or len(data["links"] or []) + named * n > MAX_LINKS:
            raise ConfigError(file, fld, f"{n} copies would make more than {MAX_COMPONENTS:,} "
                              f"components or {MAX_LINKS:,} links (the limits)",
                              "generate fewer copies")
        tmpl = comps.pop(name)
        for i in range(n):
            comps[f"{name}_{i}"] = copy.deepcopy(tmpl)
        new_links = []
        for link in data["links"] or []:
            ends = _ends(link) if isinstance(link, dict) else []
            if name in ends:
                for i in range(n):
                    l2 = copy.deepcopy(link)
                    e = [f"{name}_{i}" if x == name else x for x in ends]
                    l2.pop("a", None), l2.pop("b", None)
                    l2["between"] = e
                    if "name" in l2:
                        l2["name"] = f"{l2['name']}_{i}"
                    new_links.append(l2)
            else:
                new_links.append(link)
        data["links"] = new_links


def _ends(link: dict) -> list:
    ends = link.get("between", [link.get("a"), link.get("b")])
    return [e for e in ends if isinstance(e, str)] if isinstance(ends, list) else []


def _mesh(data, m, file):
    if not isinstance(m, dict):
        raise ConfigError(file, "generate.mesh", "expected a mapping")
    for k in m:
        if k not in MESH_FIELDS:
            raise ConfigError(file, f"generate.mesh.{k}", "unknown mesh field", did_you_mean(k, MESH_FIELDS))
    for k in ("width", "height", "clock", "link_bandwidth_bytes_per_cycle", "attach", "cluster"):
        if k not in m:
            raise ConfigError(file, f"generate.mesh.{k}", "missing required field",
                              "see hwsim/hardware/generate.py for the mesh section's fields")
    w = _int(m["width"], file, "generate.mesh.width")
    h = _int(m["height"], file, "generate.mesh.height")
    if w * h > MAX_COPIES:
        raise ConfigError(file, "generate.mesh", f"{w}x{h} = {w * h} clusters is over the "
                          f"{MAX_COPIES} limit", "use a smaller mesh")
    lat = _int(m.get("router_latency_cycles", 1), file, "generate.mesh.router_latency_cycles", 0,
               10**9)
    bw = m["link_bandwidth_bytes_per_cycle"]
    tmpl = m["cluster"]
    if not isinstance(tmpl, dict) or not isinstance(tmpl.get("components"), dict):
        raise ConfigError(file, "generate.mesh.cluster.components", "expected the template's components")
    tcomps, tlinks = tmpl["components"], tmpl.get("links") or []
    if not isinstance(m["attach"], str) or m["attach"] not in tcomps:
        raise ConfigError(file, "generate.mesh.attach", f"{m['attach']!r} is not a template component",
                          did_you_mean(m["attach"], tcomps))
    comps, links = data["components"], data["links"]
    if w * h * (len(tcomps) + 1) + len(comps) > MAX_COMPONENTS:
        raise ConfigError(file, "generate.mesh", f"{w}x{h} clusters of {len(tcomps) + 1} "
                          f"components are over the limit of {MAX_COMPONENTS:,} components",
                          "use a smaller mesh or cluster")
    if not isinstance(tlinks, list):
        raise ConfigError(file, "generate.mesh.cluster.links", "expected a list of links")

    def rn(name, x, y):
        return f"{name}_{x}_{y}"

    order = [(x, y) for y in range(h) for x in (range(w) if y % 2 == 0 else range(w - 1, -1, -1))]
    for x, y in order:
        for name, raw in tcomps.items():
            c = copy.deepcopy(raw)
            if isinstance(c, dict):
                for k, v in list(c.items()):
                    if k not in ("type", "clock") and isinstance(v, str) and v in tcomps:
                        c[k] = rn(v, x, y)
            comps[rn(name, x, y)] = c
        comps[f"router_{x}_{y}"] = {"type": "router", "clock": m["clock"]}
        for i, link in enumerate(tlinks):
            if not isinstance(link, dict) or not isinstance(link.get("between"), list):
                raise ConfigError(file, f"generate.mesh.cluster.links[{i}]", "expected {between: [a, b], ...}")
            l2 = copy.deepcopy(link)
            l2["between"] = [rn(e, x, y) if e in tcomps else e for e in link["between"]]
            links.append(l2)
        links.append({"between": [rn(m["attach"], x, y), f"router_{x}_{y}"], "clock": m["clock"],
                      "bandwidth_bytes_per_cycle": m.get("attach_bandwidth_bytes_per_cycle", bw),
                      "latency_cycles": 0, "pj_per_byte": m.get("link_pj_per_byte", 0.0)})
    for x in range(w):
        for y in range(h):
            for nx_, ny in ((x + 1, y), (x, y + 1)):
                if nx_ < w and ny < h:
                    links.append({"between": [f"router_{x}_{y}", f"router_{nx_}_{ny}"], "clock": m["clock"],
                                  "bandwidth_bytes_per_cycle": bw, "latency_cycles": lat,
                                  "pj_per_byte": m.get("link_pj_per_byte", 0.0)})
    connect = m.get("connect") or []
    if not isinstance(connect, list):
        raise ConfigError(file, "generate.mesh.connect", "expected a list of {component, at}")
    for i, c in enumerate(connect):
        fld = f"generate.mesh.connect[{i}]"
        if not isinstance(c, dict) or "component" not in c or "at" not in c:
            raise ConfigError(file, fld, "expected {component: NAME, at: [x, y]}")
        at = c["at"]
        if (not isinstance(at, list) or len(at) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in at)):
            raise ConfigError(file, f"{fld}.at", f"expected [x, y] router coordinates, got {at!r}")
        x, y = at
        if not (0 <= x < w and 0 <= y < h):
            raise ConfigError(file, f"{fld}.at", f"router ({x}, {y}) is outside the {w}x{h} mesh")
        if not isinstance(c["component"], str) or c["component"] not in comps:
            raise ConfigError(file, f"{fld}.component", f"unknown component {c['component']!r}",
                              did_you_mean(c["component"], comps))
        links.append({"between": [c["component"], f"router_{x}_{y}"], "clock": m["clock"],
                      "bandwidth_bytes_per_cycle": c.get("bandwidth_bytes_per_cycle", bw),
                      "latency_cycles": lat, "pj_per_byte": m.get("link_pj_per_byte", 0.0)})
