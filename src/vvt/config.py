"""Typed configs: dataclasses filled from YAML files or built-in presets, plus ``key=value`` overrides.

A config source is either a path to a YAML file or the name of a preset in ``vvt/configs/`` (``tiny``
means ``vvt/configs/tiny.yaml``). Nested dataclasses map to nested YAML mappings; unknown keys, values of
the wrong type and values out of range are :class:`~vvt.errors.ConfigError` s that name the key. Overrides
use dotted keys and YAML values: ``model.cnt_attention=false``, ``train.learning_rate=1e-4``.

Files and overrides are read with YAML 1.2's core schema (:data:`Yaml12Loader`), not PyYAML's YAML 1.1:
``1e-3`` is a float (1.1 reads it as a string), ``010`` is ten, ``yes``/``on`` are strings, only
``true``/``false`` are booleans, and ``1:30`` is not sixty-based.

Ranges are part of a field's type: ``learning_rate: Annotated[float, Bound(gt=0)]``
(:class:`vvt.checks.Bound`); :func:`from_dict` checks them as it converts, and :func:`value_problems` lists
the values of a built config that are out of range.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml

from vvt.checks import Bound
from vvt.errors import ConfigError

T = TypeVar("T")
PRESET_DIR = Path(__file__).parent / "configs"
__all__ = ["Annotated", "Bound", "Yaml12Loader", "from_dict", "load_config", "value_problems"]

_BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float"))


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's core schema for booleans, integers and floats."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
# integers before floats: "1" matches both patterns, and the first resolver that matches wins
Yaml12Loader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
Yaml12Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


Yaml12Loader.add_constructor(_INT, _construct_int)
Yaml12Loader.add_constructor(_FLOAT, _construct_float)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A PyYAML error in one line: the problem and where (line and column, 1-based)."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def parse_yaml(text: str) -> Any:
    """YAML text as Python data, with YAML 1.2's core schema (:class:`Yaml12Loader`)."""
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 (a SafeLoader subclass)


def preset_names() -> list[str]:
    """Names of the YAML presets shipped in ``vvt/configs/``."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def resolve_source(source: str | Path) -> Path:
    """A YAML path as given, or the path of the preset named ``source``."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        return path
    preset = PRESET_DIR / f"{source}.yaml"
    if not preset.is_file():
        raise ConfigError(f"{source!r} is neither a YAML file nor a preset (presets: {', '.join(preset_names())})")
    return preset


def read_yaml(source: str | Path) -> dict[str, Any]:
    """Read a config source as a plain mapping."""
    path = resolve_source(source)
    try:
        data = parse_yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({_yaml_problem(exc)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML) to a nested mapping, in place."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"override {item!r}: the key {key!r} has an empty part")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        try:
            node[parts[-1]] = parse_yaml(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({_yaml_problem(exc)})") from None
    return data


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Annotated:
        base, *extras = typing.get_args(tp)
        value = _convert(value, base, where)
        for extra in extras:
            problem = extra.problem(value) if isinstance(extra, Bound) else None
            if problem:
                raise ConfigError(f"{where} {problem}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)} ({value!r})")
            items = [_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
            return tuple(items)
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {typing.get_args(tp)}")
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r} (write {int(value)})")
    if tp is Path and isinstance(value, str):
        return Path(value)
    if isinstance(tp, type) and not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types; missing keys keep their defaults."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls, include_extras=True)
    kwargs = {name: _convert(value, hints[name], f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def value_problems(config: Any, where: str) -> list[str]:
    """The values of the dataclass ``config`` (nested ones included) that are out of the range their field's
    ``Annotated[..., Bound(...)]`` type allows, as ``"train.learning_rate must be > 0, got -0.001"``."""

    def walk(value: Any, tp: Any, at: str) -> list[str]:
        origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            hints = typing.get_type_hints(type(value), include_extras=True)
            return [p for f in dataclasses.fields(value) for p in walk(getattr(value, f.name), hints[f.name],
                                                                          f"{at}.{f.name}")]
        if origin is Annotated:
            base, *extras = typing.get_args(tp)
            found = [f"{at} {p}" for e in extras if isinstance(e, Bound) and (p := e.problem(value))]
            return found + walk(value, base, at)
        if origin in (typing.Union, types.UnionType):
            return [p for arg in typing.get_args(tp) if arg is not type(None) for p in walk(value, arg, at)]
        if origin in (list, tuple) and isinstance(value, (list, tuple)):
            args = typing.get_args(tp)
            if origin is tuple and args and args[-1] is not Ellipsis and len(args) == len(value):
                return [p for i, (v, a) in enumerate(zip(value, args)) for p in walk(v, a, f"{at}[{i}]")]
            item = args[0] if args else Any
            return [p for i, v in enumerate(value) for p in walk(v, item, f"{at}[{i}]")]
        return []

    return walk(config, type(config), where)


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain YAML-serialisable data (paths become strings, tuples lists)."""

    def plain(v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(config))


def load_config(cls: type[T], source: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Load ``cls`` from a YAML file or preset (or its defaults when ``source`` is None), then overrides."""
    data = read_yaml(source) if source is not None else {}
    return from_dict(cls, apply_overrides(data, overrides), where=str(source or cls.__name__))


def save_config(config: Any, path: str | Path) -> Path:
    """Write a dataclass config as YAML, atomically."""
    from vvt.io.atomic import atomic_write_text

    return atomic_write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))
