"""Speed-ups that must not change results.

``mapper._dma_bytes`` sums the bytes of one full channel chunk and multiplies it (the mapper's
tiling search called ``_tile_bytes`` for every tile of every candidate before); it must equal
the per-tile sum for every layer of the bundled networks and any tiling."""
from __future__ import annotations

from pathlib import Path

import pytest

from hwsim.mapper import _dma_bytes, _geometry, _tile_bytes
from hwsim.trace import load_trace

ROOT = Path(__file__).resolve().parent.parent
NETS = ["resnet8", "ds_cnn", "mobilenetv2_bottleneck", "mobilenet_v1_025", "fc_autoencoder",
        "mobilenetv2"]


def _naive(l, cout, ho, co, rows, with_w):
    dma = 0
    for c0 in range(0, cout, co):
        c1 = min(cout, c0 + co)
        for h0 in range(0, ho, rows):
            i, w, o = _tile_bytes(l, c1 - c0, h0, min(ho, h0 + rows), with_w and h0 == 0)
            dma += i + w + o
    return dma


@pytest.mark.parametrize("net", NETS)
def test_chunked_dma_bytes_equals_per_tile_sum(net):
    checked = 0
    for l in load_trace(ROOT / "traces" / f"{net}.json").layers:
        cout, ho, *_ = _geometry(l)
        cos = sorted({1, 2, 3, max(1, cout // 3), max(1, cout // 2 + 1), cout})
        rws = sorted({1, 2, max(1, ho // 3), max(1, ho - 1), ho})
        for co in cos:
            for rows in rws:
                if -(-cout // co) * -(-ho // rows) > 3000:
                    continue              # keep the naive reference quick
                for with_w in (False, True):
                    assert _dma_bytes(l, cout, ho, co, rows, with_w) == _naive(l, cout, ho, co, rows, with_w)
                    checked += 1
    assert checked > 100
