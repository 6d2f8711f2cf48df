"""Placement of tensors and parameters in L2/L3, by live range (see :func:`place`).

A tensor lives in L2 when every layer touching it has its input+output in L2's capacity,
else in L3. Weights fill what L2 has left after the largest resident activation working set,
in layer order; the rest stay in L3 and stream from there each inference. Tensors occupy L2
over their live range (residual branches included); when the live set exceeds L2, the tensor
read again furthest in the future spills to L3 (:func:`live_activations`).
"""
from __future__ import annotations

from ..base.errors import MappingError
from ..base.srcmap import attach_line
from ..workload.trace import NETWORK_INPUT, TRAIN_OPS, Layer, Trace
from .footprint import check_footprint

__all__ = ["place", "live_activations", "input_memories", "locate"]


def input_memories(l: Layer, producers: tuple, tensor_mem: dict):
    """Where ``l`` reads its input: one memory, or one per producer when it has several (the
    operands of an elementwise op or matmul, the pieces of a concatenation)."""
    if len(producers) > 1:
        return tuple(tensor_mem[t] for t in producers)
    return tensor_mem[producers[0]]


def live_activations(trace: Trace, l2, l3, tensor_mem: dict, platform_file: str) -> int:
    """Peak bytes of activations resident in ``l2`` over the inference, spilling to ``l3``.

    A tensor occupies memory from its producer to its last forward reader, so a residual
    branch stays alive across the layers it skips. While the tensors live in L2 at a layer
    exceed its capacity, the one read again furthest in the future (Belady's choice, ties by
    name) moves to L3 for its whole life; the layer's own inputs and output never move here
    (the per-layer check before this one already sent those that cannot fit)."""
    size: dict = {}
    last: dict = {}     # tensor -> index of its last forward reader
    for i, l in enumerate(trace.layers):
        size.setdefault(l.name, l.output_bytes)
        if l.op in TRAIN_OPS:   # backward readers: saved activations are reserved apart
            continue
        for t in trace.producers(l):
            last[t] = i
            if t == NETWORK_INPUT:
                size.setdefault(t, l.input_bytes // l.operands)
    born = {l.name: i for i, l in enumerate(trace.layers)}
    # the live set is kept incrementally (a tensor enters at its producer, leaves after its
    # last reader): linear in the number of layers, not a scan of every tensor per layer
    births: dict = {}
    deaths: dict = {}
    for t, end in last.items():
        births.setdefault(born.get(t, 0), []).append(t)
        deaths.setdefault(end, []).append(t)
    live: dict = {}     # tensor -> bytes, those in l2
    live_bytes = peak = 0
    for i, l in enumerate(trace.layers):
        for t in births.get(i, ()):
            if tensor_mem.get(t) == l2.name:
                live[t] = size[t]
                live_bytes += size[t]
        if l.op not in TRAIN_OPS:
            need = live_bytes
            if l.name not in last and tensor_mem.get(l.name) == l2.name:
                need += size[l.name]         # an output nobody reads (the network's result)
            keep = set(trace.producers(l)) | {l.name}
            while need > l2.size_bytes:
                movable = [t for t in live if t not in keep]
                if not movable or l3 is None:
                    raise locate(MappingError(
                        f"{need} B of live activations (residual branches included) exceed "
                        f"{l2.name} ({l2.size_bytes} B) and the platform has no L3",
                        fix=f"enlarge components.{l2.name}.size_bytes in {platform_file} to at "
                        f"least {need} or add an L3 memory"), trace, l)
                victim = max(movable, key=lambda t: (last[t], t))
                tensor_mem[victim] = l3.name
                live_bytes -= live.pop(victim)
                need -= size[victim]
            peak = max(peak, need)
        for t in deaths.get(i, ()):
            if t in live:
                live_bytes -= live.pop(t)
    return peak


def place(trace: Trace, l2, l3, engines: dict, program_once: bool, updated: set,
           platform_file: str = "<platform>") -> tuple:
    """Placement of tensors and parameters in L2/L3: ``(tensor_mem, weight_mem)`` by name.
    ``engines[layer] == "aimc"`` layers whose crossbars are programmed once keep no weights
    in memory (unless ``updated`` by a training step)."""
    training = trace.meta.get("training") or {}
    home = l2 or l3
    tensor_mem: dict = {}   # tensor (producer name or "<input>") -> memory name
    for l in trace.layers:
        fits = l2 is not None and l.input_bytes + l.output_bytes <= l2.size_bytes
        for t in trace.producers(l) + (l.name,):
            if not fits:
                if l3 is None:
                    raise locate(MappingError(
                        f"input+output {l.input_bytes + l.output_bytes} B exceed "
                        f"{home.name} ({home.size_bytes} B) and the platform has no L3",
                        fix=f"enlarge components.{home.name}.size_bytes in {platform_file} to at "
                        f"least {l.input_bytes + l.output_bytes} or add an L3 memory"), trace, l)
                if l.input_bytes + l.output_bytes > l3.size_bytes:
                    raise locate(MappingError(
                        f"input+output {l.input_bytes + l.output_bytes} B exceed {l3.name} "
                        f"({l3.size_bytes} B), the largest memory",
                        fix=f"enlarge components.{l3.name}.size_bytes in {platform_file} to at "
                        f"least {l.input_bytes + l.output_bytes} or split the layer"), trace, l)
                tensor_mem[t] = l3.name
            else:
                tensor_mem.setdefault(t, home.name)
    resident_act = live_activations(trace, l2, l3, tensor_mem, platform_file) if l2 else 0
    l2_left = (l2.size_bytes - resident_act) if l2 else 0
    # Training: activations saved for the backward pass stay live from their forward producer
    # to their last backward reader; they take L2 in trace order while it has room, else L3.
    for t, nbytes in (training.get("saved_activations") or {}).items():
        if tensor_mem.get(t) == home.name and l2 is not None:
            if nbytes <= l2_left:
                l2_left -= nbytes
            elif l3 is not None:
                tensor_mem[t] = l3.name
    # Parameters of one layer (weights, their gradient, optimizer state: ``weights_of``) form
    # one group, placed together when its first layer is met.
    group_bytes: dict = {}
    for l in trace.layers:
        key = l.weights_of or l.name
        group_bytes[key] = group_bytes.get(key, 0) + l.stored_param_bytes
    weight_mem: dict = {}
    for l in trace.layers:
        key = l.weights_of or l.name
        if key in weight_mem:
            weight_mem[l.name] = weight_mem[key]
            continue
        if not l.stored_param_bytes and l.op not in TRAIN_OPS or (
                engines[l.name] == "aimc" and program_once and l.name not in updated):
            continue
        nbytes = group_bytes[key]
        if l2 is not None and nbytes <= l2_left:
            weight_mem[l.name] = weight_mem[key] = l2.name
            l2_left -= nbytes
        elif l3 is not None:
            if nbytes > l3.size_bytes:
                raise locate(MappingError(
                    f"weights ({nbytes} B) do not fit {l3.name} ({l3.size_bytes} B), the largest "
                    "memory", fix=f"enlarge components.{l3.name}.size_bytes in {platform_file} "
                    "or split the layer"), trace, l)
            weight_mem[l.name] = weight_mem[key] = l3.name
        else:
            raise locate(MappingError(
                f"weights ({nbytes} B) do not fit what is left of {l2.name} "
                f"({max(l2_left, 0)} B) and the platform has no L3",
                fix=f"enlarge components.{l2.name}.size_bytes in {platform_file} or add an L3 "
                "memory"), trace, l)

    for mem in (l2, l3):    # the whole network, at its worst moment, in every level
        check_footprint(trace, mem, tensor_mem, weight_mem, platform_file)
    return tensor_mem, weight_mem


def locate(err: MappingError, trace: Trace, l: Layer) -> MappingError:
    """Point ``err`` at layer ``l`` of ``trace`` (file, ``layers[i] (name)`` field, line)."""
    i = trace.layers.index(l)
    err.file = str(getattr(trace, "file", "") or "<trace>")
    err.field = f"layers[{i}] ({l.name})" + (f".{err.field}" if err.field else "")
    err.args = (err._message(),)
    return attach_line(err)
