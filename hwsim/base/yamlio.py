"""YAML loading for every input file: one loader, strict about duplicate keys.

A duplicate key in a YAML mapping silently overwrites the first value in PyYAML's default
loaders, which hides typos in platform files; :class:`StrictLoader` refuses it. Parse errors
become a :class:`~hwsim.base.errors.ConfigError` naming the file, line and column.
"""
from __future__ import annotations

import yaml

from .errors import ConfigError

__all__ = ["StrictLoader", "parse_yaml"]


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a silent overwrite hides typos)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, path) -> object:
    """The document in ``text`` (read from ``path``), or a :class:`ConfigError` with the line
    and column of the first syntax error or duplicate key."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(path, where, f"invalid YAML: {problem}",
                          line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise ConfigError(path, "", "invalid YAML: nesting too deep") from None
