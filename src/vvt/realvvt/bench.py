"""``vvt bench realvvt``: the cost of RealVVT's additions over the plain SVD spatio-temporal U-Net.

In one run, with the same weights and shapes, it times one denoising step (a U-Net forward on both
classifier-free guidance branches, batch 2, unless ``--no-cfg``) of

* (a) the plain spatio-temporal U-Net, as SVD ships it: 8 input channels, diffusers' stock attention;
* (b) RealVVT's: 9 input channels, C&T attention on every spatial self-attention (keys ``[x_i, x_j, c]``) and
  the pose-guider features added after ``conv_in``,

and reports their ``ratio`` (b / a). The one-off costs of a video - the Reference U-Net pass that fills the
garment bank and the pose guider - are timed separately. Weights are random (the preset's shapes): speed and
memory do not depend on them. Peak memory is ``torch.cuda.max_memory_allocated`` on CUDA (weights included,
reset before each phase; the Reference U-Net, VAE and CLIP are moved off the device for (b), whose peak holds
the U-Net, the pose guider, the garment bank and the pose features); on CPU it is the process's peak resident
set size after each phase (a high-water mark, so (b), measured second, is at least (a): compare memory on
CUDA).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from vvt.checks import add_device_argument
from vvt.commands import size_arg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=["tiny", "full"],
        default="tiny",
        help="model shapes: tiny (CPU-sized) or full (SVD-XT + SD 2.1; needs a GPU)",
    )
    parser.add_argument("--frames", type=int, default=14, help="frames per clip (N)")
    parser.add_argument(
        "--size",
        type=size_arg(8),
        default=None,
        metavar="HxW",
        help="frame size in pixels; None means 512x384 for full, 64x48 for tiny",
    )
    parser.add_argument(
        "--steps", type=int, default=3, help="timed denoising steps per variant (after 1 warm-up)"
    )
    parser.add_argument(
        "--cfg",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="classifier-free guidance: both branches per step (batch 2); --no-cfg times batch 1",
    )
    parser.add_argument(
        "--dtype",
        choices=["auto", "float32", "float16", "bfloat16"],
        default="auto",
        help="weights and activations dtype (auto: float16 on CUDA, float32 on CPU)",
    )
    add_device_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    parser.add_argument(
        "--flops-only",
        action="store_true",
        help="count the FLOPs of one step of each variant on the meta device (no weights, no timing)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile both U-Nets before timing (the first, warm-up call compiles)",
    )


def step_flops(preset: str, h: int, w: int, n: int, batch: int) -> dict:
    """FLOPs of one denoising step (a U-Net forward on ``batch`` clips) of (a) the plain SVD U-Net and (b)
    RealVVT's, counted by ``torch.utils.flop_counter.FlopCounterMode`` on the meta device: the ratio a GPU's
    step time should approach where the step is compute-bound. The Reference U-Net bank (once per video) is
    counted separately."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from vvt.realvvt.config import RealVVTConfig
    from vvt.realvvt.model import RealVVT
    from vvt.realvvt.pose_guider import PoseGuider
    from vvt.realvvt.presets import preset as preset_shapes
    from vvt.realvvt.presets import random_component, widen_conv_in

    latent = (h // 8, w // 8)
    with torch.device("meta"):
        # .to("meta"): diffusers' AlphaBlender makes its mix_factor with the legacy torch.Tensor constructor,
        # which ignores the default device and leaves it on the CPU
        unet = random_component(preset, "unet").to("meta")
        noisy = torch.randn(batch, n, 4, *latent)
        mask = torch.ones(batch, n, 1, *latent)
        emb = torch.randn(batch, 1, unet.config.cross_attention_dim)
        time_ids = torch.ones(batch, 3)
        t = torch.tensor(0.5)
        with FlopCounterMode(display=False) as plain:
            unet(torch.cat([noisy, noisy], 2), t, emb, time_ids)
        parts = {
            name: random_component(preset, name).to("meta") for name in ("reference_unet", "vae", "image_encoder")
        }
        widen_conv_in(unet)
        guider = PoseGuider(out_channels=unet.conv_in.out_channels, **preset_shapes(preset)["pose_guider"])
    parts.update({name: random_component(preset, name) for name in ("feature_extractor", "scheduler")})
    model = RealVVT(**parts, unet=unet, pose_guider=guider, config=RealVVTConfig(preset=preset)).eval()
    with torch.device("meta"), torch.no_grad():
        with FlopCounterMode(display=False) as reference:
            tokens = model.reference_tokens(torch.randn(batch, 4, *latent), emb)
        pose = torch.randn(batch * n, unet.conv_in.out_channels, *latent)
        model.set_conditions(tokens, model.inference_partners(batch, n, torch.device("meta")), pose)
        with FlopCounterMode(display=False) as realvvt:
            model.unet_output(torch.cat([noisy, noisy, mask], 2), t, emb, time_ids)
        model.clear_conditions()
    a, b = plain.get_total_flops(), realvvt.get_total_flops()
    return {
        "counter": "torch.utils.flop_counter.FlopCounterMode on the meta device (matmul, conv, SDPA; "
        "elementwise ops not counted)",
        "plain_unet_step": a,
        "realvvt_unet_step": b,
        "ratio": b / a,
        "reference_unet_once_per_video": reference.get_total_flops(),
    }


def _peak_memory(device) -> int:
    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale)


def _reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _timed(fn, device, repeats: int) -> float:
    """Mean seconds per call of ``fn`` after one warm-up call."""
    import torch

    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / repeats


def run(args: argparse.Namespace) -> dict:
    import torch

    from vvt.errors import ConfigError
    from vvt.realvvt.config import RealVVTConfig
    from vvt.realvvt.model import RealVVT
    from vvt.realvvt.pose_guider import PoseGuider
    from vvt.realvvt.presets import preset as preset_shapes
    from vvt.realvvt.presets import random_component, widen_conv_in

    if args.frames < 1 or args.steps < 1:
        raise ConfigError("--frames and --steps must be at least 1")
    from vvt.checks import resolve_device

    device = torch.device(resolve_device(args.device))
    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    dtype = dtypes.get(args.dtype, torch.float16 if device.type == "cuda" else torch.float32)
    h, w = args.size or ((512, 384) if args.preset == "full" else (64, 48))
    n, batch = args.frames, 2 if args.cfg else 1
    latent = (h // 8, w // 8)
    flops = step_flops(args.preset, h, w, n, batch)
    if args.flops_only:
        return {"preset": args.preset, "frames": n, "size": [h, w], "batch": batch, "flops": flops}

    torch.manual_seed(args.seed)
    with torch.device(device):  # random init on the device: fast for the full preset on a GPU
        unet = random_component(args.preset, "unet").to(dtype).eval()
    if args.compile:
        unet.compile()  # in place: the plain and the RealVVT step both run the compiled module
    forward = unet
    g = torch.Generator().manual_seed(args.seed)
    noisy = torch.randn(batch, n, 4, *latent, generator=g).to(device, dtype)
    cond = torch.randn(batch, n, 4, *latent, generator=g).to(device, dtype)
    mask = (torch.rand(batch, n, 1, *latent, generator=g) > 0.5).to(device, dtype)
    emb = torch.randn(batch, 1, unet.config.cross_attention_dim, generator=g).to(device, dtype)
    time_ids = torch.tensor([[6.0, 40.0, 0.02]] * batch, device=device, dtype=dtype)
    t = torch.tensor(0.5, device=device, dtype=dtype)

    # (a) the plain SVD U-Net: only its weights are on the device
    with torch.inference_mode():
        _reset_peak(device)
        plain_s = _timed(lambda: forward(torch.cat([noisy, cond], 2), t, emb, time_ids), device, args.steps)
        plain_mem = _peak_memory(device)

    with torch.device(device):
        parts = {
            name: random_component(args.preset, name) for name in ("reference_unet", "vae", "image_encoder")
        }
    parts.update({name: random_component(args.preset, name) for name in ("feature_extractor", "scheduler")})
    widen_conv_in(unet)
    guider = PoseGuider(out_channels=unet.conv_in.out_channels, **preset_shapes(args.preset)["pose_guider"])
    model = RealVVT(**parts, unet=unet, pose_guider=guider, config=RealVVTConfig(preset=args.preset))
    model.to(device, dtype).eval()
    garment = (torch.rand(1, 3, h, w, generator=g) * 2 - 1).to(device, dtype)
    densepose = (torch.rand(1, n, 3, h, w, generator=g) * 2 - 1).to(device, dtype)
    garment_latents = torch.randn(batch, 4, *latent, generator=g).to(device, dtype)

    with torch.inference_mode():
        # one-off per video: the garment encoders, the Reference U-Net bank, the pose guider
        clip_s = _timed(lambda: model.encode_garment(garment), device, 1)
        _reset_peak(device)
        reference_s = _timed(lambda: model.reference_tokens(garment_latents, emb), device, 1)
        tokens = model.reference_tokens(garment_latents, emb)
        reference_mem = _peak_memory(device)
        pose_s = _timed(lambda: model.pose_guider(densepose), device, 1)
        pose = model.pose_guider(densepose).repeat(batch, 1, 1, 1)

        # (b) RealVVT's U-Net step: its weights, the pose guider, the bank and the pose features on the device
        for part in (model.reference_unet, model.vae, model.image_encoder):
            part.to("cpu")
        if device.type == "cuda":
            torch.cuda.empty_cache()
        model.set_conditions(tokens, model.inference_partners(batch, n, device), pose)
        sample = torch.cat([noisy, cond, mask], 2)
        _reset_peak(device)
        realvvt_s = _timed(lambda: model.unet_output(sample, t, emb, time_ids), device, args.steps)
        realvvt_mem = _peak_memory(device)
        model.clear_conditions()

    return {
        "preset": args.preset,
        "frames": n,
        "size": [h, w],
        "latent_size": list(latent),
        "batch": batch,
        "dtype": str(dtype).removeprefix("torch."),
        "device": device.type,
        "timed_steps": args.steps,
        "memory_measure": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "process peak RSS",
        "plain_unet": {"step_s": plain_s, "peak_memory_bytes": plain_mem},
        "realvvt_unet": {"step_s": realvvt_s, "peak_memory_bytes": realvvt_mem},
        "ratio": realvvt_s / plain_s,
        "compiled": args.compile,
        "flops": flops,
        "memory_ratio": realvvt_mem / plain_mem,
        "one_off_per_video": {
            "reference_unet_s": reference_s,
            "reference_unet_peak_memory_bytes": reference_mem,
            "pose_guider_s": pose_s,
            "clip_and_vae_garment_s": clip_s,
        },
    }
