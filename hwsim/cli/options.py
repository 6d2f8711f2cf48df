"""Checked command-line values shared by every subcommand: ``PATH=VALUE`` overrides, counts,
seconds, and output paths that must not overwrite an input. Each bad value is one
:class:`~hwsim.base.errors.HwsimError` line naming the option (exit status 2)."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..base.errors import HwsimError

__all__ = ["kv", "overrides", "count", "seconds", "check_outputs", "write_text_atomic"]


def kv(item: str, flag: str) -> tuple:
    """``PATH=VALUE`` -> ``(PATH, VALUE text)``."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise HwsimError(f"{flag} expects path=value, got {item!r}")
    return key.strip(), value


def overrides(items, flag: str = "--set") -> dict:
    """``{path: value}`` of repeated ``PATH=VALUE`` options, each value read as YAML within
    the input limits (:func:`hwsim.base.limits.yaml_value`)."""
    from ..base.limits import yaml_value

    out = {}
    for item in items or []:
        key, text = kv(item, flag)
        out[key] = yaml_value(text, f"{flag} {key}")
    return out


def count(lo: int, hi: int = 1 << 20):
    """argparse type: a whole number in ``lo..hi``."""
    def parse(text: str) -> int:
        try:
            v = int(text) if len(text) < 12 else None
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected a whole number in {lo}..{hi}, got {text!r}")
        return v
    return parse


def seconds(hi: float, what: str = "seconds"):
    """argparse type: a finite number (of ``what``) in ``(0, hi]``."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and 0 < v <= hi):
            raise argparse.ArgumentTypeError(f"expected {what} > 0 and <= {hi:g}, got {text!r}")
        return v
    return parse


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(inputs: dict, outputs: dict) -> None:
    """Refuse an output path that is one of the inputs (``--json platform.yaml`` would
    destroy it), two outputs on one path, or an output that is not a regular file (a
    device such as ``/dev/full`` or a FIFO). ``inputs``/``outputs``: ``{option: path}``."""
    outs = {k: Path(v) for k, v in outputs.items() if v}
    ins = {k: Path(v) for k, v in inputs.items() if v}
    for oname, o in outs.items():
        for iname, i in ins.items():
            if _same(o, i) or o.resolve() == i.resolve():
                raise HwsimError(f"{oname} {o}: is the {iname} input file; refusing to overwrite "
                                 "it (choose another output path)")
        if o.exists() and not o.is_file():
            raise HwsimError(f"{oname} {o}: not a regular file (choose a file path)")
    seen: dict = {}
    for oname, o in outs.items():
        r = o.resolve()
        if r in seen:
            raise HwsimError(f"{oname} and {seen[r]} both write {o} (choose distinct paths)")
        seen[r] = oname


def write_text_atomic(path, text: str) -> None:
    """Write ``path`` through a temporary file and a rename: an interrupt leaves the old
    file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
