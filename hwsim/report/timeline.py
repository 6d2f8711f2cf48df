"""Timeline of a simulation for Perfetto (ui.perfetto.dev) and chrome://tracing.

Written as Chrome Trace Event JSON (``.json``) or, with the optional ``perfetto`` package
(``pip install 'hwsim[perfetto]'``), as Perfetto's own protobuf trace (``.pftrace``, built
with Perfetto's Python trace builder: several times smaller). Both hold the same tracks:

* **layers**: one slice per layer, in lanes (``layers``, ``layers #1``, ...) so layers that run
  at the same time (branches, pipelined layers) sit side by side instead of nesting; their
  arguments are the layer's cycles by category (``compute_cycles``, ...: reference clock).
* **engines** (core clusters, accelerators, AIMC tiles): a slice per tile step (``compute``,
  ``mvm``, ``accumulate``, ``program``) and, while the engine waits for a tile's data, a
  ``wait`` slice naming what it waits for (``wait l3``: the resource it was charged to, the
  category in the arguments). A flow arrow leads from each load (and weight transfer) to
  the compute step that consumed it.
* **DMA** / **interconnect**: a slice per transfer, on slots (``udma``, ``udma #1``, ...) so
  concurrent transfers do not nest; arguments ``size_bytes``, ``route``, ``queued_cycles``.
* **counters**, one set per link and per memory port: a run of link directions through
  pass-through nodes (a DMA or crossbar with two links) always carries the same transfers, so
  it is one counter (``l2->soc_xbar->cluster_dma->l1``), not one per hop.
  ``<link> bandwidth`` (``GB_per_s``) is the traffic averaged over windows of the run's
  length / 500 to / 1000 (the window doubles whenever the run outgrows 1000 of them; the
  bytes of a run of bursts are spread over the time it holds the link; the window is in the
  file's ``otherData.bandwidth_window_ns``), each sample stamped at its window's *start* and held
  until the next; ``<link> queue`` (``waiting_requests``) is written when it changes, one
  sample per timestamp. ``full=True`` (``hwsim run --timeline-full``) writes instead the exact
  bandwidth of every burst (a step at its start and end) and ``<link> in flight``
  (``in_flight_bytes``) at every transfer start and end.

Tracks sort naturally (``ima_2`` before ``ima_10``). On a platform generated as a mesh
(components ``<name>_<x>_<y>``) each cluster's engines, DMA, memories and links form one
group (``cluster 3_0``), the routers' links another (``noc``). Time in the file is exact (integer
ps written as decimal microseconds); every argument names its unit. Spans are written as they
end, so memory stays flat however long the run (the windowed bandwidth, 1000 numbers per link, is
written at the end); the file is complete once :meth:`Timeline.close` ran.
"""
from __future__ import annotations

import heapq
import json
import re
from itertools import accumulate
from operator import add
from pathlib import Path

from ..base.errors import HwsimError
from ..base.units import ps_to_us_str

__all__ = ["PIDS", "Timeline", "natural_key"]

#: fixed groups (process ids); mesh clusters get ids from CLUSTER_PID0 on
PIDS = {"layers": 1, "engines": 2, "dma": 3, "interconnect": 4, "memories": 5, "noc": 6}
CLUSTER_PID0 = 100
#: windowed bandwidth: between WINDOWS and 2 x WINDOWS windows over the run (the windows
#: double whenever the run outgrows them)
WINDOWS = 500
MIN_WINDOW_PS = 50_000   # 50 ns: a few bursts; shorter windows only show bursts on and off
_CLUSTER = re.compile(r"_(\d+)_(\d+)$")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``ima_2`` before ``ima_10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


class Timeline:
    """Observer of a simulation that writes its timeline to ``path`` (``.json`` or
    ``.pftrace``). ``platform`` gives the names, clocks and links; ``full``: exact
    bandwidth steps and bytes in flight instead of windowed bandwidth (larger, slower)."""

    def __init__(self, path, platform, full: bool = False):
        self.path = str(path)
        self.platform = platform
        self.ref = platform.reference_clock
        self.full = full
        path = Path(path)
        if path.suffix == ".pftrace":
            self.out = _PerfettoSink(path, platform.name)
        else:
            self.out = _JsonSink(path, platform.name, full)
        self.tids: dict = {}         # (pid, track) -> tid
        self.pids: dict = {}         # group name -> pid
        self.free_slots: dict = {}   # transfer track group -> free slot indices
        self.used_slots: dict = {}   # transfer track group -> slots in use
        self.slot_of: dict = {}      # id(transfer) -> its slot on its group's tracks
        self.lanes: list = []        # per layer lane: [(start, end)] of its layers
        self.flows: dict = {}        # (layer, tile) -> flow ids of loads not yet consumed
        self.n_flows = 0
        self.engine_free: dict = {}  # engine -> end of its last slice (wait slices start there)
        self.key_of, self.chains = _counter_keys(platform)   # channel name -> counter key
        self.qinfo = {ch: (f"{k} queue", self.chains.get(k)) for ch, k in self.key_of.items()}
        self.route_keys: dict = {}   # id(route channels) -> [counter key] (unique, in order)
        self.depth: dict = {}        # channel name -> waiting requests
        self.pending: dict = {}      # step counter name -> [ts, value, key, series] not yet written
        self.written: dict = {}      # step counter name -> last written value
        self.window = MIN_WINDOW_PS  # grows to keep at most 2 x WINDOWS windows
        self.limit = 2 * WINDOWS * self.window
        self.t_end = 0               # end of the last burst so far
        self.bw: dict = {}           # counter key -> bytes per window (2 x WINDOWS of them)
        self.route_accs: dict = {}   # id(route channels) -> [window list of each counter]
        self.route_info: dict = {}   # id(route) -> (track group, kind, nodes as JSON text)
        self.steps: dict = {}        # full: counter key -> [(ps, change of bytes per ps)]
        self.inflight: dict = {}     # full: counter key -> bytes in flight
        if full:
            self.bursts = self._bursts_full
        for name in ("layers", "engines", "dma", "interconnect", "memories"):
            self._pid(name)

    # -- tracks ---------------------------------------------------------------------------
    def _pid(self, group: str) -> int:
        pid = self.pids.get(group)
        if pid is None:
            pid = PIDS.get(group)
            if pid is None:
                pid = CLUSTER_PID0 + sum(1 for g in self.pids if g not in PIDS)
            self.pids[group] = pid
            self.out.process(pid, group)
        return pid

    def _group(self, kind: str, name: str) -> str:
        """The process a track goes to: on a generated mesh its cluster (the first component
        of its name that is not a router), or ``noc`` (router to router); else its kind."""
        parts = name.split(" ", 1)[0].split("->")
        m = None
        for part in parts:
            m = _CLUSTER.search(part)
            if m is None:
                return kind
            if not part.startswith("router_"):
                return f"cluster {m.group(1)}_{m.group(2)}"
        return "noc"

    def _tid(self, kind: str, track: str) -> tuple:
        key = (kind, track)
        t = self.tids.get(key)
        if t is None:
            pid = self._pid(self._group(kind, track))
            t = self.tids[key] = (pid, len(self.tids) + 1)
            self.out.thread(pid, t[1], track)
        return t

    def _cycles(self, ps: int) -> int:
        return self.ref.ps_to_cycles(ps)

    # -- layers and engines (called by the engine) ----------------------------------------
    def layer(self, name: str, start_ps: int, end_ps: int, ps_by_category: dict) -> None:
        """A layer's slice, on the first lane free over its whole span."""
        for lane, spans in enumerate(self.lanes):
            if all(end_ps <= s or start_ps >= e for s, e in spans):
                break
        else:
            lane = len(self.lanes)
            self.lanes.append([])
        self.lanes[lane].append((start_ps, end_ps))
        pid, tid = self._tid("layers", "layers" if lane == 0 else f"layers #{lane}")
        args = {f"{k}_cycles": self._cycles(v) for k, v in ps_by_category.items() if v}
        args["duration_cycles"] = self._cycles(end_ps) - self._cycles(start_ps)
        self.out.slice(pid, tid, name, "layer", start_ps, end_ps, args)

    def compute(self, engine: str, layer: str, tile, step: str, start_ps: int, end_ps: int,
                args: dict) -> None:
        """A tile step on an engine (``tile``: index, or ``"weights"`` for programming); the
        loads of that tile not yet consumed end their flow arrows here."""
        pid, tid = self._tid("engines", engine)
        name = f"{layer} {step}" if tile == "weights" else f"{layer} t{tile} {step}"
        a = dict(args)
        a["duration_cycles"] = self._cycles(end_ps) - self._cycles(start_ps)
        self.out.slice(pid, tid, name, "programming" if step == "program" else "compute",
                       start_ps, end_ps, a)
        self.engine_free[engine] = max(self.engine_free.get(engine, 0), end_ps)
        if step != "accumulate":
            for fid in self.flows.pop((layer, tile), ()):
                self.out.flow_end(pid, tid, start_ps, fid)

    def wait(self, engines, layer: str, tile: int, what: str, start_ps: int, end_ps: int,
             category: str, resource: str, stall_ps: int, contention_ps: int) -> None:
        """The engines of a layer waited ``[start_ps, end_ps)`` for tile ``tile``'s data
        (``what``: "in" or "out"); drawn on each engine from where it was last busy."""
        args = {"layer": layer, "tile_index": tile, "waits_for": what, "resource": resource,
                "memory_stall_cycles": self._cycles(stall_ps),
                "contention_cycles": self._cycles(contention_ps)}
        for eng in engines:
            s = max(start_ps, self.engine_free.get(eng, 0))
            if s >= end_ps:
                continue
            pid, tid = self._tid("engines", eng)
            self.out.slice(pid, tid, f"wait {resource}", "wait", s, end_ps, dict(args, category=category))
            self.engine_free[eng] = end_ps

    # -- transfer observer interface (called by Interconnect.transfer) --------------------
    def _route_info(self, route) -> tuple:
        """(track group, track kind, nodes as JSON text) of a route, worked out once."""
        info = self.route_info.get(id(route))
        if info is None:
            dma = route.dma is not None
            info = self.route_info[id(route)] = (
                route.dma.name if dma else f"{route.src}->{route.dst}", "dma" if dma else "interconnect",
                json.dumps(" > ".join(route.nodes)))
        return info

    def transfer_begin(self, t) -> None:
        group = self._route_info(t.route)[0]
        free = self.free_slots.get(group)
        if free:
            slot = heapq.heappop(free)
        else:
            slot = self.used_slots.get(group, 0)
            self.used_slots[group] = slot + 1
        self.slot_of[id(t)] = slot
        if self.full:
            self._inflight(t, t.start_ps, t.nbytes)

    def transfer_end(self, t) -> None:
        group, kind, route = self._route_info(t.route)
        slot = self.slot_of.pop(id(t))
        heapq.heappush(self.free_slots.setdefault(group, []), slot)
        pid, tid = self._tid(kind, group if slot == 0 else f"{group} #{slot}")
        tag = t.tag
        self.out.transfer(pid, tid, _tag_name(tag), t.start_ps, t.end_ps, t.nbytes, route,
                          self._cycles(t.queued_ps))
        if type(tag) is tuple and tag[-1] in ("in", "weights"):
            key = (tag[0], "weights") if tag[-1] == "weights" else (tag[0], int(tag[1][1:]))
            self.n_flows += 1
            self.flows.setdefault(key, []).append(self.n_flows)
            self.out.flow_start(pid, tid, t.start_ps, self.n_flows)
        if self.full:
            self._inflight(t, t.end_ps, -t.nbytes)

    def _keys(self, chans) -> list:
        keys = self.route_keys.get(id(chans))
        if keys is None:
            keys = []
            for c in chans:
                k = self.key_of.get(c.name)
                if k is not None and k not in keys:
                    keys.append(k)
            self.route_keys[id(chans)] = keys
        return keys

    def _inflight(self, t, ts: int, delta: int) -> None:
        for k in self._keys(t.route.channels):
            v = self.inflight[k] = self.inflight.get(k, 0) + delta
            self._step(k, "in flight", "in_flight_bytes", ts, v)

    def _counter_pid(self, key: str) -> int:
        kind = "memories" if key.endswith(".port") else "interconnect"
        return self._pid(self._group(kind, key))

    # -- channel observer interface (called by Channel and Interconnect.transfer) ---------
    def queue_depth(self, ch, ts_ps: int, depth: int) -> None:
        """A channel's queue changed: the ``queue`` step counter of its link or port (the
        sum over a run's hops). Called at every enqueue and grant: kept lean."""
        info = self.qinfo.get(ch.name)
        if info is None:
            return
        name, members = info
        if members is not None:
            self.depth[ch.name] = depth
            depth = sum(self.depth.get(m, 0) for m in members)
        p = self.pending.get(name)
        if p is None:
            self.pending[name] = [ts_ps, depth, self.key_of[ch.name], "waiting_requests"]
        elif p[0] == ts_ps:   # the same instant: the last value wins
            p[1] = depth
        else:
            if self.written.get(name, 0) != p[1]:
                self._write_step(p[2], name, p[3], p)
            p[0], p[1] = ts_ps, depth

    def _step(self, key: str, what: str, series: str, ts_ps: int, value) -> None:
        """A counter that changes in steps: several updates at one instant are merged (the
        last wins) and a value equal to the last one written is dropped."""
        name = f"{key} {what}"
        p = self.pending.get(name)
        if p is not None:
            if p[0] == ts_ps:
                p[1] = value
                return
            self._write_step(key, name, series, p)
        self.pending[name] = [ts_ps, value, key, series]

    def _write_step(self, key: str, name: str, series: str, p: list) -> None:
        if self.written.get(name, 0) != p[1]:
            self.written[name] = p[1]
            self.out.counter(self._counter_pid(key), name, series, p[0], p[1])

    def bursts(self, chans, segments) -> None:
        """A transfer held ``chans`` for ``segments`` ``[(start_ps, end_ps, bytes)]`` (runs of
        back-to-back bursts): add the bytes to the windows of every counter on the route,
        spread over the time they held it (the hot path of a timeline)."""
        accs = self.route_accs.get(id(chans))
        if accs is None:
            accs = self.route_accs[id(chans)] = [self._acc(k) for k in self._keys(chans)]
        if not accs:
            return
        end = segments[-1][1]
        if end > self.t_end:
            self.t_end = end
            while end > self.limit:   # the run outgrew the windows: make them twice as long
                self._grow()
        w = self.window
        for start, end, nbytes in segments:
            i0, i1 = start // w, (end - 1) // w
            if i0 == i1:
                for acc in accs:
                    acc[0][i0] += nbytes
                continue
            r = nbytes / (end - start)   # bytes per ps over the run of bursts
            head, tail = r * ((i0 + 1) * w - start), r * (end - i1 * w)
            full = r * w
            for acc in accs:
                a = acc[0]
                a[i0] += head
                a[i1] += tail
                if i1 > i0 + 1:   # the windows in between, as a difference array: O(1)
                    dif = acc[1]
                    dif[i0 + 1] += full
                    dif[i1] -= full
                    acc[2] = True

    def _acc(self, key: str) -> list:
        """A counter's windows: [bytes per window, difference array of bytes added to every
        window of a range (folded in by :meth:`_fold`), whether that array is in use]. Plain
        lists: adding to one item is the hot path."""
        acc = self.bw.get(key)
        if acc is None:
            acc = self.bw[key] = [[0.0] * (2 * WINDOWS), [0.0] * (2 * WINDOWS), False]
        return acc

    @staticmethod
    def _fold(acc: list) -> list:
        """Bytes per window, with the difference array folded in (and cleared)."""
        a, dif, used = acc
        if used:
            a[:] = map(add, a, accumulate(dif))
            dif[:] = [0.0] * (2 * WINDOWS)
            acc[2] = False
        return a

    def _grow(self) -> None:
        """Windows twice as long: merge them pairwise, in place (routes keep their
        accumulators)."""
        self.window *= 2
        self.limit *= 2
        for acc in self.bw.values():
            a = self._fold(acc)
            a[:] = list(map(add, a[0::2], a[1::2])) + [0.0] * WINDOWS

    def _bursts_full(self, chans, segments) -> None:
        """Full resolution: the exact rate of every run of back-to-back bursts, kept as
        steps (+rate at its start, -rate at its end) and written in time order at the end."""
        for k in self._keys(chans):
            steps = self.steps.setdefault(k, [])
            for start, end, nbytes in segments:
                r = nbytes / max(end - start, 1)
                steps.append((start, r))
                steps.append((end, -r))

    def _write_steps(self) -> None:
        for k, steps in sorted(self.steps.items()):
            steps.sort()
            points, rate, last = [], 0.0, None
            for i, (ts, d) in enumerate(steps):
                rate += d
                if i + 1 < len(steps) and steps[i + 1][0] == ts:
                    continue   # several steps at one instant: one sample
                v = round(rate * 1000, 6) if abs(rate) > 1e-12 else 0.0
                if v != last:
                    points.append((ts, v))
                    last = v
            self.out.counters(self._counter_pid(k), f"{k} bandwidth", "GB_per_s", points)

    # -------------------------------------------------------------------------------------
    def close(self, stopped: dict | None = None) -> None:
        """Write what is still buffered (queues, windowed bandwidth, track order); the file
        is complete afterwards. ``stopped`` (``{"reason", "at_ps", ...}``) marks a run cut
        short (interrupt, limit, deadlock, error): the JSON file's ``otherData.incomplete``
        says why and where, so a cut timeline never looks complete."""
        self._write_steps()
        for name, p in sorted(self.pending.items()):
            self._write_step(p[2], name, p[3], p)
        w = self.window
        n = -(-self.t_end // w)
        for k, acc in sorted(self.bw.items()):
            points, last = [], None
            for i, b in enumerate(self._fold(acc)[:n]):
                v = round(b * 1000 / w, 6)     # bytes per ps x 1000 = GB/s
                if v != last:
                    points.append((i * w, v))
                    last = v
            if last:
                points.append((n * w, 0.0))
            self.out.counters(self._counter_pid(k), f"{k} bandwidth", "GB_per_s", points)
        for rank, (track_key, (pid, tid)) in enumerate(
                sorted(self.tids.items(), key=lambda kv: natural_key(kv[0][1]))):
            self.out.thread_sort(pid, tid, rank)
        for rank, group in enumerate(sorted(self.pids, key=lambda g: (PIDS.get(g, len(PIDS) + 1),
                                                                     natural_key(g)))):
            self.out.process_sort(self.pids[group], rank)
        other = {"bandwidth_window_ns": None if self.full else w / 1000,
                 "reference_clock": self.ref.name, "reference_clock_hz": self.ref.freq_hz}
        if stopped:
            other["incomplete"] = {"reason": stopped.get("reason", "stopped"),
                                   "stopped_at_ps": int(stopped.get("at_ps", 0)),
                                   **{k: v for k, v in stopped.items() if k not in ("reason", "at_ps")}}
        self.out.close(other)


def _counter_keys(platform) -> tuple:
    """Channel name -> counter key, and counter key -> member channel names (for runs of
    link directions). A run is a chain ``a->b->c`` through nodes that are neither memories
    nor compute engines and have exactly two links: every transfer on one hop is on all."""
    from ..hardware.platform import AimcTile, CoreCluster, Memory

    comps = platform.components
    key_of = {f"{m.name}.port": f"{m.name}.port" for m in comps.values() if isinstance(m, Memory)}
    nbrs: dict = {}
    half = {}
    for link in platform.links:
        nbrs.setdefault(link.a, []).append(link.b)
        nbrs.setdefault(link.b, []).append(link.a)
        if link.duplex == "half":
            half[(link.a, link.b)] = half[(link.b, link.a)] = link.name

    def through(n):
        return (not isinstance(comps.get(n), (Memory, CoreCluster, AimcTile))
                and len(nbrs.get(n, ())) == 2)

    def name(a, b):
        return half.get((a, b)) or f"{a}->{b}"

    def nxt(a, b):
        """The hop after ``a->b`` that every transfer on it takes, if any."""
        if (a, b) in half or not through(b):
            return None
        c = next(x for x in nbrs[b] if x != a)
        return None if (b, c) in half else c

    chains: dict = {}
    for a, bs in nbrs.items():
        for b in bs:
            prev = [x for x in nbrs[a] if x != b] if through(a) else []
            if prev and nxt(prev[0], a) == b:
                continue   # inside a run: named from its first hop
            path = [a, b]
            while (c := nxt(path[-2], path[-1])) is not None and c not in path:
                path.append(c)
            hops = [name(x, y) for x, y in zip(path, path[1:])]
            key = hops[0] if len(hops) == 1 else "->".join(path)
            for h in hops:
                key_of[h] = key
            if len(hops) > 1:
                chains[key] = hops
    return key_of, chains


def _tag_name(tag) -> str:
    if type(tag) is tuple:
        try:
            return " ".join(tag)
        except TypeError:
            return " ".join(str(x) for x in tag)
    return str(tag)


def _json_str(s: str) -> str:
    """``json.dumps(s)``; plain printable ASCII (most names) needs no escaping and skips the
    encoder."""
    return '"' + s + '"' if _plain(s) else json.dumps(s)


def _plain(s: str) -> bool:
    """A string JSON writes as is, between quotes (printable ASCII, no quote or backslash)."""
    return s.isascii() and s.isprintable() and '"' not in s and "\\" not in s


def _json_args(args: dict) -> str:
    """``json.dumps(args, sort_keys=True)`` of a slice's arguments: ints, finite floats and
    plain strings under plain keys written by hand (the common case), else the encoder."""
    parts = []
    for k in sorted(args):
        v = args[k]
        t = type(v)
        if t is int:
            text = str(v)
        elif t is float and v - v == 0:   # finite
            text = repr(v)
        elif t is str and _plain(v):
            text = '"' + v + '"'
        else:
            return json.dumps(args, sort_keys=True)
        key = _KEYS.get(k)
        if key is None:   # a slice's keys are a few constant names: checked once each
            key = _KEYS[k] = '"' + k + '": ' if type(k) is str and _plain(k) else ""
        if not key:
            return json.dumps(args, sort_keys=True)
        parts.append(key + text)
    return "{" + ", ".join(parts) + "}"


_KEYS: dict = {}   # slice argument name -> its JSON text and separator ("" if not plain)


def _number(v) -> str:
    """JSON text of a number, as json.dumps writes it (ints and floats without a call)."""
    t = type(v)
    if t is int:
        return str(v)
    if t is float:
        return repr(v)
    return json.dumps(float(v) if isinstance(v, float) else int(v))


class _JsonSink:
    """Chrome Trace Event JSON, streamed (events written as they come, by hand: counters
    are the most frequent events)."""

    def __init__(self, path: Path, platform_name: str, full: bool):
        self.f = open(path, "w", buffering=1 << 20)
        self.f.write('{"displayTimeUnit": "ns", "traceEvents": [\n')
        self.first = True
        self.platform_name = platform_name
        self._quoted: dict = {}

    def _emit(self, text: str) -> None:
        if self.first:
            self.first = False
            self.f.write(text)
        else:
            self.f.write(",\n" + text)

    def process(self, pid: int, name: str) -> None:
        self._emit('{"ph":"M","name":"process_name","pid":%d,"tid":0,"args":{"name":%s}}'
                   % (pid, json.dumps(name)))

    def process_sort(self, pid: int, index: int) -> None:
        self._emit('{"ph":"M","name":"process_sort_index","pid":%d,"tid":0,"args":{"sort_index":%d}}'
                   % (pid, index))

    def thread(self, pid: int, tid: int, name: str) -> None:
        self._emit('{"ph":"M","name":"thread_name","pid":%d,"tid":%d,"args":{"name":%s}}'
                   % (pid, tid, json.dumps(name)))

    def thread_sort(self, pid: int, tid: int, index: int) -> None:
        self._emit('{"ph":"M","name":"thread_sort_index","pid":%d,"tid":%d,"args":{"sort_index":%d}}'
                   % (pid, tid, index))

    def slice(self, pid, tid, name, cat, start_ps, end_ps, args) -> None:
        self._emit('{"ph":"X","name":%s,"cat":"%s","pid":%d,"tid":%d,"ts":%s,"dur":%s,"args":%s}'
                   % (_json_str(name), cat, pid, tid, ps_to_us_str(start_ps),
                      ps_to_us_str(end_ps - start_ps), _json_args(args)))

    def transfer(self, pid, tid, name, start_ps, end_ps, nbytes, route_json, queued_cycles) -> None:
        """A transfer's slice (the most frequent slice: formatted by hand, keys sorted)."""
        self._emit('{"ph":"X","name":%s,"cat":"transfer","pid":%d,"tid":%d,"ts":%s,"dur":%s,'
                   '"args":{"queued_cycles": %d, "route": %s, "size_bytes": %d}}'
                   % (_json_str(name), pid, tid, ps_to_us_str(start_ps),
                      ps_to_us_str(end_ps - start_ps), queued_cycles, route_json, nbytes))

    def counter(self, pid, name, series, ts_ps, value) -> None:
        quoted = self._quoted.get(name)
        if quoted is None:
            quoted = self._quoted[name] = json.dumps(name)
        self._emit('{"ph":"C","name":%s,"pid":%d,"tid":0,"ts":%s,"args":{"%s":%s}}'
                   % (quoted, pid, ps_to_us_str(ts_ps), series, _number(value)))

    def counters(self, pid, name, series, points) -> None:
        """A counter's samples ``[(ts_ps, value)]`` at once."""
        head = '{"ph":"C","name":%s,"pid":%d,"tid":0,"ts":' % (json.dumps(name), pid)
        tail = ',"args":{"%s":' % series
        for ts, v in points:
            self._emit(head + ps_to_us_str(ts) + tail + _number(v) + "}}")

    def flow_start(self, pid, tid, ts_ps, fid) -> None:
        self._emit('{"ph":"s","name":"data","cat":"flow","id":%d,"pid":%d,"tid":%d,"ts":%s}'
                   % (fid, pid, tid, ps_to_us_str(ts_ps)))

    def flow_end(self, pid, tid, ts_ps, fid) -> None:
        self._emit('{"ph":"f","bp":"e","name":"data","cat":"flow","id":%d,"pid":%d,"tid":%d,"ts":%s}'
                   % (fid, pid, tid, ps_to_us_str(ts_ps)))

    def close(self, other: dict) -> None:
        other = dict(other, generator="hwsim", platform=self.platform_name)
        self.f.write('\n], "otherData": %s}\n' % json.dumps(other, sort_keys=True))
        self.f.close()


class _PerfettoSink:
    """Perfetto protobuf trace through Perfetto's Python trace builder (streamed packet by
    packet). Tracks are TrackDescriptors (a process-like parent per group, a child per
    track, counter tracks with their unit in the name); slices are begin/end TrackEvents;
    flows are flow ids on the transfer's slice and terminating flow ids on the compute's."""

    SEQ = 1

    def __init__(self, path: Path, platform_name: str):
        try:
            from perfetto.trace_builder.proto_builder import StreamingTraceProtoBuilder
            from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import TrackEvent
        except ImportError:
            raise HwsimError(f"{path}: a .pftrace timeline needs the perfetto package: "
                             "pip install 'hwsim[perfetto]' (or write a .json timeline)") from None
        self.TrackEvent = TrackEvent
        self.f = open(path, "wb")
        self.b = StreamingTraceProtoBuilder(self.f)
        self.uuid: dict = {}
        self.desc: dict = {}           # track key -> (name, parent key, counter unit)
        self.counter_uid: dict = {}
        self.first = True
        self.platform_name = platform_name

    def _packet(self, ts_ps: int | None = None):
        p = self.b.create_packet()
        p.trusted_packet_sequence_id = self.SEQ
        if self.first:
            p.first_packet_on_sequence = True
            p.sequence_flags = 1     # SEQ_INCREMENTAL_STATE_CLEARED
            self.first = False
        if ts_ps is not None:
            p.timestamp = ts_ps // 1000   # ns (Perfetto's unit); ps below 1 ns are cut
        return p

    def _track(self, key, name: str, parent=None, counter_unit: str | None = None, rank=None,
               explicit: bool = False):
        """Write a track's descriptor (again, with its rank among its siblings, once the
        order is known: the later descriptor of a uuid completes the first)."""
        uid = self.uuid.get(key)
        if uid is None:
            uid = self.uuid[key] = len(self.uuid) + 1
            self.desc[key] = (name, parent, counter_unit)
        p = self._packet()
        d = p.track_descriptor
        d.uuid = uid
        d.name = name
        if parent is not None:
            d.parent_uuid = self.uuid[parent]
        if counter_unit is not None:
            d.counter.unit_name = counter_unit
        if rank is not None:
            d.sibling_order_rank = rank
        if explicit:
            d.child_ordering = d.EXPLICIT
        self.b.write_packet(p)
        return uid

    def process(self, pid, name) -> None:
        self._track(("p", pid), name)

    def thread(self, pid, tid, name) -> None:
        self._track(("t", pid, tid), name, parent=("p", pid))

    def process_sort(self, pid, index) -> None:
        name, _, _ = self.desc[("p", pid)]
        self._track(("p", pid), name, rank=index, explicit=True)

    def thread_sort(self, pid, tid, index) -> None:
        name, parent, _ = self.desc[("t", pid, tid)]
        self._track(("t", pid, tid), name, parent=parent, rank=index)

    def _event(self, ts_ps, uid, type_, name=None, args=None, flows=(), terminating=()):
        p = self._packet(ts_ps)
        e = p.track_event
        e.type = type_
        e.track_uuid = uid
        if name is not None:
            e.name = name
        for k, v in (args or {}).items():
            a = e.debug_annotations.add()
            a.name = k
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                a.string_value = str(v)
            elif isinstance(v, int):
                a.int_value = v
            else:
                a.double_value = v
        e.flow_ids.extend(flows)
        e.terminating_flow_ids.extend(terminating)
        self.b.write_packet(p)

    def transfer(self, pid, tid, name, start_ps, end_ps, nbytes, route_json, queued_cycles) -> None:
        self.slice(pid, tid, name, "transfer", start_ps, end_ps,
                   {"size_bytes": nbytes, "route": json.loads(route_json), "queued_cycles": queued_cycles})

    def slice(self, pid, tid, name, cat, start_ps, end_ps, args) -> None:
        uid = self.uuid[("t", pid, tid)]
        self._event(start_ps, uid, self.TrackEvent.TYPE_SLICE_BEGIN, name, dict(args, category=cat))
        self._event(end_ps, uid, self.TrackEvent.TYPE_SLICE_END)

    def counter(self, pid, name, series, ts_ps, value) -> None:
        uid = self.counter_uid.get(name)
        if uid is None:
            uid = self.counter_uid[name] = self._track(("c", name), f"{name} {series}",
                                                    parent=("p", pid), counter_unit=series)
        p = self._packet(ts_ps)
        e = p.track_event
        e.type = self.TrackEvent.TYPE_COUNTER
        e.track_uuid = uid
        e.double_counter_value = float(value)
        self.b.write_packet(p)

    def counters(self, pid, name, series, points) -> None:
        for ts, v in points:
            self.counter(pid, name, series, ts, v)

    def flow_start(self, pid, tid, ts_ps, fid) -> None:
        # the transfer's slice is written just before: attach the flow as an instant on it
        uid = self.uuid[("t", pid, tid)]
        self._event(ts_ps, uid, self.TrackEvent.TYPE_INSTANT, "data out", flows=(fid,))

    def flow_end(self, pid, tid, ts_ps, fid) -> None:
        uid = self.uuid[("t", pid, tid)]
        self._event(ts_ps, uid, self.TrackEvent.TYPE_INSTANT, "data in", terminating=(fid,))

    def close(self, other: dict) -> None:
        self.f.close()
