"""hwsim's specialisations of SimPy's kernel: the same events, in the same order, for less work.

A run's cost is its events (see ``tools/bench_vs_simpy.py``). These classes keep SimPy's
semantics exactly (each schedules what SimPy would schedule, with the same key: time,
priority, next event id) and drop work hwsim never needs:

* :class:`Env`: a ``simpy.Environment`` whose :meth:`~Env.process` makes :class:`Proc`, with
  a leaner :meth:`~Env.timeout`.
* :class:`Proc`: ``simpy.Process`` with its resume callback bound once, not at every
  ``yield``, and its start (SimPy's ``Initialize``) a :class:`Signal`.
* :class:`AllDone`: ``simpy.AllOf`` for a process that uses no value.
* :class:`Signal`: an event hwsim makes and triggers itself (a tile loaded, a layer done,
  rows written, a grant): SimPy's ``Event`` in slots, without a ``__dict__`` per event.
* :func:`fire`: ``Event.succeed()`` of an event hwsim made and triggers exactly once.

The run loop that processes the events is :func:`hwsim.sim.faults.drive`.
"""
from __future__ import annotations

from heapq import heappush

import simpy
from simpy.core import NORMAL, URGENT
from simpy.events import PENDING, Timeout

__all__ = ["Env", "Proc", "AllDone", "Signal", "fire"]


def fire(ev) -> None:
    """``ev.succeed()`` for an event made by hwsim that nothing else triggers (no check that it
    is still pending): scheduled now, ``NORMAL`` priority, next event id, as SimPy does."""
    ev._ok = True
    ev._value = None
    env = ev.env
    heappush(env._queue, (env._now, NORMAL, next(env._eid), ev))


class Signal:
    """An event that hwsim makes and triggers itself: what SimPy's run loop, a process and
    :class:`AllDone` read of an event (``env``, ``callbacks``, ``_ok``, ``_value``,
    ``_defused``) in slots; ``who``/``requester``/``priority``: a channel request's waiter and
    arbitration keys; ``train``: the burst train a transfer's process waits on (both for
    deadlock reports). A run makes one per tile buffer and grant, tens of thousands."""

    __slots__ = ("env", "callbacks", "_value", "_ok", "_defused", "who", "requester",
                 "priority", "train")

    def __init__(self, env):
        self.env, self.callbacks, self._value = env, [], PENDING

    @property
    def triggered(self) -> bool:
        return self._value is not PENDING

    @property
    def processed(self) -> bool:
        return self.callbacks is None

    @property
    def ok(self) -> bool:
        return self._ok

    @property
    def value(self):
        if self._value is PENDING:
            raise AttributeError(f"Value of {self} is not yet available")
        return self._value

    def succeed(self, value=None) -> "Signal":
        return self._trigger(True, value)

    def fail(self, exception: BaseException) -> "Signal":
        if not isinstance(exception, BaseException):
            raise ValueError(f"{exception} is not an exception.")
        return self._trigger(False, exception)

    def _trigger(self, ok: bool, value) -> "Signal":
        """Schedule this event now with outcome ``ok``/``value``, as ``Event.succeed`` and
        ``Event.fail`` do (at most once)."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok, self._value = ok, value
        env = self.env
        heappush(env._queue, (env._now, NORMAL, next(env._eid), self))
        return self

    def __repr__(self):
        return f"<Signal() object at {id(self):#x}>"


class Proc(simpy.Process):
    """``simpy.Process`` (SimPy 4.1 semantics, exceptions included) that binds its resume
    callback once and starts on a :class:`Signal` (SimPy's ``Initialize``: urgent, now).
    SimPy appends ``self._resume``, a new bound method, to every event the
    process waits on; here it is ``self._cb``. The process and its callback refer to each
    other until the generator ends, when the reference is dropped (a run leaves no cycles
    for the garbage collector; ``tests/test_faults.py``)."""

    def __init__(self, env, generator):
        if not hasattr(generator, "throw"):
            raise ValueError(f"{generator} is not a generator.")
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._cb = cb = self._resume
        # the start: SimPy's Initialize event (urgent, now), as a Signal
        init = Signal(env)
        init.callbacks.append(cb)
        init._ok, init._value = True, None
        heappush(env._queue, (env._now, URGENT, next(env._eid), init))
        self._target = init

    def _resume(self, event) -> None:
        env = self.env
        env._active_proc = self
        gen = self._generator
        while True:
            try:
                if event._ok:
                    event = gen.send(event._value)
                else:   # the process handles the failure (or fails): a copy of the exception
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = gen.throw(exc)
            except StopIteration as e:
                self._ok, self._value = True, (e.args[0] if e.args else None)
                break
            except BaseException as e:
                e.__traceback__ = e.__traceback__.tb_next
                self._ok, self._value = False, e
                break
            try:
                cbs = event.callbacks
            except AttributeError:
                raise RuntimeError(f'Invalid yield value "{event}"') from None
            if cbs is not None:   # not processed yet: resume when it is
                cbs.append(self._cb)
                self._target = event
                env._active_proc = None
                return
        # the generator ended: the process is triggered with its outcome
        self._cb = None
        self._target = None
        heappush(env._queue, (env._now, NORMAL, next(env._eid), self))
        env._active_proc = None


class Env(simpy.Environment):
    """``simpy.Environment`` whose processes are :class:`Proc` and whose timeouts are
    scheduled without the calls of ``Timeout.__init__`` (same fields, same key)."""

    def process(self, generator) -> Proc:
        return Proc(self, generator)

    def timeout(self, delay, value=None) -> Timeout:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        ev = Timeout.__new__(Timeout)
        ev.env, ev.callbacks, ev._value, ev._delay, ev._ok = self, [], value, delay, True
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), ev))
        return ev


class AllDone(Signal):
    """``simpy.AllOf`` for a process that waits for ``events`` and uses no value: triggered
    (scheduled as ``AllOf`` would be, at the same point of the event order) once all of them
    have been processed, or failed with the first failure; without the ``ConditionValue``
    that ``AllOf`` builds and the per-event clean-up, a visible share of a tile's work."""

    __slots__ = ("_left",)

    def __init__(self, env, events):
        self.env, self.callbacks, self._value = env, [], PENDING
        self._left = len(events)
        if not events:
            self.succeed()
            return
        for ev in events:
            if ev.callbacks is None:   # processed already
                self._check(ev)
            else:
                ev.callbacks.append(self._check)

    def _check(self, event) -> None:
        if self._value is not PENDING:   # failed already
            return
        if not event._ok:
            event._defused = True
            self.fail(event._value)
            return
        self._left -= 1
        if not self._left:
            self.succeed()
