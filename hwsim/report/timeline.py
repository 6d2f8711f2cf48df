"""Streaming Chrome Trace Event / Perfetto JSON writer.

Layout: one process (``pid``) per kind of component (layers, engines, DMA, interconnect,
memories) and one thread (``tid``) per component or DMA slot, named by metadata events.
Spans are ``X`` events (``ts``/``dur`` in microseconds, written exactly from integer ps);
bytes in flight on each channel are ``C`` counter events, and so are, for every link
direction and memory port, its queue depth (``queue <name>``, at every change: waiting
requests) and its bandwidth (``bandwidth <name>``, GB/s averaged over windows of
``bandwidth_window_ps``, written at the end of each window with traffic, 0 after a gap). Cycles of the reference clock are
kept in ``args`` beside the microsecond timestamps. Events are written as they happen, so
memory stays flat however long the run (the file is valid once :meth:`close` ran).
"""
from __future__ import annotations

import json

from ..base.units import ps_to_us_str

__all__ = ["PIDS", "Timeline"]

PIDS = {"layers": 1, "engines": 2, "dma": 3, "interconnect": 4, "memories": 5}


class Timeline:
    """Observer of a simulation that writes its events to ``path``."""

    def __init__(self, path, platform_name: str = "", ref_clock=None,
                 bandwidth_window_ps: int = 10_000_000):
        self.bw_window = bandwidth_window_ps
        self.path = str(path)
        self.bw: dict = {}           # channel name -> [window start ps, bytes, pid name]
        self.f = open(path, "w", buffering=1 << 20)
        self.f.write('{"displayTimeUnit": "ns", "otherData": {"generator": "hwsim", '
                     f'"platform": {json.dumps(platform_name)}}}, "traceEvents": [\n')
        self.first = True
        self.ref = ref_clock
        self.tids: dict = {}
        self._quoted: dict = {}      # counter name -> its JSON string
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
        """A ``C`` event; ``values`` maps identifier-like series names to numbers. Written
        by hand, not through json.dumps: counters are the most frequent events."""
        quoted = self._quoted.get(name)
        if quoted is None:
            quoted = self._quoted[name] = json.dumps(name)
        args = ", ".join('"%s": %s' % (k, _number(v)) for k, v in sorted(values.items()))
        self._emit('{"ph":"C","name":%s,"pid":%d,"tid":0,"ts":%s,"args":{%s}}'
                   % (quoted, PIDS[pid_name], ps_to_us_str(ts_ps), args))

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

    # -- channel observer interface (called by Channel and Interconnect.transfer) ---------
    def queue_depth(self, ch, ts_ps: int, depth: int) -> None:
        if ch.kind in ("link", "memory"):
            self.counter("memories" if ch.kind == "memory" else "interconnect",
                         f"queue {ch.name}", ts_ps, {"waiting": depth})

    def burst(self, chans, start_ps: int, hold_ps: int, nbytes: int) -> None:
        w = self.bw_window
        for c in chans:
            if c.kind not in ("link", "memory"):
                continue
            acc = self.bw.get(c.name)
            if acc is None:
                acc = self.bw[c.name] = [start_ps - start_ps % w, 0,
                                         "memories" if c.kind == "memory" else "interconnect"]
            elif start_ps >= acc[0] + w:
                self._flush_bw(c.name, acc, start_ps)
            acc[1] += nbytes

    def _flush_bw(self, name, acc, now_ps) -> None:
        w = self.bw_window
        self.counter(acc[2], f"bandwidth {name}", acc[0], {"GB_per_s": round(acc[1] * 1000 / w, 6)})
        end = acc[0] + w
        if now_ps is None or now_ps >= end + w:  # an idle gap: drop to zero
            self.counter(acc[2], f"bandwidth {name}", end, {"GB_per_s": 0})
        if now_ps is not None:
            acc[0], acc[1] = now_ps - now_ps % w, 0

    def close(self, stopped: dict | None = None) -> None:
        """End the file. ``stopped`` (``{"reason": ..., "at_ps": ...}``) marks a run cut short
        (interrupt, limit, deadlock): the file gets a global instant event and a top-level
        ``metadata.incomplete`` record saying where it stopped, so it never looks complete."""
        for name, acc in sorted(self.bw.items()):
            if acc[1]:
                self._flush_bw(name, acc, None)
        tail = "\n]"
        if stopped:
            at = int(stopped.get("at_ps", 0))
            self._emit('{"ph":"i","s":"g","pid":1,"tid":0,"ts":%s,"name":%s}' % (
                ps_to_us_str(at), json.dumps(f"INCOMPLETE: {stopped.get('reason', 'stopped')}")))
            tail += ', "metadata": {"incomplete": %s}' % json.dumps(
                {"reason": stopped.get("reason", "stopped"), "stopped_at_ps": at,
                 **{k: v for k, v in stopped.items() if k not in ("reason", "at_ps")}}, sort_keys=True)
        self.f.write(tail + "}\n")
        self.f.close()


def _number(v) -> str:
    """JSON text of a number, as json.dumps writes it (ints and floats without a call)."""
    t = type(v)
    if t is int:
        return str(v)
    if t is float:
        return repr(v)
    return json.dumps(float(v) if isinstance(v, float) else int(v))


def _tag_name(tag) -> str:
    if isinstance(tag, tuple):
        return " ".join(str(x) for x in tag)
    return str(tag)
