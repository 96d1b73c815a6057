"""Typed configs: dataclasses filled from YAML files or built-in presets, plus ``key=value`` overrides.

A config source is either a path to a YAML file or the name of a preset in ``vvt/configs/`` (``tiny``
means ``vvt/configs/tiny.yaml``). Nested dataclasses map to nested YAML mappings; unknown keys and
values of the wrong type are :class:`~vvt.errors.ConfigError` s that name the key. Overrides use dotted
keys and YAML values: ``model.cnt_attention=false``, ``train.lr=1e-4``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from vvt.errors import ConfigError

T = TypeVar("T")
PRESET_DIR = Path(__file__).parent / "configs"


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
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
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
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
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
    hints = typing.get_type_hints(cls)
    kwargs = {name: _convert(value, hints[name], f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


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
