"""ONNX import: turn an ONNX graph into a layer trace (``hwsim import-onnx``).

    from hwsim.workload.onnx_import import import_onnx
    trace = import_onnx("model.onnx", input_shapes={"x": [1, 3, 224, 224]})
    trace.save("traces/model.json")

**Structure and shapes only.** The model is loaded without its external data and no weight
value is ever read: a model whose weight file is absent, or whose initializers are cleared
(dims kept, data empty: Stream's shape-only workloads), imports like a complete one. Only
small constants that steer shapes or fusion (Clip bounds, axes) are read, and only when they
carry data.

**Shapes** come from ``onnx.shape_inference.infer_shapes`` (with data propagation, so
``Shape -> Gather -> Reshape`` chains resolve). Before inference every graph input is pinned:
``input_shapes={"NAME": [1, 3, 224, 224]}`` (CLI ``--input-shape NAME=1,3,224,224``) sets it;
otherwise a symbolic first (batch) dimension becomes 1 and any other symbolic dimension is an
error naming the input and the option. The first axis of every activation tensor is the batch
(the layers' ``batch``); per-sample shapes have 1 to 4 axes.

**Graph inputs.** Several are allowed: each is part of the network input (trace producer
``input``, stored where the network input is). Weights are the initializers: a graph input
is data, so a MatMul / Gemm whose ``B`` is a graph input is a ``matmul`` of two activations
(no parameters; an attention head fed Q, K, V). The one exception is a graph input read only
as a Conv's ``W``: it is a weight (hwsim has no convolution of two activations).

Nodes are visited in topological order and mapped as (cost models: :mod:`hwsim.workload.trace`):

==========================================  ================================================
ONNX                                        trace
==========================================  ================================================
Conv (any ``group``; 1-D as 1 x L)          ``depthwise`` (group == C_in > 1), ``pointwise``
                                            (1x1, group 1), else ``conv2d`` with ``groups``;
                                            ``auto_pad`` resolved (``SAME_UPPER``: extra
                                            row bottom/right); a zero ``Pad`` read only by it
                                            is folded into its padding
Gemm / MatMul, constant B                   ``linear``: ``[F] -> [N]``, or per token of
                                            ``[..., T, F] -> [..., T, N]`` (``bias`` = C)
MatMul / Gemm of two activations            ``matmul`` (batched 3-D/4-D; B read transposed
                                            in place when it comes from a Transpose)
Add / Sub / Mul / Div of two activations    ``add`` / ``sub`` / ``mul`` / ``div``;
                                            broadcasting (squeeze-excite ``x * s``, s
                                            ``[C, 1, 1]``) via ``input_shapes``
Add / Sub / Mul / Div with a constant       folded into the producing conv/linear layer when
                                            that layer is its only reader and the constant is
                                            a scalar or per-channel (bias or weight scale,
                                            free); else a one-producer elementwise layer (two
                                            full-size operands counted: an upper bound)
Relu, Clip, Sigmoid, HardSigmoid,           fused into the producing layer's ``activation``
HardSwish, Tanh, Gelu, LeakyRelu, Elu, Erf, when it is the tensor's only reader and has no
Exp, Log, Sqrt, Reciprocal, Neg, Abs, Pow
Sigmoid + Mul(x, sigmoid(x)) = SiLU,        activation yet; else an ``act`` layer
HardSigmoid + Mul = HardSwish               (``Clip(0, 6)`` is ``relu6``)
Softmax / LogSoftmax                        ``softmax`` layer (axis kept); fused into a
                                            classifier ``linear`` ([F] output, only reader)
LayerNormalization (last axis)              ``layernorm``
BatchNormalization                          folded into the preceding conv/linear (its
                                            ``bias`` becomes true); else ``act`` ``affine``
MaxPool / AveragePool                       ``maxpool`` / ``avgpool``; ``ceil_mode`` becomes
                                            the extra bottom/right padding it implies
GlobalAverage/MaxPool, ReduceMean(H, W)     ``avgpool`` / ``maxpool`` over the whole map
ReduceMean/Sum/Max/Min (other axes)         ``reduce`` (reduced axes kept with size 1)
Concat                                      free when the join is along the outermost
                                            per-sample axis and every piece is a layer's
                                            output: the producers write into place and the
                                            reader lists them all in ``inputs``; else a
                                            ``concat`` copy layer
Split / Slice (step 1)                      free when the piece is a contiguous run of its
                                            producer layer's output (one axis cut, the axes
                                            before it of size 1): the producer wrote it in
                                            place and the reader gets ``input_range``; else a
                                            ``slice`` copy layer per output
Gather (constant indices)                   ``slice`` copy layer
Reshape, Flatten, Squeeze, Unsqueeze,       free (row-major layout unchanged)
Identity, Dropout, Cast
Transpose                                   free when it moves only size-1 axes, or when
                                            its only readers are MatMuls that absorb it:
                                            the innermost axis stays innermost (rows read
                                            with a stride) or, as B, becomes the
                                            second-innermost (an NT kernel reads B^T;
                                            ASSUMED, as PULP-NN / CMSIS-NN matmul kernels
                                            take strides); else a ``transpose`` copy layer
Resize / Upsample                           ``resize`` (``mode`` nearest/linear/cubic)
Pad (constant)                              folded into a following Conv/pool, else ``pad``
QuantizeLinear                              sets the bit width of the tensor it quantizes
DequantizeLinear                            free; a dequantized constant gives the weight
                                            (or bias) width of the layer that reads it
nodes whose inputs are all constants,       constant-folded: no layer (no work at inference)
Shape, Constant
==========================================  ================================================

Bit widths: a tensor quantized by a QuantizeLinear has the width of its quantized type; any
other activation or weight gets ``bits`` (default 8); biases 32 unless a dequantized bias says
otherwise.

Anything else (ConvTranspose, dilated convolutions, Erf, Gather on activations, ...) is
*unsupported*: with ``on_unsupported="error"`` (default) one :class:`UnsupportedOps` error
names the op types and how many nodes of each (``.nodes`` lists every node; the CLI prints them
under ``--verbose``); with ``"skip-with-warning"`` each is left out: its outputs alias its first
activation input when the element count is unchanged, else they read as network inputs (so the
trace stays consistent and runs), a :class:`UserWarning` says so and
``trace.meta["onnx"]["unsupported_skipped"]`` lists them (``hwsim run`` reports them).
"""
from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from pathlib import Path

from ..base.errors import ConfigError, HwsimError
from .trace import NETWORK_INPUT, Layer, Trace

__all__ = ["import_onnx", "UnsupportedOps", "parse_input_shape", "ON_UNSUPPORTED", "FREE_OPS",
           "ACTIVATIONS", "CONST_OPS", "BINARY", "HANDLED", "SUPPORTED"]

ON_UNSUPPORTED = ("error", "skip-with-warning")
FREE_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Cast"}
ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyRelu": "leaky_relu",
               "HardSigmoid": "hsigmoid", "HardSwish": "hswish", "Elu": "elu", "Selu": "selu",
               "Gelu": "gelu", "Softplus": "softplus", "PRelu": "prelu", "Clip": "clip",
               "Erf": "erf", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal",
               "Neg": "neg", "Abs": "abs", "Pow": "pow"}
CONST_OPS = {"Constant", "Shape", "ConstantOfShape", "Size"}
BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div"}
HANDLED = {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
           "GlobalMaxPool", "ReduceMean", "BatchNormalization", "QuantizeLinear",
           "DequantizeLinear", "Softmax", "LogSoftmax", "LayerNormalization", "Concat", "Split",
           "Slice", "Transpose", "Resize", "Upsample", "Pad", "Gather", "ReduceSum", "ReduceMax",
           "ReduceMin"}
SUPPORTED = HANDLED | FREE_OPS | CONST_OPS | set(ACTIVATIONS) | set(BINARY)
#: the largest constant whose value is read (shape/axes/bounds); weights are never read
_SMALL = 64


class UnsupportedOps(ConfigError):
    """Unsupported nodes: the message counts op types, ``nodes`` lists every node."""

    def __init__(self, file, counts: Counter, nodes: list):
        self.counts, self.nodes = counts, nodes
        kinds = ", ".join(f"{op} x{n}" for op, n in sorted(counts.items()))
        super().__init__(file, "graph.node", f"{sum(counts.values())} unsupported node(s): {kinds}",
                         "rewrite or remove them, or import with --skip-unsupported "
                         "(on_unsupported='skip-with-warning'); --verbose lists the nodes")


def parse_input_shape(text: str) -> tuple:
    """``NAME=1,3,224,224`` -> ``("NAME", [1, 3, 224, 224])`` (the CLI's ``--input-shape``)."""
    name, eq, dims = text.rpartition("=")
    try:
        shape = [int(x) for x in dims.split(",")]
    except ValueError:
        shape = []
    if not eq or not name or not shape or any(d < 1 for d in shape):
        raise ConfigError("--input-shape", text, "expected NAME=d0,d1,... with positive "
                          "integers", "e.g. --input-shape input=1,3,224,224")
    return name, shape


def _onnx():
    try:
        import onnx
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ConfigError("<onnx>", "", "the 'onnx' package is not installed",
                          "pip install 'hwsim[onnx]' (or pip install onnx)") from None
    return onnx


def _dtype_bits(elem_type: int) -> int:
    onnx = _onnx()
    name = onnx.TensorProto.DataType.Name(elem_type)
    m = re.search(r"(\d+)", name)
    if m:
        return int(m.group(1))
    return onnx.helper.tensor_dtype_to_np_dtype(elem_type).itemsize * 8


def _has_data(t) -> bool:
    """An initializer whose values are stored in the model (not cleared, not external)."""
    return t.data_location != 1 and bool(
        t.raw_data or t.float_data or t.int32_data or t.int64_data or t.double_data
        or t.uint64_data or t.string_data)


def _pin_inputs(model, file, input_shapes: dict) -> None:
    """Give every graph input a static shape (in place): pinned, or symbolic batch -> 1."""
    inits = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    for key in input_shapes:
        if key not in names:
            raise ConfigError(file, f"--input-shape {key}", "no graph input of that name",
                              f"graph inputs: {', '.join(names) or 'none'}")
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = vi.type.tensor_type.shape.dim
        pin = input_shapes.get(vi.name)
        if pin is not None:
            if len(pin) != len(dims):
                raise ConfigError(file, f"--input-shape {vi.name}", f"{len(pin)} dimensions "
                                  f"given, the input has {len(dims)}")
            for d, v in zip(dims, pin):
                d.Clear()
                d.dim_value = v
            continue
        shown = [str(x.dim_value) if x.HasField("dim_value") and x.dim_value > 0
                 else (x.dim_param or "?") for x in dims]
        for k, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value > 0:
                continue
            if k == 0:
                d.Clear()
                d.dim_value = 1     # a symbolic batch is one sample
                continue
            raise ConfigError(file, f"graph.input ({vi.name})",
                              f"dimension {k} of shape [{', '.join(shown)}] is symbolic: needs a "
                              f"static shape", f"pin it: --input-shape {vi.name}="
                              + ",".join(shown) + " with numbers for the symbols")


class _Importer:
    def __init__(self, model, file: str, bits: int, on_unsupported: str, name: str | None,
                 input_shapes: dict):
        onnx = _onnx()
        self.file, self.bits, self.on_unsupported = file, bits, on_unsupported
        _pin_inputs(model, file, input_shapes)
        try:
            model = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        except Exception as e:  # onnx raises its own InferenceError types
            raise ConfigError(file, "graph", f"ONNX shape inference failed: {str(e)[:300]}",
                              "fix the model so that onnx.checker/shape inference accept it") from None
        self.model, g = model, model.graph
        self.graph_name = name or g.name or Path(file).stem or "onnx_model"
        self.nodes = list(g.node)
        self.shapes: dict = {}
        self.types: dict = {}
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            t = vi.type.tensor_type
            self.types[vi.name] = t.elem_type
            if t.HasField("shape"):
                self.shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None
                                        for d in t.shape.dim]
        self.inits = {i.name: i for i in g.initializer}
        self.consts: dict = {}      # constant tensor -> small value (numpy) or None
        for init in g.initializer:
            self.shapes[init.name] = list(init.dims)
            self.types[init.name] = init.data_type
            self.consts[init.name] = (onnx.numpy_helper.to_array(init)
                                      if _has_data(init) and math.prod(init.dims) <= _SMALL else None)
        self.const_bits: dict = {}
        self.consumers: dict = {}
        for n in self.nodes:
            for t in n.input:
                if t:
                    self.consumers.setdefault(t, []).append(n)
        inputs = [i.name for i in g.input if i.name not in self.inits]
        if not inputs:
            raise ConfigError(file, "graph.input", "the graph has no activation input")
        for t in inputs:            # graph inputs read only as weights are weights
            uses = self.consumers.get(t, [])
            if uses and all(self._weight_slot(n, t) for n in uses):
                self.consts[t] = None
        acts = [t for t in inputs if t not in self.consts] or inputs[:1]
        self.input_names = acts
        shp = self.shapes.get(acts[0]) or [1]
        self.batch = shp[0] if len(shp) > 1 and shp[0] else 1
        self.producer = {t: (NETWORK_INPUT,) for t in acts}   # tensor -> producer layer names
        self.act_bits: dict = {}
        self.layers: dict = {}      # name -> dict of Layer kwargs (mutable until the end)
        self.order: list = []
        self.graph_outputs = {o.name for o in g.output}
        self.names: set = {NETWORK_INPUT}
        self.unsupported: list = []     # (op_type, "Op (node 'n'): why")
        self.done: set = set()          # ids of nodes consumed by a fused pattern
        self.pending_pad: dict = {}     # tensor -> (top, left, bottom, right) folded into a reader
        self.pad_src: dict = {}         # padded tensor -> the tensor before the Pad
        self.part: dict = {}            # tensor -> (start, stop): a piece of its producer's output

    # -- helpers ----------------------------------------------------------------------------
    def _weight_slot(self, node, t) -> bool:
        return node.op_type == "Conv" and list(node.input).index(t) == 1

    def attrs(self, node) -> dict:
        onnx = _onnx()
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def where(self, node) -> str:
        return f"node {node.name or node.op_type} ({node.op_type})"

    def shape(self, tensor: str, node) -> tuple:
        """Per-sample shape (the batch axis dropped) of an activation tensor."""
        shp = self.shapes.get(tensor)
        if not shp or any(d is None or d < 1 for d in shp):
            raise ConfigError(self.file, self.where(node),
                              f"shape of tensor {tensor!r} is unknown after shape inference",
                              "give the graph inputs a static shape (--input-shape) and re-export")
        if len(shp) > 1 and shp[0] == self.batch:
            return tuple(shp[1:])
        return tuple(shp)   # batch 1 folded into another axis: the whole tensor is the sample

    def axis(self, tensor: str, ax: int, node) -> int | None:
        """Per-sample index of ONNX axis ``ax`` of ``tensor`` (None: the batch axis)."""
        full = self.shapes.get(tensor) or []
        ax = ax % max(len(full), 1)
        dropped = len(full) > 1 and full[0] == self.batch
        return (ax - 1 if ax else None) if dropped else ax

    def is_const(self, t: str) -> bool:
        return t in self.consts

    def value(self, t):
        return self.consts.get(t)

    def act_inputs(self, node) -> list:
        return [t for t in node.input if t and not self.is_const(t)]

    def unique(self, node, suffix="") -> str:
        base = (node.name or f"{node.op_type.lower()}_{len(self.order)}") + suffix
        base = base if base != NETWORK_INPUT else f"{base}_layer"
        name, i = base, 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def sole_reader(self, tensor: str, node) -> bool:
        return (tensor not in self.graph_outputs
                and [id(n) for n in self.consumers.get(tensor, [])] == [id(node)])

    def layer_of(self, tensor: str):
        """The layer whose last output is ``tensor`` (one producer, not the input), else None."""
        p = self.producer.get(tensor, ())
        lay = self.layers.get(p[0]) if len(p) == 1 else None
        return lay if lay is not None and lay["_out"] == tensor else None

    def weighted_producer(self, tensor: str, node):
        """The conv/linear layer writing ``tensor``, read only by ``node`` (to fold into)."""
        lay = self.layer_of(tensor)
        if lay and lay["op"] in ("conv2d", "pointwise", "depthwise", "linear") \
                and lay["activation"] is None and self.sole_reader(tensor, node):
            return lay
        return None

    def single(self, tensor: str, node) -> str:
        """The one producer of ``tensor``: a free concatenation (or a piece of a free split)
        read by a multi-operand op is materialised here by a ``concat`` (``slice``) copy."""
        p = self.producer[tensor]
        if tensor in self.part:     # a copy of the piece (it reads its input_range)
            out = self.shape(tensor, node)
            lay = self.add_layer(node, "slice", [tensor], tensor, out, out, suffix=".piece")
            self.part.pop(tensor)
            return lay["name"]
        if len(p) == 1:
            return p[0]
        shapes = [self.layers[n]["output_shape"] for n in p]
        out = self.shape(tensor, node)
        lay = self.add_layer(node, "concat", [], tensor, shapes[0], out, suffix=".concat",
                             inputs=tuple(p), input_shapes=tuple(shapes), axis=0)
        return lay["name"]

    def add_layer(self, node, op, in_tensors, out_tensor, input_shape, output_shape,
                  suffix="", **kw):
        name = self.unique(node, suffix)
        bits_in = max([self.act_bits.get(t, self.bits) for t in in_tensors] or [self.bits])
        inputs = kw.pop("inputs", None)
        rng = ()
        if inputs is None:
            inputs = ()
            if len(in_tensors) == 1 and in_tensors[0] in self.part:
                rng = self.part[in_tensors[0]]       # reads its piece in place
            for t in in_tensors:    # one input: its producers (a free concat read)
                inputs += self.producer[t] if len(in_tensors) == 1 else (self.single(t, node),)
        lay = dict(name=name, op=op, input_shape=tuple(input_shape),
                   output_shape=tuple(output_shape), bits_input=bits_in,
                   bits_weight=bits_in, bits_output=self.bits, bias=False, activation=None,
                   inputs=tuple(inputs), batch=self.batch, _out=out_tensor, input_range=rng)
        lay.update(kw)
        self.layers[name] = lay
        self.order.append(name)
        self.producer[out_tensor] = (name,)
        return lay

    def alias(self, out: str, src: str) -> None:
        self.producer[out] = self.producer[src]
        if src in self.part:
            self.part[out] = self.part[src]
        if src in self.act_bits:
            self.act_bits[out] = self.act_bits[src]

    def unsupported_node(self, node, why=""):
        self.unsupported.append((node.op_type, f"{node.op_type} (node {node.name or '<unnamed>'!r})"
                                 + (f": {why}" if why else "")))
        acts = [t for t in self.act_inputs(node) if t in self.producer]
        for o in node.output:
            if not o:
                continue
            if acts and self.shapes.get(o) and self.shapes.get(acts[0]) and \
                    math.prod(self.shapes[o]) == math.prod(self.shapes[acts[0]]):
                self.alias(o, acts[0])
            else:   # a different size: read as a network input so the trace stays consistent
                self.producer[o] = (NETWORK_INPUT,)

    # -- geometry ---------------------------------------------------------------------------
    def window(self, a, in_shape, kernel):
        """((stride, pads), why) of a sliding window, resolving auto_pad."""
        strides = tuple(a.get("strides", (1, 1)))
        if any(d != 1 for d in a.get("dilations", (1, 1))):
            return None, "dilations != 1"
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        h, w = in_shape[1], in_shape[2]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = []
            for size, k, s in ((h, kernel[0], strides[0]), (w, kernel[1], strides[1])):
                total = max((-(-size // s) - 1) * s + k - size, 0)
                lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
                pads.append((lo, total - lo))
            pads = (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
        elif auto == "VALID":
            pads = (0, 0, 0, 0)
        else:
            pads = tuple(a.get("pads", (0, 0, 0, 0)))
        return (strides, pads), ""

    # -- driver -------------------------------------------------------------------------------
    def run(self) -> Trace:
        for node in self.nodes:
            if id(node) in self.done:
                continue
            op = node.op_type
            if op not in SUPPORTED or node.domain not in ("", "ai.onnx"):
                self.unsupported_node(node)
                continue
            if op in CONST_OPS or all(self.is_const(t) for t in node.input if t):
                self.fold_constant(node)
                continue
            if any(t not in self.producer for t in self.act_inputs(node)):
                self.unsupported_node(node, "reads a tensor no supported node produced")
                continue
            try:
                if op in BINARY:
                    self.binary(node, BINARY[op])
                elif op in ACTIVATIONS:
                    self.activation(node)
                elif op in FREE_OPS:
                    self.alias(node.output[0], self.act_inputs(node)[0])
                else:
                    getattr(self, f"op_{op}")(node)
            except HwsimError:
                raise
            except Exception as e:  # a form of the op this importer does not handle
                self.unsupported_node(node, f"unhandled form ({type(e).__name__}: {e})"[:160])
        if self.unsupported:
            counts = Counter(op for op, _ in self.unsupported)
            listing = [text for _, text in self.unsupported]
            if self.on_unsupported == "error":
                raise UnsupportedOps(self.file, counts, listing)
            warnings.warn(f"{self.file}: {len(listing)} unsupported node(s) left out (their work "
                          f"is not simulated): {'; '.join(listing)}", stacklevel=3)
        if not self.order:
            raise ConfigError(self.file, "graph", "no layer found on the activation path (no "
                              "Conv, Gemm, MatMul, elementwise, pooling or data-movement node)")
        layers = []
        for name in self.order:
            lay = dict(self.layers[name])
            out = lay.pop("_out")
            lay["bits_output"] = self.act_bits.get(out, self.bits)
            layers.append(Layer(**lay))
        meta = {"generator": "hwsim.workload.onnx_import",
                "input_shape": list(self.shape(self.input_names[0], self.nodes[0]))
                if self.nodes else [],
                "onnx": {"ir_version": self.model.ir_version,
                         "opsets": {o.domain or "ai.onnx": o.version for o in self.model.opset_import},
                         "graph_inputs": list(self.input_names),
                         "unsupported_skipped": [text for _, text in self.unsupported]}}
        return Trace(name=self.graph_name, layers=tuple(layers),
                     source=f"imported from ONNX {self.file}", meta=meta)

    def fold_constant(self, node):
        onnx = _onnx()
        for o in node.output:
            val = None
            if node.op_type == "Constant":
                v = self.attrs(node).get("value")
                if v is not None and math.prod(v.dims) <= _SMALL:
                    val = onnx.numpy_helper.to_array(v)
                if v is not None:
                    self.shapes.setdefault(o, list(v.dims))
            elif node.op_type in ("Identity", "Cast") and node.input:
                val = self.value(node.input[0])
            self.consts[o] = val
            if node.op_type == "DequantizeLinear" and node.input[0] in self.consts:
                self.const_bits[o] = _dtype_bits(self.types.get(node.input[0], 1))
            if o not in self.shapes and node.input and node.input[0] in self.shapes \
                    and node.op_type in ("DequantizeLinear", "Identity", "Cast"):
                self.shapes[o] = self.shapes[node.input[0]]

    # -- quantisation ---------------------------------------------------------------------------
    def op_QuantizeLinear(self, node):
        self.alias(node.output[0], node.input[0])
        zp = node.input[2] if len(node.input) > 2 and node.input[2] else None
        a = self.attrs(node)
        if zp:
            bits = _dtype_bits(self.types.get(zp, 2))
        elif a.get("output_dtype"):
            bits = _dtype_bits(a["output_dtype"])
        else:
            bits = 8  # ONNX default output type: uint8
        self.act_bits[node.output[0]] = bits
        if self.layer_of(node.input[0]) is not None:   # its producer writes it at this width
            self.act_bits[node.input[0]] = bits

    def op_DequantizeLinear(self, node):
        self.alias(node.output[0], node.input[0])

    def _weight_bits(self, t):
        return self.const_bits.get(t, self.bits)

    # -- weighted ops ---------------------------------------------------------------------------
    def op_Conv(self, node):
        a = self.attrs(node)
        x, w = node.input[0], node.input[1]
        if not self.is_const(w):
            return self.unsupported_node(node, "weights are an activation")
        in_shape, out_shape = self.shape(x, node), self.shape(node.output[0], node)
        wshape = self.shapes[w]
        if len(in_shape) == 2 and len(wshape) == 3:      # Conv1d: [C, L] as [C, 1, L]
            in_shape, out_shape = (in_shape[0], 1, in_shape[1]), (out_shape[0], 1, out_shape[1])
            a = dict(a, kernel_shape=[1] + list(a.get("kernel_shape", wshape[2:])),
                     strides=[1] + list(a.get("strides", [1])),
                     dilations=[1] + list(a.get("dilations", [1])))
            if "pads" in a:
                a["pads"] = [0, a["pads"][0], 0, a["pads"][1]]
            wshape = list(wshape[:2]) + [1, wshape[2]]
        if len(in_shape) != 3:
            return self.unsupported_node(node, f"only 1-D/2-D convolutions (input {list(in_shape)})")
        kernel = tuple(a.get("kernel_shape", wshape[2:]))
        geo, why = self.window(a, in_shape, kernel)
        if geo is None:
            return self.unsupported_node(node, why)
        stride, pads = geo
        src = x
        if x in self.pending_pad:          # a zero Pad folded into this conv
            extra = self.pending_pad[x]
            pads = tuple(p + e for p, e in zip(pads, extra))
            src = self.pad_src[x]
            in_shape = self.shape(src, node)
        groups = a.get("group", 1)
        cin = in_shape[0]
        op = "depthwise" if groups == cin > 1 and out_shape[0] % cin == 0 else \
            "pointwise" if kernel == (1, 1) and groups == 1 else "conv2d"
        has_b = len(node.input) > 2 and bool(node.input[2])
        self.add_layer(node, op, [src], node.output[0], in_shape, out_shape, kernel=kernel,
                       stride=stride, padding=pads, groups=groups, bias=has_b,
                       bits_weight=self._weight_bits(w),
                       bits_bias=self.const_bits.get(node.input[2], 32) if has_b else 32)

    def _linear(self, node, x, w, bias_t):
        in_shape, out_shape = self.shape(x, node), self.shape(node.output[0], node)
        if len(out_shape) > 1 and in_shape[:-1] != out_shape[:-1]:
            return self.unsupported_node(node, f"linear {list(in_shape)} -> {list(out_shape)}")
        if len(out_shape) == 1:
            in_shape = (math.prod(in_shape),)
        self.add_layer(node, "linear", [x], node.output[0], in_shape, out_shape,
                       bias=bias_t is not None, bits_weight=self._weight_bits(w),
                       bits_bias=self.const_bits.get(bias_t, 32) if bias_t else 32)

    def _matmul(self, node, a_t, b_t, b_transposed):
        a, out = self.shape(a_t, node), self.shape(node.output[0], node)
        b = self.shape(b_t, node)
        if (len(a) < 2 or len(b) < 2) and self.batch == 1:   # [1, K] rows: keep the 1
            a, b = tuple(self.shapes[a_t]), tuple(self.shapes[b_t])
            out = tuple(self.shapes[node.output[0]])
        if len(a) < 2 or len(b) < 2 or len(out) > 4:
            return self.unsupported_node(node, f"matmul operands {list(a)} x {list(b)}")
        if b_transposed:
            b = b[:-2] + (b[-1], b[-2])
        self.add_layer(node, "matmul", [a_t, b_t], node.output[0], a, out,
                       input_shapes=(a, b))

    def op_Gemm(self, node):
        a = self.attrs(node)
        c = node.input[2] if len(node.input) > 2 and node.input[2] else None
        if a.get("transA", 0):
            return self.unsupported_node(node, "transA = 1")
        if self.is_const(node.input[1]):
            return self._linear(node, node.input[0], node.input[1], c)
        if c is not None:
            return self.unsupported_node(node, "a bias C on a product of two activations")
        self._matmul(node, node.input[0], node.input[1], bool(a.get("transB", 0)))

    def op_MatMul(self, node):
        if self.is_const(node.input[0]):
            return self.unsupported_node(node, "constant A times an activation B")
        if self.is_const(node.input[1]):
            return self._linear(node, node.input[0], node.input[1], None)
        self._matmul(node, node.input[0], node.input[1], False)

    # -- element-wise ---------------------------------------------------------------------------
    def binary(self, node, op):
        acts = self.act_inputs(node)
        out_shape = self.shape(node.output[0], node)
        if len(acts) == 2:
            shapes = [self.shape(t, node) for t in acts]
            if all(s == out_shape for s in shapes):
                self.add_layer(node, op, acts, node.output[0], out_shape, out_shape)
            else:
                self.add_layer(node, op, acts, node.output[0], shapes[0], out_shape,
                               input_shapes=tuple(shapes))
            return
        x = acts[0]
        const = next(t for t in node.input if t and self.is_const(t))
        cshape = self.shapes.get(const)
        csize = math.prod(cshape) if cshape is not None else None
        lay = self.weighted_producer(x, node)
        if lay is not None and csize in (1, lay["output_shape"][0] if lay["op"] != "linear"
                                         else lay["output_shape"][-1]) and x == node.input[0]:
            if op in ("add", "sub"):
                lay["bias"] = True      # a per-channel constant shift is a bias
            lay["_out"] = node.output[0]  # a per-channel scale folds into the weights: free
            self.producer[node.output[0]] = (lay["name"],)
            return
        self.add_layer(node, op, [x], node.output[0], out_shape, out_shape)

    def activation(self, node):
        x = node.input[0]
        act = ACTIVATIONS[node.op_type]
        out = node.output[0]
        if node.op_type == "Clip":
            lo, hi = self._clip_bounds(node)
            act = "relu6" if (lo, hi) == (0.0, 6.0) else "relu" if (lo, hi) == (0.0, None) \
                else "clip"
        if node.op_type in ("Sigmoid", "HardSigmoid"):   # x * sigmoid(x): SiLU / HardSwish
            readers = self.consumers.get(out, [])
            if len(readers) == 1 and readers[0].op_type == "Mul" and out not in self.graph_outputs \
                    and sorted(readers[0].input) == sorted([x, out]):
                mul = readers[0]
                self.done.add(id(mul))
                act = "silu" if node.op_type == "Sigmoid" else "hswish"
                out = mul.output[0]
                shared = [n for n in self.consumers.get(x, []) if id(n) not in (id(node), id(mul))]
                lay = self.layer_of(x)
                if lay is not None and lay["activation"] is None and not shared \
                        and x not in self.graph_outputs:
                    return self._fuse(lay, act, out)
                shape = self.shape(x, node)
                return self.add_layer(node, "act", [x], out, shape, shape, activation=act)
        lay = self.layer_of(x)
        if lay is not None and lay["activation"] is None and self.sole_reader(x, node):
            return self._fuse(lay, act, out)
        shape = self.shape(x, node)
        self.add_layer(node, "act", [x], out, shape, shape, activation=act)

    def _fuse(self, lay, act, out):
        lay["activation"] = act
        lay["_out"] = out
        self.producer[out] = (lay["name"],)

    def _clip_bounds(self, node):
        a = self.attrs(node)
        vals = []
        for i, key in ((1, "min"), (2, "max")):
            if len(node.input) > i and node.input[i]:
                v = self.value(node.input[i])
                vals.append(float(v) if v is not None else None)
            else:
                vals.append(float(a[key]) if key in a else None)
        return tuple(vals)

    def op_BatchNormalization(self, node):
        lay = self.weighted_producer(node.input[0], node)
        if lay is not None:
            lay["bias"] = True
            lay["_out"] = node.output[0]
            self.producer[node.output[0]] = (lay["name"],)
            return
        shape = self.shape(node.input[0], node)
        self.add_layer(node, "act", [node.input[0]], node.output[0], shape, shape,
                       activation="affine")

    def op_Softmax(self, node):
        x = node.input[0]
        lay = self.layer_of(x)
        if lay is not None and lay["op"] == "linear" and len(lay["output_shape"]) == 1 \
                and lay["activation"] is None and self.sole_reader(x, node):
            return self._fuse(lay, "softmax" if node.op_type == "Softmax" else "log_softmax",
                              node.output[0])   # a classifier head (as the zoo's traces)
        shape = self.shape(x, node)
        ax = self.axis(x, self.attrs(node).get("axis", -1), node)
        if ax is None:
            return self.unsupported_node(node, "softmax over the batch axis")
        self.add_layer(node, "softmax", [x], node.output[0], shape, shape, axis=ax)

    op_LogSoftmax = op_Softmax

    def op_LayerNormalization(self, node):
        x = node.input[0]
        shape = self.shape(x, node)
        full = self.shapes.get(x) or []
        if self.attrs(node).get("axis", -1) % max(len(full), 1) != len(full) - 1:
            return self.unsupported_node(node, "normalisation over more than the last axis")
        self.add_layer(node, "layernorm", [x], node.output[0], shape, shape,
                       bits_weight=self._weight_bits(node.input[1]))

    # -- pooling --------------------------------------------------------------------------------
    def _pool(self, node, op, global_=False):
        a = self.attrs(node)
        x = node.input[0]
        in_shape, out_shape = self.shape(x, node), self.shape(node.output[0], node)
        if len(in_shape) != 3:
            return self.unsupported_node(node, f"pooling needs [N, C, H, W] (got {list(in_shape)})")
        if global_:
            kernel = stride = tuple(in_shape[1:])
            pads = (0, 0, 0, 0)
        else:
            kernel = tuple(a["kernel_shape"])
            geo, why = self.window(a, in_shape, kernel)
            if geo is None:
                return self.unsupported_node(node, why)
            stride, pads = geo
            if x in self.pending_pad:
                pads = tuple(p + e for p, e in zip(pads, self.pending_pad[x]))
                x = self.pad_src[x]
                in_shape = self.shape(x, node)
            if a.get("ceil_mode", 0):   # the extra windows read padding at the bottom/right
                pads = list(pads)
                for ax, (o, size, k, s) in enumerate(zip(out_shape[1:3], in_shape[1:3], kernel,
                                                         stride)):
                    pads[2 + ax] += max(0, (o - 1) * s + k - (size + pads[ax] + pads[2 + ax]))
                pads = tuple(pads)
        self.add_layer(node, op, [x], node.output[0], in_shape,
                       (in_shape[0],) + tuple(out_shape[1:3]) if len(out_shape) == 3 else
                       (in_shape[0], 1, 1), kernel=kernel, stride=stride, padding=pads)

    def op_MaxPool(self, node):
        self._pool(node, "maxpool")

    def op_AveragePool(self, node):
        self._pool(node, "avgpool")

    def op_GlobalAveragePool(self, node):
        self._pool(node, "avgpool", True)

    def op_GlobalMaxPool(self, node):
        self._pool(node, "maxpool", True)

    def op_ReduceMean(self, node):
        axes = self.attrs(node).get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            v = self.value(node.input[1])
            axes = None if v is None else [int(x) for x in v.reshape(-1)]
        if axes is not None and sorted(int(x) % 4 for x in axes) == [2, 3] \
                and len(self.shapes.get(node.input[0]) or []) == 4:
            return self._pool(node, "avgpool", True)
        self._reduce(node)

    def _reduce(self, node):
        """A reduction over any axes: a ``reduce`` layer, the output with the input's rank
        (reduced axes of size 1, so ``keepdims=0`` changes nothing but the reader's view)."""
        x, out = node.input[0], node.output[0]
        shape, oshape = self.shape(x, node), self.shape(out, node)
        axes = self.attrs(node).get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            v = self.value(node.input[1])
            axes = None if v is None else [int(a) for a in v.reshape(-1)]
        if axes is None:   # all axes (the ONNX default)
            axes = range(len(self.shapes.get(x) or []))
        keep = list(shape)
        for ax in axes:
            a = self.axis(x, int(ax), node)
            if a is None:
                if self.batch != 1:
                    return self.unsupported_node(node, "reduction over the batch axis")
                continue
            keep[a] = 1
        rest = math.prod(oshape)
        if math.prod(keep) != rest:
            return self.unsupported_node(node, f"reduction {list(shape)} -> {list(oshape)}")
        self.add_layer(node, "reduce", [x], out, shape, tuple(keep))

    def op_ReduceSum(self, node):
        self._reduce(node)

    op_ReduceMax = op_ReduceMin = op_ReduceSum

    # -- data movement ----------------------------------------------------------------------------
    def op_Concat(self, node):
        acts = self.act_inputs(node)
        if len(acts) != len([t for t in node.input if t]):
            return self.unsupported_node(node, "a constant piece")
        out = node.output[0]
        ax = self.axis(out, self.attrs(node)["axis"], node)
        if ax is None:
            return self.unsupported_node(node, "concatenation along the batch axis")
        oshape = self.shape(out, node)
        prods = [self.producer[t] for t in acts]
        outer = all(d == 1 for d in oshape[:ax])
        if outer and len(set(acts)) == len(acts) and all(
                NETWORK_INPUT not in p and all(self.layers[n]["_out"] in acts or len(p) > 1
                                               for n in p) for p in prods):
            self.producer[out] = tuple(n for p in prods for n in p)   # written in place
            return
        shapes = tuple(self.shape(t, node) for t in acts)
        self.add_layer(node, "concat", acts, out, shapes[0], oshape, input_shapes=shapes,
                       axis=ax)

    def _piece(self, x, shape, oshape, start_index) -> bool:
        """Make the output a piece of ``x`` read in place when it is a contiguous run of its
        producer's output: one producer layer, only one axis cut, every axis before it of
        size 1 (so the piece is contiguous), a known start. Returns whether it did."""
        p = self.producer.get(x, ())
        diff = [a for a, (i, o) in enumerate(zip(shape, oshape)) if i != o]
        if (len(p) != 1 or p[0] == NETWORK_INPUT or len(shape) != len(oshape) or len(diff) != 1
                or start_index is None or any(d != 1 for d in shape[:diff[0]])):
            return False
        inner = math.prod(shape[diff[0] + 1:])
        base = self.part.get(x, (0, 0))[0]
        start = base + start_index * inner
        return (start, start + math.prod(oshape))

    def _slice_out(self, node, x, out, start_index=None):
        shape, oshape = self.shape(x, node), self.shape(out, node)
        if oshape == shape:
            return self.alias(out, x)
        if len(oshape) != len(shape):
            return self.unsupported_node(node, f"slice {list(shape)} -> {list(oshape)}")
        rng = self._piece(x, shape, oshape, start_index)
        if rng:     # the producer wrote it in place: the readers read their piece
            self.producer[out] = self.producer[x]
            self.part[out] = rng
            if x in self.act_bits:
                self.act_bits[out] = self.act_bits[x]
            return
        self.add_layer(node, "slice", [x], out, shape, oshape, suffix=f".{out}"
                       if len(node.output) > 1 else "")

    def op_Gather(self, node):
        """Rows picked by constant indices (e.g. q, k, v = proj[0], proj[1], proj[2] of an
        exported attention): a ``slice`` copy of the picked rows; the output keeps the input's
        rank (the picked axis sized to the indices) so the element counts agree."""
        x, idx, out = node.input[0], node.input[1], node.output[0]
        if not self.is_const(idx) or self.is_const(x):
            return self.unsupported_node(node, "indices computed at run time")
        ax = self.axis(x, self.attrs(node).get("axis", 0), node)
        if ax is None:
            return self.unsupported_node(node, "gather along the batch axis")
        shape = self.shape(x, node)
        n = math.prod(self.shapes.get(idx) or [1])
        oshape = shape[:ax] + (n,) + shape[ax + 1:]
        if math.prod(oshape) != math.prod(self.shape(out, node)):
            return self.unsupported_node(node, f"gather {list(shape)} -> "
                                         f"{list(self.shape(out, node))}")
        self.add_layer(node, "slice", [x], out, shape, oshape)

    def op_Split(self, node):
        x = node.input[0]
        ax = self.axis(x, self.attrs(node).get("axis", 0), node)
        start = 0
        for o in node.output:
            if o:
                self._slice_out(node, x, o, start)
                if ax is not None and self.shapes.get(o):
                    start += self.shape(o, node)[ax]

    def op_Slice(self, node):
        x = node.input[0]
        starts, axes = (self.value(node.input[i]) if len(node.input) > i and node.input[i]
                        else None for i in (1, 3))
        steps = self.value(node.input[4]) if len(node.input) > 4 and node.input[4] else None
        start = None
        if starts is not None and starts.size == 1 and (steps is None or int(steps.reshape(-1)[0]) == 1):
            ax = self.axis(x, int(axes.reshape(-1)[0]) if axes is not None else 0, node)
            size = self.shape(x, node)[ax] if ax is not None else None
            st = int(starts.reshape(-1)[0])
            if size is not None:
                start = min(max(st + size if st < 0 else st, 0), size)
        self._slice_out(node, x, node.output[0], start)

    def op_Transpose(self, node):
        x, out = node.input[0], node.output[0]
        full = self.shapes.get(x) or []
        perm = list(self.attrs(node).get("perm", reversed(range(len(full)))))
        big = [p for p in perm if full[p] != 1]
        readers = self.consumers.get(out, [])
        last = len(perm) - 1

        def strided(n):   # a matmul operand read with a row stride (ld) or transposed (NT)
            return n.op_type == "MatMul" and perm[-1] == last or (
                n.op_type == "MatMul" and n.input[1] == out and n.input[0] != out
                and perm[-2] == last)
        if big == sorted(big) or (readers and out not in self.graph_outputs
                                  and all(strided(n) for n in readers)):
            return self.alias(out, x)   # layout unchanged, or absorbed by the matmul's strides
        full_out = tuple(self.shapes.get(out) or [])
        if perm[0] == 0 and len(full) > 1 and full[0] == self.batch:   # per-sample axes
            ishape, oshape, sp = tuple(full[1:]), full_out[1:], [p - 1 for p in perm[1:]]
        elif self.batch == 1:   # a batch of one moves like any size-1 axis: whole tensors
            ishape, oshape, sp = tuple(full), full_out, perm
        else:
            return self.unsupported_node(node, "moves the batch axis")
        if len(ishape) > 4:
            return self.unsupported_node(node, f"{len(ishape)}-axis transpose")
        self.add_layer(node, "transpose", [x], out, ishape, oshape, perm=tuple(sp))

    def op_Resize(self, node):
        x, out = node.input[0], node.output[0]
        mode = self.attrs(node).get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        shape, oshape = self.shape(x, node), self.shape(out, node)
        if len(shape) != len(oshape):
            return self.unsupported_node(node, "resize changes the rank")
        self.add_layer(node, "resize", [x], out, shape, oshape, mode=mode)

    op_Upsample = op_Resize

    def op_Pad(self, node):
        x, out = node.input[0], node.output[0]
        a = self.attrs(node)
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        shape, oshape = self.shape(x, node), self.shape(out, node)
        readers = self.consumers.get(out, [])
        full_in, full_out = self.shapes.get(x) or [], self.shapes.get(out) or []
        pv = self.value(node.input[1]) if len(node.input) > 1 and node.input[1] else a.get("pads")
        cv = self.value(node.input[2]) if len(node.input) > 2 and node.input[2] else 0
        spatial_only = len(full_in) == 4 and all(i == o for i, o in zip(full_in[:2], full_out[:2]))
        if (mode == "constant" and pv is not None and len(pv) == 8 and spatial_only
                and (cv is None or float(cv) == 0.0) and len(readers) == 1
                and out not in self.graph_outputs and x not in self.pending_pad
                and readers[0].op_type in ("Conv", "MaxPool", "AveragePool")):
            p = [int(v) for v in pv]
            self.pending_pad[out] = (p[2], p[3], p[6], p[7])
            self.pad_src[out] = x
            self.alias(out, x)
            return
        if len(shape) != len(oshape):
            return self.unsupported_node(node, "pad changes the rank")
        self.add_layer(node, "pad", [x], out, shape, oshape)


def import_onnx(model, *, name: str | None = None, bits: int = 8,
                on_unsupported: str = "error", input_shapes: dict | None = None) -> Trace:
    """Import an ONNX model (a path or an ``onnx.ModelProto``) as a :class:`~hwsim.workload.trace.Trace`.

    Only the graph structure and tensor shapes are read, never weight values (an absent
    external-data file or cleared initializers are fine).

    Args:
        name: trace name (default: the graph's name, else the file stem).
        bits: width of every tensor that no QuantizeLinear / DequantizeLinear specifies.
        on_unsupported: ``"error"`` (default: :class:`UnsupportedOps`) or ``"skip-with-warning"``
            (left out, listed in a warning and in ``meta["onnx"]["unsupported_skipped"]``).
        input_shapes: ``{graph input name: full shape}`` pinning symbolic dimensions.
    """
    onnx = _onnx()
    if on_unsupported not in ON_UNSUPPORTED:
        raise ConfigError("<import_onnx>", "on_unsupported", f"invalid value {on_unsupported!r}",
                          f"use one of {', '.join(ON_UNSUPPORTED)}")
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 64:
        raise ConfigError("<import_onnx>", "bits", f"expected an integer in 1..64, got {bits!r}")
    if isinstance(model, (str, Path)):
        file = str(model)
        try:
            proto = onnx.load(file, load_external_data=False)
        except FileNotFoundError:
            raise ConfigError(file, "", "no such file") from None
        except Exception as e:
            raise ConfigError(file, "", f"not a readable ONNX model: {str(e)[:200]}") from None
    else:
        file = f"<onnx:{getattr(model.graph, 'name', '') or 'model'}>"
        proto = onnx.ModelProto()
        proto.CopyFrom(model)   # the input pinning edits the graph
    trace = _Importer(proto, file, bits, on_unsupported, name, dict(input_shapes or {})).run()
    # validate exactly as a trace file would be (geometry, producers)
    from .trace import trace_from_dict
    return trace_from_dict(trace.to_dict(), file)
