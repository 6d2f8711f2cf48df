"""Arbitration policies for shared channels (link directions, memory ports, DMA slots).

A :class:`~hwsim.sim.interconnect.Channel` grants its ``capacity`` servers to requests; when all
are busy, requests queue and the *policy* decides which waiting request is granted when a
server frees up:

* ``fifo`` (default): first come, first served. The channel keeps a plain ``deque``.
* ``round_robin``: one queue per requester (the master: a DMA engine, an AIMC streamer);
  grants rotate over requesters with waiting requests in the cyclic order in which the
  requesters were first seen, starting after the last one granted. A master with many
  outstanding requests thus gets 1/k of the channel among k backlogged masters, not a share
  proportional to its queue length as under FIFO.
* ``fixed_priority``: the waiting request with the lowest ``priority`` number wins; FIFO
  among equal priorities. Low-priority masters can starve while higher ones are backlogged.

Arbitration is work-conserving and happens only when a channel is busy, so an uncontended
run costs the same events under every policy. The queues here hold SimPy events carrying
``requester`` and ``priority`` attributes (set by ``Channel.acquire``); they implement the
part of the ``deque`` interface the channel uses (``append``, ``popleft``, ``len``, and
iteration for deadlock reports).
"""
from __future__ import annotations

import heapq
import itertools
from collections import deque

__all__ = ["POLICIES", "RoundRobinQueue", "PriorityQueue", "make_queue"]

POLICIES = ("fifo", "round_robin", "fixed_priority")


class RoundRobinQueue:
    """Per-requester FIFO queues served in cyclic requester order."""

    __slots__ = ("queues", "order", "index", "last", "n")

    def __init__(self):
        self.queues: dict = {}
        self.order: list = []       # requesters in the order first seen (the ring)
        self.index: dict = {}       # requester -> position in the ring
        self.last = -1              # ring position granted last
        self.n = 0

    def append(self, ev) -> None:
        r = ev.requester
        q = self.queues.get(r)
        if q is None:
            q = self.queues[r] = deque()
            self.index[r] = len(self.order)
            self.order.append(r)
        q.append(ev)
        self.n += 1

    def popleft(self):
        if not self.n:
            raise IndexError("pop from an empty round-robin queue")
        k = len(self.order)
        for step in range(1, k + 1):
            pos = (self.last + step) % k
            q = self.queues[self.order[pos]]
            if q:
                self.last = pos
                self.n -= 1
                return q.popleft()
        raise AssertionError("unreachable: n > 0 but every queue is empty")

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        """The waiting requests, requester by requester in ring order (for reports)."""
        for r in self.order:
            yield from self.queues[r]


class PriorityQueue:
    """Lowest ``priority`` first, FIFO (arrival order) among equals."""

    __slots__ = ("heap", "seq")

    def __init__(self):
        self.heap: list = []
        self.seq = itertools.count()   # arrival order

    def append(self, ev) -> None:
        heapq.heappush(self.heap, (ev.priority, next(self.seq), ev))

    def popleft(self):
        return heapq.heappop(self.heap)[2]

    def __len__(self) -> int:
        return len(self.heap)

    def __iter__(self):
        """The waiting requests in grant order (for reports)."""
        return (ev for _, _, ev in sorted(self.heap, key=lambda e: e[:2]))


def make_queue(policy: str):
    """The waiting queue for ``policy`` (a plain deque for FIFO: the fast path)."""
    if policy == "fifo":
        return deque()
    if policy == "round_robin":
        return RoundRobinQueue()
    if policy == "fixed_priority":
        return PriorityQueue()
    raise ValueError(f"unknown arbitration policy {policy!r} (valid: {', '.join(POLICIES)})")
