"""Simulation faults: deadlock and livelock reports, simulated- and wall-time limits."""
from __future__ import annotations

from pathlib import Path

import pytest

import hwsim
from hwsim.sim.engine import Simulation
from hwsim.base.errors import DeadlockError, SimulationError, SimulationLimitError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs():
    return (hwsim.load_platform(ROOT / "platforms" / "pulp_cluster.yaml"),
            hwsim.load_trace(ROOT / "traces" / "resnet8.json"))


def test_deadlock_report_names_waiters_and_holders(inputs):
    """A rogue process takes the L2 port and never gives it back: the event queue drains
    with layers left. The report must name the port, its holder and the waiting transfer."""
    p, t = inputs
    sim = Simulation(p, t)

    def rogue():
        sim.ic.port["l2"].acquire()
        yield sim.env.timeout(5_000_000)   # 5 us, then ends still holding the port

    sim.env.process(rogue())
    with pytest.raises(DeadlockError) as ei:
        sim.run()
    e = ei.value
    assert e.kind == "deadlock" and e.layers_done == 0 and e.layers_total == len(t.layers)
    assert e.now_ps == 5_000_000
    port_line = next(l for l in e.report.splitlines() if l.strip().startswith("l2.port"))
    assert "held by rogue" in port_line
    assert "waiting: transfer conv1 t0 in" in port_line or "waiting: layer conv1" in port_line
    assert "stack1.conv1: not started: waits for producers conv1" in e.report
    assert isinstance(e, SimulationError) and isinstance(e, hwsim.HwsimError)


@pytest.mark.parametrize("policy", ["round_robin", "fixed_priority"])
def test_deadlock_report_under_arbitration_policies(policy):
    """The report lists holders and waiters of channels whose queue is a round-robin or
    priority queue too (hwsim.sim.arbitration), and every layer's loader waits on the port."""
    p = hwsim.load_platform(ROOT / "platforms" / "pulp_cluster.yaml",
                            {"components.l2.arbitration": policy})
    sim = Simulation(p, hwsim.load_trace(ROOT / "traces" / "resnet8.json"))

    def rogue():
        sim.ic.port["l2"].acquire("rogue", 0)
        yield sim.env.timeout(1_000_000)

    sim.env.process(rogue())
    with pytest.raises(DeadlockError) as ei:
        sim.run()
    port_line = next(l for l in ei.value.report.splitlines() if l.strip().startswith("l2.port"))
    assert "held by rogue" in port_line, port_line
    assert "waiting: transfer conv1 t0 in" in port_line or "waiting: layer conv1" in port_line, port_line
    assert sim.ic.port["l2"].policy == policy


def test_livelock_detected(inputs):
    """A process that yields zero-length timeouts forever keeps the queue busy while time
    stands still."""
    p, t = inputs
    sim = Simulation(p, t)

    def spin():
        while True:
            yield sim.env.timeout(0)

    sim.env.process(spin())
    with pytest.raises(DeadlockError) as ei:
        sim.run(livelock_events=20_000)
    assert ei.value.kind == "livelock" and "stopped advancing at 0 ps" in str(ei.value)


def test_sim_time_limit_reports_progress(inputs):
    p, t = inputs
    full = hwsim.simulate(p, t)
    half_s = full.makespan_ps / 2 / 1e12
    with pytest.raises(SimulationLimitError) as ei:
        hwsim.simulate(p, t, max_sim_s=half_s)
    e = ei.value
    assert e.limit == "sim" and e.now_ps <= full.makespan_ps / 2
    # exactly the layers that had finished by then in the full run
    finished = sum(1 for r in full.layers if r.end_ps <= e.now_ps)
    assert e.layers_done == finished and 0 < finished < len(t.layers)
    assert f"{finished} of {len(t.layers)} layers done" in str(e)
    assert e.running and all(r in [l.name for l in t.layers] for r in e.running)
    # a limit above the makespan changes nothing
    again = hwsim.simulate(p, t, max_sim_s=full.makespan_ps / 1e12)
    assert again.to_json() == full.to_json()


def test_wall_time_limit(inputs):
    p, _ = inputs
    t = hwsim.load_trace(ROOT / "traces" / "mobilenetv2.json")
    with pytest.raises(SimulationLimitError) as ei:
        hwsim.simulate(p, t, max_wall_s=0.0)
    assert ei.value.limit == "wall" and "wall-clock limit" in str(ei.value)
    assert ei.value.layers_done < len(t.layers)


def test_holders_are_released(inputs):
    """After a normal run no channel is held or queued on (holder bookkeeping balances)."""
    p, t = inputs
    sim = Simulation(p, t)
    sim.run()
    for ch in sim.ic.channels + list(sim.engines.values()):
        assert ch.held_by() == [] and not ch.queue and ch.in_use == 0, ch.name


def test_deadlock_report_names_a_burst_train_holding_part_of_its_route(inputs):
    """A burst train holds the channels of its route before the one it queues on (one index,
    not a record per channel): when a rogue process keeps every server of the last channel of
    the L2 -> L1 route, the report names the transfer as the holder of the first channel."""
    p, t = inputs
    sim = Simulation(p, t)
    route = sim.ic.hops("l2", "l1")[0]
    first, last = route.channels[0], route.channels[-1]
    assert first is not last

    def rogue():
        for _ in range(last.capacity):
            assert last.acquire() is None
        yield sim.env.timeout(1)

    sim.env.process(rogue())
    with pytest.raises(DeadlockError) as ei:
        sim.run()
    assert first.held_by() and first.holders == []   # held by a train, not by acquire
    line = next(l for l in ei.value.report.splitlines() if l.strip().startswith(first.name + " "))
    assert "held by transfer" in line or "held by layer" in line, line
    last_line = next(l for l in ei.value.report.splitlines()
                     if l.strip().startswith(last.name + " "))
    assert "held by rogue" in last_line and "waiting:" in last_line, last_line


@pytest.mark.parametrize("platform, trace, timeline", [
    ("pulp_cluster.yaml", "resnet8.json", False),          # DRAM, DMA descriptor queue
    ("pulp_imc_cluster.yaml", "ds_cnn.json", True),        # AIMC streams, timeline observer
    ("mesh_imc.yaml", "ds_cnn.json", False),               # contended NoC routes
])
def test_a_run_leaves_no_cyclic_garbage(tmp_path, platform, trace, timeline):
    """``drive`` pauses Python's cyclic collector during the run, and ``Simulation.run``
    while it collects the report: that is free only while neither creates reference cycles
    (everything freed by reference counting), else memory would grow with run length. A
    collection right after a run must find nothing."""
    import gc

    sim = Simulation(hwsim.load_platform(ROOT / "platforms" / platform),
                     hwsim.load_trace(ROOT / "traces" / trace),
                     timeline=tmp_path / "t.json" if timeline else None)
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        result = sim.run()
        found = gc.collect()
        assert not gc.isenabled()   # drive restores the collector's state: off here
    finally:
        if was:
            gc.enable()
    assert result.makespan_ps > 0
    assert found == 0


def test_drive_restores_the_collector_after_an_error():
    """The collector is paused only while ``drive`` runs, also when a process fails."""
    import gc

    import simpy

    from hwsim.sim.faults import drive

    env = simpy.Environment()

    def boom():
        yield env.timeout(1)
        raise ValueError("boom")

    env.process(boom())
    assert gc.isenabled()
    with pytest.raises(ValueError, match="boom"):
        drive(env)
    assert gc.isenabled()
