"""Layer pipelining at row-tile granularity, and the steady-state throughput of a pipeline.

**Progress.** A producer's output rows count as written when the tile holding them has been
stored for every channel group (tiles run channel groups outer, row tiles inner, so rows
complete during the last channel group). A pipelined consumer's tile covering output rows
``[h0, h1)`` needs input rows ``[0, min(H, (h1 - 1) * stride - pad_top + kh))`` of a conv-like
layer, ``[0, h1)`` of an elementwise one, and the whole tensor for a linear layer or when the
producer's and consumer's maps differ in height (e.g. a flatten).

**Steady state.** With weights stationary and consecutive inferences overlapped, the
pipeline's period is the busiest resource's busy time per inference (an engine: cores, a
crossbar, a depthwise engine; or a channel: link direction, memory port, DMA slots):
``throughput = 1 / max_r busy_r``, and stage ``r``'s utilisation is ``busy_r / period``. This is
the standard bound of a pipeline whose stages each serve one inference at a time; it assumes
inference ``k+1`` can enter a stage as soon as inference ``k`` leaves it (enough buffering).
"""
from __future__ import annotations

import math

from ..base.units import PS_PER_S
from ..workload.trace import ELEMENTWISE_OPS
from .kernel import Signal, fire

__all__ = ["RowProgress", "tile_rows", "rows_needed", "steady_state"]

from ..mapping.plan import tile_rows  # noqa: E402  (re-exported: the engine reads tiles by rows)


class RowProgress:
    """Rows of a layer's output already written; consumers wait for a row count."""

    def __init__(self, env, total_rows: int):
        self.env, self.total, self.rows = env, total_rows, 0
        self._waiters: list = []   # (rows, event)

    def advance(self, rows: int) -> None:
        if rows <= self.rows:
            return
        self.rows = rows
        keep = []
        for need, ev in self._waiters:
            if need <= rows:
                fire(ev)
            else:
                keep.append((need, ev))
        self._waiters = keep

    def wait(self, rows: int):
        """None when ``rows`` are written already, else an event firing when they are."""
        rows = min(rows, self.total)
        if rows <= self.rows:
            return None
        ev = Signal(self.env)
        self._waiters.append((rows, ev))
        return ev


def rows_needed(consumer, producer, h1s: list) -> list:
    """For each ``h1`` of ``h1s``: the rows of ``producer``'s output (a prefix, written top to
    bottom) that the consumer's output rows up to ``h1`` depend on (the same for any band
    ``[h0, h1)`` ending there)."""
    p_rows = producer.out_hw[0]
    c = consumer
    if c.op == "linear" or c.in_hw[0] != p_rows or len(c.input_shape) != 3:
        return [p_rows] * len(h1s)
    if c.op in ELEMENTWISE_OPS:
        return [min(p_rows, h1) for h1 in h1s]
    s, kh, pt = c.stride[0], c.kernel[0], c.padding[0]
    return [max(0, min(p_rows, (h1 - 1) * s - pt + kh)) for h1 in h1s]


def steady_state(busy_ps: dict, makespan_ps: int, stages=None) -> dict:
    """Period, throughput and per-stage utilisation from per-inference busy times (ps).

    ``busy_ps`` covers every resource (the period is the busiest one's); ``stages`` names the
    engines reported as pipeline stages (default: all resources)."""
    busy = {k: v for k, v in busy_ps.items() if v > 0}
    if not busy:
        return {"steady_state_period_s": 0.0, "steady_state_inferences_per_s": 0.0,
                "pipeline_bottleneck": "-", "stage_utilisation": {}}
    name = max(sorted(busy), key=lambda k: busy[k])
    period = busy[name]
    return {"steady_state_period_s": period / PS_PER_S,
            "steady_state_inferences_per_s": PS_PER_S / period if period else math.inf,
            "pipeline_bottleneck": name,
            "stage_utilisation": {k: v / period for k, v in sorted(busy.items())
                                  if stages is None or k in stages}}
