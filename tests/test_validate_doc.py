"""docs/validation.md is what tools/validate.py gives now (fast rows by default, all under -m slow)."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import validate  # noqa: E402


def _stale(fast: bool) -> list:
    doc = validate.DOC.read_text()
    return [r.figure for r in validate.rows(fast) if validate.row_line(r) not in doc]


def test_fast_rows_are_current():
    assert _stale(True) == [], "regenerate: python tools/validate.py --write"


@pytest.mark.slow
def test_all_rows_are_current():
    assert _stale(False) == [], "regenerate: python tools/validate.py --write"


def test_closed_form_rows_within_target():
    """The kernel-level and IMA rows reproduce their figures within 25 %."""
    for r in validate.rows(True)[:5]:
        assert abs(r.error) <= validate.TARGET, (r.figure, r.value, r.published)
