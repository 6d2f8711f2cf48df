"""Checked command-line values shared by every subcommand: ``PATH=VALUE`` overrides, counts
and seconds (output paths: :func:`hwsim.base.limits.check_outputs`). Each bad value is one
:class:`~hwsim.base.errors.HwsimError` line naming the option (exit status 2)."""
from __future__ import annotations

import argparse
import math

from ..base.errors import HwsimError

__all__ = ["kv", "overrides", "count", "seconds"]


def kv(item: str, flag: str) -> tuple:
    """``PATH=VALUE`` -> ``(PATH, VALUE text)``."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise HwsimError(f"{flag} expects path=value, got {item!r}")
    return key.strip(), value


def overrides(items, flag: str = "--set") -> dict:
    """``{path: value}`` of repeated ``PATH=VALUE`` options, each value read as YAML within
    the input limits (:func:`hwsim.base.limits.yaml_value`)."""
    from ..base.yamlio import yaml_value

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
