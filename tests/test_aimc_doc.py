"""docs/aimc_vs_digital.md is what tools/aimc_vs_digital.py gives now: its tables and numbers
(FAST_TRACES by default, every network under -m slow), its command block, and the statements of
its prose that the tool checks (CLAIMS)."""
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import aimc_vs_digital as tool  # noqa: E402

REGEN = "regenerate: python tools/aimc_vs_digital.py --write"


@pytest.fixture(scope="module")
def fast():
    r = tool.run(fast=True)
    return r, tool.render(r)


def test_fast_networks_are_current(fast):
    r, blocks = fast
    assert set(r.networks("networks")) == set(tool.FAST_TRACES)
    assert tool.stale(tool.DOC.read_text(), blocks, partial=True) == [], REGEN
    assert tool.failed_claims(r) == []


def test_a_changed_number_is_stale(fast):
    """Every generated number is checked: change one digit of a table row, a findings row or a
    bottleneck bullet and the check names its block."""
    _, blocks = fast
    doc = tool.DOC.read_text()
    for name, probe in (("networks", "| pulp_imc_cluster |"), ("findings", "| ds_cnn |"),
                        ("bottleneck", "* The depthwise layer")):
        line = next(l for l in blocks[name].splitlines() if l.startswith(probe))
        changed = re.sub(r"\d(?=[^\d]*$)", lambda m: str((int(m.group()) + 1) % 10), line)
        assert changed != line and line in doc
        assert tool.stale(doc.replace(line, changed), blocks, partial=True) == [name]


def test_command_block_is_the_tools_list():
    """One list of networks and platform variants (the tool's COMPARISONS); the document's
    command block is generated from it, and parses as ``hwsim compare`` commands over files
    that exist."""
    from hwsim.cli import build_parser

    doc = tool.DOC.read_text()
    i, j = tool._span(doc, "command")
    assert doc[i:j].strip("\n") == tool.commands(), REGEN
    block = tool.commands().strip("`\n").replace("\\\n", " ")
    cmds = [c for c in block.split("\n\n")]
    assert len(cmds) == len(tool.COMPARISONS)
    for text, comp in zip(cmds, tool.COMPARISONS):
        argv = shlex.split(text)
        assert argv[0] == "hwsim"
        args = build_parser().parse_args(argv[1:])
        assert tuple(args.trace) == comp.traces and tuple(args.platform) == comp.platforms
        for f in list(comp.traces) + [p.partition(":")[0] for p in comp.platforms]:
            assert (ROOT / f).is_file(), f


def test_claims_are_in_the_prose():
    assert tool.unquoted_claims(tool.DOC.read_text()) == []


@pytest.mark.slow
def test_whole_document_is_current():
    r = tool.run()
    assert tool.stale(tool.DOC.read_text(), tool.render(r)) == [], REGEN
    assert tool.failed_claims(r) == []
