"""Whole-network footprint: does everything the placement put in a memory fit at once?

The placement (:func:`hwsim.mapping.mapper._place`) keeps L2 within its capacity as it goes
(live activations spill to L3, weights take what is left). L3 is the last level: what lands
there must fit too. Over the inference a memory holds, at the worst moment,

* every parameter group placed in it (weights are resident for the whole run),
* every activation saved for a training step's backward pass placed in it, and
* the peak of the forward activations placed in it that are live at once (a tensor lives
  from its producer to its last reader; a sweep over the layers, linear in their number).

A memory whose sum exceeds its ``size_bytes`` is a :class:`~hwsim.base.errors.MappingError`
that names the memory, each part and by how much it is over.
"""
from __future__ import annotations

from ..base.errors import MappingError
from ..workload.trace import NETWORK_INPUT, TRAIN_OPS

__all__ = ["peak_live_bytes", "check_footprint"]


def peak_live_bytes(trace, tensor_mem: dict, memory: str, skip=frozenset()) -> int:
    """Peak bytes of forward activations placed in ``memory`` that are live at once (a tensor
    from the layer producing it to its last forward reader; the network input from the start;
    an output nobody reads at its own layer). O(layers + edges)."""
    size: dict = {}
    last: dict = {}
    born: dict = {}
    for i, l in enumerate(trace.layers):
        if l.op in TRAIN_OPS:   # backward tensors: not forward activations
            continue
        born[l.name] = i
        size[l.name] = l.output_bytes
        for t in trace.producers(l):
            last[t] = i
            if t == NETWORK_INPUT:
                born.setdefault(t, 0)
                size.setdefault(t, l.input_bytes // l.operands)
    delta = [0] * (len(trace.layers) + 1)
    for t, b in born.items():
        if t in skip or tensor_mem.get(t) != memory:
            continue
        end = last.get(t, b)
        delta[b] += size[t]
        delta[end + 1] -= size[t]
    peak = cur = 0
    for d in delta:
        cur += d
        peak = max(peak, cur)
    return peak


def check_footprint(trace, memory, tensor_mem: dict, weight_mem: dict, platform_file: str) -> None:
    """Raise a :class:`MappingError` if what is placed in ``memory`` (a Memory spec) does not
    fit it at once: parameters + saved training activations + peak live activations."""
    if memory is None:
        return
    name = memory.name
    groups: dict = {}
    for l in trace.layers:
        key = l.weights_of or l.name
        groups[key] = groups.get(key, 0) + l.stored_param_bytes
    weights = sum(groups[k] for k in groups if weight_mem.get(k) == name)
    saved_map = (trace.meta.get("training") or {}).get("saved_activations") or {}
    saved = sum(b for t, b in saved_map.items() if tensor_mem.get(t) == name)
    live = peak_live_bytes(trace, tensor_mem, name, skip=frozenset(saved_map))
    need = weights + saved + live
    if need <= memory.size_bytes:
        return
    parts = [f"weights {weights:,} B"] + ([f"saved activations {saved:,} B"] if saved else []) \
        + [f"peak live activations {live:,} B"]
    raise MappingError(
        f"the network does not fit {name}: {' + '.join(parts)} = {need:,} B exceed its "
        f"{memory.size_bytes:,} B by {need - memory.size_bytes:,} B",
        file=trace.file, field="layers",
        fix=f"enlarge components.{name}.size_bytes in {platform_file} to at least {need} "
        "or run a smaller network")
