"""README.md's sample output is what the simulator prints today (tools/readme_output.py)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_sample_output_is_current():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "readme_output.py"), "--check"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_readme_quick_start_installs_only_the_core():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("## ", 1)[0]
    assert "pip install -e .\n" in quick
    # the test command README gives is the one CI runs
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e '.[dev]' && python -m pytest -q" in quick
    assert "-e '.[dev]'" in ci and "python -m pytest -q" in ci
