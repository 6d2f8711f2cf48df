"""On-device learning: derive the trace of one training step from a forward (inference) trace.

    from hwsim.workload.training import training_step
    step = training_step(trace, trainable="last:2", batch=8, optimizer="adam")

The step is, in trace order (a topological order of the training graph):

1. **Forward**: every layer of ``trace`` with ``batch`` applied and the forward precision.
2. **Loss gradient** ``loss.grad``: an elementwise op on the network output (the last layer)
   computing dL/dy from the output and the target (``p - t`` for softmax + cross-entropy, so a
   final softmax has no separate backward; ``y - t`` for a squared error).
3. **Backward**, layers in reverse order, for every layer whose output gradient is needed
   (a trainable layer or one downstream of a trainable layer):

   * ``<layer>.act_grad`` (``mul``): dY * f'(z) for a fused activation, from the saved output;
   * ``<layer>.grad_weight`` (``<op>_grad_weight``): dW (+ db) for a *trainable* layer; same
     MACs as the forward layer (dW = X^T dY);
   * ``<layer>.grad_input`` (``<op>_grad_input``, ``maxpool_grad``, ``avgpool_grad``): dX,
     only when the layer's input itself needs a gradient: never for the first layer (its input
     is the data) nor for frozen layers below the first trainable one; same MACs as forward;
   * a residual ``add`` passes dY to both operands for free; a ``mul`` of two activations gets
     one ``mul`` per operand that needs a gradient (dA = dY * B);
   * ``<tensor>.grad_sum<k>`` (``add``): a tensor read by several layers sums the gradients
     flowing back from each.
4. **Weight update** ``<layer>.update`` (``optimizer_step``) for each trainable layer: reads W,
   dW and the optimizer state (sgd: none, sgd_momentum: 1, adam: 2 tensors per parameter),
   writes W and the state (in place, at the forward weight width: no separate master copy).

Precision: ``{"forward": bits, "gradient": bits, "optimizer": bits}``; ``forward`` applies to
forward activations, weights and the saved activations (default: the trace's own widths),
``gradient`` to activation and weight gradients (default 32), ``optimizer`` to the optimizer
state (default: ``gradient``). Presets: ``"fp32"``, ``"fp16"``, ``"int8"`` (all three widths
32, 16, 8). Biases stay 32 bits (gradient width for db). Kernel throughput of the training ops
falls back to the forward op's entry unless the platform lists the op itself (see
:data:`hwsim.workload.trace.BASE_OP`).

Memory: the activations read by the backward pass (the inputs X of trainable layers and of
max-pools on the gradient path, the outputs Y of layers with an activation, the network
output, the operands of ``mul``) are *saved*: they live from the forward pass to the backward
pass. ``meta["training"]["saved_activations"]`` maps each saved tensor (its producer's name,
``"input"`` for the network input) to its bytes, and ``saved_activation_bytes`` is their sum;
mapper v1 reserves them in L2 in that order while L2 has room and places the rest in L3, so a
large training step spills to (and streams from) L3. Weight gradients and optimizer state are
placed with their layer's weights (one parameter group per layer).

AIMC: a trainable layer that the mapper puts on a crossbar is re-programmed every step with its
updated weights (``meta["training"]["trainable"]`` makes the mapper mark it
``program_each_inference``), so the report shows the write as ``programming`` of that forward
layer. The backward ops always run on the digital cores (transposed MVMs on the crossbar are
not modelled).
"""
from __future__ import annotations

import math
from dataclasses import replace

from ..base.errors import ConfigError, did_you_mean
from .trace import NETWORK_INPUT, OPTIMIZERS, POOL_OPS, WEIGHTED_OPS, Layer, Trace

__all__ = ["PRESETS", "PRECISION_KEYS", "parse_precision", "select_trainable", "training_step"]

PRESETS = {"fp32": 32, "fp16": 16, "int8": 8}
PRECISION_KEYS = ("forward", "gradient", "optimizer")


def _bytes(elements: int, bits: int) -> int:
    return -(-elements * bits // 8)


def parse_precision(precision) -> dict:
    """``None``, a preset name or a dict -> ``{"forward": bits|None, "gradient", "optimizer"}``."""
    if precision is None:
        precision = {}
    if isinstance(precision, str):
        if precision not in PRESETS:
            raise ConfigError("<training>", "precision", f"unknown preset {precision!r}",
                              did_you_mean(precision, PRESETS))
        b = PRESETS[precision]
        return {"forward": b, "gradient": b, "optimizer": b}
    if not isinstance(precision, dict):
        raise ConfigError("<training>", "precision", "expected a preset name or a dict",
                          f"presets: {', '.join(PRESETS)}; keys: {', '.join(PRECISION_KEYS)}")
    for k, v in precision.items():
        if k not in PRECISION_KEYS:
            raise ConfigError("<training>", f"precision.{k}", "unknown key",
                              did_you_mean(k, PRECISION_KEYS))
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 64:
            raise ConfigError("<training>", f"precision.{k}", f"expected bits in 1..64, got {v!r}")
    g = precision.get("gradient", 32)
    return {"forward": precision.get("forward"), "gradient": g,
            "optimizer": precision.get("optimizer", g)}


def select_trainable(trace: Trace, trainable) -> list:
    """Names of the weighted layers ``trainable`` selects: ``"all"``, ``"classifier"`` (the
    last weighted layer), ``"last:N"`` (the last N weighted layers) or a list of names."""
    weighted = [l.name for l in trace.layers if l.op in WEIGHTED_OPS]
    if not weighted:
        raise ConfigError(trace.name, "trainable", "the trace has no layer with weights")
    if trainable == "all":
        return weighted
    if trainable == "classifier":
        return weighted[-1:]
    if isinstance(trainable, str) and trainable.startswith("last:"):
        n = trainable[5:]
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(trace.name, "trainable", f"bad {trainable!r}",
                              "use last:N with N >= 1, e.g. last:2")
        return weighted[-int(n):]
    if isinstance(trainable, str):
        raise ConfigError(trace.name, "trainable", f"unknown selection {trainable!r}",
                          "use 'all', 'classifier', 'last:N' or a list of layer names")
    names = list(trainable)
    for n in names:
        if n not in weighted:
            raise ConfigError(trace.name, "trainable", f"{n!r} is not a layer with weights",
                              did_you_mean(n, weighted))
    if not names:
        raise ConfigError(trace.name, "trainable", "empty list", "name at least one layer")
    return [n for n in weighted if n in set(names)]


def training_step(trace: Trace, trainable="all", batch: int = 1, optimizer: str = "sgd",
                  precision=None) -> Trace:
    """The trace of one training step (forward, loss, backward, weight update) of ``trace``.

    Args:
        trainable: ``"all"``, ``"classifier"``, ``"last:N"`` or a list of layer names.
        batch: samples per step (multiplies activations and work, not parameters).
        optimizer: ``"sgd"``, ``"sgd_momentum"`` or ``"adam"``.
        precision: a preset (``"fp32"``, ``"fp16"``, ``"int8"``) or
            ``{"forward": 8, "gradient": 32, "optimizer": 32}`` (see the module docstring).
    """
    if optimizer not in OPTIMIZERS:
        raise ConfigError("<training>", "optimizer", f"unknown optimizer {optimizer!r}",
                          did_you_mean(optimizer, OPTIMIZERS))
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ConfigError("<training>", "batch", f"expected a positive integer, got {batch!r}")
    if any(l.batch != 1 for l in trace.layers):
        raise ConfigError(trace.name, "batch", "the forward trace already has a batch",
                          "derive the training step from a batch-1 trace and pass batch=")
    prec = parse_precision(precision)
    train = select_trainable(trace, trainable)
    trainset = set(train)
    gbits, obits = prec["gradient"], prec["optimizer"]

    # 1. forward
    fwd = []
    for l in trace.layers:
        kw = {"batch": batch}
        if prec["forward"] is not None:
            b = prec["forward"]
            kw.update(bits_input=b, bits_weight=b, bits_output=b)
        fwd.append(replace(l, **kw))
    by_name = {l.name: l for l in fwd}
    producers = {l.name: _producers(trace, l) for l in fwd}
    fbits = {l.name: l.bits_output for l in fwd}
    fbits[NETWORK_INPUT] = fwd[0].bits_input

    # which outputs need a gradient: trainable layers and everything downstream of them
    needs = {NETWORK_INPUT: False}
    for l in fwd:
        needs[l.name] = l.name in trainset or any(needs[p] for p in producers[l.name])

    names = {NETWORK_INPUT} | set(by_name)
    back: list[Layer] = []
    saved: dict = {}

    def new(name, **kw):
        if name in names:
            raise ConfigError(trace.name, "layers", f"layer name {name!r} clashes with a "
                              "generated training layer", "rename the forward layer")
        names.add(name)
        back.append(Layer(name=name, batch=batch, **kw))
        return name

    def save(tensor):
        if tensor not in saved:
            shape = trace.layers[0].input_shape if tensor == NETWORK_INPUT \
                else by_name[tensor].output_shape
            saved[tensor] = _bytes(math.prod(shape) * batch, fbits[tensor])

    last = fwd[-1]
    # 2. loss gradient dL/dy = y - target: an add of two output-shaped operands. The target
    # (labels) is not a layer of the trace; it is modelled as a second operand of the output's
    # size read from the output's memory (an add reads one tensor per named producer).
    save(last.name)
    contribs: dict = {l.name: [] for l in fwd}
    contribs[last.name].append(new(
        "loss.grad", op="add", input_shape=last.output_shape, output_shape=last.output_shape,
        bits_input=gbits, bits_weight=gbits, bits_output=gbits, inputs=(last.name, last.name)))

    # 3. backward, in reverse trace order
    for l in reversed(fwd):
        if not needs[l.name] or not contribs[l.name]:
            continue
        dy = _sum_grads(l.name, l.output_shape, contribs[l.name], new, gbits)
        if l.activation and not (l is last and l.activation == "softmax"):
            save(l.name)
            dy = new(f"{l.name}.act_grad", op="mul", input_shape=l.output_shape,
                     output_shape=l.output_shape, bits_input=gbits, bits_weight=gbits,
                     bits_output=gbits, inputs=(dy, l.name))
        srcs = producers[l.name]
        geo = dict(input_shape=l.input_shape, output_shape=l.output_shape, kernel=l.kernel,
                   stride=l.stride, padding=l.padding, groups=l.groups)
        if l.op in WEIGHTED_OPS:
            gw = gi = None
            if l.name in trainset:
                save(srcs[0])
                gw = new(f"{l.name}.grad_weight", op=f"{l.op}_grad_weight", **geo,
                         bits_input=fbits[srcs[0]], bits_weight=gbits, bits_output=gbits,
                         bits_bias=gbits if l.bias else 32, bias=l.bias,
                         inputs=(srcs[0], dy), weights_of=l.name, engine="cores")
            if needs[srcs[0]]:
                gi = new(f"{l.name}.grad_input", op=f"{l.op}_grad_input", **geo,
                         bits_input=gbits, bits_weight=l.bits_weight, bits_output=gbits,
                         bias=False, inputs=(dy,), weights_of=l.name, engine="cores")
                contribs[srcs[0]].append(gi)
            if gw is not None:
                p = l.params
                new(f"{l.name}.update", op="optimizer_step", input_shape=(p,), output_shape=(p,),
                    bits_input=gbits, bits_weight=l.bits_weight, bits_output=obits,
                    inputs=(gw,) + ((gi,) if gi else ()), weights_of=l.name,
                    optimizer=optimizer, engine="cores")
        elif l.op in POOL_OPS:
            if needs[srcs[0]]:
                if l.op == "maxpool":
                    save(srcs[0])
                contribs[srcs[0]].append(new(
                    f"{l.name}.grad_input", op=f"{l.op}_grad", **geo, bits_input=fbits[srcs[0]],
                    bits_weight=gbits, bits_output=gbits, bias=False,
                    inputs=(dy,) + ((srcs[0],) if l.op == "maxpool" else ()), engine="cores"))
        elif l.op == "add":
            for s in srcs:
                if needs[s]:
                    contribs[s].append(dy)
        elif l.op == "mul":
            for i, s in enumerate(srcs):
                if needs[s]:
                    other = srcs[1 - i] if len(srcs) == 2 else s
                    save(other)
                    contribs[s].append(new(
                        f"{l.name}.grad_input{i}", op="mul", input_shape=l.output_shape,
                        output_shape=l.output_shape, bits_input=gbits, bits_weight=gbits,
                        bits_output=gbits, inputs=(dy, other), engine="cores"))
        else:  # pragma: no cover - every forward op is handled above
            raise ConfigError(trace.name, l.name, f"no backward rule for op {l.op}")

    # 4. bookkeeping
    state = sum(_bytes(by_name[n].params * OPTIMIZERS[optimizer]["state_tensors"], obits)
                for n in train)
    grads = sum(l.weight_bytes for l in back if l.op.endswith("_grad_weight"))
    # order saved tensors by production (forward order), network input first
    order = {NETWORK_INPUT: -1, **{l.name: i for i, l in enumerate(fwd)}}
    saved = dict(sorted(saved.items(), key=lambda kv: order[kv[0]]))
    meta = {k: v for k, v in trace.meta.items() if k not in ("training",)}
    meta["training"] = {
        "forward_trace": trace.name, "trainable": train, "batch": batch, "optimizer": optimizer,
        "precision": {"forward": prec["forward"], "gradient": gbits, "optimizer": obits},
        "forward_layers": len(fwd), "backward_layers": len(back),
        "saved_activations": saved, "saved_activation_bytes": sum(saved.values()),
        "weight_gradient_bytes": grads, "optimizer_state_bytes": state,
        "forward_macs": sum(l.macs for l in fwd),
        "backward_macs": sum(l.macs for l in back),
    }
    suffix = f"_train_{str(trainable).replace(':', '') if isinstance(trainable, str) else 'sel'}"
    return Trace(name=trace.name + suffix, layers=tuple(fwd + back),
                 source=f"training step derived by hwsim.workload.training from: {trace.source}", meta=meta)


def _producers(trace: Trace, l: Layer) -> tuple:
    return trace.producers(trace.layer(l.name))


def _sum_grads(tensor, shape, parts, new, gbits) -> str:
    """Name of the layer producing the full gradient of ``tensor`` (adds when it has several
    readers)."""
    cur = parts[0]
    for k, p in enumerate(parts[1:], 1):
        cur = new(f"{tensor}.grad_sum{k}", op="add", input_shape=shape, output_shape=shape,
                  bits_input=gbits, bits_weight=gbits, bits_output=gbits, inputs=(cur, p),
                  engine="cores")
    return cur
