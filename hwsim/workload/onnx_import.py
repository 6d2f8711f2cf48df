"""ONNX import: turn an ONNX graph into a layer trace (``hwsim import-onnx``).

    from hwsim.workload.onnx_import import import_onnx
    trace = import_onnx("model.onnx")            # or an onnx.ModelProto
    trace.save("traces/model.json")

Shapes come from ``onnx.shape_inference.infer_shapes``; the graph must have one activation
input of static shape ``[N, C, H, W]`` or ``[N, F]`` (``N`` becomes the layers' ``batch``; a
symbolic ``N`` means 1). Nodes are visited in the graph's (topological) order and mapped as:

==========================================  ================================================
ONNX                                        trace
==========================================  ================================================
Conv (``group == C_in > 1``)                ``depthwise``
Conv (1x1, ``group == 1``)                  ``pointwise``
Conv (other)                                ``conv2d`` (``groups`` kept); ``pads`` are
                                            ``[top, left, bottom, right]`` in both; ``auto_pad``
                                            is resolved (``SAME_UPPER`` puts the extra row
                                            bottom/right, as TensorFlow ``'same'``)
Gemm, MatMul (2-D input, constant weight)   ``linear`` (``bias`` = Gemm's ``C``)
Add / Mul of two activations                ``add`` / ``mul`` with both producers in ``inputs``
Add / Mul with a constant operand           folded into the producing conv/linear layer when
                                            that layer is its only reader and the constant is a
                                            scalar or per-channel (Add: bias, Mul: scale of the
                                            weights -- both free); otherwise a one-producer
                                            ``add`` / ``mul`` layer (the trace format counts
                                            two full-size operands, an upper bound for a
                                            broadcast constant)
MaxPool / AveragePool                       ``maxpool`` / ``avgpool``
GlobalAveragePool / GlobalMaxPool,          ``avgpool`` / ``maxpool`` with kernel = stride =
ReduceMean over H, W                        the whole map (as :mod:`hwsim.workload.zoo`)
Relu, Clip, Sigmoid, Tanh, LeakyRelu,       fused into the producing layer's ``activation``
HardSigmoid, HardSwish, Softmax, Elu, ...   (``Clip(0, 6)`` is ``relu6``)
BatchNormalization                          folded into the preceding conv/linear (its
                                            ``bias`` becomes true)
Reshape, Flatten, Squeeze, Unsqueeze,       free: the output aliases the input
Identity, Dropout, Cast
QuantizeLinear                              sets the bit width of the tensor it quantizes
                                            (from the zero-point / output type: int8 -> 8,
                                            int16 -> 16, int4 -> 4, ...)
DequantizeLinear                            free; a dequantized constant gives the weight
                                            (or bias) width of the layer that reads it
nodes whose inputs are all constants,       constant-folded: no layer (no work at inference)
Shape, Constant
==========================================  ================================================

Bit widths: a tensor quantized by a QuantizeLinear has the width of its quantized type; any
other activation or weight gets ``bits`` (default 8); biases 32 unless a dequantized bias says
otherwise. A layer's ``bits.input`` is the width of the tensor it reads, ``bits.output`` the
width of the tensor it writes (after its fused activation).

Anything else (Concat, Resize, ConvTranspose, dilated convolutions, QLinearConv, an
activation that cannot be fused, ...) is *unsupported*: with ``on_unsupported="error"``
(default) :class:`~hwsim.base.errors.ConfigError` lists every unsupported node (op type and node
name) at once; with ``"skip-with-warning"`` each is replaced by a free pass-through of its
first activation input (its work is not simulated) and a :class:`UserWarning` lists them.
Nothing is ever skipped silently.
"""
from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

from ..base.errors import ConfigError
from .trace import NETWORK_INPUT, Layer, Trace

__all__ = ["ON_UNSUPPORTED", "FREE_OPS", "ACTIVATIONS", "CONST_OPS", "LAYER_OPS", "SUPPORTED",
           "import_onnx"]

ON_UNSUPPORTED = ("error", "skip-with-warning")
FREE_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Cast"}
ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyRelu": "leaky_relu",
               "HardSigmoid": "hsigmoid", "HardSwish": "hswish", "Softmax": "softmax",
               "LogSoftmax": "log_softmax", "Elu": "elu", "Selu": "selu", "Gelu": "gelu",
               "Softplus": "softplus", "PRelu": "prelu", "Clip": "clip"}
CONST_OPS = {"Constant", "Shape", "ConstantOfShape"}
LAYER_OPS = {"Conv", "Gemm", "MatMul", "Add", "Mul", "MaxPool", "AveragePool",
             "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "BatchNormalization",
             "QuantizeLinear", "DequantizeLinear"}
SUPPORTED = LAYER_OPS | FREE_OPS | CONST_OPS | set(ACTIVATIONS)


def _onnx():
    try:
        import onnx
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ConfigError("<onnx>", "", "the 'onnx' package is not installed",
                          "pip install 'hwsim[onnx]' (or pip install onnx)") from None
    return onnx


def _dtype_bits(elem_type: int) -> int:
    onnx = _onnx()
    np_type = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
    name = onnx.TensorProto.DataType.Name(elem_type)
    m = re.search(r"(\d+)", name)
    if m:
        return int(m.group(1))
    return np_type.itemsize * 8


class _Importer:
    def __init__(self, model, file: str, bits: int, on_unsupported: str, name: str | None):
        onnx = _onnx()
        self.file, self.bits = file, bits
        self.on_unsupported = on_unsupported
        try:
            model = onnx.shape_inference.infer_shapes(model, strict_mode=False)
        except Exception as e:  # onnx raises its own InferenceError types
            raise ConfigError(file, "graph", f"ONNX shape inference failed: {e}",
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
        self.consts: dict = {}
        for init in g.initializer:
            self.consts[init.name] = onnx.numpy_helper.to_array(init)
            self.shapes[init.name] = list(init.dims)
        self.const_bits: dict = {}     # constant tensor -> bits (dequantized weights)
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ConfigError(file, "graph.input", f"expected one activation input, found "
                              f"{len(inputs)} ({', '.join(i.name for i in inputs) or 'none'})",
                              "export the model with a single input tensor")
        self.input_name = inputs[0].name
        shp = self.shapes.get(self.input_name)
        if not shp or len(shp) not in (2, 4) or any(d is None or d < 1 for d in shp[1:]):
            raise ConfigError(file, f"graph.input ({self.input_name})",
                              f"needs a static shape [N, C, H, W] or [N, F], got {shp}",
                              "export with fixed input dimensions (batch may stay symbolic)")
        self.batch = shp[0] if shp[0] else 1
        # tensor -> producer layer name (or NETWORK_INPUT); bits of activation tensors
        self.producer = {self.input_name: NETWORK_INPUT}
        self.act_bits: dict = {}
        self.layers: dict = {}        # name -> dict of Layer kwargs (mutable until the end)
        self.order: list = []
        self.consumers: dict = {}
        for n in self.nodes:
            for t in n.input:
                if t:
                    self.consumers.setdefault(t, []).append(n)
        self.graph_outputs = {o.name for o in g.output}
        self.names: set = {NETWORK_INPUT}
        self.unsupported: list = []
        self.skipped: list = []

    # -- helpers ----------------------------------------------------------------------------
    def attrs(self, node) -> dict:
        onnx = _onnx()
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def shape(self, tensor: str, node) -> tuple:
        """Per-sample shape (batch dropped) of an activation tensor."""
        shp = self.shapes.get(tensor)
        if shp is None or any(d is None for d in shp[1:]) or not shp:
            raise ConfigError(self.file, f"node {node.name or node.op_type} ({node.op_type})",
                              f"shape of tensor {tensor!r} is unknown after shape inference",
                              "give the graph input a static shape and re-export")
        return tuple(shp[1:])

    def is_const(self, t: str) -> bool:
        return t in self.consts

    def act_inputs(self, node) -> list:
        return [t for t in node.input if t and not self.is_const(t)]

    def unique(self, node) -> str:
        base = node.name or f"{node.op_type.lower()}_{len(self.order)}"
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

    def weighted_producer(self, tensor: str, node):
        """The conv/linear layer whose output is ``tensor`` and whose only reader is ``node``
        (so that ``node`` can be folded into it), else None."""
        p = self.producer.get(tensor)
        lay = self.layers.get(p)
        if lay and lay["op"] in ("conv2d", "pointwise", "depthwise", "linear") \
                and lay["activation"] is None and lay["_out"] == tensor \
                and self.sole_reader(tensor, node):
            return lay
        return None

    def add_layer(self, node, op, in_tensors, out_tensor, input_shape, output_shape, **kw):
        name = self.unique(node)
        bits_in = self.act_bits.get(in_tensors[0], self.bits)
        lay = dict(name=name, op=op, input_shape=tuple(input_shape),
                   output_shape=tuple(output_shape), bits_input=bits_in,
                   bits_weight=bits_in, bits_output=self.bits,  # weight: set by weighted ops
                   bias=False, activation=None,
                   inputs=tuple(self.producer[t] for t in in_tensors), batch=self.batch,
                   _out=out_tensor)
        lay.update(kw)
        self.layers[name] = lay
        self.order.append(name)
        self.producer[out_tensor] = name
        return lay

    def unsupported_node(self, node, why=""):
        self.unsupported.append(f"{node.op_type} (node {node.name or '<unnamed>'!r})"
                                + (f": {why}" if why else ""))
        acts = self.act_inputs(node)
        if acts and acts[0] in self.producer:
            for o in node.output:
                self.producer[o] = self.producer[acts[0]]
                if acts[0] in self.act_bits:
                    self.act_bits[o] = self.act_bits[acts[0]]

    # -- geometry ---------------------------------------------------------------------------
    def window(self, node, a, in_shape, kernel):
        """(stride, pads) of a sliding window, resolving auto_pad; None if unsupported."""
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

    # -- node handlers ------------------------------------------------------------------------
    def run(self) -> Trace:
        for node in self.nodes:
            op = node.op_type
            if op not in SUPPORTED:
                self.unsupported_node(node)
                continue
            if all(self.is_const(t) for t in node.input if t) or op in CONST_OPS:
                self.fold_constant(node)
                continue
            if hasattr(self, f"op_{op}"):
                getattr(self, f"op_{op}")(node)
            elif op in ACTIVATIONS:
                self.op_activation(node)
            else:
                self.op_free(node)
        if self.unsupported:
            listing = "; ".join(self.unsupported)
            if self.on_unsupported == "error":
                raise ConfigError(self.file, "graph.node",
                                  f"{len(self.unsupported)} unsupported node(s): {listing}",
                                  "rewrite or remove them, or import with "
                                  "on_unsupported='skip-with-warning' (CLI: --skip-unsupported) "
                                  "to replace them by free pass-throughs")
            warnings.warn(f"{self.file}: {len(self.unsupported)} unsupported node(s) replaced by "
                          f"free pass-throughs (their work is not simulated): {listing}",
                          stacklevel=3)
        if not self.order:
            raise ConfigError(self.file, "graph", "no layer found (the graph has no Conv, Gemm, "
                              "MatMul, Add, Mul or pooling node on its activation path)")
        # bits.output: the width of the tensor a layer finally writes
        layers = []
        for name in self.order:
            lay = dict(self.layers[name])
            out = lay.pop("_out")
            lay["bits_output"] = self.act_bits.get(out, self.bits)
            lay.pop("_pre", None)
            layers.append(Layer(**lay))
        meta = {"generator": "hwsim.workload.onnx_import",
                "input_shape": list(self.shapes[self.input_name][1:]),
            "onnx": {"ir_version": self.model.ir_version,
                     "opsets": {o.domain or "ai.onnx": o.version for o in self.model.opset_import},
                     "unsupported_skipped": list(self.unsupported)}}
        return Trace(name=self.graph_name, layers=tuple(layers),
                     source=f"imported from ONNX {self.file}", meta=meta)

    def fold_constant(self, node):
        onnx = _onnx()
        for o in node.output:
            if node.op_type == "Constant":
                a = self.attrs(node)
                v = a.get("value")
                self.consts[o] = onnx.numpy_helper.to_array(v) if v is not None else None
            else:
                self.consts[o] = None  # value not needed: only its constness
            if node.op_type == "DequantizeLinear" and node.input[0] in self.consts:
                self.const_bits[o] = _dtype_bits(self._elem_type(node.input[0]))
            if o not in self.shapes and node.input and node.input[0] in self.shapes \
                    and node.op_type in ("DequantizeLinear", "Identity", "Cast"):
                self.shapes[o] = self.shapes[node.input[0]]

    def _elem_type(self, t):
        for init in self.model.graph.initializer:
            if init.name == t:
                return init.data_type
        return self.types.get(t, 1)

    def op_free(self, node):
        acts = self.act_inputs(node)
        for o in node.output[:1]:
            self.producer[o] = self.producer[acts[0]]
            if acts[0] in self.act_bits:
                self.act_bits[o] = self.act_bits[acts[0]]

    def op_QuantizeLinear(self, node):
        self.op_free(node)
        zp = node.input[2] if len(node.input) > 2 and node.input[2] else None
        a = self.attrs(node)
        if zp:
            bits = _dtype_bits(self._elem_type(zp))
        elif "output_dtype" in a and a["output_dtype"]:
            bits = _dtype_bits(a["output_dtype"])
        else:
            bits = 8  # ONNX default output type: uint8
        self.act_bits[node.output[0]] = bits
        # the layer writing the quantized tensor writes it at this width
        p = self.layers.get(self.producer.get(node.input[0]))
        if p is not None and p["_out"] == node.input[0]:
            self.act_bits[p["_out"]] = bits

    def op_DequantizeLinear(self, node):
        self.op_free(node)

    def _weight_bits(self, t):
        return self.const_bits.get(t, self.bits)

    def op_Conv(self, node):
        a = self.attrs(node)
        x, w = node.input[0], node.input[1]
        if not self.is_const(w):
            return self.unsupported_node(node, "weights are not a constant")
        in_shape, out_shape = self.shape(x, node), self.shape(node.output[0], node)
        if len(in_shape) != 3:
            return self.unsupported_node(node, f"only 2-D convolutions (input {list(in_shape)})")
        wshape = self.shapes[w]
        kernel = tuple(a.get("kernel_shape", wshape[2:]))
        geo, why = self.window(node, a, in_shape, kernel)
        if geo is None:
            return self.unsupported_node(node, why)
        stride, pads = geo
        groups = a.get("group", 1)
        cin = in_shape[0]
        op = "depthwise" if groups == cin > 1 else "pointwise" if kernel == (1, 1) and groups == 1 \
            else "conv2d"
        has_b = len(node.input) > 2 and bool(node.input[2])
        self.add_layer(node, op, [x], node.output[0], in_shape, out_shape, kernel=kernel,
                       stride=stride, padding=pads, groups=groups, bias=has_b,
                       bits_weight=self._weight_bits(w),
                       bits_bias=self.const_bits.get(node.input[2], 32) if has_b else 32)

    def _linear(self, node, x, w, transposed, bias_t):
        in_shape, out_shape = self.shape(x, node), self.shape(node.output[0], node)
        if len(in_shape) != 1 or len(out_shape) != 1:
            return self.unsupported_node(node, f"only [N, F] inputs (got {list(in_shape)}); "
                                         "flatten first")
        self.add_layer(node, "linear", [x], node.output[0], in_shape, out_shape,
                       bias=bias_t is not None, bits_weight=self._weight_bits(w),
                       bits_bias=self.const_bits.get(bias_t, 32) if bias_t else 32)

    def op_Gemm(self, node):
        a = self.attrs(node)
        if a.get("transA", 0) or not self.is_const(node.input[1]):
            return self.unsupported_node(node, "needs a constant B and transA = 0")
        c = node.input[2] if len(node.input) > 2 and node.input[2] else None
        self._linear(node, node.input[0], node.input[1], a.get("transB", 0), c)

    def op_MatMul(self, node):
        if not self.is_const(node.input[1]) or self.is_const(node.input[0]):
            return self.unsupported_node(node, "needs an activation A and a constant B")
        self._linear(node, node.input[0], node.input[1], False, None)

    def _binary(self, node, op):
        acts = self.act_inputs(node)
        out_shape = self.shape(node.output[0], node)
        if len(acts) == 2:
            for t in acts:
                if self.shape(t, node) != out_shape:
                    return self.unsupported_node(node, "broadcasting between two activations")
            bits = max(self.act_bits.get(t, self.bits) for t in acts)
            lay = self.add_layer(node, op, acts, node.output[0], out_shape, out_shape)
            lay["bits_input"] = lay["bits_weight"] = bits
            return
        x = acts[0]
        const = next(t for t in node.input if t and self.is_const(t))
        cshape = self.shapes.get(const)
        val = self.consts.get(const)
        csize = math.prod(cshape) if cshape is not None else (val.size if val is not None else None)
        lay = self.weighted_producer(x, node)
        if lay is not None and csize in (1, lay["output_shape"][0]):
            if op == "add":
                lay["bias"] = True  # a per-channel constant add is a bias
            # a per-channel constant scale folds into the weights: free
            self.producer[node.output[0]] = lay["name"]
            lay["_out"] = node.output[0]
            return
        self.add_layer(node, op, [x], node.output[0], out_shape, out_shape)

    def op_Add(self, node):
        self._binary(node, "add")

    def op_Mul(self, node):
        self._binary(node, "mul")

    def op_BatchNormalization(self, node):
        lay = self.weighted_producer(node.input[0], node)
        if lay is None:
            return self.unsupported_node(node, "cannot fold: not the only reader of a conv or "
                                         "linear output")
        lay["bias"] = True
        self.producer[node.output[0]] = lay["name"]
        lay["_out"] = node.output[0]

    def op_activation(self, node):
        x = node.input[0]
        p = self.layers.get(self.producer.get(x))
        if p is None or p["activation"] is not None or p["_out"] != x \
                or not self.sole_reader(x, node):
            return self.unsupported_node(node, "activation cannot be fused into a producing "
                                         "layer (reads the network input, a shared tensor, or "
                                         "follows another activation)")
        act = ACTIVATIONS[node.op_type]
        if node.op_type == "Clip":
            lo, hi = self._clip_bounds(node)
            act = "relu6" if (lo, hi) == (0.0, 6.0) else "relu" if (lo, hi) == (0.0, None) \
                else "clip"
        p["activation"] = act
        p["_out"] = node.output[0]
        self.producer[node.output[0]] = p["name"]

    def _clip_bounds(self, node):
        a = self.attrs(node)
        vals = []
        for i, key in ((1, "min"), (2, "max")):
            if len(node.input) > i and node.input[i]:
                v = self.consts.get(node.input[i])
                vals.append(float(v) if v is not None else None)
            else:
                vals.append(float(a[key]) if key in a else None)
        return tuple(vals)

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
            geo, why = self.window(node, a, in_shape, kernel)
            if geo is None:
                return self.unsupported_node(node, why)
            stride, pads = geo
            if a.get("ceil_mode", 0):
                floor_h = (in_shape[1] + pads[0] + pads[2] - kernel[0]) // stride[0] + 1
                floor_w = (in_shape[2] + pads[1] + pads[3] - kernel[1]) // stride[1] + 1
                if (floor_h, floor_w) != tuple(out_shape[1:3]):
                    return self.unsupported_node(node, "ceil_mode = 1 changes the output size")
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
        a = self.attrs(node)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            v = self.consts.get(node.input[1])
            axes = None if v is None else [int(x) for x in v.reshape(-1)]
        if axes is None or sorted(int(x) % 4 for x in axes) != [2, 3]:
            return self.unsupported_node(node, "only a mean over the spatial axes [2, 3]")
        self._pool(node, "avgpool", True)


def import_onnx(model, *, name: str | None = None, bits: int = 8,
                on_unsupported: str = "error") -> Trace:
    """Import an ONNX model (a path or an ``onnx.ModelProto``) as a :class:`~hwsim.workload.trace.Trace`.

    Args:
        name: trace name (default: the graph's name, else the file stem).
        bits: width of every tensor that no QuantizeLinear / DequantizeLinear specifies.
        on_unsupported: ``"error"`` (default: ConfigError listing every unsupported node) or
            ``"skip-with-warning"`` (free pass-throughs, listed in a warning and in
            ``meta["onnx"]["unsupported_skipped"]``).
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
            proto = onnx.load(file)
        except FileNotFoundError:
            raise ConfigError(file, "", "no such file") from None
        except Exception as e:
            raise ConfigError(file, "", f"not a readable ONNX model: {e}") from None
    else:
        proto, file = model, f"<onnx:{getattr(model.graph, 'name', '') or 'model'}>"
    trace = _Importer(proto, file, bits, on_unsupported, name).run()
    # validate exactly as a trace file would be (geometry, producers)
    from .trace import trace_from_dict
    return trace_from_dict(trace.to_dict(), file)
