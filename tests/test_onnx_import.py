"""ONNX import: zoo networks exported to ONNX in code (tests/onnx_models.py) import back to the
generator's trace; unsupported operators and missing shapes give errors that list them."""
import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hwsim.cli import main  # noqa: E402
from hwsim.base.errors import ConfigError  # noqa: E402
from hwsim.workload.onnx_import import UnsupportedOps, import_onnx  # noqa: E402
from hwsim.workload.trace import NETWORK_INPUT, load_trace  # noqa: E402
from hwsim.workload.zoo import build, ds_cnn, resnet8  # noqa: E402

from .onnx_models import trace_to_onnx  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def normalised(trace):
    """Layer records with producers resolved (the zoo leaves the first layer's implicit)."""
    return [(dict(l.to_dict(), inputs=None), trace.producers(l)) for l in trace.layers]


@pytest.mark.parametrize("name", ["resnet8", "ds_cnn", "mobilenet_v1_025", "fc_autoencoder",
                                  "mobilenetv2_bottleneck"])
@pytest.mark.parametrize("variant", [{}, {"bn": True, "matmul": True}, {"qdq": True}],
                         ids=["conv-bias+gemm", "bn+matmul", "qdq"])
def test_import_equals_generator(name, variant):
    zoo = build(name)
    imported = import_onnx(trace_to_onnx(zoo, **variant))
    assert normalised(imported) == normalised(zoo)
    assert imported.total_macs == zoo.total_macs and imported.total_params == zoo.total_params


def test_import_mobilenetv2_full():
    zoo = build("mobilenetv2")
    assert normalised(import_onnx(trace_to_onnx(zoo, bn=True))) == normalised(zoo)


def test_qdq_bit_widths_from_quantized_types():
    """int16 QuantizeLinear / int16 weights give 16-bit layers; the float default is unused."""
    zoo = resnet8(bits=16)
    imported = import_onnx(trace_to_onnx(zoo, qdq=True), bits=4)
    assert normalised(imported) == normalised(zoo)
    assert {l.bits_input for l in imported.layers} == {16}


def test_float_model_uses_bits_option():
    imported = import_onnx(trace_to_onnx(ds_cnn()), bits=16)
    assert {(l.bits_input, l.bits_output) for l in imported.layers} == {(16, 16)}
    assert {l.bits_weight for l in imported.layers if l.is_weighted} == {16}


def test_batch_from_input_dimension():
    imported = import_onnx(trace_to_onnx(ds_cnn(), batch=4))
    assert {l.batch for l in imported.layers} == {4}
    assert imported.total_macs == 4 * ds_cnn().total_macs


def _tiny(nodes, inits, in_shape=(1, 3, 8, 8), out=("y", None)):
    graph = helper.make_graph(nodes, "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                              [helper.make_tensor_value_info(out[0], TensorProto.FLOAT, out[1])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _w(name, shape):
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def test_unsupported_ops_are_counted_in_one_line_and_listed_on_request():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Shrink", ["c"], ["e1"], name="erf1"),
             helper.make_node("Shrink", ["e1"], ["e2"], name="erf2"),
             helper.make_node("ConvTranspose", ["e2", "wt"], ["y"], name="up", kernel_shape=[2, 2],
                              strides=[2, 2])]
    model = _tiny(nodes, [_w("w", [4, 3, 3, 3]), _w("wt", [4, 4, 2, 2])])
    with pytest.raises(UnsupportedOps) as e:
        import_onnx(model)
    msg = str(e.value)
    assert "3 unsupported node(s): ConvTranspose x1, Shrink x2" in msg and "\n" not in msg
    assert "erf1" not in msg and len(msg) < 400
    assert e.value.nodes == ["Shrink (node 'erf1')", "Shrink (node 'erf2')", "ConvTranspose (node 'up')"]


def test_skip_with_warning_lists_and_records():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Shrink", ["c"], ["e"], name="erf"),
             helper.make_node("Relu", ["e"], ["y"], name="relu")]
    model = _tiny(nodes, [_w("w", [4, 3, 3, 3])])
    with pytest.warns(UserWarning, match=r"Shrink \(node 'erf'\)"):
        trace = import_onnx(model, on_unsupported="skip-with-warning")
    # the Relu after the skipped node reads the conv's output (same size): not fused into
    # the conv (that would hide the skipped node), an elementwise layer of its own
    assert [(l.name, l.op, l.inputs) for l in trace.layers] == [
        ("conv", "conv2d", ("input",)), ("relu", "act", ("conv",))]
    assert trace.meta["onnx"]["unsupported_skipped"] == ["Shrink (node 'erf')"]
    assert trace.layers[0].activation is None and trace.layers[1].activation == "relu"


def test_skip_of_a_size_changing_node_still_gives_a_consistent_trace():
    """A skipped ConvTranspose doubles the map: its readers read from the network input
    memory (no shape check against a producer), so the trace validates and runs."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("ConvTranspose", ["c", "wt"], ["u"], name="up", kernel_shape=[2, 2],
                              strides=[2, 2]),
             helper.make_node("Conv", ["u", "w2"], ["y"], name="conv2", kernel_shape=[1, 1])]
    model = _tiny(nodes, [_w("w", [4, 3, 3, 3]), _w("wt", [4, 4, 2, 2]), _w("w2", [2, 4, 1, 1])])
    with pytest.warns(UserWarning):
        trace = import_onnx(model, on_unsupported="skip-with-warning")
    assert [(l.name, l.inputs, l.input_shape) for l in trace.layers] == [
        ("conv", ("input",), (3, 8, 8)), ("conv2", ("input",), (4, 16, 16))]
    from hwsim.api import load_platform, simulate
    res = simulate(load_platform(ROOT / "platforms" / "pulp_cluster.yaml"), trace)
    assert res.cycles > 0


def test_dilated_conv_is_unsupported_not_miscounted():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="dil", kernel_shape=[3, 3],
                              dilations=[2, 2])]
    with pytest.raises(UnsupportedOps, match=r"Conv x1") as e:
        import_onnx(_tiny(nodes, [_w("w", [4, 3, 3, 3])]))
    assert e.value.nodes == ["Conv (node 'dil'): dilations != 1"]


def test_missing_shapes_are_an_error():
    """A symbolic spatial dimension leaves shapes unknown: the error names the input."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])]
    model = _tiny(nodes, [_w("w", [4, 3, 3, 3])], in_shape=(1, 3, "H", "W"))
    with pytest.raises(ConfigError, match="static shape"):
        import_onnx(model)


def test_two_graph_inputs_are_both_network_inputs():
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="sum")], "two",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4])
                               for n in "ab"],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    (l,) = import_onnx(helper.make_model(graph)).layers
    assert (l.op, l.inputs, l.input_elements) == ("add", (NETWORK_INPUT, NETWORK_INPUT), 8)


def test_auto_pad_and_constant_folding():
    """SAME_UPPER = TensorFlow 'same' (extra row bottom/right); a Reshape whose target shape
    comes from Shape/Constant nodes is free; a Mul by a per-channel constant after a conv
    folds into its weights."""
    shape_nodes = [helper.make_node("Shape", ["m"], ["s"]),
                   helper.make_node("Constant", [], ["t"], value=numpy_helper.from_array(
                       np.array([1, -1], dtype=np.int64))),
                   helper.make_node("Reshape", ["m", "t"], ["f"], name="flat"),
                   helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1)]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              strides=[2, 2], auto_pad="SAME_UPPER"),
             helper.make_node("Mul", ["c", "scale"], ["m"], name="scale")] + shape_nodes
    inits = [_w("w", [4, 3, 3, 3]), _w("scale", [1, 4, 1, 1]), _w("fw", [5, 64])]
    trace = import_onnx(_tiny(nodes, inits, out=("y", [1, 5])))
    conv, fc = trace.layers
    assert (conv.op, conv.padding, conv.output_shape) == ("conv2d", (0, 0, 1, 1), (4, 4, 4))
    assert (fc.op, fc.input_shape, fc.output_shape, fc.inputs) == ("linear", (64,), (5,), ("conv",))
    assert conv.bias is False and fc.bias is False


def test_constant_add_not_after_a_layer_is_one_input_elementwise():
    nodes = [helper.make_node("Add", ["x", "k"], ["y"], name="norm")]
    trace = import_onnx(_tiny(nodes, [_w("k", [1])]))
    (l,) = trace.layers
    assert (l.op, l.inputs) == ("add", (NETWORK_INPUT,))


def test_cli_import_onnx(tmp_path):
    path = tmp_path / "ds.onnx"
    onnx.save(trace_to_onnx(ds_cnn()), path)
    out = tmp_path / "out" / "ds.json"
    assert main(["import-onnx", str(path), "-o", str(out)]) == 0
    trace = load_trace(out)
    assert normalised(trace) == normalised(ds_cnn())
    assert json.loads(out.read_text())["totals"]["macs"] == ds_cnn().total_macs
    assert main(["import-onnx", str(tmp_path / "missing.onnx"), "-o", str(out)]) == 2


def test_cli_skip_unsupported(tmp_path, capsys):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
             helper.make_node("Shrink", ["c"], ["y"], name="erf")]
    path = tmp_path / "erf.onnx"
    onnx.save(_tiny(nodes, [_w("w", [4, 3, 3, 3])]), path)
    out = tmp_path / "erf.json"
    assert main(["import-onnx", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Shrink x1" in err and "Traceback" not in err
    assert main(["import-onnx", str(path), "-o", str(out), "--verbose"]) == 2
    assert "Shrink (node 'erf')" in capsys.readouterr().err
    assert main(["import-onnx", str(path), "-o", str(out), "--skip-unsupported"]) == 0
    assert "skipped      1 unsupported node(s), not simulated: Shrink x1" in capsys.readouterr().out
    assert [l.name for l in load_trace(out).layers] == ["conv"]
    rep = tmp_path / "r.json"
    assert main(["run", str(ROOT / "platforms" / "pulp_cluster.yaml"), str(out), "-q",
                 "--json", str(rep)]) == 0
    assert "skipped      1 ONNX node(s) left out at import" in capsys.readouterr().out
    assert json.loads(rep.read_text())["summary"]["unsupported_skipped"] == ["Shrink (node 'erf')"]


# ---------------------------------------------------------------------------------------------
# Independent oracles: MACs and shapes computed by hand, and by a counter that reads the ONNX
# graph itself (weight initialisers + ONNX's own shape inference), not hwsim's Layer.macs
# ---------------------------------------------------------------------------------------------
def onnx_macs(model) -> int:
    """MACs of the Conv / Gemm / MatMul nodes of ``model``: output elements x the weight's
    reduction size (Conv: cin/groups x kh x kw; Gemm/MatMul: the shared dimension)."""
    from onnx import shape_inference
    m = shape_inference.infer_shapes(model)
    g = m.graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(g.value_info) + list(g.output) + list(g.input)}
    inits = {i.name: list(i.dims) for i in g.initializer}
    consts = {n.output[0]: list(numpy_helper.to_array(n.attribute[0].t).shape)
              for n in g.node if n.op_type == "Constant"}
    inits.update(consts)
    total = 0
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        w = next((inits[i] for i in n.input[1:2] if i in inits), None)
        if w is None:   # weights behind a DequantizeLinear (QDQ): the node feeding input 1
            src = next(p for p in g.node if n.input[1] in p.output)
            w = inits[src.input[0]]
        out = int(np.prod(shapes[n.output[0]]))
        if n.op_type == "Conv":
            total += out * int(np.prod(w[1:]))
        elif n.op_type == "Gemm":
            trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
            total += out * (w[1] if trans_b else w[0])
        else:
            total += out * w[0]
    return total


@pytest.mark.parametrize("name", ["resnet8", "ds_cnn", "mobilenet_v1_025", "fc_autoencoder",
                                  "mobilenetv2_bottleneck"])
@pytest.mark.parametrize("variant", [{}, {"bn": True, "matmul": True}, {"qdq": True}],
                         ids=["conv-bias+gemm", "bn+matmul", "qdq"])
def test_import_macs_equal_an_independent_onnx_count(name, variant):
    model = trace_to_onnx(build(name), **variant)
    assert import_onnx(model).total_macs == onnx_macs(model)


def test_import_hand_counted_network():
    """x: 1x8x16x16 -> Conv 8->16 3x3/2 pad 1 (16x8x8) -> depthwise 3x3 pad 1, 16 groups
    (16x8x8) -> pointwise 16->4 (4x8x8) -> GlobalAveragePool (4x1x1) -> Flatten -> Gemm 4->10.
    MACs by hand: 16*8*8*(8*9) = 73,728; 16*8*8*9 = 9,216 (not x16: one input channel per
    group); 4*8*8*16 = 4,096; 0; 10*4 = 40."""
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="c1", kernel_shape=[3, 3],
                              strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["b"], name="dw", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1], group=16),
             helper.make_node("Conv", ["b", "w3"], ["c"], name="pw", kernel_shape=[1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w4"], ["y"], name="fc", transB=1)]
    inits = [_w("w1", [16, 8, 3, 3]), _w("w2", [16, 1, 3, 3]), _w("w3", [4, 16, 1, 1]),
             _w("w4", [10, 4])]
    model = _tiny(nodes, inits, in_shape=(1, 8, 16, 16), out=("y", [1, 10]))
    t = import_onnx(model)
    got = {l.name: (l.op, tuple(l.input_shape), tuple(l.output_shape), l.macs, l.params)
           for l in t.layers}
    assert got == {
        "c1": ("conv2d", (8, 16, 16), (16, 8, 8), 73_728, 16 * 8 * 9),
        "dw": ("depthwise", (16, 8, 8), (16, 8, 8), 9_216, 16 * 9),
        "pw": ("pointwise", (16, 8, 8), (4, 8, 8), 4_096, 4 * 16),
        "gap": ("avgpool", (4, 8, 8), (4, 1, 1), 0, 0),
        "fc": ("linear", (4,), (10,), 40, 40),
    }
    assert t.total_macs == 73_728 + 9_216 + 4_096 + 40 == onnx_macs(model)
    # work in kernel-table units: pooling reads every window element once (4 x 8 x 8)
    assert next(l for l in t.layers if l.name == "gap").ops == 4 * 8 * 8
