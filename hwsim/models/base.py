"""The interface every compute-engine model implements (one class per component type).

A *model* is the behaviour of one component type, kept apart from its *spec* (the frozen
dataclass of typed parameters in :mod:`hwsim.hardware`), the way Stream keeps a core's cost
backend apart from the core. Defining a subclass with ``spec=SpecClass`` registers it
(:func:`hwsim.hardware.registry.model_of` finds it, for the spec class and its subclasses
without a model of their own); nothing else names the type:

* **mapping** (:mod:`hwsim.mapping.hetero_mapper`) asks :meth:`accepts` and
  :meth:`estimate_ps` to choose an engine per layer, and reads :attr:`weights_move` /
  :attr:`crossbar` to tile it;
* **the engine** (:mod:`hwsim.sim.engine`) runs each tile with :meth:`step`, a SimPy
  generator on the simulation's resources (:class:`StepContext`);
* **reports** (:mod:`hwsim.report.efficiency`, plots, compare) read :meth:`peak`.

Models are stateless: every method is handed the component (the spec instance).
"""
from __future__ import annotations

import math
from functools import partial

from ..hardware.registry import register_model

__all__ = ["ComponentModel", "StepContext"]


class StepContext:
    """What a model's :meth:`ComponentModel.step` may use of the running simulation
    (implemented by :class:`hwsim.sim.engine.Simulation`; listed here as the contract).

    ``env`` (the SimPy environment), ``platform``, ``timeline`` (or None), and the generators
    ``move(src, dst, nbytes, tag, xfers, acct)`` (a DMA/streamer transfer over the
    interconnect) and ``hold(engine, acct)`` (wait for an engine's slot, charging the wait as
    contention); ``release(engine, busy_ps)`` frees the slot and books its busy time;
    ``bank_conflict_ps(engine, op, kernel_cycles, dur_ps)`` the L1 bank-conflict stall of
    cores running a kernel; ``charge_wait(acct, xfers, t0, rest)`` splits a data wait into
    contention and memory stall; ``all_of(events)`` an event to wait for all of ``events``
    (``simpy.AllOf`` without its value); ``rows(plan)`` the :func:`~hwsim.mapping.plan.tile_rows` of
    each tile; ``memo``, a dict in which a step keeps the figures that are pure functions of
    a tile's shape (durations, energies), keyed by component and layer, for this run.
    """


class ComponentModel:
    """Base class: subclass with ``class M(ComponentModel, spec=SpecClass)``."""

    #: the spec class this model was registered for
    spec: type = None
    #: the label of plans and report rows running on it (``LayerPlan.engine_kind``)
    kind: str = ""
    #: runs the layers no accelerator takes, owns the L1 and issues the DMA (a core cluster)
    host: bool = False
    #: weights are read from memory every inference (False: stationary in the engine)
    weights_move: bool = True
    #: weights are stationary in crossbars allocated network-wide (:mod:`hwsim.mapping.aimc`)
    crossbar: bool = False

    def __init_subclass__(cls, spec=None, **kw):
        super().__init_subclass__(**kw)
        if spec is not None:
            cls.spec = spec
            register_model(spec, cls())

    # -- mapping ---------------------------------------------------------------------------
    def accepts(self, comp, layer) -> bool:
        """Whether ``comp`` can run ``layer`` (op, bit widths)."""
        return False

    def estimate_ps(self, platform, comp, layer, host) -> float:
        """Closed-form compute time of ``layer`` on ``comp`` in ps (``inf`` if it cannot run
        it); ``host`` is the core cluster that would run its digital parts."""
        return math.inf

    def tile_estimate_ps(self, platform, comp, layer, host, ops: float, channels: int,
                         rows: int) -> float:
        """Closed-form compute time in ps of one tile of ``layer`` (``channels`` output channels
        x ``rows`` output rows, ``ops`` operations), without the engine's per-tile overhead.
        The tiler minimises it. Default: the whole-layer estimate pro rata of the ops (0 when
        the engine cannot run the layer); a model whose speed depends on the tile's shape
        overrides it."""
        return self.pro_rata(platform, comp, layer, host)(ops, channels, rows)

    def tile_estimator(self, platform, comp, layer, host):
        """``f(ops, channels, rows)``: :meth:`tile_estimate_ps` of ``layer`` on ``comp``, for
        the tiler's thousands of questions about one layer; a model binds once what does not
        depend on the tile."""
        if type(self).tile_estimate_ps is not ComponentModel.tile_estimate_ps:
            return partial(self.tile_estimate_ps, platform, comp, layer, host)
        return self.pro_rata(platform, comp, layer, host)

    def pro_rata(self, platform, comp, layer, host):
        """The default tile estimator: the whole-layer estimate times the tile's share of the
        ops (0 when the engine cannot run the layer)."""
        whole, layer_ops = self.estimate_ps(platform, comp, layer, host), max(1, layer.ops)
        if whole == math.inf:
            return lambda ops, channels, rows: 0.0
        return lambda ops, channels, rows: whole * ops / layer_ops

    # -- engine ----------------------------------------------------------------------------
    def prepare(self, sim, comp, plan, acct):
        """Work before a layer's first tile (e.g. programming crossbars): an iterable the
        layer process runs with ``yield from``."""
        return ()

    def finish(self, sim, comp, plan) -> None:
        """After the layer's last tile (e.g. release what :meth:`prepare` held)."""

    def setup_cost(self, platform, plan) -> list:
        """One-time work before the first inference for ``plan`` (not in latency):
        ``[(engine, ps, pJ)]``."""
        return []

    def step(self, sim, comp, plan, tile, i: int, acct):
        """SimPy generator: run tile ``i`` of ``plan`` on ``comp`` (data already in L1),
        charging time to ``acct.ps`` and energy with ``acct.add_energy``."""
        raise NotImplementedError(f"{type(self).__name__} has no engine step")
        yield  # pragma: no cover

    # -- reports ---------------------------------------------------------------------------
    def peak(self, comp) -> dict | None:
        """``{"tops": peak TOPS, "tops_per_w": peak TOPS/W or None}`` (1 MAC = 2 ops), or
        None when the component has no compute peak."""
        return None
