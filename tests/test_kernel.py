"""hwsim's SimPy specialisations (hwsim/sim/kernel.py) and the burst ends a train processes in
place (hwsim/sim/interconnect.py, ``_Train._ended``) keep SimPy's semantics and event order:
checked against ``simpy`` itself and against runs with the in-place path switched off."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import simpy

from hwsim import Simulation, load_platform, load_trace
from hwsim.base.errors import SimulationLimitError
from hwsim.sim.kernel import AllDone, Env, Signal

ROOT = Path(__file__).resolve().parent.parent


def _trace_of(env_cls, body) -> list:
    """What ``body(env, log)`` logs, with the time of each entry, run to completion."""
    env, log = env_cls(), []
    body(env, log)
    env.run()
    return log


def _processes(env, log):
    def child(n):
        yield env.timeout(n)
        if n == 3:
            raise ValueError("three")
        return n * 10

    def parent():
        for n in (1, 2, 3, 4):
            try:
                v = yield env.process(child(n))
                log.append((env.now, "got", v))
            except ValueError as e:
                log.append((env.now, "caught", str(e), type(e.__cause__).__name__))
        yield env.timeout(0)
        log.append((env.now, "done"))

    for i in range(3):
        env.process(parent())


def test_proc_and_timeout_behave_as_simpy_process_and_timeout():
    """Same values, exceptions (a copy, with the original as ``__cause__``) and times."""
    assert _trace_of(Env, _processes) == _trace_of(simpy.Environment, _processes)
    with pytest.raises(ValueError, match="Negative delay"):
        Env().timeout(-1)


def test_an_uncaught_failure_of_a_proc_stops_the_run_as_in_simpy():
    def body(env, log):
        def bad():
            yield env.timeout(1)
            raise KeyError("k")
        env.process(bad())

    for cls in (Env, simpy.Environment):
        with pytest.raises(KeyError):
            _trace_of(cls, body)


def test_signal_and_all_done_trigger_once_in_order():
    env, log = Env(), []
    a, b = Signal(env), Signal(env)
    assert not a.triggered and not a.processed

    def waiter():
        yield AllDone(env, [a, b])
        log.append(("all", env.now))

    def firer():
        yield env.timeout(2)
        a.succeed()
        yield env.timeout(3)
        b.succeed("v")

    env.process(waiter())
    env.process(firer())
    env.run()
    assert log == [("all", 5)] and a.processed and b.value == "v"
    with pytest.raises(RuntimeError):
        a.succeed()


def test_all_done_fails_with_the_first_failure():
    env, log = Env(), []
    a, b = Signal(env), Signal(env)

    def waiter():
        try:
            yield AllDone(env, [a, b])
        except ZeroDivisionError:
            log.append(env.now)

    env.process(waiter())
    b.fail(ZeroDivisionError())
    env.run()
    assert log == [0]


SMALL_MESH = {"generate.mesh.width": 4, "generate.mesh.height": 4}
PAIRS = [("pulp_imc_cluster", "mobilenetv2", None), ("pulp_cluster_lpddr4", "resnet8", None),
         ("mesh_imc", "resnet8", SMALL_MESH)]


@pytest.mark.parametrize("platform,trace,overrides", PAIRS)
def test_burst_ends_processed_in_place_change_nothing(platform, trace, overrides):
    """The same report, byte for byte, and the same event count with the in-place path off
    (a horizon before time 0: every burst end goes through SimPy's queue); and it is used."""
    p = load_platform(ROOT / "platforms" / f"{platform}.yaml", overrides)
    t = load_trace(ROOT / "traces" / f"{trace}.json")
    on = Simulation(p, t)
    r_on = on.run()
    off = Simulation(p, t)
    off.ic.horizon = -1
    r_off = off.run()
    assert off.ic.in_place == 0 < on.ic.in_place
    assert r_on.perf["events"] == r_off.perf["events"]
    assert json.dumps(r_on.to_dict(), sort_keys=True) == json.dumps(r_off.to_dict(), sort_keys=True)


def test_a_limit_on_simulated_time_leaves_later_burst_ends_queued():
    """With ``until_ps``, a run stops where it stops with the in-place path off."""
    p = load_platform(ROOT / "platforms" / "pulp_imc_cluster.yaml")
    t = load_trace(ROOT / "traces" / "mobilenetv2.json")
    errors = []
    for horizon in (None, -1):
        sim = Simulation(p, t)
        if horizon is not None:
            sim.ic.horizon = horizon
        with pytest.raises(SimulationLimitError) as e:
            sim.run(until_ps=3_000_000_000)
        errors.append((str(e.value), e.value.now_ps, sim.env.now))
    assert errors[0] == errors[1]


def test_a_burst_end_tied_with_another_event_goes_through_the_queue():
    """A request that arrives at the very time one of a train's bursts ends is seen at that
    end (its event was queued first): the train hands the link over there, not one burst
    later. Two 640 B loads over an 8 B/cycle link (64 B bursts, 80 ns each at 100 MHz), the
    second starting at 160 ns, a burst boundary of the first: with the in-place path on and
    off the loads end at the same times: bursts alternate from 160 ns on, so the first ends
    its 8 bursts left at 160 + 16 x 80 ns and the second its last 2 after it, each plus 5
    cycles (50 ns) of link latency. (Were the first's burst end at 160 ns processed before
    the second's arrival, it would keep the link one burst longer: 1410 ns.)"""
    from tests.helpers import interconnect, platform

    def ends(in_place: bool) -> list:
        env, ic = interconnect(platform())
        if not in_place:
            ic.horizon = -1
        out = [None, None]

        def job(i, at):
            if at:
                yield env.timeout(at)
            yield from ic.transfer(ic.hops("l2", "l1")[0], 640)
            out[i] = env.now

        env.process(job(0, 0))
        env.process(job(1, 160_000))
        env.run()
        return out, ic.in_place

    (on, used), (off, _) = ends(True), ends(False)
    assert on == off and used > 0
    assert on == [160_000 + 16 * 80_000 + 50_000, 160_000 + 18 * 80_000 + 50_000]
