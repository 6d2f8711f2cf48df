"""Design-space sweeps: one simulation per point, run in parallel, streamed to disk, resumable.

A *point* is a mapping ``{parameter: value}``. A parameter is either

* a platform field as a dotted path into the platform document (``components.l1.size_bytes``,
  ``links.0.bandwidth_bytes_per_cycle``), with two shorthands: a leading component name
  (``l1.size_bytes`` means ``components.l1.size_bytes``) and a link by name
  (``links.l2--soc_xbar.bandwidth_bytes_per_cycle``); values replace the YAML value before
  validation (:func:`hwsim.hardware.platform.apply_overrides`), so a bad value is a recorded error
  naming the field, never a silent default; or
* a trace option: ``trace`` (a trace file or a :mod:`hwsim.workload.zoo` network name),
  ``trace.repeat`` (the network repeated n times back to back, for length-scaling studies) and
  ``trace.<option>`` (an option of the zoo builder, e.g. ``trace.resolution`` for
  ``mobilenetv2``; the trace must then be a zoo name).

Points come from a grid (the Cartesian product of per-parameter value lists, in the order the
parameters are given, last parameter varying fastest) and/or an explicit list. Their order is
deterministic and each has an ``id``: a hash of its parameters and of the base platform and
trace (file contents included), so re-running the same sweep finds the same ids.

Each finished point is appended to a JSON-lines file as one record::

    {"id": ..., "index": 7, "params": {...}, "status": "ok" | "error",
     "error": null | "ConfigError: ...", "summary": {...} | null}

``summary`` is :meth:`SimulationResult.summary_dict` plus ``sram_bytes`` (on-chip memory
capacity, L1 + L2, the area proxy), ``events`` and ``layers``. Wall-clock figures are not
recorded, so a record is a deterministic function of its point. Read it with
``pandas.read_json(path, lines=True)`` or, flattened into one column per field,
:func:`to_dataframe`. A killed sweep restarted on the same file skips every point already
recorded (a partial last line is dropped) but the ``transient`` failures (a worker death, an
interrupt); ``retry_failed`` re-runs every failed one. A failing point is recorded with its
error and the sweep goes on; a dead worker fails only its own point (:func:`_run_pool`); one
sweep writes a file at a time (:class:`RecordFile`).

Back ends share one :class:`concurrent.futures.Executor` interface: a local process pool
(default: one worker per core) or a Dask cluster (``dask="tcp://host:port"``, through
``dask.distributed.Client.get_executor()``), or any executor passed in.
"""
from __future__ import annotations

import concurrent.futures as cf
import copy
import hashlib
import itertools
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

from ..base.errors import ConfigError, HwsimError, Interrupted
from ..hardware.platform import PLATFORM_KEYS

__all__ = ["TRACE_KEY", "Point", "grid", "make_points", "resolve_path", "repeat_trace",
           "load_workload", "split_params", "sram_bytes", "run_point", "read_records", "flatten",
           "to_dataframe", "Progress", "SweepSummary", "run_sweep", "pareto_front", "RecordFile"]

TRACE_KEY = "trace"


# ------------------------------------------------------------------------------------------
# Points
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    """One point of a sweep: its position, stable id and parameters."""

    index: int
    id: str
    params: dict


def grid(axes: dict) -> list:
    """Cartesian product of ``{parameter: [values]}`` as a list of dicts (last axis fastest)."""
    for k, v in axes.items():
        if not isinstance(v, (list, tuple)) or not v:
            raise HwsimError(f"grid axis {k!r} needs a non-empty list of values, got {v!r}")
    keys = list(axes)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(axes[k] for k in keys))]


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _file_digest(path) -> str:
    try:
        return hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def make_points(platform, trace, grid_axes: dict | None = None, points: list | None = None,
                fixed: dict | None = None) -> list:
    """The sweep's points in a deterministic order: the grid first, then the listed points;
    ``fixed`` parameters are added to every point (a point's own value wins)."""
    combos = (grid(grid_axes) if grid_axes else []) + [dict(p) for p in (points or [])]
    if not combos:
        combos = [{}]
    base = {"platform": str(platform), "platform_sha1": _file_digest(platform),
            "trace": str(trace), "trace_sha1": _file_digest(trace)}
    out, seen = [], set()
    for i, combo in enumerate(combos):
        if not isinstance(combo, dict):
            raise HwsimError(f"sweep point {i} must be a mapping of parameter: value, got {combo!r}")
        params = {**(fixed or {}), **combo}
        pid = hashlib.sha1(_canonical({"base": base, "params": params}).encode()).hexdigest()[:16]
        if pid in seen:
            continue                      # the same point listed twice runs once
        seen.add(pid)
        out.append(Point(len(out), pid, params))
    return out


# ------------------------------------------------------------------------------------------
# One point
# ------------------------------------------------------------------------------------------
def resolve_path(raw: dict, key: str, file="<platform>") -> str:
    """Expand the shorthands of a platform parameter (component name first, link by name)."""
    parts = key.split(".")
    if parts[0] not in PLATFORM_KEYS and parts[0] in (raw.get("components") or {}):
        parts = ["components"] + parts
    if parts[0] == "links" and len(parts) > 1 and not parts[1].isdigit():
        for i, link in enumerate(raw.get("links") or []):
            names = {link.get("name")}
            if isinstance(link.get("between"), list) and len(link["between"]) == 2:
                a, b = link["between"]
                names |= {f"{a}--{b}", f"{b}--{a}"}
            elif "a" in link and "b" in link:
                names |= {f"{link['a']}--{link['b']}", f"{link['b']}--{link['a']}"}
            if parts[1] in names:
                parts[1] = str(i)
                break
        else:
            raise ConfigError(file, key, f"no link named {parts[1]!r}",
                              "use links.<index>.<field> or a link's name such as l2--soc_xbar")
    if parts[0] not in PLATFORM_KEYS:
        from ..base.errors import did_you_mean
        raise ConfigError(file, key, "unknown sweep parameter (not a platform field nor a trace "
                          "option)", did_you_mean(parts[0], sorted(PLATFORM_KEYS) + ["trace"]
                                                  + list(raw.get("components") or {})))
    return ".".join(parts)


def repeat_trace(trace, n: int):
    """``trace`` repeated ``n`` times back to back (copy ``k`` renames its layers ``name@k``;
    the first layer of each copy reads the last layer of the previous one)."""
    from ..workload.trace import MAX_LAYERS, Trace

    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_LAYERS // len(trace.layers):
        raise ConfigError(trace.file, "trace.repeat", f"expected a whole number in 1.."
                          f"{MAX_LAYERS // len(trace.layers)}, got {n!r}",
                          f"a trace has at most {MAX_LAYERS:,} layers")
    if n == 1:
        return trace
    layers = list(trace.layers)
    for k in range(1, n):
        sfx = f"@{k}"
        layers += [replace(l, name=l.name + sfx, inputs=tuple(i + sfx for i in l.inputs))
                   for l in trace.layers]
    return Trace(name=f"{trace.name}_x{n}", layers=tuple(layers), source=trace.source,
                 meta=dict(trace.meta))


def load_workload(trace_spec, options: dict | None = None):
    """A trace from a file or a zoo network name, with ``repeat`` and builder options."""
    from ..workload.trace import load_trace
    from ..workload.zoo import NETWORKS, build

    options = dict(options or {})
    repeat = options.pop("repeat", 1)
    spec = str(trace_spec)
    if spec in NETWORKS and not Path(spec).exists():
        trace = build(spec, **options)
    else:
        if options:
            raise ConfigError(spec, "trace." + next(iter(options)), "trace options other than "
                              "repeat need a zoo network name as the trace",
                              "known networks: " + ", ".join(NETWORKS))
        trace = load_trace(spec)
    return repeat_trace(trace, repeat)


def split_params(params: dict) -> tuple:
    """``(platform overrides, trace spec or None, trace options)`` of one point."""
    overrides, trace, topts = {}, None, {}
    for k, v in params.items():
        if k == TRACE_KEY:
            trace = v
        elif k.startswith(TRACE_KEY + "."):
            topts[k[len(TRACE_KEY) + 1:]] = v
        else:
            overrides[k] = v
    return overrides, trace, topts


def sram_bytes(platform) -> int:
    """On-chip memory capacity (L1 + L2 bytes): the area proxy of Pareto plots."""
    from ..hardware.platform import Memory
    return sum(m.size_bytes for m in platform.of_type(Memory) if m.level in ("L1", "L2"))


_RAW_CACHE: dict = {}


def _raw_platform(path) -> dict:
    """The parsed platform YAML, cached per worker process (keyed by path, mtime and size:
    parsing costs about as much as a small simulation). The cached document itself: callers
    copy it before changing anything (:func:`apply_overrides` returns a copy)."""
    from ..hardware.platform import read_platform_document

    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigError(path, "", f"cannot read platform file: {e.strerror}") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _RAW_CACHE:
        _RAW_CACHE.clear()
        _RAW_CACHE[key] = read_platform_document(path)[0]
    return _RAW_CACHE[key]


_WORKLOAD_CACHE: dict = {}


def _workload(spec, options: dict):
    """:func:`load_workload`, cached per worker process (keyed by the spec, the file's mtime
    and size, and the options): the points of a sweep mostly share one trace, a Trace is
    immutable, and reusing its Layer objects makes the mapper's memoised tiling hit by
    identity. Errors are not cached."""
    if not isinstance(spec, (str, os.PathLike)):
        raise ConfigError("<sweep point>", TRACE_KEY, f"expected a trace file or zoo network "
                          f"name, got {spec!r}")
    try:
        st = os.stat(spec)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    key = (str(spec), stamp, _canonical(options))
    trace = _WORKLOAD_CACHE.get(key)
    if trace is None:
        trace = load_workload(spec, options)
        if len(_WORKLOAD_CACHE) >= 8:
            _WORKLOAD_CACHE.clear()
        _WORKLOAD_CACHE[key] = trace
    return trace


def run_point(task: dict) -> dict:
    """Simulate one point (runs in a worker). Never raises: errors go into the record."""
    from ..sim.engine import simulate
    from ..hardware.platform import apply_overrides, platform_from_dict

    rec = {"id": task["id"], "index": task["index"], "params": task["params"],
           "status": "ok", "error": None, "summary": None}
    try:
        overrides, trace_spec, topts = split_params(task["params"])
        path = task["platform"]
        raw = _raw_platform(path)
        full = {resolve_path(raw, k, path): v for k, v in overrides.items()}
        # one private copy of the cached document: the overridden one, else a plain copy
        data = apply_overrides(raw, full, path) if full else copy.deepcopy(raw)
        platform = platform_from_dict(data, path)
        trace = _workload(trace_spec if trace_spec is not None else task["trace"], topts)
        timeline = None
        if task.get("timeline_dir"):
            Path(task["timeline_dir"]).mkdir(parents=True, exist_ok=True)
            timeline = str(Path(task["timeline_dir"]) / f"{task['id']}.json")
        result = simulate(platform, trace, timeline=timeline)
        summary = result.summary_dict()
        summary.update(sram_bytes=sram_bytes(platform), events=result.perf.get("events", 0),
                       layers=len(result.layers), platform=result.platform, trace=result.trace)
        rec["summary"] = summary
    except Exception as e:  # a failing point is data, not a crash
        rec["status"] = "error"
        if isinstance(e, Interrupted):
            rec["transient"] = True           # not a property of the point: rerun on resume
        if isinstance(e, HwsimError):
            rec["error"] = f"{type(e).__name__}: {e}"
        else:
            tb = traceback.format_exception(type(e), e, e.__traceback__)
            rec["error"] = f"{type(e).__name__}: {e}\n" + "".join(tb[-4:])
    return rec


# ------------------------------------------------------------------------------------------
# Records on disk
# ------------------------------------------------------------------------------------------
def read_records(path) -> list:
    """Records of a sweep file (complete lines only; the last record of an id wins)."""
    path = Path(path)
    if not path.exists():
        return []
    by_id: dict = {}
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break                      # partial write of a killed sweep
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "id" in rec:
                by_id[rec["id"]] = rec
    return sorted(by_id.values(), key=lambda r: r.get("index", 0))


class RecordFile:
    """The records file of one sweep, held for the sweep's whole run.

    * **One writer**: an exclusive ``fcntl`` lock on the file itself; a second sweep on the
      same file is refused at once (it would simulate and write every point again).
    * **Whole lines only**: each record is one ``write`` of one line to the file opened for
      appending, so a kill leaves complete lines (``pandas.read_json(lines=True)`` reads the
      file after any interruption); a short write (disk full) is cut back off and raised. A
      line left half-written by an older writer is cut off when the file is opened.
    """

    def __init__(self, path, restart: bool = False):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise HwsimError(f"sweep output {self.path}: not a regular file (records are read "
                             "back to resume: give a file path)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as e:
            raise HwsimError(f"sweep output {self.path}: cannot open: {e.strerror or e}") from None
        try:
            import fcntl
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:          # no fcntl (Windows): one writer is the user's business
            pass
        except OSError:
            os.close(self.fd)
            raise HwsimError(f"sweep output {self.path}: another sweep is writing it (it holds "
                             "the lock); wait for it to finish or choose another -o") from None
        if restart:
            os.ftruncate(self.fd, 0)
        self._drop_partial_tail()

    def _drop_partial_tail(self) -> None:
        size = os.fstat(self.fd).st_size
        if size == 0 or os.pread(self.fd, 1, size - 1) == b"\n":
            return
        data = os.pread(self.fd, size, 0)
        os.ftruncate(self.fd, data.rfind(b"\n") + 1)

    def write(self, rec: dict) -> None:
        line = (json.dumps(rec, sort_keys=True, default=str) + "\n").encode()
        size = os.fstat(self.fd).st_size
        try:
            n = os.write(self.fd, line)
        except OSError as e:
            n, err = -1, e
        if n != len(line):
            os.ftruncate(self.fd, size)
            why = err.strerror if n < 0 else "short write"
            raise HwsimError(f"sweep output {self.path}: cannot write a record: {why}")

    def close(self) -> None:
        os.close(self.fd)      # releases the lock


def flatten(rec: dict) -> dict:
    """One flat row of a record: ``params.<key>``, ``summary.<key>`` (nested dicts dotted)."""
    row = {"id": rec["id"], "index": rec["index"], "status": rec["status"], "error": rec["error"]}
    for k, v in rec["params"].items():
        row[f"param.{k}"] = v if not isinstance(v, (dict, list)) else _canonical(v)

    def walk(prefix, d):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            else:
                row[prefix + k] = v
    walk("", rec.get("summary") or {})
    return row


def to_dataframe(path_or_records):
    """A pandas DataFrame with one row per point and one column per parameter/summary field."""
    import pandas as pd

    recs = (read_records(path_or_records) if isinstance(path_or_records, (str, os.PathLike))
            else path_or_records)
    return pd.DataFrame([flatten(r) for r in recs])


# ------------------------------------------------------------------------------------------
# Progress
# ------------------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on stderr: done/total, failed, rate and ETA (no dependency).
    On a terminal it redraws in place; otherwise it prints a line at most every ``every_s``."""

    def __init__(self, total: int, skipped: int = 0, stream=None, every_s: float = 5.0,
                 width: int = 30):
        self.total, self.skipped = total, skipped
        self.done = self.failed = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every_s, self.width = every_s, width
        self.t0 = time.monotonic()
        self.last = 0.0

    def line(self) -> str:
        n = self.done + self.skipped
        frac = n / self.total if self.total else 1.0
        bar = "#" * int(self.width * frac) + "." * (self.width - int(self.width * frac))
        el = time.monotonic() - self.t0
        rate = self.done / el if el > 0 else 0.0
        left = self.total - n
        eta = f"{_hms(left / rate)}" if rate > 0 else "?"
        skipped = f", {self.skipped} resumed" if self.skipped else ""
        return (f"[{bar}] {n}/{self.total} done, {self.failed} failed{skipped}, "
                f"{rate:.2f} points/s, elapsed {_hms(el)}, ETA {eta}")

    def update(self, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + self.line())
            self.stream.flush()
        elif now - self.last >= self.every_s or self.done + self.skipped == self.total:
            self.last = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------
@dataclass
class SweepSummary:
    """What :func:`run_sweep` did: the output file and counts."""

    out: str
    total: int
    ran: int
    skipped: int
    failed: int
    wall_s: float
    records: list


def _dask_client(address: str, Client):
    """A client of the scheduler at ``address`` (``tcp://host:port``, ``host:port``), or a
    ``HwsimError`` naming the address and why it cannot be used (bad form, no scheduler)."""
    import re

    if not re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+|[A-Za-z0-9_.\-\[\]:]+:[0-9]{1,5}", address):
        raise HwsimError(f"--dask {address!r}: not a scheduler address (expected "
                         "tcp://host:port, e.g. tcp://127.0.0.1:8786)")
    try:
        return Client(address, timeout="20s")
    except Exception as e:   # noqa: BLE001 - dask raises OSError, TimeoutError, ValueError...
        raise HwsimError(f"--dask {address}: cannot connect to a Dask scheduler: "
                         f"{type(e).__name__}: {e}") from None


def _executor(workers, dask):
    """``(executor, closer)`` for the chosen back end."""
    if dask:
        try:
            from dask.distributed import Client
        except ImportError:
            raise HwsimError("--dask needs dask.distributed: pip install 'hwsim[dask]'") from None
        client = _dask_client(dask, Client) if isinstance(dask, str) else dask
        ex = client.get_executor()

        def close():
            ex.shutdown(wait=True)
            if isinstance(dask, str):
                client.close()
        # Workers may join later (adaptive clusters): keep plenty of points queued on the
        # scheduler rather than two per worker seen now.
        return ex, close, max(500, sum(client.nthreads().values()))
    n = workers or os.cpu_count() or 1
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise HwsimError(f"workers: expected a whole number >= 0, got {workers!r}")
    ex = cf.ProcessPoolExecutor(max_workers=n, initializer=_ignore_sigint)
    return ex, lambda: ex.shutdown(wait=True, cancel_futures=True), n


def run_sweep(platform, trace, *, grid_axes: dict | None = None, points: list | None = None,
              fixed: dict | None = None, out="sweep.jsonl", workers: int | None = None,
              dask=None, executor: cf.Executor | None = None, resume: bool = True,
              retry_failed: bool = False, progress=True, timeline_dir=None) -> SweepSummary:
    """Run one simulation per point and stream the records to ``out`` (JSON lines).

    Args:
        platform: platform YAML file (points override its fields).
        trace: trace file or zoo network name (points may override it with ``trace``).
        grid_axes / points / fixed: see :func:`make_points`.
        workers: local process-pool size (default: every core). ``workers=0`` runs in this
            process (no pool; for debugging and tiny sweeps).
        dask: a scheduler address (``"tcp://host:port"``) or a ``dask.distributed.Client``.
        executor: any ``concurrent.futures.Executor`` (overrides ``workers``/``dask``).
        resume: skip points already recorded in ``out`` (else the file is started afresh).
        retry_failed: when resuming, run the recorded failed points again.
        progress: show the progress bar on stderr (or pass a stream).
        timeline_dir: write each point's Perfetto timeline as ``<dir>/<id>.json``.
    Returns:
        :class:`SweepSummary` with the records of every point of this sweep, in point order.
    """
    pts = make_points(platform, trace, grid_axes, points, fixed)
    from ..hardware.platform import read_platform_document
    read_platform_document(platform)     # an unreadable base platform fails the sweep, once
    out = Path(out)
    rf = RecordFile(out, restart=not resume)
    t0 = time.monotonic()
    failed = 0
    new: dict = {}
    bar = None
    try:
        have = {r["id"]: r for r in read_records(out)}
        wanted = {p.id for p in pts}
        have = {k: r for k, r in have.items() if k in wanted and not r.get("transient")
                and not (retry_failed and r.get("status") != "ok")}
        todo = [p for p in pts if p.id not in have]
        stream = progress if (progress not in (True, False, None)) else sys.stderr
        bar = Progress(len(pts), skipped=len(pts) - len(todo), stream=stream) if progress else None

        def task(p: Point) -> dict:
            return {"id": p.id, "index": p.index, "params": p.params, "platform": str(platform),
                    "trace": str(trace), "timeline_dir": str(timeline_dir) if timeline_dir else None}

        def record(rec: dict) -> None:
            nonlocal failed
            rf.write(rec)
            new[rec["id"]] = rec
            failed += rec["status"] != "ok"
            if bar:
                bar.update(rec["status"] == "ok")

        if todo and executor is None and workers == 0 and not dask:
            for p in todo:
                rec = run_point(task(p))
                if rec.get("transient"):       # interrupted inside the simulation
                    raise KeyboardInterrupt
                record(rec)
        elif todo:
            _run_pool(todo, task, record, executor, workers, dask)
    except KeyboardInterrupt:
        done = len(read_records(out))
        raise Interrupted(f"interrupted: {done} of {len(pts)} points recorded in {out} (complete "
                          "lines only); run the same command again to resume") from None
    finally:
        rf.close()
        if bar:
            bar.close()
    recs = [new.get(p.id) or have[p.id] for p in pts]
    return SweepSummary(out=str(out), total=len(pts), ran=len(todo), skipped=len(pts) - len(todo),
                        failed=sum(r["status"] != "ok" for r in recs),
                        wall_s=time.monotonic() - t0, records=recs)


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them (no half-recorded points);
    and exit when the parent is gone (killed with SIGKILL it cannot stop them, and an orphan
    would wait on its task queue forever). A forked worker also moves what it inherited out
    of the garbage collector's reach (``gc.freeze``): the parent's objects (a script's loaded
    platforms and results) are never freed here, and rescanning them at each collection cost
    a small point 10-30 % of its time."""
    import gc
    import signal
    import threading

    gc.freeze()

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="hwsim-parent-watch", daemon=True).start()


def _worker_failure(p: Point, e: BaseException, tries: int) -> dict:
    return {"id": p.id, "index": p.index, "params": p.params, "status": "error",
            "error": f"worker failure ({tries} tries): {type(e).__name__}: {e}", "summary": None,
            "transient": True}


def _run_alone(p: Point, task) -> tuple:
    """Run one point in a fresh one-worker pool: ``(record, None)`` or ``(None, error)`` if
    the worker died running it."""
    from concurrent.futures.process import BrokenProcessPool

    ex = cf.ProcessPoolExecutor(max_workers=1, initializer=_ignore_sigint)
    try:
        return ex.submit(run_point, task(p)).result(), None
    except BrokenProcessPool as e:
        return None, e
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def run_points(tasks: list) -> list:
    """:func:`run_point` for a chunk of points (one pool task: the pool's per-task cost of
    pickling, pipes and thread wake-ups is paid once per chunk, not per point)."""
    return [run_point(t) for t in tasks]


def _chunk_size(left: int, slots: int) -> int:
    """Points per pool task: up to 8, while keeping >= 4 tasks per worker in the queue so
    the last ones still balance (and records still stream to disk as chunks finish)."""
    return max(1, min(8, left // (4 * max(1, slots))))


def _run_pool(todo, task, record, executor, workers, dask) -> None:
    """Submit points in chunks with a bounded number in flight.

    A worker that dies (killed, out of memory, a crash in native code) breaks a local pool
    and fails every chunk in flight with it, though only one point caused it. So the pool is
    replaced and each point that was in flight runs again alone in a one-worker pool: a
    bystander completes normally; the point that kills its worker alone is retried once more
    and then recorded failed, ``transient`` (a resumed sweep runs it again). A chunk that an
    external executor (Dask) fails is resubmitted once the same way."""
    from concurrent.futures.process import BrokenProcessPool

    own = executor is None
    queue = list(reversed(todo))
    tries: dict = {}
    while queue:
        if own:
            ex, close, slots = _executor(workers, dask)
        else:
            ex, close, slots = executor, (lambda: None), 4 * (os.cpu_count() or 1)
        limit = max(2, 2 * slots)
        inflight: dict = {}
        suspects: list = []
        broken, err = False, None
        try:
            while queue or inflight:
                while queue and len(inflight) < limit and not broken:
                    chunk = [queue.pop() for _ in range(min(len(queue), _chunk_size(len(queue), slots)))]
                    try:
                        inflight[ex.submit(run_points, [task(p) for p in chunk])] = chunk
                    except Exception as e:       # pool already broken
                        queue.extend(reversed(chunk))
                        broken, err = True, e
                        break
                if not inflight:
                    break
                done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
                for fut in sorted(done, key=lambda fu: inflight[fu][0].index):
                    chunk = inflight.pop(fut)
                    try:
                        recs = fut.result()
                    except BrokenProcessPool as e:   # some worker died: whose point is unknown
                        broken, err = True, e
                        suspects.extend(chunk)
                        continue
                    except Exception as e:           # the back end failed this task
                        recs = []
                        for p in chunk:
                            tries[p.id] = tries.get(p.id, 0) + 1
                            if tries[p.id] < 2:
                                queue.append(p)
                            else:
                                recs.append(_worker_failure(p, e, tries[p.id]))
                    for rec in recs:
                        record(rec)
            if broken and not own:
                raise HwsimError(f"the executor failed: {err}")
        except KeyboardInterrupt:
            if own and hasattr(ex, "_processes"):    # stop the workers now, not after their points
                for proc in list((ex._processes or {}).values()):
                    proc.terminate()
            raise
        finally:
            close()
        for p in sorted(suspects, key=lambda q: q.index):
            for n in (1, 2):
                rec, e = _run_alone(p, task)
                if rec is not None:
                    break
                rec = _worker_failure(p, e, n)
            record(rec)
        if not broken:
            break


# ------------------------------------------------------------------------------------------
# Pareto fronts
# ------------------------------------------------------------------------------------------
def pareto_front(items: list, objectives=("latency_s", "energy_pj"), get=None) -> list:
    """The items not dominated on ``objectives`` (all minimised), sorted by the first one.

    An item dominates another when it is no worse on every objective and better on one;
    items with equal objective values do not dominate each other, so both stay. ``items`` are
    sweep records (objectives read from their ``summary``; failed points are skipped), flat
    dicts, or anything ``get(item, objective)`` reads.
    """
    if get is None:
        def get(item, k):
            d = item.get("summary") if isinstance(item.get("summary"), dict) else item
            return d[k]
    vals = []
    for it in items:
        if isinstance(it, dict) and it.get("status", "ok") != "ok":
            continue
        try:
            v = tuple(float(get(it, k)) for k in objectives)
        except (KeyError, TypeError):
            continue
        vals.append((v, it))
    vals.sort(key=lambda p: p[0])
    front = []
    for v, it in vals:
        if not any(all(a <= b for a, b in zip(f, v)) and f != v for f, _ in front):
            front.append((v, it))
    return [it for _, it in front]
