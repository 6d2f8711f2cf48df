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
  Bursts, their arbitration and re-arbitration run from SimPy callbacks without resuming the
  transfer's process (:class:`_Train`): the same events in the same order, a fraction of the
  work per event.

Hence an isolated transfer takes ``setup + latency + ceil(n / bandwidth_min)`` cycles, and k
equal transfers sharing one channel interleave their bursts FIFO and each see 1/k of it.
"""
from __future__ import annotations

import math
from array import array
from heapq import heappush

from simpy.events import NORMAL

from .arbitration import make_queue

from ..base.errors import ConfigError
from .dram import DramTiming
from .kernel import Signal, fire
from ..hardware.platform import DmaEngine, Dram, Memory, Platform
from ..base.units import PS_PER_S, Clock

__all__ = ["Channel", "Route", "Transfer", "Interconnect", "DEFAULT_BURST_BYTES", "burst_plan"]


class Channel:
    """An arbitrated resource with ``capacity`` servers and an optional bandwidth.

    Requests beyond capacity queue; ``policy`` (see :mod:`hwsim.sim.arbitration`) picks the next
    one granted: ``fifo`` (default), ``round_robin`` over requesters, or ``fixed_priority``.

    Statistics (all in ps or bytes): ``busy_ps`` (server-time held), ``bytes``,
    ``n_grants``, ``n_waits`` (grants that had to queue), ``wait_ps`` (sum of queueing
    times), ``wait_samples`` (every non-zero queueing time, for the distribution: the
    ``n_grants - n_waits`` others waited 0), ``max_queue``, ``queue_area`` (integral of the
    queue length over time, in request x ps: divided by the makespan it is the time-average
    queue depth). An optional ``service`` object (e.g. :class:`hwsim.sim.dram.DramTiming`) sets
    the time each burst holds the channel from its address and state, instead of
    ``bandwidth``; an optional ``observer`` is told every queue-length change.
    """

    __slots__ = ("env", "name", "kind", "clock", "bandwidth", "capacity", "latency_ps",
                 "pj_per_byte", "free", "queue", "busy_ps", "bytes", "n_grants", "n_waits",
                 "wait_ps", "max_queue", "order", "owner", "policy",
                 "wait_samples", "queue_area", "queue_t", "service", "observer", "holders",
                 "trains", "fifo")

    def __init__(self, env, name: str, kind: str, clock: Clock | None = None,
                 bandwidth_bytes_per_cycle: float | None = None, capacity: int = 1,
                 latency_cycles: int = 0, pj_per_byte: float = 0.0, owner: str = "",
                 policy: str = "fifo"):
        self.env, self.name, self.kind, self.clock = env, name, kind, clock
        self.bandwidth = bandwidth_bytes_per_cycle
        self.capacity = capacity
        self.latency_ps = clock.cycles_to_ps(latency_cycles) if clock else 0
        self.pj_per_byte = pj_per_byte
        self.owner = owner or name
        #: idle servers. A request queues only when none is (or others already queue), and
        #: a server is made idle only when nobody queues: ``free > 0`` implies an empty queue
        self.free = capacity
        self.policy = policy
        self.fifo = policy == "fifo"
        self.queue = make_queue(policy)
        self.busy_ps = self.bytes = self.n_grants = self.n_waits = self.wait_ps = 0
        self.max_queue = 0
        self.order = 0  # global acquisition order (deadlock freedom), set by Interconnect
        self.wait_samples = array("q")
        self.queue_area = self.queue_t = 0
        self.service = None
        self.observer = None
        self.holders: list = []  # processes that took a server with acquire (deadlock reports)
        #: the burst trains in flight on the interconnect (set by it): a train records which of
        #: its route's channels it holds once, not in each channel (see :meth:`held_by`)
        self.trains: dict | None = None

    @property
    def in_use(self) -> int:
        """Servers held."""
        return self.capacity - self.free

    def held_by(self) -> list:
        """The processes holding a server now: those that took it with :meth:`acquire`, then
        the transfers whose burst train holds it (for deadlock reports)."""
        out = list(self.holders)
        if self.trains:
            out += [tr.who for tr in self.trains if self in tr.chans[:tr.j]]
        return out

    def acquire(self, requester=None, priority: int = 0):
        """Take a server now (returns ``None``) or return an event that fires when granted.

        ``requester`` (the master's name) and ``priority`` (lower wins) matter only to the
        round-robin and fixed-priority policies. The holder (the active SimPy process) is
        recorded, and a queued event remembers its waiter in ``ev.who``, so a deadlock report
        can say who holds and who waits."""
        self.n_grants += 1
        if self.free:
            self.free -= 1
            self.holders.append(self.env._active_proc)
            return None
        return self._enqueue(requester, priority, self.env._active_proc)

    def _enqueue(self, requester, priority: int, holder):
        """Queue a request of process ``holder`` (the channel is busy); ``n_grants`` was
        already counted."""
        ev = Signal(self.env)
        ev.who = holder
        if self.policy != "fifo":
            ev.requester, ev.priority = requester, priority
        self._queue(ev)
        return ev

    def _queue(self, ev) -> None:
        """Append request ``ev`` (an event, or anything that has its ``who``, ``succeed()``
        and, for the non-FIFO policies, ``requester`` and ``priority``) to the queue."""
        now = self.env._now
        q = self.queue
        n = len(q)
        self.queue_area += n * (now - self.queue_t)
        self.queue_t = now
        q.append(ev)
        self.n_waits += 1
        if n + 1 > self.max_queue:
            self.max_queue = n + 1
        if self.observer is not None:
            self.observer.queue_depth(self, now, n + 1)

    def release(self, holder=None) -> None:
        """Free the server held by process ``holder`` (default: the active process): hand it
        to the next waiter chosen by the policy, else make it idle. The holder record moves
        with the server."""
        h = self.holders
        try:
            h.remove(self.env._active_proc if holder is None else holder)
        except ValueError:  # released by another process than the one that acquired
            if h:
                h.pop(0)
        self._free()

    def _free(self) -> None:
        """Hand a server just given up to the next waiter chosen by the policy, else make it
        idle (a burst train's release: trains are not in ``holders``)."""
        q = self.queue
        if q:
            if not self.fifo:
                # decide after the releasing master had the chance to request its next
                # burst at this same instant (a master with back-to-back bursts keeps its
                # request up): one zero-delay event, only on contended non-FIFO channels
                self.env.timeout(0).callbacks.append(self._grant_next)
                return
            self._grant_next(None)  # FIFO: hand the server over directly
        else:
            self.free += 1

    def _grant_next(self, _event) -> None:
        q = self.queue
        if not q:  # several deferred releases at one instant outnumbered the waiters
            self.free += 1
            return
        now = self.env._now
        n = len(q)
        self.queue_area += n * (now - self.queue_t)
        self.queue_t = now
        ev = q.popleft()
        if ev.__class__ is _Train:
            # the train's grant, scheduled as Event.succeed would schedule the event (the
            # train records what it holds itself)
            ev.callbacks = ev.GRANT
            heappush(ev.heap, (now, NORMAL, next(ev.eid), ev))
        else:
            self.holders.append(ev.who)
            fire(ev)
        if self.observer is not None:
            self.observer.queue_depth(self, now, n - 1)

    def wait_percentile_ps(self, q: float, ranked: list | None = None) -> int:
        """The ``q``-quantile (0..1, nearest rank) of the queueing time over all grants.
        ``ranked``: ``sorted(wait_samples)``, if the caller has it."""
        n = self.n_grants
        if not n or not self.wait_samples:
            return 0
        rank = max(1, math.ceil(q * n - 1e-9))  # nearest rank
        zeros = n - len(self.wait_samples)
        if rank <= zeros:
            return 0
        if ranked is None:
            ranked = sorted(self.wait_samples)
        return ranked[min(rank - zeros, len(ranked)) - 1]


class Route:
    """A precomputed path between two endpoints: the channels a burst holds, in global
    acquisition order, and the once-per-transfer latency in ps."""

    __slots__ = ("src", "dst", "nodes", "channels", "dma", "latency_ps", "queues",
                 "bw_params", "svc_channels", "requester", "priority", "bottleneck", "plans",
                 "label", "slots", "dma_queue", "setup_ps", "burst", "energy_pj_per_byte")

    def __init__(self, src, dst, nodes, channels, dma, ic: "Interconnect", requester=None,
                 priority: int = 0, setup_ps: int = 0):
        self.src, self.dst, self.nodes, self.dma = src, dst, nodes, dma
        self.label = f"{src}->{dst}"   # the key of its bytes in reports
        chans = sorted(channels, key=lambda c: c.order)
        # distinct (bytes/cycle, Hz) of the bandwidth channels, read by the burst loop's inlined
        # math (channels with equal bandwidth and clock always give equal occupancy)
        self.bw_params = tuple(sorted({(c.bandwidth, c.clock.freq_hz) for c in chans
                                       if c.bandwidth}))
        self.plans: dict = {}   # (bytes, burst, row) -> burst ends and holds (burst_plan)
        self.latency_ps = sum(c.latency_ps for c in chans)
        #: the master arbitrating for the channels (DMA engine, else the source component)
        self.requester = requester if requester is not None else (dma.name if dma else src)
        self.priority = priority
        #: owner of the rate-limiting channel (lowest bytes/ps; a timed memory counts as
        #: its peak rate): what a wait for this route's data is attributed to
        self.bottleneck = _slowest(chans)
        #: the DMA's set-up time in ps, and the burst size of the route's transfers
        self.setup_ps = setup_ps
        self.burst = dma.burst_bytes if dma is not None else DEFAULT_BURST_BYTES
        #: (component, pJ/byte) of moving data on this route: the source memory's read, the
        #: destination memory's write and each link's energy (nonzero ones only)
        comps = ic.platform.components
        src_c, dst_c = comps[src], comps[dst]
        energy = []
        if isinstance(src_c, Memory) and src_c.read_pj_per_byte:
            energy.append((src, src_c.read_pj_per_byte))
        if isinstance(dst_c, Memory) and dst_c.write_pj_per_byte:
            energy.append((dst, dst_c.write_pj_per_byte))
        energy += [(c.owner, c.pj_per_byte) for c in chans if c.kind == "link" and c.pj_per_byte]
        self.energy_pj_per_byte = tuple(energy)
        self._bind(chans, ic)

    def _bind(self, chans: list, ic: "Interconnect") -> None:
        """The part of a route that is its simulation's own: its channels (in global
        acquisition order), their request queues (a burst train's test for waiters), the timed
        ones, and the DMA engine's slot and descriptor-queue channels."""
        self.channels = chans
        self.svc_channels = [c for c in chans if c.service is not None]
        self.queues = [c.queue for c in chans]
        dma = self.dma
        self.slots, self.dma_queue = ((ic.dma_slots[dma.name], ic.dma_queue.get(dma.name))
                                      if dma is not None else (None, None))

    def spec(self) -> tuple:
        """What this route shares with the same hop's route in any interconnect of the
        platform: all but what :meth:`_bind` sets (the channels as their positions in
        ``Interconnect.channels`` instead). The burst plans are shared too (pure functions)."""
        return (self.src, self.dst, self.nodes, tuple(c.order for c in self.channels), self.dma,
                self.label, self.bw_params, self.latency_ps, self.requester, self.priority,
                self.bottleneck, self.setup_ps, self.burst, self.plans, self.energy_pj_per_byte)

    @classmethod
    def from_spec(cls, spec: tuple, ic: "Interconnect") -> "Route":
        """The route of :meth:`spec` on the channels of interconnect ``ic``."""
        r = cls.__new__(cls)
        (r.src, r.dst, r.nodes, orders, r.dma, r.label, r.bw_params, r.latency_ps, r.requester,
         r.priority, r.bottleneck, r.setup_ps, r.burst, r.plans, r.energy_pj_per_byte) = spec
        channels = ic.channels
        r._bind([channels[i] for i in orders], ic)
        return r

    def __repr__(self):
        return f"Route({' -> '.join(self.nodes)})"


class Transfer:
    """Bookkeeping of one transfer, read by the engine for stall/contention attribution."""

    __slots__ = ("tag", "nbytes", "route", "queued_ps", "waiting_since", "start_ps", "end_ps",
                 "waits", "done", "addr", "row_bytes", "stride_bytes", "waiting_on")

    def __init__(self, tag, nbytes, route, addr: int | None = None, row_bytes: int = 0,
                 stride_bytes: int = 0):
        """``addr``: byte address in the timed memory of the route (DRAM), if any.
        ``row_bytes``/``stride_bytes``: a 2D transfer of ``nbytes / row_bytes`` rows of
        ``row_bytes`` contiguous bytes, row starts ``stride_bytes`` apart (0: 1D)."""
        self.tag, self.nbytes, self.route = tag, nbytes, route
        self.addr, self.row_bytes, self.stride_bytes = addr, row_bytes, stride_bytes
        self.waiting_on = None
        self.queued_ps = 0
        self.waiting_since = None
        self.start_ps = self.end_ps = None
        self.waits: dict | None = None  # channel name -> ps waited (only when contended)
        self.done = None

    def address_of(self, offset: int) -> int:
        """Memory address of byte ``offset`` of this transfer (1D or 2D strided)."""
        base = self.addr or 0
        if self.row_bytes:
            r, c = divmod(offset, self.row_bytes)
            return base + r * self.stride_bytes + c
        return base + offset

    def queued_until(self, now: int) -> int:
        """Queue time accrued up to ``now`` (including a wait in progress)."""
        if self.waiting_since is None:
            return self.queued_ps
        return self.queued_ps + now - self.waiting_since


class Interconnect:
    """Channels of a platform and the routes between its endpoints.

    Routes follow :meth:`Platform.route_path` (fewest hops through routers, links and DMA
    engines, ties broken as ``networkx.shortest_path`` breaks them; a ``routes:`` section pins
    a pair's path instead), searched once per (source, destination) pair and platform; each
    Interconnect builds its :class:`Route` of its own channels once per pair. Memories are
    endpoints, never pass-through: if data must pass through an intermediate memory (e.g.
    L3 -> L2 -> L1) the path is split into hops that the caller executes one after another
    (staging).
    """

    def __init__(self, env, platform: Platform, observer=None):
        self.env, self.platform = env, platform
        self.channels: list[Channel] = []
        self.port: dict[str, Channel] = {}      # memory name -> its port channel
        self.dma_slots: dict[str, Channel] = {}  # dma name -> slot channel
        self.link_dir: dict[tuple, Channel] = {}  # (a, b) -> channel carrying a->b
        self.dma_queue: dict[str, Channel] = {}  # dma name -> descriptor-queue channel
        self.dma_dir: dict[tuple, Channel] = {}  # (dma name, "rd"|"wr") -> burst channel
        self.observer = observer
        self.trains: dict = {}   # burst trains in flight (insertion-ordered set)
        #: burst plans by (bandwidth parameters, bytes, burst, row), shared by all routes of
        #: all simulations of the platform (pure functions of those)
        self.plans: dict = platform.derived(_burst_plans)
        #: burst ends and route latencies processed in place by their train (``_Train._ended``),
        #: and the time after which none is (a run's limit on simulated time: its events stay
        #: queued)
        self.in_place = 0
        self.horizon = math.inf
        tables = {"port": self.port, "dma_slots": self.dma_slots, "link_dir": self.link_dir,
                  "dma_queue": self.dma_queue, "dma_dir": self.dma_dir}
        chans, trains = self.channels, self.trains
        queue_obs = observer if observer is not None and hasattr(observer, "queue_depth") else None
        for table, keys, args, dram in platform.derived(_channel_table):
            ch = Channel(env, *args)
            ch.order = len(chans)   # global acquisition order (deadlock freedom)
            ch.trains = trains
            if dram is not None:
                ch.service = DramTiming(dram)
            if queue_obs is not None:
                ch.observer = queue_obs
            chans.append(ch)
            table = tables[table]
            for key in keys:
                table[key] = ch
        self._routes: dict = {}

    def hops(self, src: str, dst: str) -> list[Route]:
        """Routes to execute in sequence to move data from ``src`` to ``dst`` (one unless the
        data must be staged through intermediate memories)."""
        key = (src, dst)
        routes = self._routes.get(key)
        if routes is None:
            # what a route shares with the same pair's routes in every other simulation of the
            # platform (path, channel positions, latency, burst plans, ...) is worked out once
            specs = self.platform.derived(_route_specs)
            spec = specs.get(key)
            if spec is None:
                routes = self._find(src, dst)
                specs[key] = [r.spec() for r in routes]
            else:
                routes = [Route.from_spec(x, self) for x in spec]
            self._routes[key] = routes
        return routes

    def _find(self, src, dst) -> list[Route]:
        path = self.platform.route_path(src, dst)   # searched once per platform
        if path is None:
            raise ConfigError(self.platform.file, "links", f"no route from {src} to {dst}",
                              f"connect {src} and {dst} through links")
        return self._split(path)

    def _split(self, path) -> list[Route]:
        """One route per hop between the memories a path passes through (staging)."""
        port, routes, start = self.port, [], 0   # port: one per memory
        for i in range(1, len(path) - 1):
            if path[i] in port:
                routes.append(self._route(path[start:i + 1]))
                start = i
        routes.append(self._route(path[start:]))   # (all of it from a node to itself)
        return routes

    def _route(self, nodes) -> Route:
        port, comps = self.port, self.platform.components   # port: one per memory
        chans, dma = [], None
        for node in nodes:
            ch = port.get(node)
            if ch is not None:
                chans.append(ch)
            elif dma is None and node in self.dma_slots:
                dma = comps[node]
        link_dir = self.link_dir
        chans += [link_dir[edge] for edge in zip(nodes, nodes[1:])]
        if dma is not None and (dma.name, "rd") in self.dma_dir:
            chans.append(self.dma_dir[(dma.name, _dma_direction(self.platform, nodes))])
        # the master: the DMA engine, else the endpoint that is not a memory (AIMC streamer)
        master = nodes[-1] if nodes[0] in port and nodes[-1] not in port else nodes[0]
        prio = dma.priority if dma is not None else getattr(comps[master], "priority", 0)
        setup = (dma.clock.cycles_to_ps(dma.setup_cycles)
                 if dma is not None and dma.setup_cycles else 0)
        return Route(nodes[0], nodes[-1], list(nodes), chans, dma, self,
                     requester=dma.name if dma is not None else master, priority=prio,
                     setup_ps=setup)

    # --------------------------------------------------------------------------------------
    def transfer(self, route: Route, nbytes: int, tag=None, transfer: Transfer | None = None):
        """SimPy process body moving ``nbytes`` along ``route``; returns the :class:`Transfer`.

        Use as ``t = yield env.process(ic.transfer(...))`` or ``yield from``.
        """
        env = self.env
        t = transfer or Transfer(tag, nbytes, route)
        t.start_ps = env._now
        obs = self.observer
        slot = dq = None
        setup = 0   # the DMA's descriptor set-up once it holds a slot
        who, prio = route.requester, route.priority
        me = env._active_proc  # the process running this transfer: the holder it records
        if route.dma is not None:
            setup_ps, dq = route.setup_ps, route.dma_queue
            if dq is not None:
                # descriptor queue: take an entry, program the descriptor (overlapping the
                # transfers in flight), then wait for an active slot
                ev = dq.acquire(who, prio)
                if ev is not None:
                    yield from _wait(env, ev, t, dq)
                dq_t0 = env._now  # the entry is busy from its grant, not from the request
                if setup_ps:
                    yield env.timeout(setup_ps)
            else:
                setup = setup_ps
            slot = route.slots
            ev = slot.acquire(who, prio)
            if ev is not None:
                yield from _wait(env, ev, t, slot)
            slot_t0 = env._now  # the slot is busy from its grant, not from the request
        train = _Train(env, route, t, nbytes, route.burst, obs, me, who, prio, self)
        if train.n:  # set-up, arbitration, the bursts and the latency from callbacks (_Train)
            yield train.run(setup)
        else:
            if setup:
                yield env.timeout(setup)
            if obs is not None:
                obs.transfer_begin(t)
            if route.latency_ps:
                yield env.timeout(route.latency_ps)
        if slot is not None:
            slot.busy_ps += env._now - slot_t0
            slot.release()
        if dq is not None:
            dq.busy_ps += env._now - dq_t0
            dq.release()
        t.end_ps = env._now
        if obs is not None:
            obs.transfer_end(t)
        return t


#: burst size for transfers that no DMA engine issues (e.g. AIMC streamers)
DEFAULT_BURST_BYTES = 1024


def burst_plan(route: Route, nbytes: int, burst: int, row: int,
               shared: dict | None = None) -> tuple:
    """``(ends, holds, total)`` of a transfer of ``nbytes`` on ``route``: the byte offset at
    which each burst ends (a 2D transfer's burst never crosses a row of ``row`` bytes), the ps
    each burst holds the route for its bandwidth channels, and their sum. Each bandwidth
    channel has moved ``ceil(sent / bw)`` cycles' worth of the transfer after a burst; a burst holds the route
    for the largest increment of that count converted to ps (``Clock.cycles_to_ps``), so the
    bursts add up exactly to ``ceil(n / bw)``. A pure function of the route's bandwidth
    parameters and the other arguments, cached on the route (a layer's tiles repeat the same
    few sizes) and in ``shared`` (the platform's, by bandwidth parameters: routes with equal
    bandwidths, such as a mesh's many paths, share their plans)."""
    key = (nbytes, burst, row)
    plan = route.plans.get(key)
    if plan is not None:
        return plan
    skey = (route.bw_params, nbytes, burst, row)
    plan = shared.get(skey) if shared is not None else None
    if plan is None:
        if row:
            ends, sent = [], 0
            while sent < nbytes:
                sent = min(nbytes, sent + burst, (sent // row + 1) * row)
                ends.append(sent)
        else:
            ends = list(range(burst, nbytes, burst))
            if nbytes > 0:
                ends.append(nbytes)
        holds = [0] * len(ends)
        for bw, f in route.bw_params:
            # cycles' worth moved after each burst: an integral bandwidth in integers (the
            # same ceiling as the float one), else as floats
            if float(bw).is_integer():
                b = int(bw)
                cyc = [-(-e // b) for e in ends]
            else:
                cyc = [int(-(-e // bw)) for e in ends]
            prev = 0
            for k, c in enumerate(cyc):
                ps = -(-c * PS_PER_S // f)
                if ps - prev > holds[k]:
                    holds[k] = ps - prev
                prev = ps
        plan = (ends, holds, sum(holds))
        if shared is not None:
            shared[skey] = plan
    route.plans[key] = plan
    return plan


def _free_all(chans: list, j: int = 0) -> None:
    """:meth:`Channel._free` of each channel ``chans[j:]``, its idle and FIFO cases inlined (a
    burst train releases its route once per contended burst and at its end; by index: a
    mesh route has up to ~20 channels, and a slice would copy them each time)."""
    n = len(chans)
    while j < n:
        c = chans[j]
        if not c.queue:
            c.free += 1
        elif c.fifo:
            c._grant_next(None)
        else:
            c._free()
        j += 1


class _Train:
    """The bursts of one transfer, run from SimPy callbacks without resuming the transfer's
    process: the DMA's descriptor set-up (when no descriptor queue overlaps it), arbitration
    for the route's channels, each burst's hold, and the release and re-arbitration between
    bursts.

    Exact: the per-burst model takes every channel of the route (in global order, queueing
    FIFO or by policy where one is busy), holds them for the burst, releases them all and
    takes them again for the next burst. This class does the same steps at the same points
    of the event order: a grant event's callback continues the arbitration where the
    process would have been resumed by it, a burst-end timeout's callback releases and
    re-arbitrates. Between bursts only the channels from the first one with a queued request
    on are released (to the waiters, in route order, as the full release would hand them
    over) before queueing on that first one again: the channels before it have nobody
    waiting, so releasing and retaking them at the same instant changes nothing; while no
    request is queued on any channel the next burst just starts. The process waits on one
    event, ``wake``, triggered once the last burst has released the route, the transfer's
    statistics are booked and the route's latency has passed. The event count and order are
    those of a process that waits on the DMA's set-up timeout, each grant, each burst's
    timeout and the latency's timeout.

    The train is itself the event of each burst's end and of each grant it waits for: it is
    pushed on SimPy's queue with the key a ``Timeout`` or a succeeded event would get (time,
    ``NORMAL`` priority, next event id) and has what ``Environment.step`` reads of an event
    (``callbacks``, ``_ok``), and it stands in a channel's queue as its own request (``who``,
    ``requester``, ``priority``; ``Channel._grant_next`` schedules its grant), so neither
    costs an event object. What it holds
    is one number, ``j``: the channels ``chans[:j]`` of its route (all of them while a burst
    runs, those before the one it queues on while it waits, none before and after); a
    channel's :meth:`Channel.held_by` reads it from the trains in flight (``trains``)."""

    __slots__ = ("env", "chans", "queues", "svc", "t", "obs", "ends", "holds", "k", "total",
                 "wake", "seg_start", "seg_end", "seg_bytes", "segs", "who", "requester",
                 "priority", "j", "t0", "callbacks", "n", "latency", "trains",
                 "plain", "heap", "eid", "ic")
    _ok = True   # as a SimPy event: a burst's end always succeeds

    def __init__(self, env, route: Route, t: Transfer, nbytes: int, burst: int, obs, me,
                 who, prio: int, ic: "Interconnect"):
        # (one assignment per field: cheaper than tuple assignment; ``j``, ``t0``, ``wake`` and
        # ``callbacks`` are set before they are first read)
        self.env = env
        self.chans = route.channels
        self.queues = route.queues
        self.t = t
        self.obs = obs
        self.heap = env._queue   # SimPy's event queue and id counter
        self.eid = env._eid
        # as a channel request: holder process, requester (master) name, priority
        self.who = me
        self.requester = who
        self.priority = prio
        plan = route.plans.get((nbytes, burst, t.row_bytes))
        if plan is None:
            plan = burst_plan(route, nbytes, burst, t.row_bytes, ic.plans)
        self.ends, self.holds, self.total = plan
        self.n = len(plan[0])   # bursts
        self.k = 0   # the burst running or next
        self.latency = route.latency_ps
        self.ic = ic
        self.trains = ic.trains
        #: each burst's hold is the plan's: no timed memory, no observer to tell
        svc = self.svc = route.svc_channels
        self.plain = not svc and obs is None
        if not self.plain:
            self.total = 0   # summed burst by burst
            # for the observer: runs of back-to-back bursts as (start ps, end ps, bytes)
            self.seg_start = self.seg_end = -1
            self.seg_bytes, self.segs = 0, []

    def run(self, setup: int = 0):
        """Start: after ``setup`` ps (the DMA's descriptor set-up; as a timeout would take it),
        tell the observer and arbitrate for burst 0; returns the event the process waits on
        (``wake``)."""
        self.wake = Signal(self.env)
        self.wake.train = self   # for deadlock reports: the train may wait in a channel's queue
        if setup:
            self.callbacks = self.START
            heappush(self.heap, (self.env._now + setup, NORMAL, next(self.eid), self))
        else:
            self._begin(False)
        return self.wake

    def _start(self) -> None:   # the set-up's end: the train's own event
        self._begin(True)

    def _begin(self, own_event: bool) -> None:
        if self.obs is not None:
            self.obs.transfer_begin(self.t)
        self.trains[self] = None
        self._acquire(0, own_event)

    def _acquire(self, j: int, own_event: bool) -> None:
        """Take the route's channels from index ``j`` on, then start burst ``k``; where one is
        busy, queue on it and continue from its grant (:meth:`_granted`). ``own_event``: this
        runs in the callback of the train's own event (its set-up's end or a grant), so the
        burst's end may be processed in place (see :meth:`_ended`)."""
        chans = self.chans
        n = len(chans)
        while j < n:   # by index from j (after a grant: no copy of the route's tail)
            c = chans[j]
            if c.free:   # Channel.acquire, inlined
                c.free -= 1
                j += 1
            else:
                self._queue(c, j)
                return
        self.j = j
        env, k = self.env, self.k
        now = env._now
        end = now + (self.holds[k] if self.plain else self._hold(k, now))
        if own_event:
            heap = self.heap
            if (not heap or end < heap[0][0]) and end <= self.ic.horizon:
                env._now = end   # burst k's end, processed in place
                self.ic.in_place += 1
                self._ended()
                return
        self.callbacks = self.END   # env.timeout(hold).callbacks.append(self), inlined
        heappush(self.heap, (end, NORMAL, next(self.eid), self))

    def _queue(self, c: Channel, j: int) -> None:
        """Queue on ``c``, the route's ``j``-th channel (holding the ones before it)."""
        now = self.env._now
        q = c.queue   # Channel._queue, inlined
        n = len(q)
        c.queue_area += n * (now - c.queue_t)
        c.queue_t = now
        q.append(self)
        c.n_waits += 1
        if n >= c.max_queue:
            c.max_queue = n + 1
        if c.observer is not None:
            c.observer.queue_depth(c, now, n + 1)
        t = self.t
        self.j = j
        self.t0 = t.waiting_since = now
        t.waiting_on = c.owner

    def _granted(self) -> None:
        j = self.j
        c, t = self.chans[j], self.t
        waited = self.env._now - self.t0   # _waited, inlined
        t.waiting_since = t.waiting_on = None
        t.queued_ps += waited
        c.wait_ps += waited
        if waited:
            c.wait_samples.append(waited)
        w = t.waits
        if w is None:
            t.waits = w = {}
        w[c.owner] = w.get(c.owner, 0) + waited
        self._acquire(j + 1, True)

    def _hold(self, k: int, now: int) -> int:
        """The hold of burst ``k`` of a train that is not plain, starting at ``now``: with
        timed memories from address and bank/row state; told to the observer."""
        hold, nxt = self.holds[k], self.ends[k]
        sent = self.ends[k - 1] if k else 0
        for c in self.svc:
            d = c.service.burst_ps(now, self.t, sent, nxt)
            if d > hold:
                hold = d
        if self.obs is not None:
            if self.seg_end != now:
                if self.seg_bytes:
                    self.segs.append((self.seg_start, self.seg_end, self.seg_bytes))
                self.seg_start, self.seg_bytes = now, 0
            self.seg_bytes += nxt - sent
            self.seg_end = now + hold
        self.total += hold
        return hold

    def _ended(self) -> None:
        """End of burst ``k``, and of the bursts after it that are processed in place.

        While nobody waits for the route, the next burst starts at once. When its end is
        earlier than every event in SimPy's queue (and within the run's horizon), it is the
        very next event SimPy would process: pushing and popping it would change nothing, so
        it is processed here, in place (the clock set to it, the count of such events kept in
        ``Interconnect.in_place``: the run adds them to its events). Exact: this is the
        train's own event, whose one callback is this method, so nothing can run between its
        push and its pop. The same holds for the route's latency after the last burst."""
        env, heap, ic = self.env, self.heap, self.ic
        k, n, horizon = self.k + 1, self.n, ic.horizon
        if k < n:
            # nothing else runs while bursts are processed in place: the queues of the route
            # and the next queued event stay as they are, so both are looked at once
            queues = self.queues
            if any(queues):
                self.k = k
                # give up the channels from the first one with a waiter on, queue on it again
                j = 0
                while not queues[j]:
                    j += 1
                _free_all(self.chans, j)
                self._queue(self.chans[j], j)
                return
            # nobody waits: keep the route for the next bursts
            head = heap[0][0] if heap else math.inf
            holds = self.holds if self.plain else None
            now, ran = env._now, 0   # burst ends processed in place
            while k < n:
                end = now + (holds[k] if holds is not None else self._hold(k, now))
                if end >= head or end > horizon:
                    env._now = now
                    self.k = k
                    ic.in_place += ran
                    self.callbacks = self.END
                    heappush(heap, (end, NORMAL, next(self.eid), self))
                    return
                now = end   # burst k's end, processed in place
                ran += 1
                k += 1
            env._now = now
            ic.in_place += ran
        self.k = k
        chans = self.chans
        _free_all(chans)
        nbytes, n, total = self.ends[-1], self.n, self.total
        for c in chans:  # statistics once per transfer, not per burst
            c.busy_ps += total
            c.bytes += nbytes
            c.n_grants += n
        self.j = 0
        del self.trains[self]
        if not self.plain and self.seg_bytes:   # runs of back-to-back bursts, told once
            self.segs.append((self.seg_start, self.seg_end, self.seg_bytes))
            self.obs.bursts(chans, self.segs)
        if self.latency:   # then the route's latency, as a timeout would take it
            end = env._now + self.latency
            if (heap and end >= heap[0][0]) or end > horizon:
                self.callbacks = self.WAKE
                heappush(heap, (end, NORMAL, next(self.eid), self))
                return
            env._now = end   # the latency's end, processed in place as a burst's end is
            ic.in_place += 1
        self._wake()

    def _wake(self) -> None:
        w = self.wake  # resume the process, as if it waited on this timeout
        # done: drop the wake event's reference back to the train so that reference counting
        # frees it, not the cyclic garbage collector
        w.train = None
        w._ok, w._value = True, None
        callbacks, w.callbacks = w.callbacks, None
        for cb in callbacks:
            cb(w)

    # the callbacks of the train's events (set-up done, grant, burst end, latency passed):
    # its own functions, which SimPy calls with the event, the train itself (no bound methods)
    START, GRANT, END, WAKE = (_start,), (_granted,), (_ended,), (_wake,)


def _burst_plans(platform: Platform) -> dict:
    """(bandwidth parameters, bytes, burst, row) -> :func:`burst_plan`, filled as transfers
    are first made (per platform: :meth:`Platform.derived`)."""
    return {}


def _route_specs(platform: Platform) -> dict:
    """(source, destination) -> :meth:`Route.spec` of each hop, filled as pairs are first used
    (per platform: :meth:`Platform.derived`)."""
    return {}


def _channel_table(platform: Platform) -> tuple:
    """The channels of ``platform``, in the order an :class:`Interconnect` creates them (their
    acquisition order): ``(table, keys, Channel arguments after env, timed DRAM or None)``,
    ``table`` naming the Interconnect dict that finds the channel under each of ``keys``.
    Derived once per platform (:meth:`Platform.derived`): every simulation of it only makes
    the channel objects (a large mesh has thousands)."""
    out = []
    for comp in platform.components.values():
        name = comp.name
        if isinstance(comp, Dram):
            out.append(("port", (name,), (f"{name}.port", "memory", comp.clock, None, comp.ports,
                                          0, 0.0, name, comp.arbitration), comp))
        elif isinstance(comp, Memory):
            out.append(("port", (name,), (f"{name}.port", "memory", comp.clock,
                                          comp.port_bandwidth_bytes_per_cycle, comp.ports,
                                          comp.latency_cycles, 0.0, name, comp.arbitration), None))
        elif isinstance(comp, DmaEngine):
            if comp.queue_depth:
                out.append(("dma_queue", (name,), (f"{name}.queue", "dma", comp.clock, None,
                                                   comp.max_outstanding + comp.queue_depth, 0,
                                                   0.0, name), None))
            out.append(("dma_slots", (name,), (f"{name}.slots", "dma", comp.clock, None,
                                               comp.max_outstanding, 0, 0.0, name), None))
            if comp.max_outstanding_bursts or comp.bandwidth_bytes_per_cycle:
                for d in ("rd", "wr"):
                    out.append(("dma_dir", ((name, d),), (
                        f"{name}.{d}", "dma", comp.clock, comp.bandwidth_bytes_per_cycle or None,
                        comp.max_outstanding_bursts or comp.max_outstanding, 0, 0.0, name), None))
    for link in platform.links:
        rest = (link.clock, link.bandwidth_bytes_per_cycle, 1, link.latency_cycles,
                link.pj_per_byte, link.name, link.arbitration)
        if link.duplex == "half":   # one channel for both directions
            out.append(("link_dir", ((link.a, link.b), (link.b, link.a)),
                        (link.name, "link") + rest, None))
        else:
            for a, b in ((link.a, link.b), (link.b, link.a)):
                out.append(("link_dir", ((a, b),), (f"{a}->{b}", "link") + rest, None))
    return tuple(out)


def _dma_direction(platform, nodes) -> str:
    """``rd`` for a load (towards the memory closer to compute: lower level, or into a
    non-memory engine), ``wr`` for a store."""
    a, b = platform.components[nodes[0]], platform.components[nodes[-1]]
    if isinstance(a, Memory) and isinstance(b, Memory):
        return "rd" if b.level < a.level else "wr"
    return "wr" if isinstance(b, Memory) else "rd"


def _slowest(channels) -> str:
    best, rate = None, None
    for c in channels:
        if c.service is not None:
            r = c.service.peak_bytes_per_ps
        elif c.bandwidth:
            r = c.bandwidth * c.clock.freq_hz / PS_PER_S * c.capacity
        else:
            continue
        if rate is None or r < rate:
            best, rate = c.owner, r
    return best or (channels[0].owner if channels else "")


def _wait(env, ev, t: Transfer, ch: Channel):
    t0 = env._now
    t.waiting_since = t0
    t.waiting_on = ch.owner
    yield ev
    _waited(t, ch, t0, env._now)


def _waited(t: Transfer, ch: Channel, t0: int, now: int) -> None:
    """Book a wait of ``t`` for ``ch`` from ``t0`` to its grant at ``now``."""
    waited = now - t0
    t.waiting_since = t.waiting_on = None
    t.queued_ps += waited
    ch.wait_ps += waited
    if waited:
        ch.wait_samples.append(waited)
    if t.waits is None:
        t.waits = {}
    t.waits[ch.owner] = t.waits.get(ch.owner, 0) + waited
