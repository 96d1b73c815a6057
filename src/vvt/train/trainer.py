"""The generic accelerate training loop behind ``vvt train TASK``.

A *task* says what to train; the :class:`Trainer` does everything else (devices, processes, mixed
precision, gradient accumulation and checkpointing, AdamW, LR schedule, EMA, checkpoints, resume,
TensorBoard, sample videos, NaN and Ctrl-C handling). A task is any object with these methods
(:class:`Task`):

``trainable_modules() -> dict[str, nn.Module]``
    The modules whose parameters the optimiser updates (and the EMA tracks). They are checkpointed.
``frozen_modules() -> dict[str, nn.Module]``
    Modules used in ``training_step`` but never updated (VAE, image encoder...). The trainer moves them to
    the device, puts them in eval mode, turns their gradients off and leaves them out of checkpoints.
``datasets() -> list[tuple[Dataset, float]]``
    Map-style datasets and their mixing weights. Each item is a dict of tensors (no batch dim) and strings;
    batches are stacked with ``default_collate``. Build and validate the datasets here, so that a missing or
    malformed dataset fails before any training starts.
``training_step(batch, generator) -> dict[str, Tensor]``
    The losses of one micro-batch (already on the device). Must contain ``"loss"`` (what is minimised);
    every entry is logged separately (TensorBoard and the progress bar). All randomness of the step (noise,
    sigmas, dropout of conditions, frame choices) must be drawn from ``generator``, a ``torch.Generator`` on
    the training device seeded from (run seed, global batch index): this is what makes resume exact and a
    two-process run equal to a one-process run with two accumulation micro-steps.
``write_sample(batch, path)``
    Write a sample video for ``batch`` (on the device) to ``path`` (``.mp4``). Called under ``no_grad`` with
    the EMA weights swapped in, on the main process, every ``sample_every`` steps.
``save_pretrained(directory)``
    Export the trained model in its reusable form (e.g. a diffusers folder); called at the end with the EMA
    weights swapped in.

Optional attribute: ``find_unused_parameters = True`` when some trainable parameters may get no gradient in a
step (e.g. the Reference U-Net's output layers, whose result RealVVT never reads); DDP then looks for them.

Optional stages (training in stages, e.g. FashionMirror Sec. 4.1: its mask network first, then the whole
model end to end): ``stages() -> list[tuple[str, int]]`` names each stage and the number of optimisation
steps done before it starts (the first starts at 0, the others later, increasing); ``set_stage(name)``
switches the task, after which ``trainable_modules()`` and ``training_step`` are those of the stage. The
trainer holds the union of every stage's trainable modules (all of them checkpointed); the modules outside
the current stage idle: no gradients, eval mode. Each stage starts a fresh AdamW, LR schedule (warm-up and
``num_training_steps`` over the stage's own length) and EMA over its own parameters, from the weights the
previous stage left, as if it were a new run initialised from the last one. The switch happens just before
the stage's first step; a checkpoint records the stage whose optimiser it holds, a resumed run rebuilds that
stage and switches when its next step needs it, so a run resumed anywhere, across a switch included, ends
with the same weights as an uninterrupted one. Staged tasks run in one process or under DDP (DeepSpeed and
FSDP own the model and optimiser and cannot be re-prepared mid-run).

The task's own code calls its modules directly: the trainer wraps the trainable modules in one container
module whose ``forward(batch, generator)`` is ``task.training_step``, and prepares that container with
accelerate, so DDP / DeepSpeed see every forward pass.

Determinism and resume: the data stream is a pure function of (seed, global batch index)
(:mod:`vvt.train.data`); the step generator is seeded from the same index; global RNG states (used e.g. by
dropout) are captured at the end of every step and saved in checkpoints. A run interrupted at step ``k`` and
resumed with ``--resume latest`` reaches step ``2k`` with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import random
import signal
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, default_collate

from vvt.checks import has_accelerator
from vvt.config import save_config, to_dict, value_problems
from vvt.errors import ConfigError, VVTError
from vvt.io.atomic import is_vvt_output, mark_output
from vvt.train.checkpoint import STATE_FILE, init_weights, load_checkpoint, resolve_resume, save_checkpoint
from vvt.train.config import TrainerConfig
from vvt.train.data import BatchStream, KeyedDataset

logger = logging.getLogger(__name__)


class TrainingDivergedError(VVTError):
    """The loss became NaN or infinite; the run stopped without saving the diverged weights."""


@runtime_checkable
class Task(Protocol):
    """What :class:`Trainer` needs from a training task (see the module docstring)."""

    def trainable_modules(self) -> dict[str, nn.Module]: ...

    def frozen_modules(self) -> dict[str, nn.Module]: ...

    def datasets(self) -> list[tuple[Dataset, float]]: ...

    def training_step(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, torch.Tensor]: ...

    def write_sample(self, batch: dict[str, Any], path: Path) -> None: ...

    def save_pretrained(self, directory: Path) -> None: ...


class TaskModule(nn.Module):
    """The trainable modules of a task in one ``nn.Module`` whose forward is ``task.training_step``.

    ``modules`` (default ``task.trainable_modules()``) is, for a staged task, the union over its stages;
    :meth:`activate` selects the current stage's modules, the others idle (no gradients, eval mode).
    """

    def __init__(self, task: Task, modules: dict[str, nn.Module] | None = None):
        super().__init__()
        self.trainable = nn.ModuleDict(task.trainable_modules() if modules is None else modules)
        self.__dict__["task"] = task  # a plain attribute, not a registered submodule
        self._requires_grad = {id(p): p.requires_grad for p in self.parameters()}
        self.idle: set[str] = set()

    def activate(self, names: Iterable[str]) -> None:
        """Train the modules ``names`` (their parameters' own ``requires_grad``); the others idle."""
        active = set(names)
        self.idle = set(self.trainable) - active
        trained = {
            id(p) for k in active for p in self.trainable[k].parameters() if self._requires_grad[id(p)]
        }
        for p in self.parameters():
            p.requires_grad_(id(p) in trained)
        self.train(self.training)

    def train(self, mode: bool = True) -> TaskModule:
        super().train(mode)
        for name in self.idle:
            self.trainable[name].eval()
        return self

    def forward(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, torch.Tensor]:
        return self.task.training_step(batch, generator)


@dataclass
class TrainResult:
    """How a call to :meth:`Trainer.train` ended."""

    step: int
    checkpoint: Path | None
    final_dir: Path | None
    losses: dict[str, float]


def step_seed(seed: int, global_batch: int) -> int:
    """Seed of the ``generator`` given to ``training_step`` for global batch ``global_batch``."""
    return int(np.random.SeedSequence([seed, 0x57E9, global_batch]).generate_state(2, np.uint64)[0] >> 1)


def capture_rng() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA RNG states."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back states captured by :func:`capture_rng`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with its tensors (in dicts, lists and tuples of tensors) on ``device``; the rest as is."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def _enable_gradient_checkpointing(name: str, module: nn.Module) -> None:
    if getattr(module, "_supports_gradient_checkpointing", False):
        module.enable_gradient_checkpointing()
    elif getattr(module, "supports_gradient_checkpointing", False):
        module.gradient_checkpointing_enable()
    else:
        logger.info("gradient checkpointing: %s does not support it, left as is", name)


def _adamw(name: str) -> type:
    """The optimiser class of ``train.optimizer``: torch's AdamW or bitsandbytes' 8-bit AdamW."""
    if name == "adamw":
        return torch.optim.AdamW
    try:
        import bitsandbytes
    except ImportError:
        raise ConfigError(
            "train.optimizer=adamw8bit needs bitsandbytes (pip install bitsandbytes) and a GPU; "
            "or use train.optimizer=adamw"
        ) from None
    return bitsandbytes.optim.AdamW8bit


class Trainer:
    """Trains a :class:`Task` with accelerate (see the module docstring).

    Args:
        task: the task to train.
        config: the loop's settings.
        run_config: the full run config (dataclass), saved with every checkpoint and as ``config.yaml``.
        name: the task's name (TensorBoard run name, log lines).
    """

    def __init__(self, task: Task, config: TrainerConfig, run_config: Any = None, name: str = "train"):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration

        for attr in (
            "trainable_modules",
            "frozen_modules",
            "datasets",
            "training_step",
            "write_sample",
            "save_pretrained",
        ):
            if not callable(getattr(task, attr, None)):
                raise TypeError(f"{type(task).__name__} is not a vvt training task: it has no {attr}()")
        self._check_config(config)
        self.task, self.config, self.run_config, self.name = task, config, run_config, name
        self.output_dir = Path(config.output_dir)
        self.accelerator = Accelerator(
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            mixed_precision=config.mixed_precision,
            log_with="tensorboard",
            project_config=ProjectConfiguration(
                project_dir=str(self.output_dir), logging_dir=str(self.output_dir / "logs")
            ),
            step_scheduler_with_optimizer=False,
            cpu=not has_accelerator(),
            kwargs_handlers=[
                DistributedDataParallelKwargs(
                    find_unused_parameters=bool(getattr(task, "find_unused_parameters", False))
                )
            ],
        )
        if config.ema.enabled and self.accelerator.distributed_type.value == "FSDP":
            raise ConfigError(
                "train.ema.enabled with FSDP is not supported (EMA needs whole parameters); "
                "use DDP or DeepSpeed ZeRO-2, or set train.ema.enabled=false"
            )
        self.stages = self._task_stages()
        if len(self.stages) > 1 and self.accelerator.distributed_type.value in ("DEEPSPEED", "FSDP"):
            raise ConfigError(
                f"task {self.name!r} trains in stages, which needs one process or DDP "
                f"(not {self.accelerator.distributed_type.value}): its optimiser is rebuilt at each stage"
            )
        self._stop_requested = False

    # ----------------------------------------------------------------------------------------------- setup
    @staticmethod
    def _check_config(config: TrainerConfig) -> None:
        """Every value in the range its field allows (:class:`~vvt.train.config.TrainerConfig`: counts and
        periods the loop divides by, learning rate > 0...): a clear error before any work."""
        problems = value_problems(config, "train")
        if problems:
            raise ConfigError("; ".join(problems))

    def _task_stages(self) -> list[tuple[str | None, int]]:
        """``(name, steps before it)`` of each stage: the task's ``stages()``, or one unnamed stage."""
        if not callable(getattr(self.task, "stages", None)):
            return [(None, 0)]
        stages = [(str(name), int(start)) for name, start in self.task.stages()]
        starts = [start for _, start in stages]
        if not stages or starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])):
            raise ConfigError(
                f"task {self.name!r}: stages must start at step 0, then at increasing steps; got {stages}"
            )
        return stages

    def _stage_index(self, step: int) -> int:
        """The stage of optimisation step ``step`` (1-based): the last one started before it."""
        return max(i for i, (_, start) in enumerate(self.stages) if start < max(step, 1))

    def _saved_stage(self, checkpoint: Path) -> int:
        """The stage whose optimiser ``checkpoint`` holds: that of its last or of its next step."""
        saved = json.loads((checkpoint / STATE_FILE).read_text())
        step, names = int(saved["step"]), [name for name, _ in self.stages]
        fits = {self._stage_index(step), self._stage_index(step + 1)}
        index = names.index(saved.get("stage")) if saved.get("stage") in names else None
        if index not in fits:
            raise ConfigError(
                f"{checkpoint} holds stage {saved.get('stage')!r} at step {step}, which the config's stages "
                f"{self.stages} do not put there; resume with the run's own stages"
            )
        return index

    def _setup_modules(self) -> TaskModule:
        acc, cfg = self.accelerator, self.config
        weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(acc.mixed_precision, torch.float32)
        for module in self.task.frozen_modules().values():
            module.requires_grad_(False)
            module.eval()
            module.to(acc.device, dtype=weight_dtype if acc.device.type == "cuda" else None)
        modules: dict[str, nn.Module] = {}
        for stage, _ in self.stages:
            if stage is not None:
                self.task.set_stage(stage)
            for key, module in self.task.trainable_modules().items():
                if modules.setdefault(key, module) is not module:
                    raise ConfigError(f"task {self.name!r}: trainable module {key!r} differs between stages")
        container = TaskModule(self.task, modules)
        if cfg.gradient_checkpointing:
            for name, module in container.trainable.items():
                _enable_gradient_checkpointing(name, module)
        container.to(acc.device)
        container.train()
        return container

    def _build_stage(self, container: TaskModule, index: int) -> tuple[Any, ...]:
        """Activate stage ``index``; a fresh AdamW, LR schedule and EMA over its parameters, prepared.

        Returns ``(model, optimizer, scheduler, ema, params, names)``.
        """
        from diffusers.optimization import get_scheduler
        from diffusers.training_utils import EMAModel

        acc, cfg = self.accelerator, self.config
        stage, start = self.stages[index]
        if stage is not None:
            self.task.set_stage(stage)
        container.activate(self.task.trainable_modules())
        named = [(n, p) for n, p in container.named_parameters() if p.requires_grad]
        if not named:
            raise ConfigError(
                f"task {self.name!r}{f' stage {stage!r}' if stage else ''}: nothing to train "
                "(every parameter is frozen)"
            )
        params, names = [p for _, p in named], [n for n, _ in named]
        end = self.stages[index + 1][1] if index + 1 < len(self.stages) else cfg.max_steps
        optimizer = _adamw(cfg.optimizer)(
            params,
            lr=cfg.learning_rate,
            betas=(cfg.adam_beta1, cfg.adam_beta2),
            weight_decay=cfg.weight_decay,
            eps=cfg.adam_epsilon,
        )
        scheduler = get_scheduler(
            cfg.lr_scheduler,
            optimizer,
            num_warmup_steps=cfg.lr_warmup_steps,
            num_training_steps=min(end, cfg.max_steps) - start,
        )
        model, optimizer, scheduler = acc.prepare(container, optimizer, scheduler)
        ema = None
        if cfg.ema.enabled:
            ema = EMAModel(
                params,
                decay=cfg.ema.decay,
                update_after_step=cfg.ema.update_after_step,
                use_ema_warmup=cfg.ema.use_warmup,
                inv_gamma=cfg.ema.inv_gamma,
                power=cfg.ema.power,
            )
        if stage is not None:
            logger.info("stage %s from step %d: %d trainable tensors", stage, start + 1, len(params))
        return model, optimizer, scheduler, ema, params, names

    def _loader(self, datasets: list[tuple[Dataset, float]], start: int) -> DataLoader:
        acc, cfg = self.accelerator, self.config
        stream = BatchStream(
            [len(d) for d, _ in datasets],
            [w for _, w in datasets],
            cfg.batch_size,
            cfg.seed,
            acc.process_index,
            acc.num_processes,
            start=start,
        )
        return DataLoader(
            KeyedDataset([d for d, _ in datasets]),
            batch_sampler=stream,
            collate_fn=default_collate,
            num_workers=cfg.num_workers,
            pin_memory=acc.device.type == "cuda",
            generator=torch.Generator().manual_seed(cfg.seed),
        )

    @staticmethod
    def _sample_batch(datasets: list[tuple[Dataset, float]], batch_size: int, seed: int) -> dict[str, Any]:
        """Global batch 0: the fixed batch every sample video shows. Reading it checks the data early."""
        keyed = KeyedDataset([d for d, _ in datasets])
        stream = BatchStream([len(d) for d, _ in datasets], [w for _, w in datasets], batch_size, seed)
        return default_collate([keyed[k] for k in stream.global_batch(0)])

    @contextmanager
    def _sigint_handler(self):
        """First Ctrl-C: finish the current step, save a checkpoint, stop. Second: abort at once."""

        def handler(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            logger.warning(
                "interrupt: finishing the current step, then saving a checkpoint (Ctrl-C again aborts)"
            )

        try:
            previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _any_process(self, flag: bool) -> bool:
        if self.accelerator.num_processes == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.accelerator.device)
        return bool(self.accelerator.reduce(t, reduction="sum").item() > 0)

    # ------------------------------------------------------------------------------------------- the loop
    def train(
        self, resume: str | Path | None = None, inexact: bool = False, verified: bool = False
    ) -> TrainResult:
        """Train to ``config.max_steps``, resuming from ``resume`` (a checkpoint folder or ``"latest"``).

        The checkpoint is verified first (:func:`vvt.train.checkpoint.resolve_resume`: ``latest`` falls back
        to the newest intact one); ``inexact`` accepts one whose RNG states are missing or unreadable;
        ``verified``: ``resume`` is a folder that ``resolve_resume`` already returned (not verified again).
        Returns at ``max_steps`` after a final checkpoint and the export to ``output_dir/final``. Raises
        :class:`TrainingDivergedError` on a NaN/inf loss (no checkpoint of the diverged state is written), and
        re-raises ``KeyboardInterrupt`` after saving a checkpoint of the last completed step.
        """
        cfg = self.config
        threads = torch.get_num_threads()
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        try:
            return self._train(resume, inexact, verified)
        finally:
            torch.set_num_threads(threads)

    def _train(self, resume: str | Path | None, inexact: bool, verified: bool) -> TrainResult:
        from tqdm.auto import tqdm

        acc, cfg = self.accelerator, self.config
        datasets = self.task.datasets()
        if not datasets or any(len(d) == 0 for d, _ in datasets):
            raise ConfigError(f"task {self.name!r}: the training data is empty")
        sample_batch = self._sample_batch(datasets, cfg.batch_size, cfg.seed) if acc.is_main_process else None
        checkpoint = Path(resume) if verified and resume is not None else resolve_resume(
            self.output_dir, resume, inexact
        )

        container = self._setup_modules()
        if checkpoint is None and cfg.init_from is not None:
            source = init_weights(cfg.init_from, container)
            logger.info("starting from the weights of %s (fresh optimiser and step count)", source)
        stage = self._stage_index(1) if checkpoint is None else self._saved_stage(checkpoint)
        model, optimizer, scheduler, ema, params, names = self._build_stage(container, stage)

        step, start_batch, saved_step = 0, 0, -1
        if checkpoint is not None:
            state = load_checkpoint(acc, checkpoint, ema, names, model=container)
            step = saved_step = int(state["step"])
            start_batch = -(-int(state["next_global_batch"]) // acc.num_processes)
            if state.get("num_processes") != acc.num_processes:
                logger.warning(
                    "resuming %s saved with %s process(es) on %d: the data order continues but the "
                    "run will not match an uninterrupted one exactly",
                    checkpoint,
                    state.get("num_processes"),
                    acc.num_processes,
                )
            logger.info("resumed from %s at step %d", checkpoint, step)
        if acc.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            mark_output(self.output_dir)
            if self.run_config is not None:
                save_config(self.run_config, self.output_dir / "config.yaml")
        acc.init_trackers(self.name)

        A, W = cfg.gradient_accumulation_steps, acc.num_processes
        loader = iter(self._loader(datasets, start=start_batch))
        last_checkpoint = checkpoint
        self._stop_requested = False
        rng_at_step = capture_rng()
        updating = False
        losses_avg: dict[str, float] = {}

        def save(at_step: int) -> Path:
            # accelerate's micro-step counter, so gradient accumulation stays in phase after a resume
            acc.step = at_step * A
            state = {
                "step": at_step,
                "next_global_batch": at_step * A * W,
                "num_processes": W,
                "batch_size": cfg.batch_size,
                "gradient_accumulation_steps": A,
                "seed": cfg.seed,
                "stage": self.stages[stage][0],
                "config": to_dict(self.run_config) if self.run_config is not None else None,
            }
            return save_checkpoint(acc, self.output_dir, at_step, state, ema, names, keep_last=cfg.keep_last)

        bar = tqdm(
            total=cfg.max_steps,
            initial=step,
            desc=f"train {self.name}",
            unit="step",
            disable=not acc.is_local_main_process,
            dynamic_ncols=True,
        )
        try:
            with self._sigint_handler():
                while step < cfg.max_steps:
                    if self._stage_index(step + 1) != stage:
                        updating = True  # no checkpoint of a half-built stage
                        container = acc.unwrap_model(model, keep_fp32_wrapper=False)
                        model = optimizer = scheduler = ema = None
                        acc.free_memory()
                        stage = self._stage_index(step + 1)
                        model, optimizer, scheduler, ema, params, names = self._build_stage(container, stage)
                        acc.step = step * A
                        updating = False
                    sums: dict[str, torch.Tensor] = {}
                    for micro in range(A):
                        global_batch = (step * A + micro) * W + acc.process_index
                        batch = to_device(next(loader), acc.device)
                        generator = torch.Generator(device=acc.device).manual_seed(
                            step_seed(cfg.seed, global_batch)
                        )
                        with acc.accumulate(model):
                            losses = model(batch, generator)
                            self._check_losses(losses, step + 1, saved_step)
                            acc.backward(losses["loss"])
                            if acc.sync_gradients:
                                if cfg.max_grad_norm is not None:
                                    acc.clip_grad_norm_(params, cfg.max_grad_norm)
                                updating = True
                            optimizer.step()
                            if acc.sync_gradients:
                                scheduler.step()
                            optimizer.zero_grad(set_to_none=True)
                        for k, v in losses.items():
                            sums[k] = sums.get(k, 0.0) + v.detach().float() / A
                    if ema is not None:
                        ema.step(params)
                    step += 1
                    updating = False
                    rng_at_step = capture_rng()

                    losses_avg = self._log(sums, step, scheduler.get_last_lr()[0], bar)
                    if acc.is_main_process and (step % cfg.sample_every == 0 or step == cfg.max_steps):
                        self._write_sample(model, ema, params, sample_batch, step)
                    if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
                        last_checkpoint, saved_step = save(step), step
                    if self._any_process(self._stop_requested):
                        if saved_step != step:
                            last_checkpoint, saved_step = save(step), step
                        logger.warning(
                            "stopped at step %d; checkpoint %s (continue with --resume latest)",
                            step,
                            last_checkpoint,
                        )
                        raise KeyboardInterrupt
            bar.close()
            final_dir = self._export(ema, params) if acc.is_main_process else None
            acc.wait_for_everyone()
        except KeyboardInterrupt:
            self._save_on_interrupt(updating, step, saved_step, rng_at_step, save)
            raise
        finally:
            bar.close()
            acc.end_training()
        return TrainResult(step=step, checkpoint=last_checkpoint, final_dir=final_dir, losses=losses_avg)

    # ------------------------------------------------------------------------------------------ helpers
    def _check_losses(self, losses: Any, step: int, saved_step: int) -> None:
        if not isinstance(losses, Mapping) or "loss" not in losses:
            raise TypeError(
                f"{type(self.task).__name__}.training_step must return a dict with a 'loss' entry"
            )
        bad = not bool(torch.isfinite(losses["loss"].detach()).all())
        if self._any_process(bad):
            kept = (
                f"the last good checkpoint is {self.output_dir / 'checkpoints'}/step-{saved_step:07d}"
                if saved_step >= 0
                else "no checkpoint had been saved yet"
            )
            values = ", ".join(f"{k}={float(v.detach().float().mean()):.4g}" for k, v in losses.items())
            raise TrainingDivergedError(
                f"the loss is not finite at step {step} ({values}); training stopped and {kept} "
                "(try a lower train.learning_rate, train.mixed_precision=bf16 instead of fp16, "
                "or train.max_grad_norm)"
            )

    def _log(self, sums: dict[str, torch.Tensor], step: int, lr: float, bar: Any) -> dict[str, float]:
        acc = self.accelerator
        keys = sorted(sums)
        values = torch.stack([torch.as_tensor(sums[k], device=acc.device).float().reshape(()) for k in keys])
        if acc.num_processes > 1:
            values = acc.reduce(values, reduction="mean")
        logs = {k: float(v) for k, v in zip(keys, values.tolist())}
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
        if step % self.config.log_every == 0 or step == self.config.max_steps:
            acc.log({**{f"train/{k}": v for k, v in logs.items()}, "train/lr": lr}, step=step)
        return logs

    def _swap_ema(self, ema: Any, params: list[nn.Parameter]) -> Callable[[], None]:
        """Put the EMA weights into ``params``; return the function that puts the trained weights back."""
        if ema is None:
            return lambda: None
        ema.store(params)
        ema.copy_to(params)
        return lambda: ema.restore(params)

    def _write_sample(
        self, model: nn.Module, ema: Any, params: list[nn.Parameter], batch: dict[str, Any], step: int
    ) -> None:
        container = self.accelerator.unwrap_model(model)
        path = self.output_dir / "samples" / f"step-{step:07d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        restore = self._swap_ema(ema, params)
        container.eval()
        try:
            with (
                torch.no_grad(),
                torch.random.fork_rng(
                    devices=[self.accelerator.device] if self.accelerator.device.type == "cuda" else []
                ),
            ):
                self.task.write_sample(to_device(batch, self.accelerator.device), path)
        finally:
            container.train()
            restore()
        logger.info("wrote sample %s", path)

    def _save_on_interrupt(
        self,
        updating: bool,
        step: int,
        saved_step: int,
        rng_at_step: dict[str, Any],
        save: Callable[[int], Path],
    ) -> None:
        """A ``KeyboardInterrupt`` raised inside a step: save the last completed step when that is safe."""
        if saved_step == step:
            return
        if updating:
            logger.warning(
                "interrupted while updating the weights: not saving; the last checkpoint is step %d",
                saved_step,
            )
            return
        if self.accelerator.num_processes > 1:
            logger.warning(
                "interrupt raised in one process only: not saving (use Ctrl-C, which every process "
                "handles at a step boundary); the last checkpoint is step %d",
                saved_step,
            )
            return
        restore_rng(rng_at_step)
        path = save(step)
        logger.warning("interrupted during step %d: saved %s (continue with --resume latest)", step + 1, path)

    def _export(self, ema: Any, params: list[nn.Parameter]) -> Path:
        from vvt.io import atomic_path

        final = self.output_dir / "final"
        if final.is_dir() and is_vvt_output(self.output_dir):
            mark_output(final)  # a run folder's export is vvt's own (one written before vvt marked its outputs)
        restore = self._swap_ema(ema, params)
        try:
            with atomic_path(final) as tmp:
                self.task.save_pretrained(tmp)
        finally:
            restore()
        logger.info("exported the %s weights to %s", "EMA" if ema is not None else "trained", final)
        return final
