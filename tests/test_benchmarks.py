"""Simulator-throughput benchmarks (pytest-benchmark) on ``platforms/pulp_cluster.yaml``.

    pytest -m benchmark --benchmark-enable                 # timed, several rounds
    pytest -m benchmark --benchmark-enable --benchmark-only --benchmark-json out/bench.json
    pytest-benchmark compare out/bench_old.json out/bench.json

Workloads: small (ResNet-8), medium (one MobileNetV2 bottleneck block, DS-CNN) and large
(MobileNetV2 224x224; also on the heterogeneous ``pulp_imc_cluster.yaml``). Each benchmark times one inference end to end (mapping + simulation)
and records in ``extra_info``: ``events`` (SimPy events scheduled), ``events_per_s`` and
``sim_cycles_per_s`` (from the run's own clock), ``wall_s_per_inference`` (the fastest round,
mapping included) and ``sim_cycles``. The default ``pytest`` run has ``--benchmark-disable``
(setup.cfg): each benchmark then runs once, as a test that the simulation is deterministic
(the same report each round and the same as a separate run).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from hwsim import load_platform, load_trace, simulate

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ROOT / "platforms" / "pulp_cluster.yaml"

WORKLOADS = [
    pytest.param("resnet8", PLATFORM, id="small-resnet8"),
    pytest.param("mobilenetv2_bottleneck", PLATFORM, id="medium-mobilenetv2_bottleneck"),
    pytest.param("ds_cnn", PLATFORM, id="medium-ds_cnn"),
    pytest.param("mobilenetv2", PLATFORM, id="large-mobilenetv2"),
    pytest.param("mobilenetv2", ROOT / "platforms" / "pulp_imc_cluster.yaml", id="large-mobilenetv2-imc"),
]


@pytest.mark.benchmark(group="inference", min_rounds=3, warmup=False)
@pytest.mark.parametrize("network,platform_file", WORKLOADS)
def test_inference_throughput(benchmark, network, platform_file):
    platform = load_platform(platform_file)
    trace = load_trace(ROOT / "traces" / f"{network}.json")
    runs = []

    def one():
        t0 = time.perf_counter()
        res = simulate(platform, trace)
        runs.append((time.perf_counter() - t0, res))
        return res

    result = benchmark(one)
    wall, best = min(runs, key=lambda r: r[0])
    perf = best.perf
    benchmark.extra_info.update({
        "network": network,
        "platform": platform.name,
        "events": perf["events"],
        "events_per_s": perf["events_per_s"],
        "sim_cycles": best.cycles,
        "sim_cycles_per_s": perf["sim_cycles_per_s"],
        "sim_wall_s": perf["wall_s"],
        "wall_s_per_inference": wall,
        "events_per_s_end_to_end": perf["events"] / wall,
    })
    # Every round is the same simulation: identical deterministic reports and event counts.
    reference = runs[0][1].to_dict()
    for _, r in runs:
        assert r.to_dict() == reference
        assert r.perf["events"] == perf["events"]
    assert result.cycles > 0 and perf["events"] > 0
    # The event count is the simulator's cost: transactions, never a tick per cycle.
    assert perf["events"] < result.cycles / 10


# ------------------------------------------------------------------------------------------
# The figures of tools/bench_all.py (the README's speed table), one benchmark each. Timed with
# --benchmark-enable (CPU time: --benchmark-timer time.process_time); in the default run each
# runs once as a test that the measured code works and stays exact.
# ------------------------------------------------------------------------------------------
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))

import bench_all  # noqa: E402
from bench_vs_simpy import raw_simpy_loop  # noqa: E402

from hwsim import Simulation  # noqa: E402

RATE_PAIRS = [
    pytest.param("pulp_imc_cluster.yaml", "mobilenetv2", id="mobilenetv2-pulp_imc_cluster"),
    pytest.param("mesh_imc.yaml", "resnet18", id="resnet18-mesh_imc"),
]


@pytest.mark.benchmark(group="event-rate", min_rounds=3, warmup=False)
@pytest.mark.parametrize("platform_file,network", RATE_PAIRS)
def test_event_rate(benchmark, platform_file, network):
    """Simulation.run alone; extra_info: events per second and the SimPy timeout loop's."""
    platform = load_platform(ROOT / "platforms" / platform_file)
    trace = load_trace(ROOT / "traces" / f"{network}.json")
    sims = []

    def setup():
        sims.append(Simulation(platform, trace))
        return (sims[-1],), {}

    result = benchmark.pedantic(lambda sim: sim.run(), setup=setup, rounds=3)
    loop = raw_simpy_loop(result.perf["events"])
    benchmark.extra_info.update(events=result.perf["events"], in_place=sims[-1].ic.in_place,
                                simpy_timeout_loop_events_per_cpu_s=loop["events"] / loop["cpu_s"])
    assert loop["events"] >= result.perf["events"] - 4
    assert result.perf["events"] < result.cycles / 10


@pytest.mark.benchmark(group="event-rate", warmup=False)
def test_simpy_timeout_loop(benchmark):
    """The baseline of the event rate: a bare SimPy timeout loop, 50k events."""
    out = benchmark(raw_simpy_loop, 50_000)
    assert out["events"] >= 50_000


@pytest.mark.benchmark(group="cli", min_rounds=2, warmup=False)
def test_cli_whole_process(benchmark):
    """`hwsim run` of MobileNetV2 on pulp_imc_cluster as a process (imports included)."""
    import subprocess

    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "hwsim", "run", str(ROOT / "platforms" / "pulp_imc_cluster.yaml"),
           str(ROOT / "traces" / "mobilenetv2.json"), "-q"]
    out = benchmark(subprocess.run, cmd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.benchmark(group="cli", warmup=False)
def test_in_process_pipeline(benchmark):
    """load + map + simulate of MobileNetV2 on pulp_imc_cluster in this process."""
    def pipeline():
        return simulate(load_platform(ROOT / "platforms" / "pulp_imc_cluster.yaml"),
                        load_trace(ROOT / "traces" / "mobilenetv2.json"))

    assert benchmark(pipeline).cycles > 0


@pytest.mark.benchmark(group="platform-size", warmup=False)
@pytest.mark.parametrize("side", [8, 32], ids=["64-clusters", "1024-clusters"])
def test_platform_load(benchmark, side):
    """load_platform of the generated mesh (linear in size: bench_platform_size.py)."""
    p = benchmark(load_platform, ROOT / "platforms" / "mesh_imc.yaml",
                  {"generate.mesh.width": side, "generate.mesh.height": side})
    assert len(p.engines()) == 2 * side * side


@pytest.mark.benchmark(group="timeline", warmup=False)
def test_timeline_run(benchmark, tmp_path):
    """simulate with a Perfetto timeline streamed to a file (compare large-mobilenetv2-imc)."""
    platform = load_platform(ROOT / "platforms" / "pulp_imc_cluster.yaml")
    trace = load_trace(ROOT / "traces" / "mobilenetv2.json")
    res = benchmark(simulate, platform, trace, timeline=tmp_path / "t.json")
    assert res.to_dict() == simulate(platform, trace).to_dict()


@pytest.mark.benchmark(group="sweep", warmup=False)
def test_sweep_points(benchmark, tmp_path):
    """A small sweep on 2 workers (bench_all measures 216 points on 1 and 2 workers); the
    records equal those of an in-process run."""
    from hwsim.explore.sweep import run_sweep

    axes = {"cluster.cores": [1, 2, 4, 8], "l1.size_bytes": [32000, 64000]}
    args = (str(ROOT / "platforms" / "pulp_cluster.yaml"), str(ROOT / "traces" / "resnet8.json"))
    res = benchmark(lambda: run_sweep(*args, grid_axes=axes, out=tmp_path / "p.jsonl", workers=2,
                                      resume=False, progress=False))
    ref = run_sweep(*args, grid_axes=axes, out=tmp_path / "s.jsonl", workers=0, progress=False)
    assert [r["summary"] for r in res.records] == [r["summary"] for r in ref.records]
    assert res.failed == 0


def test_readme_speed_section_is_current():
    """README's speed table is generated by tools/bench_all.py: its rows, targets and
    baseline text must be the script's (numbers are machine-dependent and not compared)."""
    readme = bench_all.readme_section((ROOT / "README.md").read_text())
    expect = bench_all.render(bench_all.example_figures(), markdown=True)
    assert bench_all.structure(readme) == bench_all.structure(expect), \
        "README speed section is stale: run python tools/bench_all.py --write-readme"
