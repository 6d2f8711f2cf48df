"""The published JSON Schemas: equal to the generated ones, valid draft 2020-12, accepted by
every bundled platform and trace, and rejecting typical mistakes the loader rejects too."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from hwsim.cli import main
from hwsim.hardware.schema import platform_schema, schema_text, trace_schema

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = sorted((ROOT / "platforms").glob("*.yaml"))
TRACES = sorted((ROOT / "traces").glob("*.json"))


@pytest.mark.parametrize("kind", ["platform", "trace"])
def test_committed_schema_is_generated(kind):
    committed = (ROOT / "docs" / "schema" / f"{kind}.schema.json").read_text()
    assert committed == schema_text(kind), f"regenerate: hwsim schema {kind} -o docs/schema/{kind}.schema.json"


@pytest.mark.parametrize("kind", ["platform", "trace"])
def test_cli_prints_schema(kind, capsys):
    assert main(["schema", kind]) == 0
    assert capsys.readouterr().out == schema_text(kind)


def test_schemas_are_valid_draft_2020_12():
    for s in (platform_schema(), trace_schema()):
        jsonschema.Draft202012Validator.check_schema(s)


@pytest.mark.parametrize("path", PLATFORMS, ids=[p.name for p in PLATFORMS])
def test_bundled_platforms_validate(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), platform_schema())


@pytest.mark.parametrize("path", TRACES, ids=[p.name for p in TRACES])
def test_bundled_traces_validate(path):
    jsonschema.validate(json.loads(path.read_text()), trace_schema())


@pytest.mark.parametrize("mutate", [
    lambda d: d["components"]["l1"].update(size_bytes=-1),
    lambda d: d["components"]["l1"].update(size_bytes="64 KB/s"),
    lambda d: d["components"]["l1"].update(sise_bytes=1),
    lambda d: d["components"]["l1"].pop("size_bytes"),
    lambda d: d["components"]["l1"].update(type="memroy"),
    lambda d: d["components"]["l1"].update(level="L4"),
    lambda d: d["components"]["cluster"].pop("l1"),
    lambda d: d["components"]["cluster"]["kernels"].update(conv3d=1),
    lambda d: d["links"][0].update(bandwidth_bytes_per_cycle=0),
    lambda d: d["links"][0].pop("clock"),
    lambda d: d["links"][0].update(a="l2"),
    lambda d: d.update(clocks={}),
    lambda d: d.update(componentz={}),
    # memory-system fields (docs/memory_models.md)
    lambda d: d["components"]["l3"].update(port_bandwidth_bytes_per_cycle=2),   # derived for a dram
    lambda d: d["components"]["l3"].update(page_policy="half-open"),
    lambda d: d["components"]["l3"].update(t_rcd_cycles=-1),
    lambda d: d["components"]["l2"].update(arbitration="round-robin"),
    lambda d: d["components"]["l1"].update(bank_model="exact"),
    lambda d: d["components"]["cluster_dma"].update(queue_depth=-1),
    lambda d: d["links"][0].update(arbitration="lifo"),
])
def test_platform_schema_rejects_what_the_loader_rejects(mutate, tmp_path):
    import hwsim
    from hwsim.base.errors import ConfigError

    data = yaml.safe_load(PLATFORMS[0].read_text()) if PLATFORMS else None
    data = yaml.safe_load((ROOT / "platforms" / "pulp_cluster.yaml").read_text())
    mutate(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, platform_schema())
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError):
        hwsim.load_platform(f)


@pytest.mark.parametrize("mutate", [
    lambda l: l.update(op="conv"),
    lambda l: l.update(kernal=3),
    lambda l: l.pop("output_shape"),
    lambda l: l.update(bits={"input": 0}),
    lambda l: l.update(bias="yes"),
    lambda l: l.update(input_shape=[16, 0, 32]),
    lambda l: l.update(padding=-1),
])
def test_trace_schema_rejects_what_the_loader_rejects(mutate):
    import hwsim
    from hwsim.base.errors import ConfigError

    data = json.loads((ROOT / "traces" / "resnet8.json").read_text())
    mutate(data["layers"][2])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, trace_schema())
    with pytest.raises(ConfigError):
        hwsim.trace_from_dict(data)


def test_one_list_of_platform_top_level_keys():
    """Loader, sweeps and schema share hwsim.hardware.platform.PLATFORM_KEYS (a sweep can
    override ``routes``, which an older copy of the list lacked)."""
    from hwsim.explore import sweep
    from hwsim.hardware.platform import PLATFORM_KEYS
    from hwsim.hardware.schema import platform_schema

    assert set(platform_schema()["properties"]) == set(PLATFORM_KEYS)
    assert sweep.PLATFORM_KEYS is PLATFORM_KEYS
