"""Reliability: every bad input, fault and interrupt ends in one clear error line (exit 2, or
130 for Ctrl-C), with nothing lost or duplicated. One regression test per kind of failure
found by a hostile-user review (issue 13): hangs, tracebacks, silently wrong results and data
integrity. The random version of these checks is tests/test_fuzz.py."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import hwsim
import hwsim.workload.zoo
from hwsim.base.errors import ConfigError, HwsimError, MappingError
from hwsim.base.limits import MAX_DEPTH, MAX_NODES
from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = ROOT / "platforms" / "pulp_cluster.yaml"
TRACE = ROOT / "traces" / "ds_cnn.json"
SMALL = ROOT / "traces" / "mobilenetv2_bottleneck.json"


def cli(capsys, *argv) -> tuple:
    """Exit status and stderr; an argparse usage error (exit 2) keeps only its error line."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
        err = capsys.readouterr().err
        return rc, err.strip().splitlines()[-1]
    err = capsys.readouterr().err
    return rc, err


def one_error_line(rc, err, *words, code=2):
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwsim"), err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------------------------
# Hangs and unbounded work: each refused before the work starts
def test_alias_bomb_is_refused_quickly(tmp_path, capsys):
    rows = ["a: &a [" + ",".join(['"x"'] * 9) + "]"]
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        rows.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    f = tmp_path / "bomb.yaml"
    f.write_text("\n".join(rows) + "\n")
    t0 = time.process_time()
    line = one_error_line(*cli(capsys, "run", f, TRACE), "bomb.yaml:", f"{MAX_NODES:,}")
    assert time.process_time() - t0 < 5, line
    assert "aliases" in line


def test_recursive_alias_and_deep_nesting(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="recursive"):
        hwsim.load_platform(f)
    f.write_text("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n")
    with pytest.raises(ConfigError, match=f"limit of {MAX_DEPTH}") as ei:
        hwsim.load_platform(f)
    assert ei.value.line == 1


def test_oversized_files_devices_and_fifos_are_refused(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_text(PLATFORM.read_text() + ("# " + "x" * 98 + "\n") * 45_000)
    one_error_line(*cli(capsys, "run", big, TRACE), "limit", "big.yaml")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    one_error_line(*cli(capsys, "run", fifo, TRACE), "not a regular file")
    one_error_line(*cli(capsys, "run", PLATFORM, fifo), "not a regular file")
    one_error_line(*cli(capsys, "sweep", PLATFORM, TRACE, "-o", "/dev/full", "-j", "0",
                        "--no-progress"), "not a regular file")


def test_generator_counts_are_bounded(tmp_path):
    d = yaml.safe_load(PLATFORM.read_text())
    d["generate"] = {"replicate": {"cluster": 10**9}}
    with pytest.raises(ConfigError, match="generate.replicate.cluster"):
        hwsim.platform_from_dict(d)


# ---------------------------------------------------------------------------------------
# Tracebacks: each is now one error line
@pytest.mark.parametrize("args, words", [
    (("--set", "components.cluster.cores=" + "9" * 5000), ("--set", "digits")),
    # "nested" (our limit) or "nesting" (PyYAML 6.0.4's own limit, hit first there)
    (("--set", "components.cluster.cores=" + "[" * 10_000), ("--set", "nest")),
    (("--max-sim-s", "nan"), ("--max-sim-s",)),
    (("--max-sim-s", "inf"), ("--max-sim-s",)),
    (("--max-sim-s", "1e300"), ("--max-sim-s",)),
])
def test_cli_values_are_checked(capsys, args, words):
    rc, err = cli(capsys, "run", PLATFORM, TRACE, "-q", *args)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and all(w in err for w in words), err


@pytest.mark.parametrize("edit, field", [
    (("cores: 8", "cores: " + "9" * 5000), "digits"),
    (("port_bandwidth_bytes_per_cycle: 8 ", "port_bandwidth_bytes_per_cycle: 1e-300 "),
     "components.l2.port_bandwidth_bytes_per_cycle"),
    (("conv2d: 1.9375 ", "conv2d: 1.0e-300 "), "components.cluster.kernels.conv2d"),
    (("cluster: 100 MHz", "cluster: 1.0e300"), "clocks.cluster"),
])
def test_extreme_numbers_name_field_and_bound(tmp_path, capsys, edit, field):
    f = tmp_path / "p.yaml"
    text = PLATFORM.read_text()
    assert edit[0] in text
    f.write_text(text.replace(edit[0], edit[1], 1))
    line = one_error_line(*cli(capsys, "run", f, TRACE, "-q"), field)
    assert "p.yaml:" in line   # the line of the field


def test_unhashable_key_and_malformed_points_files(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text(PLATFORM.read_text() + "? [a, b]\n: 1\n")
    one_error_line(*cli(capsys, "run", f, TRACE), "cannot be a mapping key")
    for name, text, words in (("a.yaml", "- [1, 2\n", "invalid YAML"),
                              ("b.jsonl", "{notjson\n", "line 1"),
                              ("c.yaml", "grid: 5\n", "grid"),
                              ("d.yaml", "points: [3]\n", "points[0]")):
        pts = tmp_path / name
        pts.write_text(text)
        one_error_line(*cli(capsys, "sweep", PLATFORM, TRACE, "--points", pts, "-o",
                            tmp_path / "o.jsonl", "--no-progress"), name, *words.split("|"))


def test_workers_dask_and_zoo_options(tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    one_error_line(*cli(capsys, "sweep", PLATFORM, TRACE, "-j", "-2", "-o", out), "--workers")
    pytest.importorskip("dask.distributed")
    one_error_line(*cli(capsys, "sweep", PLATFORM, TRACE, "--dask", "not a url", "-o", out,
                        "--no-progress"), "--dask", "not a scheduler address")
    with pytest.raises(ConfigError, match="trace.resolution"):
        hwsim.workload.zoo.build("mobilenetv2", resolution=0)
    with pytest.raises(ConfigError, match="trace.num_classes"):
        hwsim.workload.zoo.build("mobilenetv2", num_classes=0)


def test_limits_of_the_api_are_checked():
    p, t = hwsim.load_platform(PLATFORM), hwsim.load_trace(TRACE)
    for bad in (float("nan"), float("inf"), 1e300, -1):
        with pytest.raises(HwsimError, match="max_sim_s"):
            hwsim.simulate(p, t, max_sim_s=bad)


# ---------------------------------------------------------------------------------------
# Silently wrong: now refused, or right
def _trace(**edit):
    d = json.loads(TRACE.read_text())
    d.pop("totals", None)
    for k, v in edit.items():
        if k.startswith("l0_"):
            d["layers"][0][k[3:]] = v
        else:
            d[k] = v
    return d


@pytest.mark.parametrize("edit, words", [
    ({"l0_bits": 0}, "bits"), ({"l0_bits": False}, "bits"), ({"l0_bits": []}, "bits"),
    ({"input_shape": [-1, 49, 10]}, "input_shape"), ({"input_shape": [2, 49, 10]}, "input_shape"),
    ({"name": "net\x1b[31m"}, "printable"), ({"l0_name": "c\x07"}, "printable"),
])
def test_trace_semantics(tmp_path, edit, words):
    f = tmp_path / "t.json"
    f.write_text(json.dumps(_trace(**edit)))
    with pytest.raises(ConfigError, match=words):
        hwsim.load_trace(f)


def test_format_tag_and_operand_counts(tmp_path):
    d = json.loads(SMALL.read_text())
    del d["format"]
    f = tmp_path / "t.json"
    f.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="format"):
        hwsim.load_trace(f)
    d = json.loads((ROOT / "traces" / "resnet8.json").read_text())
    add = next(l for l in d["layers"] if l["op"] == "add")
    add["inputs"] = add["inputs"] + add["inputs"][:1]
    with pytest.raises(ConfigError, match="at most 2"):
        hwsim.trace_from_dict(d)
    add["inputs"] = add["inputs"][:1]          # x + a constant: one operand read, not two
    one = hwsim.trace_from_dict({**d, "totals": {}})
    lay = next(l for l in one.layers if l.name == add["name"])
    assert lay.operands == 1 and lay.input_bytes == lay.output_bytes


def test_whole_network_footprint_names_what_does_not_fit():
    with pytest.raises(MappingError) as ei:
        hwsim.map_trace(hwsim.load_platform(PLATFORM), hwsim.load_trace(ROOT / "traces" / "resnet18.json"))
    msg = str(ei.value)
    assert "does not fit l3" in msg and "weights" in msg and "by " in msg
    need = int(ei.value.fix.split("at least ")[1].split()[0])
    # the stated size is enough
    hwsim.map_trace(hwsim.load_platform(PLATFORM, {"components.l3.size_bytes": need}),
                    hwsim.load_trace(ROOT / "traces" / "resnet18.json"))


def test_dram_smaller_than_a_row_and_control_characters_in_names(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text(PLATFORM.read_text().replace("size_bytes: 8000000", "size_bytes: 512"))
    one_error_line(*cli(capsys, "run", f, TRACE), "components.l3.size_bytes", "row")
    d = _trace()
    d["layers"][0]["name"] = "x\x1b[2J"
    t = tmp_path / "t.json"
    t.write_text(json.dumps(d))
    line = one_error_line(*cli(capsys, "run", PLATFORM, t))
    assert "\x1b" not in line and "\\x1b" in line


def test_compare_and_sweep_that_cannot_run_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n")
    one_error_line(*cli(capsys, "compare", TRACE, "-p", bad), "no platform could run")
    one_error_line(*cli(capsys, "sweep", bad, TRACE, "-j", "0", "-o", tmp_path / "o.jsonl",
                        "--no-progress"), "bad.yaml", "invalid YAML")


def test_outputs_never_overwrite_inputs(tmp_path, capsys):
    p = tmp_path / "p.yaml"
    p.write_text(PLATFORM.read_text())
    before = p.read_bytes()
    one_error_line(*cli(capsys, "run", p, TRACE, "--json", p), "refusing to overwrite")
    one_error_line(*cli(capsys, "run", p, TRACE, "--timeline", TRACE), "refusing to overwrite")
    one_error_line(*cli(capsys, "sweep", p, TRACE, "-o", p), "refusing to overwrite")
    assert p.read_bytes() == before


def test_summary_split_sums_exactly_per_layer_and_for_sequential_layers():
    r = hwsim.simulate(hwsim.load_platform(PLATFORM), hwsim.load_trace(TRACE))
    for l in r.layers:
        assert (l.compute_cycles + l.memory_stall_cycles + l.contention_cycles
                + l.programming_cycles + l.idle_cycles) == l.cycles
    d = r.summary_dict()
    # ds_cnn runs its layers back to back: the summary split is the latency, to the cycle
    assert sum(d["cycles_by_category"].values()) == d["latency_cycles"]


# ---------------------------------------------------------------------------------------
# Interrupts and data integrity
def test_ctrl_c_marks_the_timeline_incomplete_and_exits_130(tmp_path):
    tl = tmp_path / "t.json"
    code = ("import os, signal, threading, sys\n"
            "from hwsim.cli import main\n"
            "threading.Timer(0.25, lambda: os.kill(os.getpid(), signal.SIGINT)).start()\n"
            f"sys.exit(main(['run', {str(PLATFORM)!r}, {str(ROOT / 'traces' / 'mobilenetv2.json')!r},"
            f" '-q', '--timeline', {str(tl)!r}]))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if p.returncode == 0:
        pytest.skip("the run finished before the interrupt")
    assert p.returncode == 130, p.stderr
    line = p.stderr.strip().splitlines()
    assert len(line) == 1 and line[0].startswith("hwsim: interrupted"), p.stderr
    assert "Traceback" not in p.stderr
    if tl.exists():
        meta = json.loads(tl.read_text())["otherData"]["incomplete"]
        assert meta["reason"] == "interrupted" and meta["layers_done"] < meta["layers_total"]
        assert "marked incomplete" in line[0]


_KILL = {}


def _killer(task):
    """run_point that kills its worker process on one point (a module-level function:
    workers find it by name; forked workers inherit the patched module attribute)."""
    if task["params"].get("cluster.cores") == 3:
        with open(_KILL["calls"], "a") as f:
            f.write("x")
        os._exit(7)
    return _KILL["real"](task)


def test_a_dead_worker_fails_only_its_point_once_retried(tmp_path, monkeypatch):
    import hwsim.explore.sweep as sw
    real = sw.run_point
    calls = tmp_path / "calls"
    _KILL.update(calls=calls, real=real)
    monkeypatch.setattr(sw, "run_point", _killer)
    out = tmp_path / "s.jsonl"
    res = sw.run_sweep(PLATFORM, SMALL, grid_axes={"cluster.cores": [1, 2, 3, 4, 5, 6]}, out=out,
                       workers=3, progress=False)
    bad = [r for r in res.records if r["status"] != "ok"]
    assert [r["params"]["cluster.cores"] for r in bad] == [3]
    assert bad[0]["transient"] and "worker failure (2 tries)" in bad[0]["error"]
    assert calls.read_text() == "xxx"     # in the pool, then alone, then retried once
    lines = out.read_text().splitlines()
    assert len(lines) == 6 and len({json.loads(l)["id"] for l in lines}) == 6
    # resume reruns the transient failure, and only it
    monkeypatch.setattr(sw, "run_point", real)
    again = sw.run_sweep(PLATFORM, SMALL, grid_axes={"cluster.cores": [1, 2, 3, 4, 5, 6]}, out=out,
                         workers=0, progress=False)
    assert again.ran == 1 and again.failed == 0


def test_two_sweeps_on_one_file_are_excluded(tmp_path):
    from hwsim.explore.sweep import RecordFile, run_sweep
    out = tmp_path / "s.jsonl"
    holder = RecordFile(out)
    try:
        with pytest.raises(HwsimError, match="another sweep is writing"):
            run_sweep(PLATFORM, SMALL, grid_axes={"cluster.cores": [1, 2]}, out=out, workers=0,
                      progress=False)
    finally:
        holder.close()
    assert run_sweep(PLATFORM, SMALL, grid_axes={"cluster.cores": [1, 2]}, out=out, workers=0,
                     progress=False).ran == 2


def _processes_naming(path) -> list:
    """PIDs of live processes whose command line mentions ``path`` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and str(path).encode() in (d / "cmdline").read_bytes():
                if "Z" not in (d / "stat").read_text().split(")")[-1].split()[:1]:
                    out.append(int(d.name))
        except OSError:
            continue
    return out


def test_records_stay_readable_by_pandas_after_a_kill(tmp_path):
    pd = pytest.importorskip("pandas")
    out = tmp_path / "k.jsonl"
    cmd = [sys.executable, "-m", "hwsim", "sweep", str(PLATFORM), str(SMALL), "--grid",
           "cluster.cores=1,2,3,4,5,6,7,8", "-o", str(out), "-j", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60 and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # its pool workers notice the parent is gone and exit (no orphans left waiting forever)
    if Path("/proc").is_dir():
        t0 = time.monotonic()
        while _processes_naming(out) and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        assert not _processes_naming(out)
    df = pd.read_json(out, lines=True)
    assert len(df) == out.read_text().count("\n") and df["id"].is_unique
