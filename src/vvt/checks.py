"""The checks every command runs before any model loads or any frame is decoded.

* :func:`check_output`: the output path can be written and replacing it destroys nothing the user owns (it is
  not an input, not a folder holding an input, not a folder vvt did not write; its parent is a writable
  folder; its suffix is one the command writes).
* :func:`check_numbers`: numeric options are in range (``--fps`` > 0, ``--steps`` >= 1, ...), with
  :class:`Bound`, which :mod:`vvt.config` also uses for config values.
* :func:`resolve_device`: ``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` / ``mps`` -> a device that exists here;
  :func:`add_device_argument` is the one ``--device`` option of every command (default ``auto``).

Every problem is one line naming the path or option and what to do (:class:`~vvt.errors.OutputPathError`,
:class:`~vvt.errors.OptionError`). This module imports no heavy library (torch only inside
:func:`resolve_device`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vvt.errors import OptionError, OutputPathError
from vvt.io.atomic import OUTPUT_MARKER, is_vvt_output, replaceable_problem


@dataclass(frozen=True)
class Bound:
    """A range for a number: ``Bound(gt=0)`` (> 0), ``Bound(ge=1)``, ``Bound(ge=0, lt=1)``,
    ``Bound(gt=0, multiple_of=8)``. NaN is never in range."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    multiple_of: int | None = None

    def problem(self, value: Any) -> str | None:
        """``"must be > 0, got -5"`` when ``value`` is out of range, else None."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None  # types are checked elsewhere
        rules = []
        if self.gt is not None:
            rules.append((f"> {self.gt:g}", value > self.gt))
        if self.ge is not None:
            rules.append((f">= {self.ge:g}", value >= self.ge))
        if self.lt is not None:
            rules.append((f"< {self.lt:g}", value < self.lt))
        if self.le is not None:
            rules.append((f"<= {self.le:g}", value <= self.le))
        if self.multiple_of is not None:
            ok = not (isinstance(value, float) and not math.isfinite(value)) and value % self.multiple_of == 0
            rules.append((f"a multiple of {self.multiple_of}", ok))
        if all(ok for _, ok in rules) and not (isinstance(value, float) and math.isnan(value)):
            return None
        return f"must be {' and '.join(rule for rule, _ in rules)}, got {value!r}"


def check_numbers(options: Mapping[str, tuple[Any, Bound]]) -> None:
    """Raise :class:`~vvt.errors.OptionError` listing every option out of its range (None values pass).

    ``options``: ``{"--fps": (args.fps, Bound(gt=0)), ...}``.
    """
    problems = []
    for name, (value, bound) in options.items():
        if value is None:
            continue
        problem = bound.problem(value)
        if problem:
            problems.append(f"{name} {problem}")
    if problems:
        raise OptionError("; ".join(problems))


def _writable_parent_problem(path: Path) -> str | None:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():
            return f"its parent {parent} is a broken link"
        parent = parent.parent
    if not parent.is_dir():
        return f"its parent {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot write in {parent} (read-only or no permission)"
    return None


def _input_problem(out: Path, inputs: Mapping[str, str | Path | None]) -> str | None:
    target = out.resolve()
    for option, given in inputs.items():
        if given is None:
            continue
        source = Path(given).resolve()
        if source == target:
            return f"is the input {option} {given}; give another output path (nothing was changed)"
        if source.is_relative_to(target):
            return f"holds the input {option} {given}; give another output path (nothing was changed)"
    return None


def check_output(
    path: str | Path,
    *,
    folder: bool | None,
    suffixes: Iterable[str] | None = None,
    inputs: Mapping[str, str | Path | None] | None = None,
) -> Path:
    """Check, before any work, that the output ``path`` can be written and replacing it destroys nothing.

    Args:
        path: the output path.
        folder: whether the output is a folder (True), a file (False) or either (None).
        suffixes: the suffixes the command writes (lower case; ``""`` for a folder without suffix).
        inputs: the command's inputs ``{option: path}``; the output may be neither one of them nor a folder
            holding one.

    Raises:
        OutputPathError: naming ``path`` and the problem.
    """
    path = Path(path)
    problem = _input_problem(path, inputs or {})
    if problem is None and suffixes is not None:
        allowed = list(suffixes)
        if path.suffix.lower() not in allowed:
            listed = ", ".join("no suffix (a folder)" if s == "" else s for s in allowed)
            problem = f"unsupported output type {path.suffix or '(none)'!r}; use {listed}"
    problem = problem or _writable_parent_problem(path) or replaceable_problem(path, as_folder=folder)
    if problem:
        raise OutputPathError(path, problem)
    return path


def check_run_folder(path: str | Path, inputs: Mapping[str, str | Path | None] | None = None) -> Path:
    """Check a training run folder (``train.output_dir``), which vvt adds checkpoints, logs and exports to.

    It may be new, empty, or an earlier vvt run (its :data:`~vvt.io.atomic.OUTPUT_MARKER`, or the
    ``checkpoints/`` / ``config.yaml`` of a run); not a file, not a user's folder, not an input's folder.
    """
    path = Path(path)
    problem = _input_problem(path, inputs or {}) or _writable_parent_problem(path)
    if problem is None and path.exists():
        if not path.is_dir():
            problem = "is a file, not a run folder"
        elif not (
            is_vvt_output(path)
            or (path / "checkpoints").is_dir()
            or (path / "config.yaml").is_file()
            or not any(path.iterdir())
        ):
            problem = (
                f"is a folder that is not a vvt run (no {OUTPUT_MARKER}, checkpoints/ or config.yaml); "
                "give a new train.output_dir (nothing was changed)"
            )
    if problem:
        raise OutputPathError(path, problem)
    return path


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")


def has_accelerator() -> bool:
    """Whether a GPU-like device exists; without one, several processes started by ``accelerate launch`` work
    on the CPU over gloo (``Accelerator(cpu=True)`` / ``PartialState(cpu=True)``: accelerate's default state
    would leave each of them alone, as process 0 of 1)."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    xpu = getattr(torch, "xpu", None)
    return torch.cuda.is_available() or bool(mps and mps.is_available()) or bool(xpu and xpu.is_available())


def add_device_argument(parser: Any, what: str = "") -> None:
    """Add the ``--device`` option (default ``auto``: CUDA when available), resolved by :func:`resolve_device`;
    ``what``: what runs on it, for the help."""
    parser.add_argument(
        "--device",
        default="auto",
        help=f"torch device{' of ' + what if what else ''}: auto (CUDA when available), cpu, cuda, cuda:N or mps",
    )


def resolve_device(spec: str, option: str = "--device") -> str:
    """The torch device for ``spec``: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``,
    ``cuda:N`` or ``mps``; raises :class:`~vvt.errors.OptionError` when it does not exist on this machine."""
    m = _DEVICE.match(str(spec).strip().lower())
    if m is None or (m.group(2) is not None and m.group(1) != "cuda"):
        raise OptionError(f"{option} {spec!r}: use auto, cpu, cuda, cuda:N or mps")
    kind, index = m.group(1), m.group(2)
    if kind == "cpu":
        return "cpu"
    import torch

    if kind == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise OptionError(f"{option} mps: Apple's MPS is not available on this machine; use auto or cpu")
        return "mps"
    if not torch.cuda.is_available():
        why = "this torch has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise OptionError(f"{option} {spec}: CUDA is not available ({why}); use --device auto or cpu")
    if index is not None and int(index) >= torch.cuda.device_count():
        raise OptionError(
            f"{option} {spec}: this machine has {torch.cuda.device_count()} CUDA device(s) "
            f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})"
        )
    return f"cuda:{index}" if index is not None else "cuda"
