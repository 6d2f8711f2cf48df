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
