"""Sweeps: deterministic points and records, failure recording, resume after a kill, back ends,
trace options, and the Pareto helper."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwsim import load_platform, load_trace, simulate
from hwsim.cli import main
from hwsim.base.errors import ConfigError
from hwsim.explore.sweep import (Progress, grid, load_workload, make_points, pareto_front, read_records,
                         repeat_trace, resolve_path, run_sweep, sram_bytes)

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = str(ROOT / "platforms" / "pulp_cluster.yaml")
SMALL = str(ROOT / "traces" / "resnet8.json")
AXES = {"l1.size_bytes": [32000, 64000], "links.l2--soc_xbar.bandwidth_bytes_per_cycle": [2, 8]}


def _strip(recs):
    return [{k: r[k] for k in ("id", "index", "params", "status", "error", "summary")} for r in recs]


def test_grid_order_last_axis_fastest():
    assert grid({"a": [1, 2], "b": ["x", "y", "z"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
        {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]
    with pytest.raises(Exception, match="non-empty list"):
        grid({"a": []})


def test_point_ids_are_deterministic_and_depend_on_inputs():
    p1 = make_points(PLATFORM, SMALL, AXES, [{"cluster.cores": 4}])
    p2 = make_points(PLATFORM, SMALL, AXES, [{"cluster.cores": 4}])
    assert [(p.index, p.id, p.params) for p in p1] == [(p.index, p.id, p.params) for p in p2]
    assert [p.index for p in p1] == list(range(5))
    assert len({p.id for p in p1}) == 5
    other = make_points(PLATFORM, str(ROOT / "traces" / "ds_cnn.json"), AXES)
    assert {p.id for p in other}.isdisjoint({p.id for p in p1})
    # The same point listed twice runs once.
    assert len(make_points(PLATFORM, SMALL, None, [{"cluster.cores": 4}, {"cluster.cores": 4}])) == 1


def test_resolve_path_shorthands():
    import yaml
    raw = yaml.safe_load(Path(PLATFORM).read_text())
    assert resolve_path(raw, "l1.size_bytes") == "components.l1.size_bytes"
    assert resolve_path(raw, "links.l2--soc_xbar.latency_cycles") == "links.0.latency_cycles"
    assert resolve_path(raw, "links.soc_xbar--l2.latency_cycles") == "links.0.latency_cycles"
    assert resolve_path(raw, "clocks.cluster") == "clocks.cluster"
    with pytest.raises(ConfigError, match="no link named"):
        resolve_path(raw, "links.l2--nowhere.latency_cycles")
    with pytest.raises(ConfigError, match="did you mean 'l1'"):
        resolve_path(raw, "ll1.size_bytes")


def test_sweep_records_match_direct_simulation_and_failures_are_recorded(tmp_path):
    out = tmp_path / "s.jsonl"
    pts = [{"l1.size_bytes": 0}, {"l1.sise_bytes": 1}, {"cluster.cores": 4}]
    res = run_sweep(PLATFORM, SMALL, points=pts, out=out, workers=0, progress=False)
    assert (res.total, res.ran, res.failed) == (3, 3, 2)
    bad0, bad1, good = res.records
    assert bad0["status"] == "error" and "components.l1.size_bytes" in bad0["error"]
    assert "must be > 0" in bad0["error"] and bad0["summary"] is None
    # apply_overrides rejects nothing for a new optional key, platform validation does:
    assert bad1["status"] == "error" and "sise_bytes" in bad1["error"]
    assert good["status"] == "ok" and good["error"] is None
    direct = simulate(load_platform(PLATFORM, {"components.cluster.cores": 4}), load_trace(SMALL))
    assert good["summary"]["latency_cycles"] == direct.cycles
    assert good["summary"]["energy_pj"] == pytest.approx(direct.energy_pj, rel=1e-12)
    assert good["summary"]["events"] == direct.perf["events"]
    assert good["summary"]["sram_bytes"] == 64000 + 512000
    # the file holds one JSON object per line, the same records
    lines = out.read_text().splitlines()
    assert [json.loads(l) for l in lines] == res.records


def test_points_in_one_process_leave_the_cached_platform_document_as_read():
    """A worker keeps the parsed platform document for every point and hands each point one
    private copy: points with and without overrides, run one after another in a process,
    leave it equal to a fresh parse and give the results of their own platforms."""
    from hwsim.explore.sweep import _RAW_CACHE, _raw_platform, run_point
    from hwsim.hardware.platform import read_platform_document

    fresh = read_platform_document(PLATFORM)[0]
    recs = [run_point({"id": str(i), "index": i, "params": params, "platform": PLATFORM,
                       "trace": SMALL})
            for i, params in enumerate([{"cluster.cores": 2}, {}, {"l1.size_bytes": 32000}, {}])]
    assert [r["status"] for r in recs] == ["ok"] * 4
    assert _raw_platform(PLATFORM) == fresh and list(_RAW_CACHE.values()) == [fresh]
    assert recs[1]["summary"] == recs[3]["summary"] != recs[0]["summary"]
    direct = simulate(load_platform(PLATFORM), load_trace(SMALL))
    assert recs[3]["summary"]["latency_cycles"] == direct.cycles


def test_records_identical_across_back_ends_and_runs(tmp_path):
    a = run_sweep(PLATFORM, SMALL, grid_axes=AXES, out=tmp_path / "a.jsonl", workers=0, progress=False)
    b = run_sweep(PLATFORM, SMALL, grid_axes=AXES, out=tmp_path / "b.jsonl", workers=2, progress=False)
    assert _strip(a.records) == _strip(b.records)
    assert all(r["status"] == "ok" for r in a.records)
    # the slower L2 link (2 B/cycle) never makes the network faster
    for r in a.records:
        if r["params"]["links.l2--soc_xbar.bandwidth_bytes_per_cycle"] == 2:
            twin = next(x for x in a.records if x["params"] == {**r["params"],
                        "links.l2--soc_xbar.bandwidth_bytes_per_cycle": 8})
            assert r["summary"]["latency_cycles"] >= twin["summary"]["latency_cycles"]


def test_resume_skips_finished_points_and_drops_a_partial_line(tmp_path):
    out = tmp_path / "s.jsonl"
    full = make_points(PLATFORM, SMALL, AXES)
    first = run_sweep(PLATFORM, SMALL, points=[full[0].params, full[2].params], out=out,
                      workers=0, progress=False)
    assert first.ran == 2
    with open(out, "a") as f:             # a record cut short by a kill
        f.write('{"id": "%s", "index": 1, "par' % full[1].id)
    res = run_sweep(PLATFORM, SMALL, grid_axes=AXES, out=out, workers=0, progress=False)
    assert (res.total, res.ran, res.skipped) == (4, 2, 2)
    recs = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(recs) == 4 and sorted(r["id"] for r in recs) == sorted(p.id for p in full)
    # a third run has nothing left to do
    again = run_sweep(PLATFORM, SMALL, grid_axes=AXES, out=out, workers=0, progress=False)
    assert again.ran == 0 and _strip(again.records) == _strip(res.records)


def test_resume_after_a_real_kill_gives_the_uninterrupted_records(tmp_path):
    """Kill a running ``hwsim sweep`` process, resume it, compare with a clean run."""
    out = tmp_path / "killed.jsonl"
    axes = ["--grid", "cluster.cores=1,2,3,4,5,6,7,8", "--grid", "l1.size_bytes=32000,48000,64000"]
    cmd = [sys.executable, "-m", "hwsim.cli", "sweep", PLATFORM, SMALL, *axes, "-o", str(out),
           "-j", "0", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        if out.exists() and out.read_text().count("\n") >= 3 or proc.poll() is not None:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(read_records(out))
    assert main(["sweep", PLATFORM, SMALL, *axes, "-o", str(out), "-j", "0", "--no-progress"]) == 0
    resumed = read_records(out)
    assert len(resumed) == 24
    assert sum(1 for l in out.read_text().splitlines() if l.strip()) == 24  # nothing run twice
    clean = run_sweep(PLATFORM, SMALL, grid_axes={"cluster.cores": list(range(1, 9)),
                                                  "l1.size_bytes": [32000, 48000, 64000]},
                      out=tmp_path / "clean.jsonl", workers=0, progress=False)
    assert _strip(resumed) == _strip(clean.records)
    assert 3 <= done_before < 24, done_before   # killed mid-way


def test_retry_failed_reruns_only_failures(tmp_path):
    out = tmp_path / "s.jsonl"
    pts = [{"l1.size_bytes": 0}, {"cluster.cores": 2}]
    run_sweep(PLATFORM, SMALL, points=pts, out=out, workers=0, progress=False)
    res = run_sweep(PLATFORM, SMALL, points=pts, out=out, workers=0, progress=False, retry_failed=True)
    assert (res.ran, res.skipped, res.failed) == (1, 1, 1)


def test_trace_options_repeat_and_zoo_builder(tmp_path):
    tr = load_trace(SMALL)
    x3 = repeat_trace(tr, 3)
    assert len(x3.layers) == 3 * len(tr.layers) and x3.total_macs == 3 * tr.total_macs
    assert x3.layers[len(tr.layers)].name == tr.layers[0].name + "@1"
    res = run_sweep(PLATFORM, SMALL, points=[{}, {"trace.repeat": 2},
                                              {"trace": "mobilenetv2_bottleneck", "trace.resolution": 14},
                                              {"trace.resolution": 14}],
                    out=tmp_path / "t.jsonl", workers=0, progress=False)
    one, two, zoo, bad = res.records
    assert two["summary"]["layers"] == 2 * one["summary"]["layers"]
    assert two["summary"]["macs"] == 2 * one["summary"]["macs"]
    # back to back: at least twice the cycles of one copy minus the overlap of one layer
    assert two["summary"]["latency_cycles"] > 1.9 * one["summary"]["latency_cycles"]
    assert zoo["status"] == "ok" and zoo["summary"]["trace"] == "mobilenetv2_bottleneck_resolution14"
    assert bad["status"] == "error" and "zoo network" in bad["error"]
    with pytest.raises(ConfigError, match="builder"):
        load_workload("resnet8", {"no_such_option": 1})


def test_sram_bytes_counts_l1_and_l2_only():
    p = load_platform(PLATFORM)
    assert sram_bytes(p) == 64000 + 512000


def test_progress_line_counts_and_eta():
    buf = io.StringIO()
    bar = Progress(4, skipped=1, stream=buf, every_s=0)
    bar.update(True)
    bar.update(False)
    text = buf.getvalue()
    assert "2/4 done, 0 failed, 1 resumed" in text
    assert "3/4 done, 1 failed, 1 resumed" in text and "ETA" in text


def test_dataframe_reads_the_records(tmp_path):
    pd = pytest.importorskip("pandas")
    from hwsim.explore.sweep import to_dataframe
    out = tmp_path / "s.jsonl"
    run_sweep(PLATFORM, SMALL, grid_axes=AXES, points=[{"l1.size_bytes": 0}], out=out,
              workers=0, progress=False)
    df = pd.read_json(out, lines=True)
    assert len(df) == 5 and set(df["status"]) == {"ok", "error"}
    flat = to_dataframe(out)
    assert {"param.l1.size_bytes", "latency_cycles", "cycles_by_category.compute"} <= set(flat.columns)
    assert flat["latency_cycles"].notna().sum() == 4


def test_dask_back_end_gives_the_same_records(tmp_path):
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster
    local = run_sweep(PLATFORM, SMALL, grid_axes=AXES, out=tmp_path / "l.jsonl", workers=0,
                      progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        res = run_sweep(PLATFORM, SMALL, grid_axes=AXES, points=[{"l1.size_bytes": 0}],
                        out=tmp_path / "d.jsonl", dask=cluster.scheduler_address, progress=False)
        with Client(cluster) as client:   # an existing client works too
            res2 = run_sweep(PLATFORM, SMALL, grid_axes=AXES, out=tmp_path / "d2.jsonl",
                             dask=client, progress=False)
    assert _strip(res.records[:4]) == _strip(local.records)
    assert res.records[4]["status"] == "error"
    assert _strip(res2.records) == _strip(local.records)


def test_pareto_front_hand_case():
    pts = [{"latency_s": 1, "energy_pj": 9}, {"latency_s": 2, "energy_pj": 4},
           {"latency_s": 3, "energy_pj": 5},   # dominated by (2, 4)
           {"latency_s": 2, "energy_pj": 4},   # equal to a front point: kept
           {"latency_s": 5, "energy_pj": 1}, {"latency_s": 1, "energy_pj": 10},  # dominated by (1, 9)
           {"latency_s": 6, "energy_pj": 1}]   # dominated by (5, 1)
    front = pareto_front(pts)
    assert [(p["latency_s"], p["energy_pj"]) for p in front] == [(1, 9), (2, 4), (2, 4), (5, 1)]
    # records: failed points are skipped, objectives come from the summary
    recs = [{"status": "ok", "summary": {"latency_s": 1, "sram_bytes": 10}},
            {"status": "error", "summary": None},
            {"status": "ok", "summary": {"latency_s": 2, "sram_bytes": 5}},
            {"status": "ok", "summary": {"latency_s": 3, "sram_bytes": 5}}]
    assert pareto_front(recs, ("latency_s", "sram_bytes")) == [recs[0], recs[2]]


def test_cli_sweep_grid_set_and_points_file(tmp_path, capsys):
    pts = tmp_path / "p.yaml"
    pts.write_text("grid:\n  cluster.cores: [4, 8]\npoints:\n  - {l1.size_bytes: 32000}\n"
                   "set:\n  l2.latency_cycles: 20\n")
    out = tmp_path / "s.jsonl"
    assert main(["sweep", PLATFORM, SMALL, "--points", str(pts), "--grid", "l3.t_cl_cycles=5,10",
                 "-o", str(out), "-j", "0", "--no-progress"]) == 0
    recs = read_records(out)
    assert len(recs) == 5
    assert all(r["params"]["l2.latency_cycles"] == 20 for r in recs)
    assert recs[0]["params"] == {"l2.latency_cycles": 20, "cluster.cores": 4, "l3.t_cl_cycles": 5}
    assert all(r["status"] == "ok" for r in recs), [r.get("error") for r in recs]
    assert "pareto" in capsys.readouterr().out
