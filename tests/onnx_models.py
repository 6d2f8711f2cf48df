"""Build ONNX models in code (``onnx.helper``, nothing downloaded) from a layer trace.

:func:`trace_to_onnx` writes a network of :mod:`hwsim.workload.zoo` layer by layer as the ONNX graph a
framework would export, so importing it must give the zoo's trace back. Variants exercise the
importer's rewrites: ``bn`` (bias-free Conv + BatchNormalization instead of a biased Conv),
``matmul`` (MatMul + Add instead of Gemm), ``qdq`` (QuantizeLinear/DequantizeLinear around
every activation and weight, the QDQ format of quantized exports).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hwsim.workload.trace import NETWORK_INPUT


def _init(inits, name, shape, dtype=np.float32):
    inits.append(numpy_helper.from_array(np.zeros(shape, dtype=dtype), name))
    return name


def trace_to_onnx(trace, *, bn=False, matmul=False, qdq=False, batch=1, opset=17):
    nodes, inits = [], []
    first = trace.layers[0]
    x = "x"
    in_shape = [batch] + list(first.input_shape)
    tensor = {NETWORK_INPUT: x}

    def q(t, bits, name):
        """QuantizeLinear + DequantizeLinear of activation t (QDQ format)."""
        if not qdq:
            return t
        s = _init(inits, f"{name}.s", [])
        zp = numpy_helper.from_array(np.zeros([], dtype=np.int8 if bits == 8 else np.int16),
                                     f"{name}.zp")
        inits.append(zp)
        nodes.append(helper.make_node("QuantizeLinear", [t, s, zp.name], [f"{name}.q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}.q", s, zp.name],
                                      [f"{name}.dq"]))
        return f"{name}.dq"

    def weight(name, shape, bits):
        if not qdq:
            return _init(inits, name, shape)
        _init(inits, f"{name}.int", shape, np.int8 if bits <= 8 else np.int16)
        s = _init(inits, f"{name}.s", [])
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}.int", s], [name]))
        return name

    tensor[NETWORK_INPUT] = q(x, first.bits_input, "x")
    for i, l in enumerate(trace.layers):
        srcs = [tensor[p] for p in trace.producers(l)]
        out = f"{l.name}.y"
        pre = out if l.activation is None else f"{l.name}.pre"
        if l.op in ("conv2d", "pointwise", "depthwise"):
            w = weight(f"{l.name}.w", [l.out_channels, l.in_channels // l.groups, *l.kernel],
                       l.bits_weight)
            ins = [srcs[0], w]
            if l.bias and not bn:
                ins.append(_init(inits, f"{l.name}.b", [l.out_channels]))
            conv_out = f"{l.name}.conv" if bn else pre
            nodes.append(helper.make_node("Conv", ins, [conv_out], name=l.name,
                                          kernel_shape=list(l.kernel), strides=list(l.stride),
                                          pads=list(l.padding), group=l.groups))
            if bn:
                c = l.out_channels
                nodes.append(helper.make_node(
                    "BatchNormalization",
                    [conv_out] + [_init(inits, f"{l.name}.bn.{k}", [c])
                                  for k in ("scale", "b", "mean", "var")], [pre],
                    name=f"{l.name}.bn"))
        elif l.op == "linear":
            src = srcs[0]
            if len(trace.layer(trace.producers(l)[0]).output_shape
                   if trace.producers(l)[0] != NETWORK_INPUT else l.input_shape) != 1:
                nodes.append(helper.make_node("Flatten", [src], [f"{l.name}.flat"], axis=1))
                src = f"{l.name}.flat"
            fin, fout = l.in_channels, l.out_channels
            if matmul:
                w = weight(f"{l.name}.w", [fin, fout], l.bits_weight)
                mm = f"{l.name}.mm" if l.bias else pre
                nodes.append(helper.make_node("MatMul", [src, w], [mm], name=l.name))
                if l.bias:
                    nodes.append(helper.make_node("Add", [mm, _init(inits, f"{l.name}.b", [fout])],
                                                  [pre], name=f"{l.name}.bias"))
            else:
                w = weight(f"{l.name}.w", [fout, fin], l.bits_weight)
                ins = [src, w] + ([_init(inits, f"{l.name}.b", [fout])] if l.bias else [])
                nodes.append(helper.make_node("Gemm", ins, [pre], name=l.name, transB=1))
        elif l.op in ("add", "mul"):
            nodes.append(helper.make_node(l.op.capitalize(), srcs, [pre], name=l.name))
        elif l.op in ("maxpool", "avgpool"):
            global_ = l.kernel == l.in_hw and l.out_hw == (1, 1) and not any(l.padding)
            if global_ and l.op == "avgpool":
                nodes.append(helper.make_node("GlobalAveragePool", srcs, [pre], name=l.name))
            else:
                nodes.append(helper.make_node("MaxPool" if l.op == "maxpool" else "AveragePool",
                                              srcs, [pre], name=l.name,
                                              kernel_shape=list(l.kernel), strides=list(l.stride),
                                              pads=list(l.padding)))
        else:
            raise ValueError(f"no ONNX export for op {l.op}")
        if l.activation == "relu":
            nodes.append(helper.make_node("Relu", [pre], [out], name=f"{l.name}.relu"))
        elif l.activation == "relu6":
            nodes.append(helper.make_node("Clip", [pre, _init(inits, f"{l.name}.lo", []),
                                                   f"{l.name}.hi"], [out], name=f"{l.name}.clip"))
            inits.append(numpy_helper.from_array(np.array(6.0, dtype=np.float32), f"{l.name}.hi"))
        elif l.activation == "softmax":
            nodes.append(helper.make_node("Softmax", [pre], [out], name=f"{l.name}.softmax"))
        elif l.activation is not None:
            raise ValueError(f"no ONNX export for activation {l.activation}")
        tensor[l.name] = q(out, l.bits_output, l.name)
    last = tensor[trace.layers[-1].name]
    graph = helper.make_graph(
        nodes, trace.name,
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT,
                                       [batch] + list(trace.layers[-1].output_shape))], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model
