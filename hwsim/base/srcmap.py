"""Source maps: the line of every field of a YAML or JSON document, for error messages.

Errors name a field by its path in hwsim's notation: mapping keys joined by ``.``, list
items as ``[i]`` (``components.l1.size_bytes``, ``links[2].between``, ``layers[5].kernel``).
:func:`yaml_lines` and :func:`json_lines` map every such path of a document to the 1-based
line where it starts; :func:`line_of` finds the line of the longest known prefix of a path
(a missing field is reported at the line of its parent). Maps are built only when an error
is raised, so loading valid files costs nothing extra.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

__all__ = ["yaml_lines", "json_lines", "normalise", "line_of", "lines_for_file",
           "attach_line"]

_PAREN = re.compile(r" \([^()]*\)")


def yaml_lines(text: str) -> dict:
    """``{path: line}`` for every mapping key and list item of a YAML document (from the
    start marks of the composed node tree)."""
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError):
        return {}
    out: dict = {}
    seen: set = set()     # an aliased node is mapped where it is defined, and walked once
    stack = [(root, "")] if root is not None else []
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in reversed(node.value):
                key = k.value if isinstance(k, yaml.ScalarNode) else "?"
                p = f"{path}.{key}" if path else str(key)
                out.setdefault(p, k.start_mark.line + 1)
                stack.append((v, p))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in reversed(list(enumerate(node.value))):
                p = f"{path}[{i}]"
                out.setdefault(p, v.start_mark.line + 1)
                stack.append((v, p))
    return out


_WS = re.compile(r"[ \t\n\r]*")


def json_lines(text: str) -> dict:
    """``{path: line}`` for every object key and array item of a JSON document (a light
    recursive scan using the standard decoder for strings and scalars)."""
    dec = json.JSONDecoder()
    scanstring = json.decoder.scanstring
    out: dict = {}
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_at(pos):
        import bisect
        return bisect.bisect_right(newlines, pos - 1) + 1

    def ws(i):
        return _WS.match(text, i).end()

    def value(i, path):
        i = ws(i)
        c = text[i:i + 1]
        if c == "{":
            i = ws(i + 1)
            if text[i:i + 1] == "}":
                return i + 1
            while True:
                i = ws(i)
                key, j = scanstring(text, i + 1)
                p = f"{path}.{key}" if path else key
                out.setdefault(p, line_at(i))
                j = ws(j)
                i = value(j + 1, p)  # skip ':'
                i = ws(i)
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1  # '}'
        if c == "[":
            i = ws(i + 1)
            if text[i:i + 1] == "]":
                return i + 1
            k = 0
            while True:
                i = ws(i)
                p = f"{path}[{k}]"
                out.setdefault(p, line_at(i))
                i = ws(value(i, p))
                k += 1
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1  # ']'
        _, end = dec.raw_decode(text, i)
        return end

    try:
        value(0, "")
    except (ValueError, IndexError, RecursionError):
        pass  # a malformed document: keep what was mapped
    return out


def normalise(path: str) -> str:
    """Drop the ``(layer name)`` annotations error paths carry: ``layers[3] (c1).kernel``
    -> ``layers[3].kernel``."""
    return _PAREN.sub("", path or "")


def line_of(lines: dict, path: str) -> int | None:
    """Line of ``path`` or of its longest prefix present in ``lines``."""
    p = normalise(path)
    while p:
        if p in lines:
            return lines[p]
        cut = max(p.rfind("."), p.rfind("["))
        if cut <= 0:
            break
        p = p[:cut]
    return lines.get(p) if p else None


def lines_for_file(file) -> dict:
    """The source map of ``file`` (YAML or JSON by content), ``{}`` if unreadable."""
    try:
        text = Path(str(file)).read_text()
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if text.lstrip().startswith(("{", "[")):
        m = json_lines(text)
        if m:
            return m
    return yaml_lines(text)


def attach_line(err, lines: dict | None = None, text: str | None = None, kind: str = ""):
    """Fill ``err.line`` (a :class:`~hwsim.base.errors.ConfigError` or ``MappingError``) from the
    source map of its file; returns ``err``. Never raises."""
    try:
        if getattr(err, "line", None) or not getattr(err, "field", ""):
            return err
        if lines is None:
            if text is not None:
                lines = json_lines(text) if kind == "json" else yaml_lines(text)
            elif err.file and not err.file.startswith("<"):
                lines = lines_for_file(err.file)
            else:
                lines = {}
        err.with_line(line_of(lines, err.field))
    except Exception:  # noqa: BLE001 - a source map must never hide the real error
        pass
    return err
