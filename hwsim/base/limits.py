"""Input limits, and the one way hwsim reads a YAML or JSON document within them.

Every input document (platform, trace, sweep points file, ``--set`` value) goes through
:func:`read_text` and :func:`hwsim.base.yamlio.parse_yaml` / :func:`parse_json`, so no input can make hwsim
hang, exhaust memory or crash the parser. The limits, each reported as one
:class:`~hwsim.base.errors.ConfigError` naming the file, line, field and the limit:

======================  ==========================================================
``MAX_YAML_BYTES``      4 MiB: a YAML file (bundled platforms are < 10 kB; large
                        systems use ``generate:``). PyYAML reads ~3 MB/s.
``MAX_JSON_BYTES``      64 MiB: a JSON file (a 10,000-layer trace is ~4 MB)
``MAX_NODES``           1,000,000 values in a document after alias expansion (a
                        10-line "billion laughs" alias bomb expands to 10^9)
``MAX_DEPTH``           64 levels of nested mappings/lists
``MAX_INT_DIGITS``      19 digits per integer (|n| < 10^19 > 2^63): no physical
                        quantity needs more; Python refuses > 4300 digits anyway
======================  ==========================================================

Physical bounds of each platform field (fastest clock, slowest link, ...) are stated with
the field (:func:`hwsim.hardware.platform.spec`) and published in its JSON Schema.
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

from .errors import ConfigError, HwsimError

__all__ = ["MAX_YAML_BYTES", "MAX_JSON_BYTES", "MAX_NODES", "MAX_DEPTH", "MAX_INT_DIGITS",
           "read_text", "parse_json", "check_tree", "check_outputs",
           "write_text_atomic"]

MAX_YAML_BYTES = 4 * 2**20
MAX_JSON_BYTES = 64 * 2**20
MAX_NODES = 1_000_000
MAX_DEPTH = 64
MAX_INT_DIGITS = 19


def read_text(path, what: str, fmt: str) -> str:
    """The text of input file ``path`` (``what``: "platform", "trace", ...; ``fmt``: "YAML"
    or "JSON"), refusing what is not a regular file (a FIFO or device would block or never
    end) and files over the size limit of the format, before reading them."""
    path = Path(path)
    limit = MAX_JSON_BYTES if fmt == "JSON" else MAX_YAML_BYTES
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise ConfigError(path, "", f"{kind}: cannot read a {what} from it",
                              f"give a {fmt} file")
        if st.st_size > limit:
            raise ConfigError(path, "", f"{st.st_size:,} bytes is over the {limit:,}-byte limit "
                              f"of a {fmt} {what} file", "see hwsim/base/limits.py")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise ConfigError(path, "", f"cannot read {what} file: {e.strerror or e}") from None
    if len(data) > limit:   # grew while we read it
        raise ConfigError(path, "", f"over the {limit:,}-byte limit of a {fmt} {what} file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not a text file (not UTF-8)", f"a {what} is a {fmt} text file") from None


# ------------------------------------------------------------------------------------------
# JSON
# ------------------------------------------------------------------------------------------
class _BigInt(ValueError):
    def __init__(self, digits: str):
        self.digits = digits
        super().__init__(digits)


def _parse_int(s: str) -> int:
    if sum(c.isdigit() for c in s) > MAX_INT_DIGITS:
        raise _BigInt(s)
    return int(s)


def _parse_constant(s: str):
    raise ValueError(f"{s} is not a JSON number")


def parse_json(text: str, file, fix: str = ""):
    """Parse JSON ``text`` (from ``file``) within the limits (integers, depth, size)."""
    try:
        data = json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
    except ConfigError:
        raise
    except json.JSONDecodeError as e:
        raise ConfigError(file, f"line {e.lineno} column {e.colno}", f"invalid JSON: {e.msg}", fix,
                          line=e.lineno) from None
    except _BigInt as e:
        line = text.count("\n", 0, max(text.find(e.digits), 0)) + 1
        raise ConfigError(file, f"line {line}", f"an integer of {len(e.digits)} digits is over the "
                          f"limit of {MAX_INT_DIGITS} digits", line=line) from None
    except RecursionError:
        raise ConfigError(file, "", f"invalid JSON: nested deeper than the limit of {MAX_DEPTH} "
                          "levels") from None
    except ValueError as e:
        raise ConfigError(file, "", f"invalid JSON: {e}") from None
    check_tree(data, file)
    return data


def check_tree(data, file) -> None:
    """Refuse a parsed document nested deeper than :data:`MAX_DEPTH` or holding more than
    :data:`MAX_NODES` values, or non-finite floats in JSON (``1e999``)."""
    stack = [(data, "", 1)]
    n = 0
    while stack:
        node, path, depth = stack.pop()
        n += 1
        if n > MAX_NODES:
            raise ConfigError(file, "", f"more than {MAX_NODES:,} values, over the limit")
        if depth > MAX_DEPTH:
            raise ConfigError(file, path, f"nested deeper than the limit of {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise ConfigError(file, path, f"expected a finite number, got {node!r}")


# ------------------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------------------
def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(inputs: dict, outputs: dict) -> None:
    """Refuse an output path that is one of the inputs (``--json platform.yaml`` would
    destroy it), two outputs on one path, or a directory. ``inputs``/``outputs``:
    ``{option: path}``. (Devices such as ``/dev/null`` are fine outputs.)"""
    outs = {k: Path(v) for k, v in outputs.items() if v}
    ins = {k: Path(v) for k, v in inputs.items() if v}
    for oname, o in outs.items():
        for iname, i in ins.items():
            if _same(o, i) or o.resolve() == i.resolve():
                raise HwsimError(f"{oname} {o}: is the {iname} input file; refusing to overwrite "
                                 "it (choose another output path)")
        if o.is_dir():
            raise HwsimError(f"{oname} {o}: is a directory (give a file path)")
    seen: dict = {}
    for oname, o in outs.items():
        r = o.resolve()
        if r in seen:
            raise HwsimError(f"{oname} and {seen[r]} both write {o} (choose distinct paths)")
        seen[r] = oname


def write_text_atomic(path, text: str) -> None:
    """Write ``path`` through a temporary file and a rename: an interrupt leaves the old
    file or the new one, never a part. A device or FIFO is written directly."""
    path = Path(path)
    if path.exists() and not path.is_file():
        with open(path, "w") as f:
            f.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
