"""Closed-form cost model the mapper uses to choose tilings (not the simulation itself).

**Transfers.** Moving ``n`` bytes from memory ``src`` to ``dst`` takes, per hop between the
memories on the route (staged like :class:`hwsim.sim.interconnect.Interconnect`),
``setup + latency + n / bandwidth_min`` where ``bandwidth_min`` is the slowest of the hop's
memory ports, links and DMA read/write channel (bytes/s) and ``latency`` the sum of their
per-transfer latencies; hops run one after another. Contention is not modelled here.

**Double-buffered layer.** A layer of ``n`` tiles whose tile ``i`` loads in ``a_i``, computes
in ``c_i`` and stores in ``s_i`` takes (the engine's pipeline, :mod:`hwsim.sim.engine`)
``a + c + s + (n - 1) * max(a, c, s)`` with the per-tile means; the tiles that also load a
channel group's weights are counted apart (:func:`pipeline_ps`). Per-tile fixed costs (DMA
set-up, the engine's ``tile_overhead_cycles``) are inside ``a``, ``c`` and ``s``. All in ps.
"""
from __future__ import annotations

import math

from ..base.units import PS_PER_S
from ..hardware.platform import DmaEngine, Memory, Platform

__all__ = ["CostModel", "pipeline_ps", "tile_compute_ps"]


def pipeline_ps(n: int, a: float, c: float, s: float, n_w: int = 0, a_w: float = 0.0) -> float:
    """Span of ``n`` double-buffered tiles of load ``a``, compute ``c``, store ``s`` (ps), of
    which ``n_w`` (the first included) load ``a_w`` instead (they also bring weights):
    ``a_w + c + s + (n_w - 1) * max(a_w, c, s) + (n - n_w) * max(a, c, s)``."""
    if n <= 0:
        return 0.0
    if n_w <= 0:
        n_w, a_w = 1, a
    return a_w + c + s + (n_w - 1) * max(a_w, c, s) + (n - n_w) * max(a, c, s)


def tile_compute_ps(platform, comp, layer, host, cost: "CostModel | None" = None):
    """``f(ops, channels, rows)``: time in ps of a tile of ``layer`` on engine ``comp`` (its
    model's :meth:`~hwsim.models.base.ComponentModel.tile_estimate_ps`, plus the engine's
    ``tile_overhead_cycles``), memoised; with ``cost``, one function per (engine, layer, host)
    for the whole mapping (fusion re-tiles a layer under many budgets)."""
    if cost is not None:
        key = (comp.name, layer, host.name if host is not None else None)
        if key not in cost.compute:
            cost.compute[key] = tile_compute_ps(platform, comp, layer, host)
        return cost.compute[key]
    from ..hardware.registry import model_of

    estimate = model_of(comp).tile_estimator(platform, comp, layer, host)
    ovh = getattr(comp, "tile_overhead_cycles", 0) / comp.clock.freq_hz * PS_PER_S
    seen: dict = {}   # the tiler asks for the same tile shapes again and again

    def compute_ps(ops, channels, rows):
        key = (ops, channels, rows)
        v = seen.get(key)
        if v is None:
            v = seen[key] = estimate(ops, channels, rows) + ovh
        return v
    return compute_ps


class CostModel:
    """Per-route transfer costs of a platform, worked out once per (src, dst)."""

    def __init__(self, platform: Platform):
        self.platform = platform
        self._links = None
        self._hops: dict = {}
        self.compute: dict = {}   # (engine, layer, host) -> tile_compute_ps function
        #: the tiler's searches (hwsim.mapping.tiling._Search) per layer and context, and its
        #: candidates ranked by compute time per (layer, engine)
        self.tiling_memo: dict = {}

    def hops(self, src: str, dst: str) -> list:
        """[(fixed ps, ps per byte)] per hop from ``src`` to ``dst`` (empty: no route)."""
        key = (src, dst)
        if key in self._hops:
            return self._hops[key]
        p = self.platform
        comps = p.components
        path = p.route_path(src, dst)
        if not path:
            self._hops[key] = []
            return []
        hops, cur = [], [path[0]]
        for node in path[1:]:
            cur.append(node)
            if isinstance(comps[node], Memory) or node == path[-1]:
                hops.append(self._hop(cur))
                cur = [node]
        self._hops[key] = hops
        return hops

    def _hop(self, nodes: list) -> tuple:
        comps = self.platform.components
        if self._links is None:
            self._links = {}
            for link in self.platform.links:
                self._links.setdefault((link.a, link.b), link)
                self._links.setdefault((link.b, link.a), link)
        rate, fixed = math.inf, 0.0
        for n in nodes:
            c = comps[n]
            if isinstance(c, Memory):
                rate = min(rate, c.port_bandwidth_bytes_per_cycle * c.clock.freq_hz)
                fixed += c.latency_cycles / c.clock.freq_hz * PS_PER_S
            elif isinstance(c, DmaEngine):
                if c.bandwidth_bytes_per_cycle:
                    rate = min(rate, c.bandwidth_bytes_per_cycle * c.clock.freq_hz)
                fixed += c.setup_cycles / c.clock.freq_hz * PS_PER_S
        for a, b in zip(nodes, nodes[1:]):
            link = self._links[(a, b)]
            rate = min(rate, link.bandwidth_bytes_per_cycle * link.clock.freq_hz)
            fixed += link.latency_cycles / link.clock.freq_hz * PS_PER_S
        return fixed, (PS_PER_S / rate if rate != math.inf else 0.0)

    def move_ps(self, src: str, dst: str, nbytes: float) -> float:
        """Uncontended time to move ``nbytes`` from ``src`` to ``dst`` (0 when none move)."""
        if not nbytes or src == dst:
            return 0.0
        return sum(f + nbytes * b for f, b in self.hops(src, dst))

    def moves_ps(self, moves, dst: str, to_dst: bool = True) -> float:
        """Time of several transfers issued together (``((memory, bytes), ...)``) into (or,
        ``to_dst=False``, out of) ``dst``: the slowest, as the engine runs them in parallel."""
        return max((self.move_ps(m, dst, n) if to_dst else self.move_ps(dst, m, n)
                    for m, n in moves), default=0.0)
