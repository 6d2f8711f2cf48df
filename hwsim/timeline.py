"""Streaming Chrome Trace Event / Perfetto JSON writer.

Layout: one process (``pid``) per kind of component (layers, engines, DMA, interconnect,
memories) and one thread (``tid``) per component or DMA slot, named by metadata events.
Spans are ``X`` events (``ts``/``dur`` in microseconds, written exactly from integer ps);
bytes in flight on each channel are ``C`` counter events. Cycles of the reference clock are
kept in ``args`` beside the microsecond timestamps. Events are written as they happen, so
memory stays flat however long the run (the file is valid once :meth:`close` ran).
"""
from __future__ import annotations

import json

from .units import ps_to_us_str

PIDS = {"layers": 1, "engines": 2, "dma": 3, "interconnect": 4, "memories": 5}


class Timeline:
    """Observer of a simulation that writes its events to ``path``."""

    def __init__(self, path, platform_name: str = "", ref_clock=None):
        self.f = open(path, "w", buffering=1 << 20)
        self.f.write('{"displayTimeUnit": "ns", "otherData": {"generator": "hwsim", '
                     f'"platform": {json.dumps(platform_name)}}}, "traceEvents": [\n')
        self.first = True
        self.ref = ref_clock
        self.tids: dict = {}
        self.free_slots: dict = {}   # track group -> list of free slot indices
        self.slot_of: dict = {}      # id(transfer) -> (group, slot)
        for name, pid in PIDS.items():
            self._emit('{"ph":"M","name":"process_name","pid":%d,"tid":0,"args":{"name":%s}}'
                       % (pid, json.dumps(name)))
            self._emit('{"ph":"M","name":"process_sort_index","pid":%d,"tid":0,'
                       '"args":{"sort_index":%d}}' % (pid, pid))

    def _emit(self, text: str) -> None:
        if self.first:
            self.first = False
            self.f.write(text)
        else:
            self.f.write(",\n" + text)

    def tid(self, pid_name: str, track: str) -> tuple:
        key = (pid_name, track)
        t = self.tids.get(key)
        if t is None:
            t = self.tids[key] = (PIDS[pid_name], len(self.tids) + 1)
            self._emit('{"ph":"M","name":"thread_name","pid":%d,"tid":%d,"args":{"name":%s}}'
                       % (t[0], t[1], json.dumps(track)))
        return t

    def span(self, pid_name: str, track: str, name: str, start_ps: int, end_ps: int,
             cat: str, args: dict | None = None) -> None:
        pid, tid = self.tid(pid_name, track)
        a = dict(args or {})
        if self.ref is not None:
            a["cycles"] = self.ref.ps_to_cycles(end_ps) - self.ref.ps_to_cycles(start_ps)
        self._emit('{"ph":"X","name":%s,"cat":"%s","pid":%d,"tid":%d,"ts":%s,"dur":%s,"args":%s}'
                   % (json.dumps(name), cat, pid, tid, ps_to_us_str(start_ps),
                      ps_to_us_str(end_ps - start_ps), json.dumps(a, sort_keys=True)))

    def counter(self, pid_name: str, name: str, ts_ps: int, values: dict) -> None:
        self._emit('{"ph":"C","name":%s,"pid":%d,"tid":0,"ts":%s,"args":%s}'
                   % (json.dumps(name), PIDS[pid_name], ps_to_us_str(ts_ps),
                      json.dumps(values, sort_keys=True)))

    # -- transfer observer interface (called by Interconnect.transfer) --------------------
    def transfer_begin(self, t) -> None:
        group = t.route.dma.name if t.route.dma is not None else f"{t.route.src}->{t.route.dst}"
        free = self.free_slots.setdefault(group, [])
        slot = free.pop(0) if free else sum(1 for g, _ in self.slot_of.values() if g == group)
        self.slot_of[id(t)] = (group, slot)
        self._counters(t, t.start_ps)

    def transfer_end(self, t) -> None:
        group, slot = self.slot_of.pop(id(t))
        self.free_slots[group].append(slot)
        self.free_slots[group].sort()
        track = group if slot == 0 else f"{group} #{slot}"
        pid = "dma" if t.route.dma is not None else "interconnect"
        self.span(pid, track, _tag_name(t.tag), t.start_ps, t.end_ps, "transfer",
                  {"bytes": t.nbytes, "route": " > ".join(t.route.nodes),
                   "queued_us": ps_to_us_str(t.queued_ps)})
        self._counters(t, t.end_ps)

    def _counters(self, t, ts) -> None:
        for c in t.route.channels:
            if c.bandwidth:
                pid = "memories" if c.kind == "memory" else "interconnect"
                self.counter(pid, c.name, ts, {"bytes_in_flight": c.inflight_bytes})

    def close(self) -> None:
        self.f.write("\n]}\n")
        self.f.close()


def _tag_name(tag) -> str:
    if isinstance(tag, tuple):
        return " ".join(str(x) for x in tag)
    return str(tag)
