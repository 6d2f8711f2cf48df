"""On-device learning: training-step traces (hwsim.workload.training) and their mapping/simulation.

Closed forms: for a conv/linear layer, dX = dY * W^T and dW = X^T * dY each take exactly the
forward layer's MACs (same im2col matrix product, transposed), so with every layer trainable
the backward MACs are 2 x forward minus the first layer's input gradient (never computed).
Adam keeps 2 state tensors per parameter (Kingma & Ba, ICLR 2015, Algorithm 1: m and v),
momentum SGD 1, SGD none.
"""
import copy

import pytest

from hwsim import simulate
from hwsim.cli import main
from hwsim.base.errors import ConfigError
from hwsim.mapping.mapper import map_trace
from hwsim.hardware.platform import platform_from_dict
from hwsim.workload.trace import NETWORK_INPUT, Layer, Trace, trace_from_dict
from hwsim.workload.training import training_step
from hwsim.workload.zoo import build

from .helpers import BASE, platform

NETS = ["resnet8", "ds_cnn", "fc_autoencoder", "mobilenet_v1_025", "mobilenetv2_bottleneck"]


def by_name(trace):
    return {l.name: l for l in trace.layers}


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("batch", [1, 3])
def test_backward_macs_are_twice_forward(name, batch):
    fwd = build(name)
    step = training_step(fwd, "all", batch=batch)
    layers = by_name(step)
    weighted = [l for l in fwd.layers if l.is_weighted]
    first = fwd.layers[0]
    for l in weighted:
        assert layers[f"{l.name}.grad_weight"].macs == batch * l.macs
        if l is first:
            assert f"{l.name}.grad_input" not in layers
        else:
            assert layers[f"{l.name}.grad_input"].macs == batch * l.macs
    back = [l for l in step.layers if "_grad_" in l.op]
    assert sum(l.macs for l in back) == batch * (2 * fwd.total_macs - first.macs)
    assert step.meta["training"]["backward_macs"] == batch * (2 * fwd.total_macs - first.macs)
    assert step.meta["training"]["forward_macs"] == batch * fwd.total_macs
    # the forward part is the inference trace with the batch applied
    assert [l.name for l in step.layers[:len(fwd.layers)]] == [l.name for l in fwd.layers]
    assert trace_from_dict(step.to_dict()) == step  # a valid trace file


@pytest.mark.parametrize("optimizer,states", [("sgd", 0), ("sgd_momentum", 1), ("adam", 2)])
def test_optimizer_state_bytes(optimizer, states):
    fwd = build("ds_cnn")
    step = training_step(fwd, "all", optimizer=optimizer, precision="fp32")
    params = fwd.total_params
    assert step.meta["training"]["optimizer_state_bytes"] == states * params * 4
    updates = [l for l in step.layers if l.op == "optimizer_step"]
    assert sum(l.input_shape[0] for l in updates) == params
    assert sum(l.stored_param_bytes for l in updates) == states * params * 4
    # the weight gradients: one fp32 value per parameter (weights and biases)
    assert step.meta["training"]["weight_gradient_bytes"] == params * 4


def small_net():
    """conv 3x3 (3 -> 4 channels, 8x8, ReLU) -> maxpool 2x2 -> linear 64 -> 10."""
    conv = Layer("conv", "conv2d", (3, 8, 8), (4, 8, 8), kernel=(3, 3), padding=(1, 1, 1, 1),
                 activation="relu")
    pool = Layer("pool", "maxpool", (4, 8, 8), (4, 4, 4), kernel=(2, 2), stride=(2, 2),
                 bias=False, inputs=("conv",))
    fc = Layer("fc", "linear", (64,), (10,), inputs=("pool",))
    return Trace("small", (conv, pool, fc))


def test_saved_activation_footprint_by_hand():
    """Batch 2, 8-bit forward: the backward pass keeps the network input (conv's X: 3*8*8),
    conv's ReLU output (its act_grad mask and the max-pool's X: 4*8*8), the pooled map (fc's
    X: 4*4*4) and the network output (for the loss: 10), each x 2 samples x 1 byte."""
    step = training_step(small_net(), "all", batch=2, precision={"forward": 8, "gradient": 32})
    tr = step.meta["training"]
    assert tr["saved_activations"] == {NETWORK_INPUT: 384, "conv": 512, "pool": 128, "fc": 20}
    assert tr["saved_activation_bytes"] == 384 + 512 + 128 + 20
    assert [l.name for l in step.layers[3:]] == [
        "loss.grad", "fc.grad_weight", "fc.grad_input", "fc.update", "pool.grad_input",
        "conv.act_grad", "conv.grad_weight", "conv.update"]
    # fp16 forward halves every saved tensor
    half = training_step(small_net(), "all", batch=2, precision="fp16")
    assert half.meta["training"]["saved_activation_bytes"] == 2 * 1044


def test_classifier_only_keeps_just_its_input():
    step = training_step(small_net(), "classifier")
    assert step.meta["training"]["saved_activations"] == {"pool": 64, "fc": 10}
    assert [l.name for l in step.layers[3:]] == ["loss.grad", "fc.grad_weight", "fc.update"]


@pytest.mark.parametrize("trainable", ["last:2", "classifier", ["stack3.conv2", "fc"]])
def test_frozen_layers_have_no_weight_gradients(trainable):
    fwd = build("resnet8")
    step = training_step(fwd, trainable)
    train = set(step.meta["training"]["trainable"])
    grads = {l.weights_of for l in step.layers if l.op.endswith("_grad_weight")}
    updates = {l.weights_of for l in step.layers if l.op == "optimizer_step"}
    assert grads == updates == train
    order = [l.name for l in fwd.layers]
    first = min(order.index(n) for n in train)
    for l in step.layers:  # no input gradient below the first trainable layer
        if l.op.endswith("_grad_input"):
            assert order.index(l.weights_of) > first


def test_residual_gradients_are_summed():
    """ResNet-8: a block input is read by the block's conv and by its add, so its gradient is
    the sum of two contributions (one add per block), and the residual add is free."""
    step = training_step(build("resnet8"), "all")
    sums = [l for l in step.layers if ".grad_sum" in l.name]
    assert {l.name for l in sums} == {"conv1.grad_sum1", "stack1.add.grad_sum1",
                                      "stack2.add.grad_sum1"}
    assert not any(l.name.startswith("stack1.add.grad") and l.op != "add" for l in step.layers)


def test_bad_options_are_clear_errors():
    fwd = build("ds_cnn")
    with pytest.raises(ConfigError, match="did you mean 'adam'"):
        training_step(fwd, optimizer="adma")
    with pytest.raises(ConfigError, match="'ds9.pw' is not a layer with weights"):
        training_step(fwd, ["ds9.pw"])
    with pytest.raises(ConfigError, match="last:N"):
        training_step(fwd, "last:0")
    with pytest.raises(ConfigError, match="precision.grad"):
        training_step(fwd, precision={"grad": 8})
    with pytest.raises(ConfigError, match="positive integer"):
        training_step(fwd, batch=0)


def test_int8_preset_and_kernel_fallback():
    step = training_step(build("ds_cnn"), "all", precision="int8")
    assert {l.bits_key for l in step.layers} == {8}
    result = simulate(platform(), step)  # the unit platform lists forward kernels only
    assert result.cycles > 0


# ------------------------------------------------------------------------------------------
# Mapping and timing of the training ops (closed forms on the unit platform: 1 core at
# 1 op/cycle, no tile overhead, 1 MiB L1 so every layer is one tile)
# ------------------------------------------------------------------------------------------
def two_convs():
    c1 = Layer("c1", "conv2d", (3, 8, 8), (4, 8, 8), kernel=(3, 3), padding=(1, 1, 1, 1))
    c2 = Layer("c2", "conv2d", (4, 8, 8), (6, 4, 4), kernel=(3, 3), stride=(2, 2),
               padding=(1, 1, 1, 1), inputs=("c1",))
    return Trace("two", (c1, c2))


def test_grad_tiles_move_exact_bytes_and_take_macs_cycles():
    step = training_step(two_convs(), "all", optimizer="adam",
                         precision={"forward": 8, "gradient": 32, "optimizer": 16})
    p = platform()
    plans = {pl.layer.name: pl for pl in map_trace(p, step).plans}
    c2 = step.layer("c2")
    dy, dx, x = 6 * 4 * 4 * 4, 4 * 8 * 8 * 4, 4 * 8 * 8  # bytes: fp32 dY, dX; int8 X
    w8, dw32 = c2.weight_elements, c2.weight_elements * 4 + 6 * 4
    gi, gw, up = plans["c2.grad_input"], plans["c2.grad_weight"], plans["c2.update"]
    assert (gi.n_tiles, gw.n_tiles, up.n_tiles) == (1, 1, 1)
    assert gi.planned_bytes() == {"l2->l1": dy + w8, "l1->l2": dx}
    assert gw.planned_bytes() == {"l2->l1": x + dy, "l1->l2": dw32}
    params = c2.params  # W int8 + dW fp32 + 2 fp16 states in, W + states out
    assert up.planned_bytes() == {"l2->l1": params * (1 + 4 + 2 * 2), "l1->l2": params * (1 + 2 * 2)}
    result = simulate(p, step)
    rec = {r.name: r for r in result.layers}
    assert rec["c2.grad_input"].compute_cycles == c2.macs
    assert rec["c2.grad_weight"].compute_cycles == c2.macs
    assert rec["c2.update"].compute_cycles == 9 * params  # Adam: 9 ops per parameter
    assert "c1.grad_input" not in rec


def test_saved_activations_spill_to_l3():
    """With L2 just big enough for one layer's working set, the saved tensors go to L3 and
    the weight-gradient layers read them from there; with a big L2 nothing touches L3."""
    data = copy.deepcopy(BASE)
    data["components"]["l3"] = {"type": "memory", "level": "L3", "clock": "clk",
                                "size_bytes": 1 << 26, "port_bandwidth_bytes_per_cycle": 2}
    data["links"].append({"between": ["l3", "dma"], "clock": "clk",
                          "bandwidth_bytes_per_cycle": 2})
    fwd = build("ds_cnn")
    step = training_step(fwd, "all", batch=4, precision="int8")
    saved = step.meta["training"]["saved_activations"]
    big = platform_from_dict(data)
    assert map_trace(big, step).weights_in_l3_bytes == 0
    assert simulate(big, step).totals["l3_bytes"] == 0
    biggest = max(l.input_bytes + l.output_bytes for l in step.layers)
    assert biggest < sum(saved.values())
    data["components"]["l2"]["size_bytes"] = biggest + 1024
    small = platform_from_dict(data)
    plans = {pl.layer.name: pl for pl in map_trace(small, step).plans}
    spilled = [t for t in saved if t != NETWORK_INPUT and plans[t].output_mem == "l3"]
    assert spilled and len(spilled) < len(saved)  # L2 keeps what fits, in forward order
    readers = [pl for pl in plans.values() if pl.layer.op.endswith("_grad_weight")]
    for pl in readers:  # weight gradients read the saved X where it was placed
        x = pl.layer.inputs[0]
        if x != NETWORK_INPUT:
            assert pl.input_mem == plans[x].output_mem
    assert any(pl.input_mem == "l3" for pl in readers)
    assert simulate(small, step).totals["l3_bytes"] > 0


def aimc_platform(crossbars=4):
    data = copy.deepcopy(BASE)
    for i in range(crossbars):
        data["components"][f"xb{i}"] = {
            "type": "aimc_tile", "clock": "clk", "l1": "l1", "rows": 64, "cols": 64,
            "mvm_latency_cycles": 10, "program_cycles_per_row": 100, "program_pj_per_row": 5}
        data["links"].append({"between": [f"xb{i}", "l1"], "clock": "clk",
                              "bandwidth_bytes_per_cycle": 64})
    return platform_from_dict(data)


def test_aimc_weight_update_is_programming():
    """Inference programs the crossbars once (set-up, not latency); a training step
    re-programs each *trained* AIMC layer, shown as its programming time: rows x
    program_cycles_per_row (the weight DMA overlaps nothing, so programming >= that)."""
    fc1 = Layer("fc1", "linear", (32,), (48,), activation="relu")
    fc2 = Layer("fc2", "linear", (48,), (10,), inputs=("fc1",))
    fwd = Trace("mlp", (fc1, fc2))
    p = aimc_platform()
    inf = simulate(p, fwd)
    assert {r.engine_kind for r in inf.layers} == {"aimc"}
    assert all(r.programming_cycles == 0 for r in inf.layers)
    assert inf.totals["setup_programming_pj"] == (32 + 48) * 5
    step = simulate(p, training_step(fwd, "classifier"))
    rec = {r.name: r for r in step.layers}
    assert rec["fc1"].programming_cycles == 0            # frozen: stays programmed
    assert rec["fc2"].programming_cycles >= 48 * 100     # trained: re-programmed every step
    assert rec["fc2"].energy_pj["programming"] == 48 * 5
    assert step.totals["setup_programming_pj"] == 32 * 5
    assert rec["fc2.grad_weight"].engine_kind == "cores"


def test_cli_train(tmp_path, capsys):
    trace = tmp_path / "small.json"
    small_net().save(trace)
    args = ["run", "platforms/pulp_cluster.yaml", str(trace), "-q"]
    assert main(args + ["--train", "--optimizer", "adam", "--batch", "2",
                        "--precision", "8,32"]) == 0
    out = capsys.readouterr().out
    assert "small_train_all" in out and "saved activations 1,044 B" in out
    assert main(args + ["--train", "last:1", "--precision", "fp16"]) == 0
    assert main(args + ["--optimizer", "adam"]) == 2       # a training option without --train
    assert main(args + ["--batch", "0"]) == 2
    assert main(args + ["--batch", "2"]) == 0              # inference on 2 inputs
    assert "small_b2" in capsys.readouterr().out
    assert main(args + ["--train", "last:x"]) == 2


@pytest.mark.slow
def test_training_table_in_docs_is_current():
    """docs/training.md's table is what tools/training_table.py produces now."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "tools"))
    try:
        import training_table
    finally:
        sys.path.pop(0)
    doc = (root / "docs" / "training.md").read_text()
    body = doc.split(training_table.BEGIN, 1)[1].split(training_table.END, 1)[0]
    assert body.strip() == training_table.table().strip()


def test_pool_and_depthwise_grad_tiles_read_their_own_channels():
    """Channel-tiled dX of a depthwise conv / max-pool reads only its channels of dY (and, for
    max-pool, its X rows): with L1 forcing channel tiles, the planned bytes sum to the whole
    tensors exactly once (stride 1 and 'same' padding, so no halo rows are re-read at the
    edges of a full-height tile)."""
    first = Layer("c0", "pointwise", (16, 8, 8), (16, 8, 8))
    dw = Layer("dw", "depthwise", (16, 8, 8), (16, 8, 8), kernel=(3, 3), padding=(1, 1, 1, 1),
               groups=16, inputs=("c0",))
    pool = Layer("pool", "maxpool", (16, 8, 8), (16, 8, 8), kernel=(3, 3),
                 padding=(1, 1, 1, 1), bias=False, inputs=("dw",))
    fwd = Trace("t", (first, dw, pool))
    step = training_step(fwd, "all", precision="int8")
    plans = {pl.layer.name: pl for pl in map_trace(platform(**{"components.l1.size_bytes": 2600}),
                                                   step).plans}
    gi = plans["dw.grad_input"]
    assert gi.tile_shape["channels"] < 16 and gi.tile_shape["rows"] == 8
    assert gi.planned_bytes() == {"l2->l1": 16 * 64 + 16 * 9, "l1->l2": 16 * 64}
    gp = plans["pool.grad_input"]
    assert gp.tile_shape["channels"] < 16 and gp.tile_shape["rows"] == 8
    assert gp.planned_bytes() == {"l2->l1": 2 * 16 * 64, "l1->l2": 16 * 64}
