"""Layer-level traces: the workload hwsim replays.

A trace is a JSON file with one record per layer (see ``docs/formats.md``). Shapes are per
sample, channel-first: ``[C, H, W]`` for feature maps, ``[F]`` for vectors, ``[T, F]`` for
sequences (tokens x features) and up to 4 axes for the data-movement, normalisation and matmul
ops (e.g. ``[heads, T, d]``); ``batch`` multiplies the activations and the work, never the
weights. MACs, parameters and bytes are
*derived* from the shapes; a trace that also states ``macs`` or ``params`` is checked against
the derivation so a hand-edited trace cannot silently disagree with itself.
"""
from __future__ import annotations

import dataclasses

import json
import math
import weakref
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path

from ..base.errors import ConfigError, did_you_mean

__all__ = ["TRACE_FORMAT", "WEIGHTED_OPS", "ELEMENTWISE_OPS", "POOL_OPS", "GRAD_INPUT_OPS",
           "GRAD_WEIGHT_OPS", "POOL_GRAD_OPS", "TRAIN_OPS", "OPS", "BASE_OP", "OPTIMIZERS",
           "NETWORK_INPUT", "LAYER_SPEC", "LAYER_FIELDS", "LAYER_REQUIRED", "BITS_FIELDS",
           "Layer", "Trace", "layer_from_dict", "trace_from_dict", "load_trace"]

TRACE_FORMAT = "hwsim-trace/1"

#: Operators with weights (mapped as matrix products: rows = kh*kw*cin/groups, cols = cout).
WEIGHTED_OPS = ("conv2d", "pointwise", "depthwise", "linear")
#: Weight-free binary operators (numpy broadcasting when ``input_shapes`` is given), measured
#: in output-element operations; each operand is read once at its own size.
ELEMENTWISE_OPS = ("add", "mul", "sub", "div")
POOL_OPS = ("maxpool", "avgpool")
#: Matrix product of two activations (attention scores Q.K^T, scores.V): ``input_shapes`` =
#: [A, B], A ``[..., M, K]``, B ``[..., K, N]`` (leading axes broadcast), output
#: ``[..., M, N]``; MACs = output elements x K. A layout transpose of B (K^T) is read by the
#: kernel as it is (ASSUMED: NT matmul kernels exist, e.g. PULP-NN / CMSIS-NN mat_mult_nt).
MATMUL_OPS = ("matmul",)
#: Element-operations per element of the unary and normalisation ops (the unit of the
#: kernel-throughput tables; a platform without an entry for the op runs it with its ``add``
#: kernel, :data:`BASE_OP`). ASSUMED from the arithmetic of integer kernels (one compare, add
#: or multiply = 1; a lookup-table exp/sigmoid/tanh = 2): relu = max(x,0); relu6/clip = 2
#: compares; leaky_relu/prelu = compare + multiply; hsigmoid = relu6(x+3)/6: add, 2 compares,
#: multiply; hswish = x * hsigmoid(x); sigmoid/tanh/elu/softplus = lookup + interpolation;
#: silu = x * sigmoid(x); gelu = x * sigmoid(1.702 x) form: multiply, sigmoid, multiply;
#: affine (an unfolded BatchNormalization) = multiply + add; erf/exp/log/sqrt/reciprocal =
#: lookup + interpolation; neg/abs = 1; pow (constant exponent) = 2.
ACTIVATION_OPS = {"relu": 1, "relu6": 2, "clip": 2, "leaky_relu": 2, "prelu": 2, "hsigmoid": 4,
                  "hswish": 5, "sigmoid": 2, "tanh": 2, "elu": 2, "selu": 3, "softplus": 2,
                  "silu": 3, "gelu": 4, "affine": 2, "erf": 2, "exp": 2, "log": 2, "sqrt": 2,
                  "reciprocal": 2, "neg": 1, "abs": 1, "pow": 2}
#: softmax over ``axis``: max (1), subtract (1), exp by lookup (2), sum (1), scale by the
#: reciprocal (1) = 6 per element. layernorm over the last axis: mean (1), subtract (1),
#: square-accumulate (2), scale by rsqrt (1), gamma/beta (2) = 7 per element; it has 2 x F
#: parameters (gamma, beta). ASSUMED as :data:`ACTIVATION_OPS`.
NORM_OPS = {"softmax": 6, "layernorm": 7}
#: Data movement (a copy on the cores: 1 op per output element; read the part of the input
#: they need, write the output): concat (``input_shapes`` joined along ``axis``), slice (a
#: contiguous range on each axis), transpose (``perm``), pad (zeros around), resize
#: (``mode``: nearest 1, linear 4, cubic 16 ops per output element: one multiply-add per
#: source pixel of the interpolation window, ASSUMED).
MOVE_OPS = ("concat", "slice", "transpose", "pad", "resize")
#: Reduction over some axes (ONNX ReduceMean/Sum/Max/Min; output keeps the rank, reduced axes
#: of size 1): one accumulate per *input* element (the mean's final scaling is negligible),
#: ASSUMED as the other element ops.
REDUCE_OPS = ("reduce",)
RESIZE_MODES = {"nearest": 1, "linear": 4, "cubic": 16}
#: Ops measured element by element (not conv geometry): shapes of 1 to 4 axes.
TENSOR_OPS = ("act",) + tuple(NORM_OPS) + MOVE_OPS + MATMUL_OPS + REDUCE_OPS
#: Training ops (see :mod:`hwsim.workload.training`). A ``*_grad_input`` / ``*_grad_weight`` /
#: ``*pool_grad`` layer keeps the *forward* layer's geometry (input_shape, output_shape,
#: kernel, stride, padding, groups) and differs in what it reads and writes:
#:
#: * ``<op>_grad_input``: reads dY (output-shaped, ``bits.output``) and W (``bits.weight``),
#:   writes dX (input-shaped, ``bits.output``); MACs = the forward layer's.
#: * ``<op>_grad_weight``: reads X (input-shaped, ``bits.input``) and dY (``bits.output``),
#:   writes dW (+ db if ``bias``) at ``bits.weight`` / ``bits.bias`` into the weight memory;
#:   MACs = the forward layer's.
#: * ``maxpool_grad`` / ``avgpool_grad``: reads dY (and X for max), writes dX; ops = the
#:   forward window reads.
#: * ``optimizer_step``: shapes ``[P]`` (P parameters); reads W (``bits.weight``), dW
#:   (``bits.input``) and the optimizer state (``bits.output``, :data:`OPTIMIZERS`), writes W
#:   and the state back, all in the weight memory; ops = P x ops per parameter.
GRAD_INPUT_OPS = tuple(f"{o}_grad_input" for o in WEIGHTED_OPS)
GRAD_WEIGHT_OPS = tuple(f"{o}_grad_weight" for o in WEIGHTED_OPS)
POOL_GRAD_OPS = tuple(f"{o}_grad" for o in POOL_OPS)
TRAIN_OPS = GRAD_INPUT_OPS + GRAD_WEIGHT_OPS + POOL_GRAD_OPS + ("optimizer_step",)
OPS = WEIGHTED_OPS + ELEMENTWISE_OPS + POOL_OPS + TENSOR_OPS + TRAIN_OPS
#: Kernel a platform without an entry for an op runs it with: training ops use their forward
#: op's loop nest; sub/div run as add/mul; a matmul of two activations runs at the ``linear``
#: (matrix) kernel's MAC rate; unary, normalisation and data-movement ops at the ``add``
#: kernel's element rate (ASSUMED: one load-compute-store loop per element).
BASE_OP = {**{o: o.split("_grad")[0] for o in GRAD_INPUT_OPS + GRAD_WEIGHT_OPS + POOL_GRAD_OPS},
           "optimizer_step": "add", "sub": "add", "div": "mul", "matmul": "linear",
           **{o: "add" for o in ("act",) + tuple(NORM_OPS) + MOVE_OPS + REDUCE_OPS}}
#: Optimizers: state tensors per parameter and element operations per parameter, from the
#: update equations (g: gradient, one multiply-add = 1 op):
#: sgd: w -= lr*g (1); sgd_momentum: v = mu*v + g, w -= lr*v (2); adam: m = b1*m + (1-b1)*g
#: (2), v = b2*v + (1-b2)*g*g (3), w -= lr*m / (sqrt(v) + eps) (4: sqrt, add, divide, fma).
OPTIMIZERS = {"sgd": {"state_tensors": 0, "ops_per_param": 1},
              "sgd_momentum": {"state_tensors": 1, "ops_per_param": 2},
              "adam": {"state_tensors": 2, "ops_per_param": 9}}
#: Reserved producer name: the network input (e.g. a residual add that reads it).
NETWORK_INPUT = "input"

#: Bounds of a trace (ASSUMED, far beyond any TinyML network): a shape dimension, kernel,
#: stride, padding, groups or batch at most MAX_DIM; at most MAX_LAYERS layers.
MAX_DIM = 2**24
MAX_LAYERS = 200_000
_POS = {"type": "integer", "minimum": 1, "maximum": MAX_DIM}
_PAIR = {"oneOf": [_POS, {"type": "array", "items": _POS, "minItems": 2, "maxItems": 2}]}
_NONNEG = {"type": "integer", "minimum": 0, "maximum": MAX_DIM}
_BITS = {"type": "integer", "minimum": 1, "maximum": 64}
#: The layer record: field -> (JSON-Schema fragment, description, required). The validator
#: below takes the field names and the required set from here, and :mod:`hwsim.hardware.schema`
#: publishes the fragments, so the JSON Schema and the loader cannot drift apart.
LAYER_SPEC = {
    "name": ({"type": "string", "minLength": 1}, "unique layer name", True),
    "op": ({"enum": list(OPS)}, "operator", True),
    "input_shape": ({"type": "array", "items": _POS, "minItems": 1, "maxItems": 4},
                    "per-sample input shape: [C, H, W], [F], [T, F] or up to 4 axes "
                    "(tensor ops); the first operand's for multi-input ops", True),
    "output_shape": ({"type": "array", "items": _POS, "minItems": 1, "maxItems": 4},
                     "per-sample output shape (as input_shape)", True),
    "input_shapes": ({"type": "array", "minItems": 1, "items": {
        "type": "array", "items": _POS, "minItems": 1, "maxItems": 4}},
        "multi-input ops: the per-sample shape of each input, in 'inputs' order (broadcasting "
        "add/sub/mul/div, matmul [A, B], concat)", False),
    "axis": ({"type": "integer", "minimum": 0, "maximum": 3},
             "concat: joined axis; softmax: reduced axis (default the last); per-sample axes",
             False),
    "perm": ({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 3},
              "minItems": 1, "maxItems": 4}, "transpose: output axis i is input axis perm[i]",
             False),
    "mode": ({"enum": sorted(RESIZE_MODES)}, "resize: interpolation", False),
    "input_range": ({"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2,
                     "maxItems": 2}, "a single-producer layer reading only elements [start, stop) "
                    "of its producer's output (per sample): a piece of a split written in place",
                    False),
    "kernel": (_PAIR, "kernel size, n or [h, w]", False),
    "stride": (_PAIR, "stride, n or [h, w]", False),
    "padding": ({"oneOf": [_NONNEG, {"type": "array", "items": _NONNEG, "minItems": 2,
                                     "maxItems": 4}]},
                "padding: n, [h, w] or [top, left, bottom, right] (ONNX order)", False),
    "groups": (_POS, "convolution groups (depthwise: groups == input channels)", False),
    "bits": ({"oneOf": [_BITS, {"type": "object", "additionalProperties": False,
                                "properties": {k: _BITS for k in ("input", "weight", "output", "bias")}}]},
             "operand widths in bits: one integer or {input, weight, output, bias}", False),
    "bias": ({"type": "boolean"}, "whether the layer has a bias vector", False),
    "activation": ({"type": ["string", "null"]}, "fused activation (informative); op 'act': "
                   "the function, one of " + ", ".join(ACTIVATION_OPS), False),
    "inputs": ({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
               "producer layer names (default: the previous layer)", False),
    "engine": ({"type": ["string", "null"]}, "engine hint: 'cores', 'aimc', 'auto' or a component name",
               False),
    "batch": (_POS, "samples processed together", False),
    "macs": ({"type": "integer", "minimum": 0}, "optional check: must equal the derived MACs", False),
    "params": ({"type": "integer", "minimum": 0}, "optional check: must equal the derived parameters",
               False),
    "comment": ({}, "free text, ignored", False),
    "weights_of": ({"type": "string"}, "training ops: the forward layer whose parameters they use",
                   False),
    "optimizer": ({"enum": sorted(OPTIMIZERS)}, "optimizer_step: the update rule", False),
}
LAYER_FIELDS = set(LAYER_SPEC)
LAYER_REQUIRED = tuple(k for k, (_, _, req) in LAYER_SPEC.items() if req)
BITS_FIELDS = {"input", "weight", "output", "bias"}
#: How many producers a layer's ``inputs`` may name: ``(least, most)`` (none: the previous
#: layer). A binary op reads one tensor per producer (:attr:`Layer.operands`): two, or one
#: with a constant; never three. (Other ops may name several producers: the pieces of a
#: concatenation they read in place.)
OPERANDS = {o: (0, 2) for o in ELEMENTWISE_OPS + MATMUL_OPS}


def _bytes(elements: int, bits: int) -> int:
    return -(-elements * bits // 8)


@dataclass(frozen=True)
class Layer:
    """One layer of a trace. Shapes exclude the batch; all sizes in elements unless *_bytes.

    Attributes:
        name: unique layer name.
        op: one of :data:`OPS`.
        input_shape / output_shape: ``(C, H, W)`` or ``(F,)``.
        kernel, stride: ``(h, w)``. padding: ``(top, left, bottom, right)`` (ONNX order).
        groups: convolution groups (depthwise: groups == C_in).
        bits_input / bits_weight / bits_output / bits_bias: operand widths in bits.
        bias: whether the layer has a bias vector (default: weighted ops have one).
        inputs: names of producer layers (``"input"`` is the network input); empty = the
            previous layer in the trace (the network input for the first layer).
        engine: optional hint (``"cores"``, ``"aimc"`` or a component name).
        batch: samples processed together.
        weights_of: training ops: the forward layer whose parameters they read or update.
        optimizer: ``optimizer_step`` only: a key of :data:`OPTIMIZERS`.
        input_shapes: multi-input ops: each input's per-sample shape (empty: every input has
            ``input_shape``; several producers of a single-input op are read as their
            concatenation along axis 0, written in place by the producers).
        axis: concat / softmax axis (per sample). perm: transpose. mode: resize.
        input_range: ``(start, stop)``: the layer reads only these elements (per sample) of
            its one producer's output, a piece of a free split (empty: all of it).
    """

    name: str
    op: str
    input_shape: tuple
    output_shape: tuple
    kernel: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0, 0, 0)
    groups: int = 1
    bits_input: int = 8
    bits_weight: int = 8
    bits_output: int = 8
    bits_bias: int = 32
    bias: bool | None = None
    activation: str | None = None
    inputs: tuple = ()
    engine: str | None = None
    batch: int = 1
    weights_of: str | None = None
    optimizer: str | None = None
    input_shapes: tuple = ()
    axis: int | None = None
    perm: tuple = ()
    mode: str | None = None
    input_range: tuple = ()

    def __post_init__(self):
        if self.bias is None:
            object.__setattr__(self, "bias", self.op in WEIGHTED_OPS)

    # The layer is frozen, so every derived figure below is computed once per layer
    # (cached_property), and so are its fields as one tuple and that tuple's hash: the mapper
    # memoises tiling by layer (and traces intern their layers, see Trace).
    def _fields(self) -> tuple:
        t = self.__dict__.get("_key")
        if t is None:
            t = self.__dict__["_key"] = tuple(getattr(self, f) for f in _LAYER_FIELDS)
        return t

    def __hash__(self) -> int:
        h = self.__dict__.get("_hash")
        if h is None:
            h = self.__dict__["_hash"] = hash(self._fields())
        return h

    def __getstate__(self) -> dict:
        # str hashes differ between processes (PYTHONHASHSEED): a pickled layer (sweep
        # workers) must not carry its cached hash (nor the field tuple, rebuilt on demand)
        state = dict(self.__dict__)
        state.pop("_hash", None)
        state.pop("_key", None)
        return state

    @cached_property
    def fwd_op(self) -> str:
        """The forward op whose geometry this layer has (itself for forward ops)."""
        return self.op.split("_grad")[0] if "_grad" in self.op else self.op

    # -- geometry -------------------------------------------------------------------------
    @cached_property
    def is_sequence_linear(self) -> bool:
        """A linear layer applied to every token of ``[..., T, F]`` (output ``[..., T, N]``)."""
        return self.fwd_op == "linear" and len(self.output_shape) > 1

    @cached_property
    def in_channels(self) -> int:
        """Input channels; a linear layer flattens its input, so all its elements count (a
        sequence linear: the features of one token)."""
        if self.is_sequence_linear:
            return self.input_shape[-1]
        if self.fwd_op == "linear" or len(self.input_shape) != 3:
            return math.prod(self.input_shape)
        return self.input_shape[0]

    @cached_property
    def out_channels(self) -> int:
        return self.output_shape[-1] if self.is_sequence_linear else self.output_shape[0]

    @cached_property
    def operand_shapes(self) -> tuple:
        """The per-sample shape of each input operand."""
        return self.input_shapes or (self.input_shape,)

    @cached_property
    def out_hw(self) -> tuple:
        return tuple(self.output_shape[1:3]) if len(self.output_shape) == 3 else (1, 1)

    @cached_property
    def in_hw(self) -> tuple:
        return tuple(self.input_shape[1:3]) if len(self.input_shape) == 3 else (1, 1)

    @cached_property
    def is_weighted(self) -> bool:
        return self.op in WEIGHTED_OPS

    @cached_property
    def matrix_rows(self) -> int:
        """Rows of the im2col weight matrix of one group: kh * kw * cin / groups."""
        return self.kernel[0] * self.kernel[1] * (self.in_channels // self.groups)

    @cached_property
    def matrix_cols(self) -> int:
        """Columns of the weight matrix of one group: cout / groups."""
        return self.out_channels // self.groups

    # -- counts ---------------------------------------------------------------------------
    @cached_property
    def input_elements(self) -> int:
        if self.op in TRAIN_OPS:  # elements of the activation-side tensors it reads
            fin, fout = math.prod(self.input_shape) * self.batch, self._fwd_out
            return {"grad_input": fout, "grad_weight": fin + fout, "maxpool_grad": fin + fout,
                    "avgpool_grad": fout}.get(self._kind, 0)
        if self.input_shapes:
            return sum(math.prod(x) for x in self.input_shapes) * self.batch
        if self.op in ("slice", "concat"):  # reads only the part it copies / every piece
            return math.prod(self.output_shape) * self.batch
        return math.prod(self.input_shape) * self.batch * self.operands

    @property
    def operands(self) -> int:
        """Input tensors the layer reads: one per shape of ``input_shapes``; without them an
        elementwise op reads one per named producer (a second operand that is not a layer,
        e.g. an ONNX constant, is broadcast and not counted) and any other op one."""
        if self.input_shapes:
            return len(self.input_shapes)
        return max(1, len(self.inputs)) if self.op in ELEMENTWISE_OPS else 1

    @cached_property
    def output_elements(self) -> int:
        if self.op in TRAIN_OPS:  # activation-side tensor it writes (dX), else none
            return math.prod(self.input_shape) * self.batch \
                if self._kind in ("grad_input", "avgpool_grad", "maxpool_grad") else 0
        return math.prod(self.output_shape) * self.batch

    @cached_property
    def _fwd_out(self) -> int:
        return math.prod(self.output_shape) * self.batch

    @cached_property
    def _kind(self) -> str:
        """grad_input / grad_weight / maxpool_grad / avgpool_grad / optimizer_step / forward."""
        if self.op in GRAD_INPUT_OPS:
            return "grad_input"
        if self.op in GRAD_WEIGHT_OPS:
            return "grad_weight"
        return self.op if self.op in TRAIN_OPS else "forward"

    @cached_property
    def weight_elements(self) -> int:
        """Weights (forward ops), the weights read (grad_input) or the weight gradient
        written (grad_weight); 0 otherwise."""
        if not (self.is_weighted or self._kind in ("grad_input", "grad_weight")):
            return 0
        return self.groups * self.matrix_rows * self.matrix_cols

    @cached_property
    def params(self) -> int:
        if self.op == "layernorm":
            return 2 * self.output_shape[-1]
        if not self.is_weighted:
            return 0
        return self.weight_elements + (self.out_channels if self.bias else 0)

    @cached_property
    def macs(self) -> int:
        """Multiply-accumulates: output elements x (kh * kw * cin / groups) for weighted ops;
        the same for their input- and weight-gradient ops; output elements x K for matmul."""
        if self.op == "matmul":
            return self._fwd_out * self.input_shape[-1]
        if not (self.is_weighted or self._kind in ("grad_input", "grad_weight")):
            return 0
        return self._fwd_out * self.matrix_rows

    @cached_property
    def state_tensors(self) -> int:
        """optimizer_step: optimizer-state tensors per parameter (0 otherwise)."""
        return OPTIMIZERS[self.optimizer]["state_tensors"] if self.op == "optimizer_step" else 0

    @cached_property
    def stored_param_bytes(self) -> int:
        """Bytes this layer adds to the weight memory of its parameter group (``weights_of``
        or its own name): weights + bias (forward), dW + db (grad_weight), optimizer state
        (optimizer_step), 0 otherwise."""
        if self.op == "optimizer_step":
            return _bytes(math.prod(self.input_shape) * self.state_tensors, self.bits_output)
        return self.weight_bytes if self._kind in ("forward", "grad_weight") else 0

    @cached_property
    def ops(self) -> int:
        """Work in the unit of the kernel-throughput tables: MACs for weighted ops,
        output-element operations for elementwise ops, window reads for pooling."""
        if self.is_weighted or self._kind in ("grad_input", "grad_weight"):
            return self.macs
        if self.op in POOL_OPS + POOL_GRAD_OPS:
            return self._fwd_out * self.kernel[0] * self.kernel[1]
        if self.op == "optimizer_step":
            return math.prod(self.input_shape) * OPTIMIZERS[self.optimizer]["ops_per_param"]
        if self.op == "matmul":
            return self.macs
        if self.op == "reduce":
            return self.input_elements
        return self.output_elements * self.ops_per_element

    @cached_property
    def ops_per_element(self) -> int:
        """Element-operations per output element of an element-wise, normalisation or
        data-movement op (1 for copies and binary ops; see :data:`ACTIVATION_OPS`,
        :data:`NORM_OPS`, :data:`RESIZE_MODES`)."""
        if self.op == "act":
            return ACTIVATION_OPS[self.activation]
        if self.op in NORM_OPS:
            return NORM_OPS[self.op]
        if self.op == "resize":
            return RESIZE_MODES[self.mode or "nearest"]
        return 1

    @cached_property
    def input_bytes(self) -> int:
        if self.op in TRAIN_OPS:  # saved X at bits.input, gradients dY at bits.output
            fin, fout = math.prod(self.input_shape) * self.batch, self._fwd_out
            k = self._kind
            return ((_bytes(fin, self.bits_input) if k in ("grad_weight", "maxpool_grad") else 0)
                    + (_bytes(fout, self.bits_output) if k != "optimizer_step" else 0))
        return _bytes(self.input_elements, self.bits_input)

    @cached_property
    def output_bytes(self) -> int:
        return _bytes(self.output_elements, self.bits_output)

    @cached_property
    def weight_bytes(self) -> int:
        """Weights plus bias, at their bit widths."""
        if self.op == "layernorm":   # gamma and beta
            return _bytes(self.params, self.bits_weight)
        b = _bytes(self.weight_elements, self.bits_weight)
        if (self.is_weighted or self._kind == "grad_weight") and self.bias:
            b += _bytes(self.out_channels, self.bits_bias)
        return b

    @cached_property
    def bits_key(self) -> int:
        """Operand width that selects a kernel-throughput entry (max of input and weight;
        training ops: max of all their operands)."""
        if self.op in TRAIN_OPS:
            return max(self.bits_input, self.bits_weight, self.bits_output)
        return max(self.bits_input, self.bits_weight if self.is_weighted else 0)

    def to_dict(self) -> dict:
        d = {"name": self.name, "op": self.op, "input_shape": list(self.input_shape),
             "output_shape": list(self.output_shape)}
        if self.fwd_op in ("conv2d", "pointwise", "depthwise") + POOL_OPS:
            d.update(kernel=list(self.kernel), stride=list(self.stride),
                     padding=list(self.padding))
        if self.groups != 1:
            d["groups"] = self.groups
        d["bits"] = {"input": self.bits_input, "weight": self.bits_weight,
                     "output": self.bits_output, "bias": self.bits_bias}
        if self.is_weighted or self._kind == "grad_weight":
            d["bias"] = self.bias
        for key in ("activation", "engine", "weights_of", "optimizer"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.inputs:
            d["inputs"] = list(self.inputs)
        if self.input_shapes:
            d["input_shapes"] = [list(x) for x in self.input_shapes]
        for key in ("axis", "mode"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.perm:
            d["perm"] = list(self.perm)
        if self.input_range:
            d["input_range"] = list(self.input_range)
        if self.batch != 1:
            d["batch"] = self.batch
        return d


_LAYER_FIELDS = tuple(f.name for f in fields(Layer))
#: field tuple -> the layer object with those fields (alive while any trace holds it)
_INTERNED: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()


def _intern(l: Layer) -> Layer:
    if l.__class__ is not Layer:
        return l
    return _INTERNED.setdefault(l._fields(), l)


@dataclass(frozen=True)
class Trace:
    """A network as an ordered list of layers (a topological order of its graph).

    Equal layers are one object in a process (interned): the mapper's memo tables, keyed by
    layer, then match them by identity; comparing two equal layers field by field on every
    lookup (the same file loaded twice, a sweep worker's copy next to its parent's) cost a
    fifth of a small network's mapping."""

    name: str
    layers: tuple
    source: str = ""
    meta: dict = field(default_factory=dict, compare=False)
    file: str = field(default="<dict>", compare=False)   # where it was loaded from (errors)

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(_intern(l) for l in self.layers))

    @property
    def total_macs(self) -> int:
        return sum(l.macs for l in self.layers)

    @property
    def total_params(self) -> int:
        return sum(l.params for l in self.layers)

    @property
    def total_weight_bytes(self) -> int:
        return sum(l.weight_bytes for l in self.layers)

    def producers(self, layer: Layer) -> tuple:
        """Names of the tensors ``layer`` reads: its ``inputs``, else the previous layer's
        output; :data:`NETWORK_INPUT` for the first layer."""
        if layer.inputs:
            return layer.inputs
        i = self._position[layer.name]
        return (self.layers[i - 1].name,) if i else (NETWORK_INPUT,)

    def layer(self, name: str) -> Layer:
        return self.layers[self._position[name]]

    def batched(self, n: int) -> "Trace":
        """The same network run on ``n`` inputs at once: every layer's ``batch`` times ``n``
        (name suffixed ``_b<n>``); ``n == 1`` returns the trace itself."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"batch must be a whole number >= 1, got {n!r}")
        if n == 1:
            return self
        return Trace(name=f"{self.name}_b{n}", source=self.source, meta=self.meta, file=self.file,
                     layers=tuple(dataclasses.replace(l, batch=l.batch * n) for l in self.layers))

    @cached_property
    def _position(self) -> dict:
        """Layer name -> index (built once; layer names are unique)."""
        return {l.name: i for i, l in enumerate(self.layers)}

    def to_dict(self) -> dict:
        return {"format": TRACE_FORMAT, "name": self.name, "source": self.source,
                **{k: v for k, v in self.meta.items()
                   if k not in ("format", "name", "source", "totals", "layers")},
                "totals": {"layers": len(self.layers), "macs": self.total_macs,
                           "params": self.total_params},
                "layers": [l.to_dict() for l in self.layers]}

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")


# ------------------------------------------------------------------------------------------
# Loading and validation
# ------------------------------------------------------------------------------------------
def _whole(x, lo) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and lo <= x <= MAX_DIM


def _pair(v, file, fld, default):
    if v is None:
        return default
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v, v]
    if not isinstance(v, (list, tuple)) or len(v) != 2 or not all(_whole(x, 1) for x in v):
        raise ConfigError(file, fld, f"expected a positive integer up to {MAX_DIM} or [h, w], got {v!r}")
    return tuple(v)


def _padding(v, file, fld):
    if v is None:
        return (0, 0, 0, 0)
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v] * 4
    elif isinstance(v, (list, tuple)) and len(v) == 2:
        v = [v[0], v[1], v[0], v[1]]
    if not isinstance(v, (list, tuple)) or len(v) != 4 or not all(_whole(x, 0) for x in v):
        raise ConfigError(file, fld, f"expected an integer in 0..{MAX_DIM}, [h, w] or "
                          f"[top, left, bottom, right], got {v!r}")
    return tuple(v)


def _shape(v, file, fld):
    if not isinstance(v, (list, tuple)) or not 1 <= len(v) <= 4 or not all(_whole(x, 1) for x in v):
        raise ConfigError(file, fld, f"expected [C, H, W], [F], [T, F] (up to 4 axes) of "
                          f"positive integers up to {MAX_DIM}, got {v!r}")
    return tuple(v)


def _broadcast(shapes) -> tuple | None:
    """numpy broadcast of ``shapes`` (right-aligned), None if incompatible."""
    n = max(len(x) for x in shapes)
    out = []
    for i in range(n):
        dims = {x[len(x) - n + i] for x in shapes if len(x) - n + i >= 0} - {1}
        if len(dims) > 1:
            return None
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def _conv_out(size, k, s, pad_lo, pad_hi):
    return (size + pad_lo + pad_hi - k) // s + 1


def layer_from_dict(d: dict, file="<dict>", where="layers[?]") -> Layer:
    """Build and validate one :class:`Layer` from its JSON record."""
    if not isinstance(d, dict):
        raise ConfigError(file, where, f"expected an object, got {type(d).__name__}")
    for key in d:
        if key not in LAYER_FIELDS:
            raise ConfigError(file, f"{where}.{key}", "unknown field", did_you_mean(key, LAYER_FIELDS))
    for key in LAYER_REQUIRED:
        if key not in d:
            raise ConfigError(file, f"{where}.{key}", "missing required field")
    name = d["name"]
    if not isinstance(name, str) or not name or not name.isprintable():
        raise ConfigError(file, f"{where}.name", f"expected a non-empty string of printable "
                          f"characters, got {name!r}")
    where = f"{where} ({name})"
    op = d["op"]
    if not isinstance(op, str) or op not in OPS:
        raise ConfigError(file, f"{where}.op", f"unknown op {op!r}", did_you_mean(op, OPS))
    bits = d.get("bits", {})
    if isinstance(bits, int) and not isinstance(bits, bool):
        if not 1 <= bits <= 64:
            raise ConfigError(file, f"{where}.bits", f"expected an integer in 1..64, got {bits!r}")
        bits = {"input": bits, "weight": bits, "output": bits}
    if not isinstance(bits, dict):
        raise ConfigError(file, f"{where}.bits", f"expected an integer in 1..64 or {{input, weight, "
                          f"output, bias}}, got {bits!r}")
    for key, val in bits.items():
        if key not in BITS_FIELDS:
            raise ConfigError(file, f"{where}.bits.{key}", "unknown field", did_you_mean(key, BITS_FIELDS))
        if not isinstance(val, int) or isinstance(val, bool) or not 1 <= val <= 64:
            raise ConfigError(file, f"{where}.bits.{key}", f"expected an integer in 1..64, got {val!r}")
    batch = d.get("batch", 1)
    if not _whole(batch, 1):
        raise ConfigError(file, f"{where}.batch", f"expected a positive integer up to {MAX_DIM}, got {batch!r}")
    groups = d.get("groups", 1)
    if not _whole(groups, 1):
        raise ConfigError(file, f"{where}.groups", f"expected a positive integer up to {MAX_DIM}, got {groups!r}")
    inputs = d.get("inputs", [])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
        raise ConfigError(file, f"{where}.inputs", "expected a list of layer names")
    lo, hi = OPERANDS.get(op, (0, None))
    if not lo <= len(inputs) <= (hi if hi is not None else len(inputs)):
        raise ConfigError(file, f"{where}.inputs", f"{op} reads at most {hi} input tensor(s), "
                          f"{len(inputs)} listed", "name its producers (none: the previous layer; "
                          f"the network input is '{NETWORK_INPUT}')")
    for key in ("weights_of", "optimizer"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise ConfigError(file, f"{where}.{key}", "expected a string")
    if op == "optimizer_step" and d.get("optimizer") not in OPTIMIZERS:
        raise ConfigError(file, f"{where}.optimizer", f"optimizer_step needs an optimizer, got "
                          f"{d.get('optimizer')!r}", f"valid: {', '.join(OPTIMIZERS)}")
    engine = d.get("engine")
    if engine is not None and not isinstance(engine, str):
        raise ConfigError(file, f"{where}.engine", "expected a string such as 'cores' or 'aimc'")
    if "bias" in d and not isinstance(d["bias"], bool):
        raise ConfigError(file, f"{where}.bias", f"expected true or false, got {d['bias']!r}")
    if d.get("activation") is not None and not isinstance(d["activation"], str):
        raise ConfigError(file, f"{where}.activation", f"expected a string, got {d['activation']!r}")
    in_shapes = d.get("input_shapes") or []
    if not isinstance(in_shapes, list):
        raise ConfigError(file, f"{where}.input_shapes", "expected a list of shapes")
    in_shapes = tuple(_shape(x, file, f"{where}.input_shapes[{k}]") for k, x in enumerate(in_shapes))
    axis = d.get("axis")
    if axis is not None and (not isinstance(axis, int) or isinstance(axis, bool) or not 0 <= axis <= 3):
        raise ConfigError(file, f"{where}.axis", f"expected an integer in 0..3, got {axis!r}")
    perm = d.get("perm") or []
    if not isinstance(perm, list) or not all(isinstance(x, int) and not isinstance(x, bool)
                                             for x in perm):
        raise ConfigError(file, f"{where}.perm", f"expected a list of axis indices, got {perm!r}")
    rng = d.get("input_range") or []
    if not isinstance(rng, list) or (rng and (len(rng) != 2 or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in rng)
            or rng[0] >= rng[1])):
        raise ConfigError(file, f"{where}.input_range", f"expected [start, stop) with 0 <= start "
                          f"< stop, got {rng!r}")
    mode = d.get("mode")
    if mode is not None and mode not in RESIZE_MODES:
        raise ConfigError(file, f"{where}.mode", f"unknown resize mode {mode!r}",
                          f"valid: {', '.join(RESIZE_MODES)}")
    layer = Layer(
        name=name, op=op,
        input_shape=_shape(d["input_shape"], file, f"{where}.input_shape"),
        output_shape=_shape(d["output_shape"], file, f"{where}.output_shape"),
        kernel=_pair(d.get("kernel"), file, f"{where}.kernel", (1, 1)),
        stride=_pair(d.get("stride"), file, f"{where}.stride", (1, 1)),
        padding=_padding(d.get("padding"), file, f"{where}.padding"),
        groups=groups,
        bits_input=bits.get("input", 8), bits_weight=bits.get("weight", 8),
        bits_output=bits.get("output", 8), bits_bias=bits.get("bias", 32),
        bias=bool(d.get("bias", op in WEIGHTED_OPS)) and op in WEIGHTED_OPS + GRAD_WEIGHT_OPS,
        activation=d.get("activation"), inputs=tuple(inputs), engine=engine, batch=batch,
        weights_of=d.get("weights_of"), optimizer=d.get("optimizer"),
        input_shapes=in_shapes, axis=axis, perm=tuple(perm), mode=mode, input_range=tuple(rng),
    )
    _check_geometry(layer, file, where)
    for key, derived in (("macs", layer.macs), ("params", layer.params)):
        if key in d and d[key] != derived:
            raise ConfigError(file, f"{where}.{key}", f"states {d[key]} but the shapes give {derived}",
                              f"fix the shapes or remove '{key}' (it is derived)")
    return layer


def _check_geometry(l: Layer, file, where) -> None:
    def bad(fld, problem, fix=""):
        raise ConfigError(file, f"{where}.{fld}", problem, fix)

    if l.input_shapes:
        if l.op not in ELEMENTWISE_OPS + ("matmul", "concat"):
            bad("input_shapes", f"only add/sub/mul/div, matmul and concat take input_shapes, "
                f"not {l.op}")
        if l.input_shapes[0] != l.input_shape:
            bad("input_shapes", f"the first entry {list(l.input_shapes[0])} must equal "
                f"input_shape {list(l.input_shape)}")
        if l.inputs and len(l.inputs) != len(l.input_shapes):
            bad("input_shapes", f"{len(l.input_shapes)} shapes for {len(l.inputs)} inputs",
                "give one shape per entry of 'inputs'")
    if l.op == "act" and l.activation not in ACTIVATION_OPS:
        bad("activation", f"op 'act' needs activation one of {', '.join(ACTIVATION_OPS)}, got "
            f"{l.activation!r}")
    if l.op in ("act",) + tuple(NORM_OPS) and l.input_shape != l.output_shape:
        bad("output_shape", f"{l.op} keeps its shape, got {list(l.input_shape)} -> "
            f"{list(l.output_shape)}")
    if l.op in TENSOR_OPS:
        return _check_tensor_op(l, bad)
    if l.op in ELEMENTWISE_OPS and l.input_shapes:
        if len(l.input_shapes) != 2:
            bad("input_shapes", f"{l.op} has two operands, got {len(l.input_shapes)} shapes")
        if _broadcast(l.input_shapes) != l.output_shape:
            bad("output_shape", f"operands {[list(x) for x in l.input_shapes]} broadcast to "
                f"{_broadcast(l.input_shapes)}, not {list(l.output_shape)}")
        return
    if l.fwd_op == "linear":
        if l.groups != 1:
            bad("groups", "linear layers have groups = 1")
        if len(l.output_shape) > 1 and l.input_shape[:-1] != l.output_shape[:-1]:
            bad("output_shape", f"a sequence linear keeps the leading axes: "
                f"{list(l.input_shape)} -> {list(l.output_shape)}", "output [F] flattens the input")
        return
    if l.op in ELEMENTWISE_OPS + ("optimizer_step",):
        if l.input_shape != l.output_shape:
            bad("output_shape", f"elementwise op needs equal input and output shapes, got "
                f"{list(l.input_shape)} -> {list(l.output_shape)}")
        return
    for fld in ("input_shape", "output_shape"):
        if len(getattr(l, fld)) != 3:
            bad(fld, f"{l.op} needs [C, H, W] shapes, got {list(getattr(l, fld))}")
    cin, h, w = l.input_shape
    cout, ho, wo = l.output_shape
    for axis, size, k, lo, hi in (("height", h, l.kernel[0], l.padding[0], l.padding[2]),
                                  ("width", w, l.kernel[1], l.padding[1], l.padding[3])):
        if k > size + lo + hi:
            bad("kernel", f"kernel {k} is larger than the padded input {axis} "
                f"{size} + {lo} + {hi}", "check kernel, padding and input_shape")
    exp_h = _conv_out(h, l.kernel[0], l.stride[0], l.padding[0], l.padding[2])
    exp_w = _conv_out(w, l.kernel[1], l.stride[1], l.padding[1], l.padding[3])
    if (ho, wo) != (exp_h, exp_w):
        bad("output_shape", f"spatial size {ho}x{wo} disagrees with input {h}x{w}, kernel "
            f"{list(l.kernel)}, stride {list(l.stride)}, padding {list(l.padding)} "
            f"(which give {exp_h}x{exp_w})")
    if l.fwd_op in POOL_OPS:
        if cin != cout:
            bad("output_shape", f"pooling keeps channels: {cin} in, {cout} out")
        return
    if l.fwd_op == "depthwise":
        if l.groups != cin or cout % cin:
            bad("groups", f"depthwise needs groups == input channels ({cin}) and output "
                f"channels a multiple of it; got groups={l.groups}, cout={cout}")
        return
    if l.fwd_op == "pointwise" and l.kernel != (1, 1):
        bad("kernel", f"pointwise layers have a 1x1 kernel, got {list(l.kernel)}", "use op conv2d")
    if cin % l.groups or cout % l.groups:
        bad("groups", f"channels {cin} -> {cout} are not divisible by groups={l.groups}")


def _check_tensor_op(l: Layer, bad) -> None:
    """Shapes of matmul, concat, slice, transpose, pad and resize (see :data:`TENSOR_OPS`)."""
    i, o = l.input_shape, l.output_shape
    if l.op == "matmul":
        if len(l.input_shapes) != 2:
            bad("input_shapes", "matmul needs input_shapes [A, B] (two activation operands)")
        a, b = l.input_shapes
        if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
            bad("input_shapes", f"A {list(a)} x B {list(b)}: need A [..., M, K], B [..., K, N]")
        lead = _broadcast([a[:-2] or (1,), b[:-2] or (1,)])
        want = (lead if len(o) > 2 else ()) + (a[-2], b[-1])
        if lead is None or math.prod(want) != math.prod(o) or o[-2:] != (a[-2], b[-1]):
            bad("output_shape", f"A {list(a)} x B {list(b)} gives [..., {a[-2]}, {b[-1]}], not "
                f"{list(o)}")
    elif l.op == "concat":
        ax = l.axis if l.axis is not None else 0
        shapes = l.operand_shapes
        if any(len(x) != len(o) for x in shapes) or ax >= len(o) or any(
                x[:ax] + x[ax + 1:] != o[:ax] + o[ax + 1:] for x in shapes) \
                or sum(x[ax] for x in shapes) != o[ax]:
            bad("output_shape", f"concatenating {[list(x) for x in shapes]} along axis {ax} "
                f"does not give {list(o)}")
    elif l.op == "transpose":
        if sorted(l.perm) != list(range(len(i))) or tuple(i[p] for p in l.perm) != o:
            bad("perm", f"perm {list(l.perm)} does not turn {list(i)} into {list(o)}")
    elif l.op in ("slice", "pad"):
        smaller = l.op == "slice"
        if len(i) != len(o) or any((a < b) if smaller else (a > b) for a, b in zip(i, o)):
            bad("output_shape", f"{l.op} of {list(i)} cannot give {list(o)} (same rank, each "
                f"axis {'at most' if smaller else 'at least'} the input's)")
    elif l.op == "reduce" and (len(i) != len(o) or any(b not in (a, 1) for a, b in zip(i, o))):
        bad("output_shape", f"a reduction keeps the rank and sizes reduced axes to 1: "
            f"{list(i)} -> {list(o)}")
    elif l.op == "resize" and len(i) != len(o):
        bad("output_shape", f"resize keeps the rank: {list(i)} -> {list(o)}")
    elif l.op == "softmax" and l.axis is not None and l.axis >= len(o):
        bad("axis", f"axis {l.axis} out of range for shape {list(o)}")


def trace_from_dict(data, file="<dict>") -> Trace:
    """Validate a parsed trace document and build a :class:`Trace`."""
    if not isinstance(data, dict):
        raise ConfigError(file, "", "a trace is a JSON object with a 'layers' list")
    fmt = data.get("format", TRACE_FORMAT)
    if fmt != TRACE_FORMAT:
        raise ConfigError(file, "format", f"unsupported format {fmt!r}", f"expected {TRACE_FORMAT!r}")
    if "components" in data and "layers" not in data:
        raise ConfigError(file, "components", "this looks like a platform, not a layer trace",
                          "the trace comes second: hwsim run PLATFORM TRACE")
    layers_raw = data.get("layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        fix = "a trace needs at least one layer"
        if "layers" not in data:
            import difflib
            close = difflib.get_close_matches("layers", [str(k) for k in data], n=1)
            fix += f"; found {close[0]!r}: did you mean 'layers'?" if close else ""
        raise ConfigError(file, "layers", "missing or empty", fix)
    if len(layers_raw) > MAX_LAYERS:
        raise ConfigError(file, "layers", f"{len(layers_raw):,} layers is over the limit of "
                          f"{MAX_LAYERS:,}", "split the trace")
    layers, seen, by_name = [], {NETWORK_INPUT}, {}
    for i, rec in enumerate(layers_raw):
        layer = layer_from_dict(rec, file, f"layers[{i}]")
        if layer.name in seen:
            problem = (f"'{NETWORK_INPUT}' is reserved for the network input"
                       if layer.name == NETWORK_INPUT else f"duplicate layer name {layer.name!r}")
            raise ConfigError(file, f"layers[{i}].name", problem, "rename the layer")
        for src in layer.inputs:
            if src not in seen:
                raise ConfigError(file, f"layers[{i}].inputs", f"{src!r} is not an earlier layer",
                                  "list producers before their consumers")
        if layer.weights_of is not None and layer.weights_of not in seen:
            raise ConfigError(file, f"layers[{i}].weights_of", f"{layer.weights_of!r} is not an "
                              "earlier layer", "name the forward layer whose parameters it uses")
        _check_producers(layer, layers, by_name, file, i)
        seen.add(layer.name)
        by_name[layer.name] = layer
        layers.append(layer)
    net_in = data.get("input_shape")
    if net_in is not None:
        shape = _shape(net_in, file, "input_shape")
        first = layers[0]
        if math.prod(shape) != math.prod(first.input_shape):
            raise ConfigError(file, "input_shape", f"network input {list(shape)} does not match "
                              f"the input {list(first.input_shape)} of its first layer "
                              f"{first.name!r}", "fix one of them or remove input_shape")
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not name.isprintable()):
        raise ConfigError(file, "name", f"expected a string of printable characters, got {name!r}")
    totals = data.get("totals") or {}
    if not isinstance(totals, dict):
        raise ConfigError(file, "totals", f"expected an object, got {totals!r}")
    trace = Trace(name=str(data.get("name") or Path(str(file)).stem), layers=tuple(layers),
                  source=str(data.get("source", "")),
                  meta={k: v for k, v in data.items() if k not in ("layers", "totals")},
                  file=str(file))
    for key, derived in (("macs", trace.total_macs), ("params", trace.total_params)):
        if key in totals and totals[key] != derived:
            raise ConfigError(file, f"totals.{key}", f"states {totals[key]} but the layers sum to "
                              f"{derived}", "regenerate the trace or remove the total")
    return trace


def _check_producers(layer: Layer, layers: list, by_name: dict, file, i: int) -> None:
    """Each input's elements equal its producer's output elements (per sample, same batch).
    Several producers of a single-input op are read as their concatenation (axis 0)."""
    if layer.op in TRAIN_OPS:
        return
    prods = layer.inputs or ((layers[-1].name,) if layers else ())
    multi = len(prods) > 1 and not layer.input_shapes and layer.op not in ELEMENTWISE_OPS
    shapes = layer.input_shapes or (layer.input_shape,) * len(prods)
    outs = []
    for src in prods:
        prod = by_name.get(src) if layer.inputs else layers[-1]
        if prod is None or prod.op in TRAIN_OPS:  # the network input, or a gradient
            outs.append(None)
            continue
        if prod.batch != layer.batch:
            raise ConfigError(file, f"layers[{i}] ({layer.name}).batch", f"batch {layer.batch} "
                              f"differs from batch {prod.batch} of its producer {src!r}")
        outs.append(prod.output_shape)
    if multi:
        if None in outs:
            return
        got = sum(math.prod(o) for o in outs)
        if got != math.prod(layer.input_shape):
            raise ConfigError(
                file, f"layers[{i}] ({layer.name}).input_shape",
                f"input {list(layer.input_shape)} does not match the output of its producers "
                f"{', '.join(prods)} ({' + '.join(str(list(o)) for o in outs)}, read as their "
                "concatenation)", "fix the shapes or name the right producers in 'inputs'")
        return
    if layer.input_range:
        start, stop = layer.input_range
        fld = f"layers[{i}] ({layer.name}).input_range"
        if len(prods) != 1 or layer.input_shapes:
            raise ConfigError(file, fld, "input_range needs exactly one producer")
        if stop - start != math.prod(layer.input_shape):
            raise ConfigError(file, fld, f"[{start}, {stop}) holds {stop - start} elements, "
                              f"input_shape {list(layer.input_shape)} has "
                              f"{math.prod(layer.input_shape)}")
        if outs[0] is not None and stop > math.prod(outs[0]):
            raise ConfigError(file, fld, f"ends at {stop}, past the {math.prod(outs[0])} "
                              f"elements its producer {prods[0]!r} writes")
        return
    for src, want, out in zip(prods, shapes, outs):
        if out is not None and math.prod(out) != math.prod(want):
            raise ConfigError(
                file, f"layers[{i}] ({layer.name}).input_shape" + (
                    "s" if layer.input_shapes else ""),
                f"input {list(want)} x batch {layer.batch} does not match the output "
                f"{list(out)} x batch {layer.batch} of its producer {src!r}",
                "fix the shapes or name the right producer in 'inputs'")


def load_trace(path) -> Trace:
    """Load and validate a layer trace from a JSON file."""
    from ..base.limits import parse_json, read_text
    from ..base.srcmap import attach_line

    path = Path(path)
    text = read_text(path, "trace", "JSON")
    fix = ("is this a platform? the trace (JSON) comes second: hwsim run PLATFORM TRACE"
           if path.suffix.lower() in (".yaml", ".yml") else "")
    try:
        data = parse_json(text, path, fix)
        trace = trace_from_dict(data, str(path))
        if "format" not in data:
            raise ConfigError(path, "format", "missing format tag",
                              f'add "format": "{TRACE_FORMAT}": it says which format the file is')
        return trace
    except ConfigError as e:
        raise attach_line(e, text=text, kind="json")
