"""YAML loading for every input file: one loader, strict and bounded.

PyYAML's default loaders silently overwrite duplicate keys (hiding typos), crash on an
unhashable key, expand aliases without bound (a 10-line "billion laughs" document) and, in
libyaml's composer, recurse in C on deep nesting. :func:`parse_yaml` refuses all of these
within the limits of :mod:`hwsim.base.limits`, each as a
:class:`~hwsim.base.errors.ConfigError` naming the file, line and column or field.
"""
from __future__ import annotations

import yaml

from .errors import ConfigError
from .limits import MAX_DEPTH, MAX_INT_DIGITS, MAX_NODES

__all__ = ["StrictLoader", "parse_yaml", "yaml_value"]

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml when present: ~10x faster


class StrictLoader(_Base):
    """Safe loader: refuses duplicate and unhashable keys and integers over the limit."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            dup = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a {type(key).__name__} cannot be a mapping key (keys are names "
                "or numbers)", key_node.start_mark) from None
        if dup:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


def _construct_int(loader, node):
    digits = sum(c.isdigit() for c in str(node.value))
    if digits > MAX_INT_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer of {digits} digits is over the limit of {MAX_INT_DIGITS} "
            "digits", node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _node_children(node):
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else "?"
            yield k, None
            yield v, str(key)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield v, i


def _join(path: str, key) -> str:
    if key is None:
        return path
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)


def _check_nodes(root, file) -> None:
    """Refuse a composed YAML graph that expands (through aliases) to more than
    :data:`MAX_NODES` values, nests deeper than :data:`MAX_DEPTH` or refers to itself.
    Linear in the number of distinct nodes: expanded sizes are memoised per node."""
    size: dict = {}
    on_path: set = set()
    stack = [(root, "", 1, None)]   # node, path, depth, iterator over children (None: enter)
    while stack:
        node, path, depth, it = stack.pop()
        nid = id(node)
        if it is None:
            if nid in size:
                continue
            if nid in on_path:
                raise ConfigError(file, path, "an alias refers to a mapping or list that "
                                  "contains it (recursive document)", "remove the recursion",
                                  line=node.start_mark.line + 1)
            if depth > MAX_DEPTH:
                raise ConfigError(file, path, f"nested deeper than the limit of {MAX_DEPTH} levels",
                                  line=node.start_mark.line + 1)
            on_path.add(nid)
            it = iter(list(_node_children(node)))
        for child, key in it:
            if id(child) not in size:
                stack.append((node, path, depth, it))
                stack.append((child, _join(path, key), depth + 1, None))
                break
        else:
            on_path.discard(nid)
            n = 1 + sum(size[id(c)] for c, _ in _node_children(node))
            if n > MAX_NODES:
                raise ConfigError(file, path, f"expands to {n:,} values through aliases, over the "
                                  f"limit of {MAX_NODES:,}", "write the values out or use "
                                  "generate:", line=node.start_mark.line + 1)
            size[nid] = n


def _check_depth(text: str, file) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` from the parser's event stream (not
    recursive) before composing: libyaml's composer recurses in C and would crash."""
    depth = 0
    for ev in yaml.parse(text, Loader=_Base):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line = ev.start_mark.line + 1
                raise ConfigError(file, f"line {line}", f"nested deeper than the limit of "
                                  f"{MAX_DEPTH} levels", line=line)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def parse_yaml(text: str, file, what: str = "YAML document"):
    """Parse YAML ``text`` (from ``file``) within the limits; a syntax error or a limit is a
    :class:`ConfigError` with its line."""
    loader = None
    try:
        _check_depth(text, file)
        loader = StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, file)
        return loader.construct_document(node)
    except ConfigError:
        raise
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(file, where, f"invalid YAML: {problem}",
                          line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise ConfigError(file, "", f"invalid YAML: nested deeper than the limit of "
                          f"{MAX_DEPTH} levels") from None
    except ValueError as e:    # a number the constructor cannot represent
        raise ConfigError(file, "", f"invalid YAML: {e}") from None
    finally:
        if loader is not None:
            loader.dispose()


def yaml_value(text: str, where: str):
    """One value given on the command line (``--set PATH=VALUE``, ``--grid``), read as YAML
    within the same limits; errors name ``where`` (e.g. ``--set l1.size_bytes``)."""
    try:
        return parse_yaml(text, where)
    except ConfigError as e:
        raise ConfigError(where, "", f"cannot read value {text[:40]!r}: {e.problem}") from None
