"""Atomic, verifiable training checkpoints: everything needed to continue a run exactly.

A checkpoint is a folder ``OUTPUT_DIR/checkpoints/step-NNNNNNN`` holding

* what ``accelerate`` saves with ``Accelerator.save_state``: the trained weights (``model.safetensors``, or
  DeepSpeed / FSDP shards), optimiser and LR-scheduler states, the gradient scaler, and one file of RNG
  states (Python, NumPy, torch CPU and CUDA) per process (``random_states_<i>.pkl``); accelerate reads them
  back with ``torch.load(weights_only=True)``;
* ``ema.safetensors``: the EMA shadow weights, named like the trained parameters;
* ``trainer_state.json``: the step, the data position (the next global batch of
  :class:`vvt.train.data.BatchStream`), the process count, the EMA counters and the run config;
* ``manifest.json``: the size and SHA-256 of every other file, written last.

It is written into ``checkpoints/.tmp-step-NNNNNNN`` and renamed once complete, so a crash while saving
leaves the previous checkpoints intact and never a folder that looks complete. Only the last ``keep_last``
checkpoints are kept (an old one is renamed away before it is deleted).

On resume the checkpoint is verified against its manifest (:func:`verify_checkpoint`; checkpoints written
before manifests get structural checks). A corrupt checkpoint named with ``--resume PATH`` is an error naming
the file; ``--resume latest`` skips corrupt ones, says which and why, and resumes from the newest intact
one. Missing or unreadable RNG states make an exact resume impossible: an error, unless ``inexact`` (the
CLI's ``--resume-inexact``) accepts continuing without them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from vvt.errors import InputFileError

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
EMA_FILE = "ema.safetensors"
MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.safetensors"
RNG_FILE = "random_states_{}.pkl"
_NAME = re.compile(r"^step-(\d+)$")
_RNG_NAME = re.compile(r"^random_states_\d+\.pkl$")


def checkpoint_dir(output_dir: str | Path, step: int) -> Path:
    """``output_dir/checkpoints/step-NNNNNNN``."""
    return Path(output_dir) / CHECKPOINTS / f"step-{step:07d}"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run as ``(step, folder)``, oldest first (temporary folders excluded)."""
    root = Path(output_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _NAME.match(p.name)
        if m and (p / STATE_FILE).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


# ------------------------------------------------------------------------------------------ verification
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: str | Path) -> Path:
    """Write ``folder/manifest.json``: the size and SHA-256 of every file below ``folder`` (but itself)."""
    folder = Path(folder)
    files = {
        p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_FILE
    }
    path = folder / MANIFEST_FILE
    path.write_text(json.dumps({"format": 1, "files": files}, indent=1) + "\n")
    return path


@dataclass
class Verdict:
    """What :func:`verify_checkpoint` found: ``problems`` as ``(file, problem)``; ``rng`` the problems that
    only concern RNG-state files (a resume without them continues, but not exactly)."""

    path: Path
    problems: list[tuple[Path, str]] = field(default_factory=list)
    rng: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems and not self.rng

    def usable(self, inexact: bool) -> bool:
        """Whether a resume may use it (with ``inexact``, RNG problems are accepted)."""
        return not self.problems and (inexact or not self.rng)

    def first(self) -> tuple[Path, str]:
        """The first problem as ``(file, problem)``, the problem saying how many more there are."""
        found = self.problems + self.rng
        if not found:
            return self.path, "intact"
        file, problem = found[0]
        more = f" (and {len(found) - 1} more problem(s))" if len(found) > 1 else ""
        return file, problem + more

    def describe(self) -> str:
        """The first problem as ``FILE: problem``."""
        file, problem = self.first()
        return f"{file}: {problem}"


def _check_structure(path: Path) -> str | None:
    """Cheap checks of a file that has no manifest entry: safetensors headers against the file size, zip
    directories of ``torch.save`` files, JSON that parses."""
    try:
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as f:
                f.keys()
        elif path.suffix in (".bin", ".pkl", ".pt", ".pth"):
            with zipfile.ZipFile(path) as z:
                bad = z.testzip() if path.stat().st_size < (64 << 20) else None
            if bad is not None:
                return f"damaged entry {bad}"
        elif path.suffix == ".json":
            json.loads(path.read_text())
    except (SafetensorError, zipfile.BadZipFile, ValueError, OSError, UnicodeDecodeError, EOFError) as exc:
        return f"unreadable ({' '.join(str(exc).split())[:160]})"
    return None


def _state(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((path / STATE_FILE).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return state if isinstance(state, dict) else None


def verify_checkpoint(path: str | Path) -> Verdict:
    """Check a checkpoint folder against its ``manifest.json`` (sizes, then SHA-256 of every file), or, for a
    checkpoint written before manifests, the structure of its files; RNG-state files are also loaded."""
    path = Path(path)
    verdict = Verdict(path)

    def report(file: Path, problem: str) -> None:
        (verdict.rng if _RNG_NAME.match(file.name) else verdict.problems).append((file, problem))

    state = _state(path)
    if state is None:
        verdict.problems.append((path / STATE_FILE, "missing or not a JSON object (truncated?)"))
    manifest_path = path / MANIFEST_FILE
    if manifest_path.is_file():
        try:
            files = json.loads(manifest_path.read_text())["files"]
            entries = {name: (int(e["size"]), str(e["sha256"])) for name, e in files.items()}
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            verdict.problems.append((manifest_path, "unreadable manifest (truncated?)"))
            entries = {}
        for name, (size, digest) in sorted(entries.items()):
            file = path / name
            if not file.is_file():
                report(file, "missing (listed in manifest.json)")
            elif file.stat().st_size != size:
                report(file, f"{file.stat().st_size} bytes, manifest.json says {size} (truncated?)")
            elif _sha256(file) != digest:
                report(file, "content differs from manifest.json (SHA-256 mismatch: corrupt)")
    else:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            problem = _check_structure(file)
            if problem:
                report(file, problem)
    processes = int(state.get("num_processes") or 1) if state else 1
    for i in range(processes):
        rng = path / RNG_FILE.format(i)
        if not rng.is_file():
            if not any(f == rng for f, _ in verdict.rng):
                verdict.rng.append((rng, f"missing: the RNG states of process {i}"))
        elif not any(f == rng for f, _ in verdict.rng):
            problem = _rng_problem(rng)
            if problem:
                verdict.rng.append((rng, problem))
    return verdict


def _rng_problem(path: Path) -> str | None:
    """Whether accelerate can restore the RNG states in ``path`` (it would silently skip them otherwise)."""
    from accelerate.utils import load

    try:
        states = load(str(path))
        missing = [k for k in ("random_state", "numpy_random_seed", "torch_manual_seed") if k not in states]
    except Exception as exc:  # noqa: BLE001 (torch.load raises many kinds for a damaged pickle)
        return f"unreadable RNG states ({' '.join(str(exc).split())[:120]})"
    return f"RNG states lack {', '.join(missing)}" if missing else None


_INEXACT_HINT = "pass --resume-inexact to continue without exact RNG states"


def resolve_resume(output_dir: str | Path, resume: str | Path | None, inexact: bool = False) -> Path | None:
    """The verified checkpoint folder to resume from: ``"latest"`` (None when the run has none yet) or a folder.

    ``"latest"`` takes the newest checkpoint that :func:`verify_checkpoint` finds intact, warning about each
    newer one that is corrupt; a named folder must be intact. ``inexact`` accepts checkpoints whose only
    problem is their RNG states (the run then continues, but not bit-exactly).

    Raises:
        InputFileError: naming the corrupt file (a named folder, or ``latest`` when no checkpoint is usable).
    """
    if resume is None:
        return None
    if str(resume) == "latest":
        found = list_checkpoints(output_dir)
        if not found:
            logger.info(
                "--resume latest: no checkpoint in %s yet, starting from step 0",
                Path(output_dir) / CHECKPOINTS,
            )
            return None
        skipped: list[Verdict] = []
        for _, path in reversed(found):
            verdict = verify_checkpoint(path)
            if verdict.usable(inexact):
                if skipped:
                    logger.warning(
                        "--resume latest: falling back to %s, the newest intact checkpoint", path.name
                    )
                _warn_inexact(verdict)
                return path
            logger.warning("--resume latest: skipping corrupt checkpoint %s: %s", path.name, verdict.describe())
            skipped.append(verdict)
        newest = skipped[0]
        hint = f"; {_INEXACT_HINT}" if not newest.problems else ""
        raise InputFileError(
            newest.path,
            f"no intact checkpoint in {Path(output_dir) / CHECKPOINTS} ({len(skipped)} corrupt; newest: "
            f"{newest.describe()}){hint}",
        )
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise InputFileError(
            path,
            f"not a vvt training checkpoint (no {STATE_FILE}); pass a folder "
            f"OUTPUT_DIR/{CHECKPOINTS}/step-NNNNNNN or 'latest'",
        )
    verdict = verify_checkpoint(path)
    if not verdict.usable(inexact):
        file, problem = verdict.first()
        hint = "" if verdict.problems else f"; {_INEXACT_HINT}"
        raise InputFileError(file, f"corrupt checkpoint: {problem}{hint}")
    _warn_inexact(verdict)
    return path


def _warn_inexact(verdict: Verdict) -> None:
    for file, problem in verdict.rng:
        logger.warning(
            "%s: %s; resuming without it (--resume-inexact): the run continues but will not match an "
            "uninterrupted one exactly",
            file,
            problem,
        )


# -------------------------------------------------------------------------------------------- save, load
def ema_state_tensors(ema: Any, names: list[str]) -> dict[str, torch.Tensor]:
    """EMA shadow parameters keyed by the names of the parameters they track."""
    return {n: t.detach().cpu().contiguous() for n, t in zip(names, ema.shadow_params)}


def _remove(folder: Path) -> None:
    """Delete a checkpoint folder by renaming it away first, so a crash never leaves half of it in place."""
    doomed = folder.with_name(f".del-{folder.name}")
    shutil.rmtree(doomed, ignore_errors=True)
    folder.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def save_checkpoint(
    accelerator: Any,
    output_dir: str | Path,
    step: int,
    state: dict[str, Any],
    ema: Any = None,
    ema_names: list[str] | None = None,
    keep_last: int | None = None,
) -> Path:
    """Save a checkpoint of ``step`` atomically, with its manifest; every process must call it.

    Args:
        accelerator: the run's ``accelerate.Accelerator`` (its prepared model, optimiser and scheduler
            are saved).
        output_dir: the run folder.
        step: the optimisation step just completed.
        state: JSON-serialisable trainer state (step, data position, config...).
        ema: a ``diffusers.training_utils.EMAModel`` or None.
        ema_names: parameter names for the EMA shadow tensors.
        keep_last: delete older checkpoints beyond this many.
    """
    final = checkpoint_dir(output_dir, step)
    tmp = final.with_name(f".tmp-{final.name}")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        full_state = dict(state)
        if ema is not None:
            save_file(ema_state_tensors(ema, ema_names or []), str(tmp / EMA_FILE))
            full_state["ema"] = {k: v for k, v in ema.state_dict().items() if k != "shadow_params"}
        (tmp / STATE_FILE).write_text(json.dumps(full_state, indent=2, default=str) + "\n")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_manifest(tmp)
        if final.exists():
            _remove(final)
        tmp.rename(final)
        if keep_last:
            for _, old in list_checkpoints(output_dir)[:-keep_last]:
                _remove(old)
        logger.info("saved checkpoint %s", final)
    accelerator.wait_for_everyone()
    return final


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).strip().splitlines()[:1]) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _module_names(keys: set[str]) -> set[str]:
    """``trainable.unet`` of ``trainable.unet.conv_in.weight``: the trained part a weight belongs to."""
    return {".".join(k.removeprefix("module.").split(".")[:2]) for k in keys}


def check_weights_match(path: str | Path, model: torch.nn.Module) -> None:
    """Raise a short :class:`~vvt.errors.InputFileError` when the weights saved in ``path/model.safetensors``
    are not those of ``model`` (e.g. a different ``trainable`` list), instead of torch's list of every key."""
    file = Path(path) / MODEL_FILE
    if not file.is_file():
        return  # sharded (DeepSpeed / FSDP) checkpoints: accelerate checks them
    with safe_open(str(file), framework="pt") as f:
        saved = {k.removeprefix("module.") for k in f.keys()}
    wanted = {k.removeprefix("module.") for k in model.state_dict()}
    if saved == wanted:
        return
    saved_parts, wanted_parts = _module_names(saved), _module_names(wanted)
    if saved_parts != wanted_parts:
        listed = lambda parts: ", ".join(sorted(p.removeprefix("trainable.") for p in parts)) or "none"  # noqa: E731
        raise InputFileError(
            file,
            f"the checkpoint trains [{listed(saved_parts)}] but this run trains [{listed(wanted_parts)}]; "
            "resume with the run's own trainable list (see its config.yaml) or start a new train.output_dir",
        )
    missing, unexpected = sorted(wanted - saved), sorted(saved - wanted)
    parts = []
    if missing:
        parts.append(f"{len(missing)} weight(s) of this model missing (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unknown to it (e.g. {unexpected[0]})")
    raise InputFileError(
        file, f"the checkpoint's model differs from this run's: {'; '.join(parts)}; resume with the run's config"
    )


def init_weights(source: str | Path, model: torch.nn.Module) -> Path:
    """Start ``model`` (the trainer's container of trainable modules) from the trained weights of another run:
    ``source`` is a checkpoint folder (``RUN/checkpoints/step-N``) or a run folder (its newest intact
    checkpoint). Only the weights are taken (``model.safetensors``, the raw weights, not the EMA's): the
    optimiser, LR schedule, EMA and step count start afresh (``train.init_from``: fine-tuning, or the next
    stage of a curriculum whose data or noise levels change). Returns the checkpoint folder used.

    Raises:
        InputFileError: no usable checkpoint there, or weights of other modules (one line naming the file).
    """
    source = Path(source)
    if not source.is_dir():
        raise InputFileError(source, "train.init_from: not a folder (give a run or RUN/checkpoints/step-N)")
    if (source / STATE_FILE).is_file():
        path = resolve_resume(source.parent.parent, source)
    else:
        path = resolve_resume(source, "latest")
        if path is None:
            raise InputFileError(source, "train.init_from: no checkpoint in this run (RUN/checkpoints/step-N)")
    file = path / MODEL_FILE
    if not file.is_file():
        raise InputFileError(file, "train.init_from: missing (sharded DeepSpeed / FSDP checkpoints are not read)")
    check_weights_match(path, model)
    try:
        tensors = load_file(str(file))
    except (SafetensorError, OSError) as exc:
        raise InputFileError(file, f"unreadable weights: {_first_line(exc)}") from None
    model.load_state_dict({k.removeprefix("module."): v for k, v in tensors.items()})
    return path


def load_checkpoint(
    accelerator: Any,
    path: str | Path,
    ema: Any = None,
    ema_names: list[str] | None = None,
    model: torch.nn.Module | None = None,
) -> dict[str, Any]:
    """Restore a checkpoint saved by :func:`save_checkpoint` into the prepared objects; return its state.

    Call :func:`resolve_resume` first (it verifies the files). ``model``: the (unwrapped) trained module, whose
    weight names are compared with the saved ones first (:func:`check_weights_match`). Errors that remain
    (an optimiser of other parameters...) are :class:`~vvt.errors.InputFileError` s of one line.
    """
    path = Path(path)
    state = _state(path)
    if state is None:
        raise InputFileError(path / STATE_FILE, "missing or not a JSON object (truncated?)")
    if model is not None:
        check_weights_match(path, model)
    try:
        accelerator.load_state(str(path))
    except (RuntimeError, OSError, ValueError, KeyError, EOFError, SafetensorError) as exc:
        raise InputFileError(path, f"cannot restore the checkpoint: {_first_line(exc)}") from None
    if ema is not None:
        ema_file = path / EMA_FILE
        if not ema_file.is_file():
            raise InputFileError(path, f"the run uses EMA but the checkpoint has no {EMA_FILE}")
        try:
            tensors = load_file(str(ema_file))
        except (SafetensorError, OSError) as exc:
            raise InputFileError(ema_file, f"unreadable EMA weights: {_first_line(exc)}") from None
        missing = [n for n in ema_names or [] if n not in tensors]
        if missing:
            raise InputFileError(
                ema_file, f"EMA weights missing for {len(missing)} parameter(s), e.g. {missing[0]}"
            )
        device = ema.shadow_params[0].device if ema.shadow_params else "cpu"
        shadow = [tensors[n].to(device) for n in ema_names or []]
        ema.load_state_dict({**state.get("ema", {}), "shadow_params": shadow})
    return state
