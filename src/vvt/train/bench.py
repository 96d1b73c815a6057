"""``vvt bench train``: one RealVVT training step at a preset's width, and the GPU memory plan it implies.

The step is the trainer's (Eq. 5: EDM DSM + ``lambda_agn`` L_agn, C&T attention, pose guider, garment
dropout) on a random batch with random weights in the preset's shapes (``full``: the published SVD-XT, SD 2.1
and CLIP ViT-H/14 configs, see :mod:`vvt.realvvt.presets`): forward, backward with gradient checkpointing in
both U-Nets, and an optimiser step over the trainable parts (both U-Nets and the pose guider, Sec. 3.2).

**Fitting the full model in a workstation's memory.** AdamW over the ~2.4 B trainable parameters needs 16
bytes each (fp32 weights, gradients and two moments: ~40 GB). The benchmark keeps fp32 master weights and
uses instead:

* **Adafactor** (``transformers.optimization.Adafactor``, ``beta1=None``: no first moment; factored second
  moments, a row and a column vector per matrix), at the paper's learning rate with a fixed step size
  (``relative_step=False``, ``scale_parameter=False``);
* **the optimiser step inside the backward pass**: each parameter is updated and its gradient freed as soon
  as it is complete (``Tensor.register_post_accumulate_grad_hook``), so the full set of gradients never
  exists (no global gradient clipping: it needs every gradient first);
* the frozen VAE and CLIP encoder in bf16 under bf16 autocast (as the trainer does on a GPU), in fp32 under
  ``--precision fp32``; autocast without its weight cache on the CPU (``cache_enabled=False``: the cache
  would hold a bf16 copy of every trainable weight).

The gradient norm of each trainable module is accumulated in the same hooks before the update.

**Memory plan.** From the measured step, the JSON estimates a GPU's peak memory for a target run (default:
the shipped ``realvvt-vivid-512x384`` config: 512x384, 16 frames, batch 2 per GPU, 8 GPUs): weights,
gradients and optimiser states by bytes per parameter (AdamW, 8-bit Adam, DeepSpeed ZeRO-2 sharding over
the GPUs), plus activations scaled from this run by the token count ``B * N * H * W``: with gradient
checkpointing from the measured growth of memory during the step (with ``--slope-frames``, from two steps
of different lengths: their difference is what grows with the tokens and is scaled, the rest - transient
gradients and buffers of the model's size - is added once; the growth of one step alone also holds that
rest, and scaling it as a whole overestimates), without it the same two steps measured again with
checkpointing off (without ``--slope-frames``: from the bytes the forward pass saves for backward, counted
with ``torch.autograd.graph.saved_tensors_hooks`` in an extra forward whose saved tensors are dropped: a lower
bound, which leaves out the transient buffers of each layer; always reported), plus the agnostic loss's
explicit attention probabilities at the target size (quadratic in the tokens per frame,
:meth:`~vvt.realvvt.model.RealVVT.agn_probability_bytes`). It is an estimate until measured on a GPU.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from vvt.commands import size_arg

GIB = 2**30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=["tiny", "small", "full"],
        default="tiny",
        help="model shapes: tiny (seconds), small, or full (SVD-XT + SD 2.1 + CLIP ViT-H/14: ~16 GB of RAM on CPU)",
    )
    parser.add_argument("--size", type=size_arg(8), default=(64, 48), metavar="HxW", help="frame size in pixels")
    parser.add_argument("--frames", type=int, default=4, help="frames per clip (N)")
    parser.add_argument("--batch", type=int, default=1, help="clips per step (B)")
    parser.add_argument(
        "--precision",
        choices=["bf16", "fp32"],
        default="bf16",
        help="bf16: bf16 autocast over fp32 master weights, frozen parts in bf16; fp32: everything in float32",
    )
    parser.add_argument("--steps", type=int, default=1, help="training steps to run and time (the mean is reported)")
    parser.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="activation checkpointing in both U-Nets",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda[:N] or mps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and batch")
    parser.add_argument(
        "--slope-frames",
        type=int,
        default=None,
        help="also run two steps with this many (fewer) frames first (a warm-up, then one measured): the memory "
        "plan then scales the growth "
        "*difference* between the two steps by the token count (what grows with the tokens), and adds the rest "
        "(transient gradients and buffers of the model's size) once",
    )
    parser.add_argument(
        "--plan",
        type=str,
        default="512x384x16x2x8",
        metavar="HxWxNxBxGPUS",
        help="the target run of the memory plan: frame size, frames, batch per GPU, GPUs",
    )


class PeakMemory:
    """Peak memory of a block: ``torch.cuda.max_memory_allocated`` on CUDA; on the CPU the resident set size
    sampled every 20 ms by a thread (``/proc/self/statm``), so that phases can be measured separately."""

    def __init__(self, device: Any):
        self.device = device
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def rss() -> int:
        import os
        import resource

        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def current(self) -> int:
        import torch

        if self.device.type == "cuda":
            return int(torch.cuda.memory_allocated(self.device))
        return self.rss()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> PeakMemory:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peak = self.rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = int(torch.cuda.max_memory_allocated(self.device))
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self.rss())


def random_batch(b: int, n: int, h: int, w: int, device: Any, seed: int) -> dict[str, Any]:
    """A training batch of the tensor contract with random frames and a box-shaped agnostic mask."""
    import torch

    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, n, 1, h, w)
    mask[..., h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 1
    batch = {
        key: torch.rand(b, n, 3, h, w, generator=g) * 2 - 1 for key in ("person", "agnostic", "densepose")
    }
    batch["agnostic_mask"] = mask
    batch["garment"] = torch.rand(b, 3, h, w, generator=g) * 2 - 1
    return {k: v.to(device) for k, v in batch.items()}


class StepInBackward:
    """Adafactor stepped per parameter inside ``backward`` (see the module docstring); accumulates each
    module's squared gradient norm before the update."""

    def __init__(self, modules: dict[str, Any], lr: float):
        from transformers.optimization import Adafactor

        self.sq_norms = {name: 0.0 for name in modules}
        self.handles = []
        self.optimizers = []
        for name, module in modules.items():
            for p in module.parameters():
                if not p.requires_grad:
                    continue
                opt = Adafactor([p], lr=lr, beta1=None, relative_step=False, scale_parameter=False)
                self.optimizers.append(opt)
                self.handles.append(p.register_post_accumulate_grad_hook(self._hook(name, opt)))

    def _hook(self, name: str, opt: Any):
        def step(p: Any) -> None:
            self.sq_norms[name] += float(p.grad.detach().float().pow(2).sum())
            opt.step()
            p.grad = None

        return step

    def grad_norms(self) -> dict[str, float]:
        return {name: sq**0.5 for name, sq in self.sq_norms.items()}

    def state_bytes(self) -> int:
        """Bytes of the optimiser states (allocated at the first step)."""
        return sum(
            t.untyped_storage().nbytes()
            for opt in self.optimizers
            for state in opt.state.values()
            for t in state.values()
            if hasattr(t, "untyped_storage")
        )

    def reset(self) -> None:
        self.sq_norms = dict.fromkeys(self.sq_norms, 0.0)


def saved_activation_bytes(model: Any, batch: dict[str, Any], seed: int, autocast: Any) -> int:
    """Bytes the forward pass saves for backward, parameters and their dtype casts excluded, without keeping
    them (an extra forward whose saved tensors are replaced by empty ones; no backward follows)."""
    import torch

    shapes = {(tuple(p.shape)) for p in model.parameters()}
    params = {p.data_ptr() for p in model.parameters()}
    seen: set[int] = set()
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params and tuple(t.shape) not in shapes and ptr not in seen:
            seen.add(ptr)
            total += t.untyped_storage().nbytes()
        return torch.empty(0)

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast():
        model(batch, torch.Generator(device=batch["person"].device).manual_seed(seed))
    model.clear_conditions()
    return total


def _plan(args_plan: str) -> dict[str, int]:
    from vvt.errors import OptionError

    try:
        h, w, n, b, gpus = (int(v) for v in args_plan.lower().split("x"))
    except ValueError:
        raise OptionError(f"--plan {args_plan!r}: expected HxWxNxBxGPUS, e.g. 512x384x16x2x8") from None
    return {"height": h, "width": w, "frames": n, "batch_per_gpu": b, "gpus": gpus}


def memory_plan(
    measured: dict[str, Any], plan: dict[str, int], trainable: int, frozen: int, agn_bytes: int
) -> dict[str, Any]:
    """GPU memory estimates (GiB) of ``plan`` for each optimiser / sharding / checkpointing / offload
    combination (see the module docstring)."""
    target_tokens = plan["batch_per_gpu"] * plan["frames"] * plan["height"] * plan["width"]
    scale = target_tokens / measured["tokens"]
    def scaled(large: int, small: int) -> float:  # what grows with the tokens scaled, the rest added once
        slope = max(large - small, 0) / (measured["tokens"] - measured["tokens_small"])
        return max(large - slope * measured["tokens"], 0) + slope * target_tokens

    act_ckpt = measured["step_growth_bytes"] * scale
    act_full = measured["saved_bytes_no_checkpointing"] * scale
    if "step_growth_bytes_small" in measured:
        act_ckpt = scaled(measured["step_growth_bytes"], measured["step_growth_bytes_small"])
    if "step_growth_bytes_no_checkpointing" in measured:
        act_full = scaled(measured["step_growth_bytes_no_checkpointing"],
                          measured["step_growth_bytes_small_no_checkpointing"])
    gpus = plan["gpus"]
    weights = 4 * trainable  # fp32 master weights
    autocast_cache = 2 * trainable  # bf16 copies of the trainable weights (autocast's cache on a GPU)
    grads = 4 * trainable
    frozen_bf16 = 2 * frozen
    optimisers = {"adamw": 8 * trainable, "adam8bit": 2 * trainable}
    rows = []
    for opt, states in optimisers.items():
        for sharding, div in (("ddp", 1), ("zero2", gpus)):
            fixed = weights + autocast_cache + (grads + states) / div
            for ckpt, act in (("checkpointing", act_ckpt), ("no_checkpointing", act_full)):
                for offload in (False, True):
                    total = fixed + act + agn_bytes + (0 if offload else frozen_bf16)
                    rows.append(
                        {
                            "optimizer": opt,
                            "sharding": sharding,
                            "activations": ckpt,
                            "frozen_parts_offloaded_to_cpu": offload,
                            "gib": round(total / GIB, 1),
                        }
                    )
    return {
        "target": plan,
        "token_scale": scale,
        "status": "estimate, not measured on a GPU",
        "bytes_per_trainable_parameter": {
            "fp32_weights": 4,
            "bf16_autocast_cache": 2,
            "fp32_gradients": 4,
            "adamw_states": 8,
            "adam8bit_states": 2,
            "zero2": f"gradients and optimiser states divided by {gpus}",
        },
        "gib_parts": {
            "trainable_weights_fp32": round(weights / GIB, 1),
            "autocast_cache_bf16": round(autocast_cache / GIB, 1),
            "gradients_fp32": round(grads / GIB, 1),
            "adamw_states": round(optimisers["adamw"] / GIB, 1),
            "adam8bit_states": round(optimisers["adam8bit"] / GIB, 1),
            "frozen_parts_bf16": round(frozen_bf16 / GIB, 1),
            "activations_checkpointing": round(act_ckpt / GIB, 1),
            "activations_no_checkpointing": round(act_full / GIB, 1),
            "agnostic_loss_probabilities": round(agn_bytes / GIB, 2),
        },
        "estimates": rows,
    }


def run(args: argparse.Namespace) -> dict:
    import contextlib
    import functools
    import gc
    import math

    import torch

    from vvt.checks import resolve_device
    from vvt.errors import ConfigError
    from vvt.realvvt.config import RealVVTConfig
    from vvt.realvvt.model import RealVVT
    from vvt.train.config import TrainerConfig

    if args.frames < 1 or args.steps < 1 or args.batch < 1:
        raise ConfigError("--frames, --batch and --steps must be at least 1")
    if args.slope_frames is not None and not 1 <= args.slope_frames < args.frames:
        raise ConfigError(f"--slope-frames {args.slope_frames} must be at least 1 and below --frames {args.frames}")
    plan = _plan(args.plan)
    device = torch.device(resolve_device(args.device))
    (h, w), n, b = args.size, args.frames, args.batch
    bf16 = args.precision == "bf16"

    build_start = time.perf_counter()
    config = RealVVTConfig(preset=args.preset, seed=args.seed, torch_dtype="fp32")
    model = RealVVT.from_config(config)
    model.check_agn_memory((h, w), n, b)
    for part in model.frozen_modules().values():
        part.to(device, torch.bfloat16 if bf16 else torch.float32)
    for part in model.trainable_modules().values():
        part.to(device)
    model.set_gradient_checkpointing(args.gradient_checkpointing)
    model.train()
    model.vae.eval()
    model.image_encoder.eval()
    build_s = time.perf_counter() - build_start
    trainable = model.trainable_modules()
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in trainable.items()}
    frozen = sum(p.numel() for m in model.frozen_modules().values() for p in m.parameters())

    autocast = functools.partial(torch.autocast, device.type, dtype=torch.bfloat16, cache_enabled=device.type == "cuda")
    if not bf16:
        autocast = contextlib.nullcontext
    batch = random_batch(b, n, h, w, device, args.seed)

    optimizer = StepInBackward(trainable, lr=TrainerConfig().learning_rate)

    def one_step(clip: dict[str, Any], step: int) -> dict[str, float]:
        optimizer.reset()
        with autocast():
            out = model(clip, torch.Generator(device=device).manual_seed(args.seed + step))
        out["loss"].backward()
        model.clear_conditions()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return {k: float(v.detach()) for k, v in out.items()}

    def growth(clip: dict[str, Any], step: int) -> int:
        """Peak memory growth of one more step (after a first one allocated what later steps reuse)."""
        gc.collect()
        meter = PeakMemory(device)
        start = meter.current()
        with meter:
            one_step(clip, step)
        return max(meter.peak - start, 0)

    small: dict[str, int] = {}
    short = random_batch(b, args.slope_frames, h, w, device, args.seed) if args.slope_frames else None
    if short is not None:
        one_step(short, args.steps)  # a first step allocates what every later one reuses (optimiser states...)
        small = {"tokens_small": b * args.slope_frames * h * w, "step_growth_bytes_small": growth(short, args.steps)}
    gc.collect()
    meter = PeakMemory(device)
    before = meter.current()
    states_before = optimizer.state_bytes()
    losses, times = [], []
    with meter:
        for step in range(args.steps):
            start = time.perf_counter()
            losses.append(one_step(batch, step))
            times.append(time.perf_counter() - start)
    norms = optimizer.grad_norms()
    for handle in optimizer.handles:
        handle.remove()
    finite = all(math.isfinite(v) and v > 0 for v in norms.values()) and all(
        math.isfinite(v) for loss in losses for v in loss.values()
    )

    model.set_gradient_checkpointing(False)
    if short is not None and args.gradient_checkpointing:  # the same two measurements without checkpointing
        small["step_growth_bytes_small_no_checkpointing"] = growth(short, args.steps)
        small["step_growth_bytes_no_checkpointing"] = growth(batch, args.steps)
    saved_bytes = saved_activation_bytes(model, batch, args.seed, autocast)

    measured = {
        "tokens": b * n * h * w,
        # the step's growth less the optimiser states it allocated: activations (and transient gradients)
        "step_growth_bytes": max(meter.peak - before - (optimizer.state_bytes() - states_before), 0),
        "optimizer_state_bytes": optimizer.state_bytes(),
        "saved_bytes_no_checkpointing": saved_bytes,
        **small,
    }
    agn = model.agn_probability_bytes((plan["height"], plan["width"]), plan["frames"], plan["batch_per_gpu"])
    return {
        "preset": args.preset,
        "size": [h, w],
        "frames": n,
        "batch": b,
        "device": device.type,
        "precision": (
            "bf16 autocast over fp32 master weights; frozen VAE and CLIP in bf16"
            if bf16
            else "fp32 weights and activations"
        ),
        "gradient_checkpointing": args.gradient_checkpointing,
        "optimizer": (
            "Adafactor (transformers; beta1=None, factored second moments, lr 5e-5, relative_step=False, "
            "scale_parameter=False) stepped per parameter inside backward (register_post_accumulate_grad_hook): "
            "gradients freed as they complete, no gradient clipping. The memory-light stand-in for AdamW "
            "(16 bytes/parameter = ~40 GB over the trainable parameters), chosen to fit a 24 GiB workstation"
        ),
        "loss": "EDM DSM (Eq. 2) + lambda_agn * L_agn (Eq. 4), C&T attention, pose guider, garment dropout",
        "parameters": {"trainable": counts, "frozen": frozen},
        "build_s": build_s,
        "step_s": sum(times) / len(times),
        "step_times_s": times,
        "losses": losses,
        "grad_norms": norms,
        "all_finite_and_nonzero": finite,
        "memory_measure": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "sampled process RSS",
        "memory_before_step_bytes": before,
        "peak_memory_bytes": meter.peak,
        "measured": measured,
        "memory_plan": memory_plan(measured, plan, sum(counts.values()), frozen, agn),
    }
