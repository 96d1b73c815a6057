"""Atomic training checkpoints: everything needed to continue a run exactly.

A checkpoint is a folder ``OUTPUT_DIR/checkpoints/step-NNNNNNN`` holding

* what ``accelerate`` saves with ``Accelerator.save_state``: the trained weights (``model.safetensors``, or
  DeepSpeed / FSDP shards), optimiser and LR-scheduler states, the gradient scaler, and one file of RNG
  states (Python, NumPy, torch CPU and CUDA) per process; accelerate reads them back with
  ``torch.load(weights_only=True)``;
* ``ema.safetensors``: the EMA shadow weights, named like the trained parameters;
* ``trainer_state.json``: the step, the data position (the next global batch of
  :class:`vvt.train.data.BatchStream`), the process count, the EMA counters and the run config.

It is written into ``checkpoints/.tmp-step-NNNNNNN`` and renamed once complete, so a crash while saving
leaves the previous checkpoints intact and never a folder that looks complete. Only the last ``keep_last``
checkpoints are kept.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vvt.errors import InputFileError

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
EMA_FILE = "ema.safetensors"
_NAME = re.compile(r"^step-(\d+)$")


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


def resolve_resume(output_dir: str | Path, resume: str | Path | None) -> Path | None:
    """The checkpoint folder to resume from: ``"latest"`` (None when the run has none yet) or a folder."""
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
        return found[-1][1]
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise InputFileError(
            path,
            f"not a vvt training checkpoint (no {STATE_FILE}); pass a folder "
            f"OUTPUT_DIR/{CHECKPOINTS}/step-NNNNNNN or 'latest'",
        )
    return path


def ema_state_tensors(ema: Any, names: list[str]) -> dict[str, torch.Tensor]:
    """EMA shadow parameters keyed by the names of the parameters they track."""
    return {n: t.detach().cpu().contiguous() for n, t in zip(names, ema.shadow_params)}


def save_checkpoint(
    accelerator: Any,
    output_dir: str | Path,
    step: int,
    state: dict[str, Any],
    ema: Any = None,
    ema_names: list[str] | None = None,
    keep_last: int | None = None,
) -> Path:
    """Save a checkpoint of ``step`` atomically; every process must call it.

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
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        if keep_last:
            for _, old in list_checkpoints(output_dir)[:-keep_last]:
                shutil.rmtree(old, ignore_errors=True)
        logger.info("saved checkpoint %s", final)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(
    accelerator: Any, path: str | Path, ema: Any = None, ema_names: list[str] | None = None
) -> dict[str, Any]:
    """Restore a checkpoint saved by :func:`save_checkpoint` into the prepared objects; return its state."""
    path = Path(path)
    state = json.loads((path / STATE_FILE).read_text())
    accelerator.load_state(str(path))
    if ema is not None:
        ema_file = path / EMA_FILE
        if not ema_file.is_file():
            raise InputFileError(path, f"the run uses EMA but the checkpoint has no {EMA_FILE}")
        tensors = load_file(str(ema_file))
        missing = [n for n in ema_names or [] if n not in tensors]
        if missing:
            raise InputFileError(
                ema_file, f"EMA weights missing for {len(missing)} parameter(s), e.g. {missing[0]}"
            )
        device = ema.shadow_params[0].device if ema.shadow_params else "cpu"
        shadow = [tensors[n].to(device) for n in ema_names or []]
        ema.load_state_dict({**state.get("ema", {}), "shadow_params": shadow})
    return state
