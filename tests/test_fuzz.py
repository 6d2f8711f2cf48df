"""Fuzzing harness: hostile platform, trace, CLI and sweep inputs, and the run driver's
invariants on random platforms.

Every input either works or ends in a :class:`~hwsim.base.errors.HwsimError` (the CLI: exit 2,
one ``hwsim: error:`` line, or argparse's usage error); never another exception, a hang or a
silently wrong number. Values come from :func:`hostile`: numbers at and beyond every bound
(0, -1, 1e-300, 1e300, nan, inf, 20-digit and 5000-digit integers), wrong types, deep
nesting, control characters. Bounded in the default run (``HWSIM_FUZZ_EXAMPLES``, default a
few dozen per test, about 20 s in all); ``HWSIM_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py``
fuzzes longer.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hwsim  # noqa: E402
from hwsim.base.errors import HwsimError  # noqa: E402
from hwsim.cli import main  # noqa: E402
from hwsim.report.stats import CATEGORIES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = ROOT / "platforms" / "pulp_cluster.yaml"
TRACE = ROOT / "traces" / "mobilenetv2_bottleneck.json"
RAW_PLATFORM = yaml.safe_load(PLATFORM.read_text())
RAW_TRACE = json.loads(TRACE.read_text())
N = int(os.environ.get("HWSIM_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=N, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def hostile():
    """Values a hostile or careless user writes."""
    nums = st.sampled_from([0, -1, 1, 2, 3, 7, 10**19, 10**20, -(10**20), 2**63, 0.5, 1e-300,
                            -1e-300, 1e300, float("nan"), float("inf"), float("-inf"), 1.5])
    scalars = st.one_of(nums, st.booleans(), st.none(),
                        st.sampled_from(["", "x", "64 KiB", "170 MHz", "1e-300", "-5",
                                         "\x1b[31m", "a.b", "9" * 40]),
                        st.integers(-(2**70), 2**70), st.floats(allow_nan=True))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "type", "x"]),
                                                     inner, max_size=3)), max_leaves=6)


def _paths(doc, prefix=()):
    """Every path into a document (mapping keys and list indices)."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


PLATFORM_PATHS = _paths(RAW_PLATFORM)
TRACE_PATHS = [p for p in _paths(RAW_TRACE) if p[:1] != ("totals",)]


def _set(doc, path, value):
    doc = copy.deepcopy(doc)
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def _only_hwsim_errors(fn, *args):
    try:
        return fn(*args)
    except HwsimError as e:
        assert str(e).strip(), "an error without a message"
        return None


@FUZZ
@given(st.sampled_from(PLATFORM_PATHS), hostile())
def test_platform_fields(path, value):
    _only_hwsim_errors(hwsim.platform_from_dict, _set(RAW_PLATFORM, path, value))


@FUZZ
@given(st.text(alphabet="[]{}:,-&*!|>'\"#?% \n\tab19.e", max_size=120))
def test_platform_text(tmp_path_factory, text):
    f = tmp_path_factory.mktemp("fz") / "p.yaml"
    f.write_text(text)
    _only_hwsim_errors(hwsim.load_platform, f)


@FUZZ
@given(st.sampled_from(TRACE_PATHS), hostile())
def test_trace_fields_then_the_run(path, value):
    doc = _set(RAW_TRACE, path, value)
    doc.pop("totals", None)
    trace = _only_hwsim_errors(hwsim.trace_from_dict, doc)
    if trace is not None:
        _only_hwsim_errors(hwsim.simulate, hwsim.load_platform(PLATFORM), trace)


@FUZZ
@given(st.text(alphabet='[]{}:,"0123456789.eE-+ \nabnulltrue', max_size=120))
def test_trace_text(tmp_path_factory, text):
    f = tmp_path_factory.mktemp("fz") / "t.json"
    f.write_text(text)
    _only_hwsim_errors(hwsim.load_trace, f)


OPTION_VALUES = st.sampled_from(["0", "-2", "nan", "inf", "1e300", "1e-300", "x", "", "[[[[",
                                 "9" * 30, "components.l1.size_bytes=0", "cluster.cores=1e300",
                                 "a=b=c", "=", "l1.size_bytes=[1,2]", "trace.resolution=0",
                                 "links.999.latency_cycles=1", "components.cluster.cores=" + "9" * 5000])


@FUZZ
@given(st.sampled_from(["run", "sweep"]),
       st.lists(st.tuples(st.sampled_from(["--set", "--max-sim-s", "--max-wall-s", "--batch",
                                           "-j", "--grid", "--json", "--timeline"]),
                          OPTION_VALUES), max_size=3))
def test_cli_options(tmp_path_factory, capsys, cmd, opts):
    d = tmp_path_factory.mktemp("fz")
    argv = [cmd, str(PLATFORM), str(TRACE)]
    for flag, value in opts:
        if cmd == "run" and flag in ("-j", "--grid"):
            continue
        if cmd == "sweep" and flag in ("--max-sim-s", "--max-wall-s", "--batch", "--json", "--timeline"):
            continue
        if flag in ("--json", "--timeline"):
            value = str(d / "out.json") if value[:1].isalnum() else value
        argv += [flag, value]
    argv += ["-q"] if cmd == "run" else ["-o", str(d / "s.jsonl"), "--no-progress", "-j", "0"]
    try:
        rc = main(argv)
    except SystemExit as e:      # argparse usage error
        assert e.code == 2
        return
    err = capsys.readouterr().err
    assert rc in (0, 2), (argv, rc, err)
    if rc == 2:   # one error line (after argparse's usage lines for a usage error)
        last = err.strip().splitlines()[-1]
        assert last.startswith("hwsim") and "error: " in last and "Traceback" not in err, err
        if not err.startswith("usage:"):
            assert len(err.strip().splitlines()) == 1, err


@FUZZ
@given(st.lists(st.dictionaries(st.sampled_from(["cluster.cores", "l1.size_bytes", "l2.ports",
                                                 "links.0.bandwidth_bytes_per_cycle",
                                                 "trace.repeat", "nope.field", "trace"]),
                                hostile(), max_size=2), min_size=1, max_size=2))
def test_sweep_points(tmp_path_factory, points):
    from hwsim.explore.sweep import run_sweep
    out = tmp_path_factory.mktemp("fz") / "s.jsonl"
    try:
        res = run_sweep(PLATFORM, TRACE, points=points, out=out, workers=0, progress=False)
    except HwsimError:
        return
    for r in res.records:
        if r["status"] != "ok":     # a failing point is recorded with its HwsimError, one line
            kind = r["error"].split(":", 1)[0]
            assert kind in ("ConfigError", "MappingError", "HwsimError", "SimulationError",
                            "DeadlockError", "SimulationLimitError"), r["error"]


@FUZZ
@given(st.integers(1, 8), st.sampled_from([0.5, 1, 3, 8, 64]), st.sampled_from([2, 8, 24]),
       st.sampled_from([4096, 16000, 64000]), st.sampled_from([1, 3, 10]),
       st.sampled_from(["ds_cnn", "resnet8", "mobilenetv2_bottleneck"]))
def test_run_driver_invariants(cores, l2_bw, l1_bw, l1_size, latency, net):
    """The time split sums to each layer's cycles exactly; the summary's split sums to the
    layers' cycles, and to the latency exactly when no two layers overlap."""
    ov = {"components.cluster.cores": cores, "components.l2.port_bandwidth_bytes_per_cycle": l2_bw,
          "components.l1.port_bandwidth_bytes_per_cycle": l1_bw, "components.l1.size_bytes": l1_size,
          "components.l2.latency_cycles": latency}
    platform = hwsim.load_platform(PLATFORM, ov)
    try:
        r = hwsim.simulate(platform, hwsim.load_trace(ROOT / "traces" / f"{net}.json"))
    except hwsim.MappingError:
        return
    ref = r.reference_clock
    for rec in r.layers:
        parts = [getattr(rec, f"{c}_cycles") for c in CATEGORIES]
        assert min(parts) >= 0 and sum(parts) == rec.cycles
        assert rec.cycles == ref.ps_to_cycles(rec.end_ps) - ref.ps_to_cycles(rec.start_ps)
    d = r.summary_dict()
    assert sum(d["cycles_by_category"].values()) == sum(rec.cycles for rec in r.layers)
    spans = sorted((rec.start_ps, rec.end_ps) for rec in r.layers)
    if spans[0][0] == 0 and all(b[0] == a[1] for a, b in zip(spans, spans[1:])):
        assert sum(d["cycles_by_category"].values()) == d["latency_cycles"]
