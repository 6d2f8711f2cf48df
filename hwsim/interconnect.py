"""Interconnect: arbitrated channels, routes through the NetworkX graph, and transfers.

Timing model (all validated in ``tests/test_interconnect.py``):

* A :class:`Channel` is anything a transfer must hold to move bytes: one direction of a link,
  the ports of a memory, the slots of a DMA engine. It has ``capacity`` parallel servers and a
  bandwidth in bytes per cycle of its clock; requests beyond capacity queue FIFO.
* A transfer of ``n`` bytes is split into bursts of ``burst_bytes``. Each burst holds every
  channel on its route at once (cut-through at burst granularity) for the slowest channel's
  occupancy ``ceil(bytes / bandwidth)`` cycles, counted cumulatively so the bursts of one
  transfer add up to exactly ``ceil(n / bandwidth)`` cycles. Latencies (link traversal, memory
  first-word) are paid once per transfer, after the last burst: bursts are pipelined.
* An uncontended burst costs one SimPy event (its timeout); arbitration events occur only when
  a channel is busy, so the event count scales with bursts and conflicts, not with cycles.

Hence an isolated transfer takes ``setup + latency + ceil(n / bandwidth_min)`` cycles, and k
equal transfers sharing one channel interleave their bursts FIFO and each see 1/k of it.
"""
from __future__ import annotations

from collections import deque

import networkx as nx

from .errors import ConfigError
from .platform import AimcTile, CoreCluster, DmaEngine, Memory, Platform
from .units import Clock


class Channel:
    """A FIFO-arbitrated resource with ``capacity`` servers and an optional bandwidth.

    Statistics (all in ps or bytes): ``busy_ps`` (server-time held), ``bytes``,
    ``n_grants``, ``n_waits``, ``wait_ps``, ``max_queue``.
    """

    __slots__ = ("env", "name", "kind", "clock", "bandwidth", "capacity", "latency_ps",
                 "pj_per_byte", "in_use", "queue", "busy_ps", "bytes", "n_grants", "n_waits",
                 "wait_ps", "max_queue", "order", "inflight_bytes", "owner", "holders")

    def __init__(self, env, name: str, kind: str, clock: Clock | None = None,
                 bandwidth_bytes_per_cycle: float | None = None, capacity: int = 1,
                 latency_cycles: int = 0, pj_per_byte: float = 0.0, owner: str = ""):
        self.env, self.name, self.kind, self.clock = env, name, kind, clock
        self.bandwidth = bandwidth_bytes_per_cycle
        self.capacity = capacity
        self.latency_ps = clock.cycles_to_ps(latency_cycles) if clock else 0
        self.pj_per_byte = pj_per_byte
        self.owner = owner or name
        self.in_use = 0
        self.queue: deque = deque()
        self.busy_ps = self.bytes = self.n_grants = self.n_waits = self.wait_ps = 0
        self.max_queue = 0
        self.order = 0  # global acquisition order (deadlock freedom), set by Interconnect
        self.inflight_bytes = 0
        self.holders: list = []  # processes holding a server (for deadlock reports)

    def acquire(self):
        """Take a server now (returns ``None``) or return an event that fires when granted.

        The holder (the active SimPy process) is recorded, and a queued event remembers its
        waiter in ``ev.who``, so a deadlock report can say who holds and who waits."""
        self.n_grants += 1
        if self.in_use < self.capacity and not self.queue:
            self.in_use += 1
            self.holders.append(self.env._active_proc)
            return None
        ev = self.env.event()
        ev.who = self.env._active_proc
        self.queue.append(ev)
        self.n_waits += 1
        if len(self.queue) > self.max_queue:
            self.max_queue = len(self.queue)
        return ev

    def release(self) -> None:
        h = self.holders
        try:
            h.remove(self.env._active_proc)
        except ValueError:  # released by another process than the one that acquired
            if h:
                h.pop(0)
        if self.queue:
            ev = self.queue.popleft()
            h.append(ev.who)
            ev.succeed()  # hand the server over directly: FIFO
        else:
            self.in_use -= 1

    def hold_cycles(self, cum_bytes_before: int, cum_bytes_after: int) -> int:
        """Cycles of this channel's clock for bytes (before, after] of a transfer."""
        bw = self.bandwidth
        return -(-cum_bytes_after // bw) - -(-cum_bytes_before // bw)


class Route:
    """A precomputed path between two endpoints: the channels a burst holds, in global
    acquisition order, and the once-per-transfer latency in ps."""

    __slots__ = ("src", "dst", "nodes", "channels", "dma", "latency_ps", "bw_channels", "names")

    def __init__(self, src, dst, nodes, channels, dma):
        self.src, self.dst, self.nodes, self.dma = src, dst, nodes, dma
        self.channels = sorted(channels, key=lambda c: c.order)
        self.bw_channels = [c for c in self.channels if c.bandwidth]
        self.latency_ps = sum(c.latency_ps for c in channels)
        self.names = [c.name for c in self.channels]

    def __repr__(self):
        return f"Route({' -> '.join(self.nodes)})"


class Transfer:
    """Bookkeeping of one transfer, read by the engine for stall/contention attribution."""

    __slots__ = ("tag", "nbytes", "route", "queued_ps", "waiting_since", "start_ps", "end_ps",
                 "waits", "done")

    def __init__(self, tag, nbytes, route):
        self.tag, self.nbytes, self.route = tag, nbytes, route
        self.queued_ps = 0
        self.waiting_since = None
        self.start_ps = self.end_ps = None
        self.waits: dict | None = None  # channel name -> ps waited (only when contended)
        self.done = None

    def queued_until(self, now: int) -> int:
        """Queue time accrued up to ``now`` (including a wait in progress)."""
        if self.waiting_since is None:
            return self.queued_ps
        return self.queued_ps + now - self.waiting_since


class Interconnect:
    """Channels of a platform and the routes between its endpoints.

    Routes are shortest paths (fewest hops, ties broken by the platform file's order) through
    routers, links and DMA engines. Memories are endpoints, never pass-through: if data must
    pass through an intermediate memory (e.g. L3 -> L2 -> L1) the path is split into hops
    that the caller executes one after another (staging).
    """

    def __init__(self, env, platform: Platform, observer=None):
        self.env, self.platform = env, platform
        self.graph: nx.Graph = platform.graph()
        self.channels: list[Channel] = []
        self.port: dict[str, Channel] = {}      # memory name -> its port channel
        self.dma_slots: dict[str, Channel] = {}  # dma name -> slot channel
        self.link_dir: dict[tuple, Channel] = {}  # (a, b) -> channel carrying a->b
        self.observer = observer
        for comp in platform.components.values():
            if isinstance(comp, Memory):
                self.port[comp.name] = self._add(Channel(
                    env, f"{comp.name}.port", "memory", comp.clock,
                    comp.port_bandwidth_bytes_per_cycle, comp.ports, comp.latency_cycles,
                    owner=comp.name))
            elif isinstance(comp, DmaEngine):
                self.dma_slots[comp.name] = self._add(Channel(
                    env, f"{comp.name}.slots", "dma", comp.clock, None, comp.max_outstanding,
                    owner=comp.name))
        for link in platform.links:
            if link.duplex == "half":
                ch = self._add(Channel(env, f"{link.name}", "link", link.clock,
                                       link.bandwidth_bytes_per_cycle, 1, link.latency_cycles,
                                       link.pj_per_byte, owner=link.name))
                self.link_dir[(link.a, link.b)] = self.link_dir[(link.b, link.a)] = ch
            else:
                for a, b in ((link.a, link.b), (link.b, link.a)):
                    self.link_dir[(a, b)] = self._add(Channel(
                        env, f"{a}->{b}", "link", link.clock, link.bandwidth_bytes_per_cycle, 1,
                        link.latency_cycles, link.pj_per_byte, owner=link.name))
        self._routes: dict = {}
        self._passable = {n for n, d in self.graph.nodes(data=True)
                          if not isinstance(d["component"], (Memory, CoreCluster, AimcTile))}

    def _add(self, ch: Channel) -> Channel:
        ch.order = len(self.channels)
        self.channels.append(ch)
        return ch

    def hops(self, src: str, dst: str) -> list[Route]:
        """Routes to execute in sequence to move data from ``src`` to ``dst`` (one unless the
        data must be staged through intermediate memories)."""
        key = (src, dst)
        if key not in self._routes:
            self._routes[key] = self._find(src, dst)
        return self._routes[key]

    def _find(self, src, dst) -> list[Route]:
        direct = self.graph.subgraph(self._passable | {src, dst})
        try:
            return [self._route(nx.shortest_path(direct, src, dst))]
        except nx.NetworkXNoPath:
            pass
        # Allow staging through memories (never through compute engines).
        engines = {n for n, d in self.graph.nodes(data=True)
                   if isinstance(d["component"], (CoreCluster, AimcTile))} - {src, dst}
        staged = self.graph.subgraph(set(self.graph) - engines)
        try:
            path = nx.shortest_path(staged, src, dst)
        except nx.NetworkXNoPath:
            raise ConfigError(self.platform.file, "links", f"no route from {src} to {dst}",
                              f"connect {src} and {dst} through links") from None
        routes, start = [], 0
        for i in range(1, len(path)):
            if i == len(path) - 1 or isinstance(self.platform.components[path[i]], Memory):
                routes.append(self._route(path[start:i + 1]))
                start = i
        return routes

    def _route(self, nodes) -> Route:
        chans, dma = [], None
        for node in nodes:
            if node in self.port:
                chans.append(self.port[node])
            elif node in self.dma_slots and dma is None:
                dma = self.platform.components[node]
        for a, b in zip(nodes, nodes[1:]):
            chans.append(self.link_dir[(a, b)])
        return Route(nodes[0], nodes[-1], list(nodes), chans, dma)

    # --------------------------------------------------------------------------------------
    def transfer(self, route: Route, nbytes: int, tag=None, transfer: Transfer | None = None):
        """SimPy process body moving ``nbytes`` along ``route``; returns the :class:`Transfer`.

        Use as ``t = yield env.process(ic.transfer(...))`` or ``yield from``.
        """
        env = self.env
        t = transfer or Transfer(tag, nbytes, route)
        t.start_ps = env.now
        obs = self.observer
        slot = None
        if route.dma is not None:
            slot = self.dma_slots[route.dma.name]
            ev = slot.acquire()
            if ev is not None:
                yield from _wait(env, ev, t, slot)
            slot_t0 = env.now  # the slot is busy from its grant, not from the request
            if route.dma.setup_cycles:
                yield env.timeout(route.dma.clock.cycles_to_ps(route.dma.setup_cycles))
            burst = route.dma.burst_bytes
        else:
            burst = DEFAULT_BURST_BYTES
        chans, bw_chans = route.channels, route.bw_channels
        for c in chans:
            c.inflight_bytes += nbytes
        if obs is not None:
            obs.transfer_begin(t)
        # per-channel cumulative cycles so far and the ps they convert to (exact sums)
        cum_cycles = [0] * len(bw_chans)
        cum_ps = [0] * len(bw_chans)
        sent = 0
        while sent < nbytes:
            nxt = min(nbytes, sent + burst)
            for c in chans:
                ev = c.acquire()
                if ev is not None:
                    yield from _wait(env, ev, t, c)
            hold = 0
            for i, c in enumerate(bw_chans):
                cyc = cum_cycles[i] + c.hold_cycles(sent, nxt)
                ps = c.clock.cycles_to_ps(cyc)
                d = ps - cum_ps[i]
                cum_cycles[i], cum_ps[i] = cyc, ps
                if d > hold:
                    hold = d
            yield env.timeout(hold)
            nb = nxt - sent
            for c in chans:
                c.busy_ps += hold
                c.bytes += nb
                c.release()
            sent = nxt
        if route.latency_ps:
            yield env.timeout(route.latency_ps)
        for c in chans:
            c.inflight_bytes -= nbytes
        if slot is not None:
            slot.busy_ps += env.now - slot_t0
            slot.release()
        t.end_ps = env.now
        if obs is not None:
            obs.transfer_end(t)
        return t


#: burst size for transfers that no DMA engine issues (e.g. AIMC streamers)
DEFAULT_BURST_BYTES = 1024


def _wait(env, ev, t: Transfer, ch: Channel):
    t0 = env.now
    t.waiting_since = t0
    yield ev
    waited = env.now - t0
    t.waiting_since = None
    t.queued_ps += waited
    ch.wait_ps += waited
    if t.waits is None:
        t.waits = {}
    t.waits[ch.owner] = t.waits.get(ch.owner, 0) + waited
