"""``vvt train report``: does a run learn? Held-out numbers for the trained model, the same model untrained
and a baseline, measured in one run on the same clips. This module scores RealVVT runs and holds the plumbing
both reports share (run folder, SSIM on [-1, 1] videos, Markdown, writing); :mod:`vvt.train.fashionmirror_report`
scores FashionMirror runs, and :func:`run_report` picks the right one from the run's config.

RealVVT, against the copy-the-agnostic-video baseline:

* **Held-out denoising loss**: the EDM denoising score-matching loss of Eq. (2) (``dsm`` of
  :meth:`vvt.realvvt.model.RealVVT.forward`), averaged over ``DRAWS`` draws per clip. Every model gets the
  same generator seeds, so the same noise levels, noise, VAE posterior samples and C&T partner frames;
  garment dropout is switched off. The baseline has no denoiser (null).
* **SSIM inside the agnostic mask** against the ground truth (:func:`vvt.eval.image.masked_ssim`, frames in
  [0, 1], averaged over frames then clips): for SynthVVT's unpaired test pairs the ground truth is
  ``ground_truth/.../<vid>__<garment>.mp4`` (the same person and motion wearing the new garment); with
  ``--pairs paired`` it is the person video itself. The models sample with :class:`RealVVTPipeline` (the run's
  ``sample`` settings, fixed seed, paste-back on); the baseline is the agnostic video as it is.

The untrained model is the run's step-0 model, rebuilt from its config (same preset, seed and VAE), so the
comparison isolates what training changed. The trained model is ``RUN/final`` (the EMA weights).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from vvt.errors import ConfigError, InputFileError

#: denoising-loss draws per clip
DRAWS = 4
#: the report's metrics, in its column order
METRICS = ("ssim_in_mask", "psnr_in_mask", "colour_error", "ssim", "psnr")
#: Gaussian blur of the blurred-truth calibration row (pixels)
BLUR_SIGMA = 1.5
#: paste-back feather of the pipeline's default (pixels)
FEATHER_RADIUS = 4


# ------------------------------------------------------------------------ shared by both reports
def load_run(run: str | Path, config_cls: type, task: str) -> tuple[Path, Any]:
    """``(run folder, its run config)``; :class:`InputFileError` when ``run`` has no ``config.yaml``."""
    from vvt.config import load_config

    run = Path(run)
    if not (run / "config.yaml").is_file():
        raise InputFileError(run, f"not a `vvt train {task}` output folder (no config.yaml)")
    return run, load_config(config_cls, run / "config.yaml")


def heldout_root(config: Any, data: str | Path | None) -> Path:
    """``data``, or by default the run's first training source (whose test split is held out)."""
    if data is not None:
        return Path(data)
    if not config.data.sources:
        raise ConfigError("the run's config lists no data.sources: pass the held-out dataset with --data")
    return Path(config.data.sources[0].root)


def frames01(video: torch.Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` in [-1, 1] -> ``(N, H, W, 3)`` float in [0, 1] (what :mod:`vvt.eval.image` takes)."""
    return ((video.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()


def spread(samples: Sequence[Any], count: int) -> list[Any]:
    """``count`` of ``samples`` at evenly spaced positions (all of them when there are fewer), so a report
    over a split listed category by category sees every category, not only the first."""
    if count >= len(samples):
        return list(samples)
    return [samples[(i * len(samples)) // count] for i in range(count)]


def finite_mean(values: Sequence[float]) -> float | None:
    """Mean of the values that are not NaN; None when there are none."""
    values = [float(v) for v in values if not math.isnan(float(v))]
    return sum(values) / len(values) if values else None


def ssim_in_mask(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean over frames of :func:`vvt.eval.image.masked_ssim` (frames with an empty mask left out; NaN when
    every frame's is empty); videos ``(N, 3, H, W)`` in [-1, 1], mask ``(N, 1, H, W)`` in {0, 1}."""
    from vvt.eval.image import masked_ssim

    mean = finite_mean(masked_ssim(frames01(pred), frames01(truth), mask[:, 0].cpu().numpy() > 0.5))
    return math.nan if mean is None else mean


def markdown_table(caption: str, columns: Sequence[str], rows: dict[str, Sequence[float | None]]) -> str:
    """``caption``, then a table with a ``method`` column and ``columns``; values to 4 decimals, None as n/a."""

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.4f}"

    lines = [caption, "", "| " + " | ".join(["method", *columns]) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(fmt(v) for v in values) + " |" for name, values in rows.items()]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], text: str, run: str | Path, out: str | Path | None) -> dict[str, Any]:
    """Write ``report`` as JSON to ``out`` (default ``RUN/report.json``) and ``text`` to the ``.md`` beside it
    (atomically); return ``report`` with the two paths under ``"written"``."""
    from vvt.io import atomic_write_text

    out = Path(out) if out is not None else Path(run) / "report.json"
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), text)
    return {**report, "written": [str(out), str(out.with_suffix(".md"))]}


# ------------------------------------------------------------------------------------------ RealVVT
def _clips(config: Any, data: Path, split: str, pairs: str, max_videos: int) -> Any:
    from vvt.data.datasets import TryOnDataset
    from vvt.data.layouts import read_layout

    samples = spread(read_layout(data, split=split, pairs=pairs), max_videos)
    streams = ["person", "agnostic", "agnostic_mask", "densepose", "garment", "garment_mask"]
    streams += ["gt_person", "gt_worn_mask"] if pairs == "unpaired" else ["worn_mask"]
    return TryOnDataset(
        samples,
        tuple(config.data.size),
        clip_len=config.data.frames,
        streams=streams,
        random_start=False,
        crop="center",
        flip_prob=0.0,
        label=str(data),
    )


def _models(run: Path, config: Any, untrained: bool = True) -> dict[str, Any]:
    from vvt.realvvt.model import RealVVT

    final = run / "final"
    if not (final / "model_index.json").is_file():
        raise InputFileError(
            final,
            "no trained RealVVT here (model_index.json missing); finish `vvt train "
            "realvvt` first (it exports OUTPUT_DIR/final at max_steps)",
        )
    models = {"trained": RealVVT.from_pretrained(final, config=config.model)}
    if untrained:
        models["untrained"] = RealVVT.from_config(config.model)
    for model in models.values():
        model.config.garment_dropout = 0.0
        model.eval()
    return models


def _paste(generated: torch.Tensor, agnostic: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``generated`` inside the agnostic mask blended over ``agnostic`` as the pipeline pastes back."""
    from vvt.realvvt.pipeline import feathered_alpha

    alpha = feathered_alpha(mask.float(), FEATHER_RADIUS)
    return alpha * generated + (1 - alpha) * agnostic


def vae_reconstruction(model: Any, video: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` in [-1, 1] through the model's VAE (posterior mode, decoded as the pipeline does)."""
    latents = model.encode_frames(video.unsqueeze(0))[0]
    return model.pipeline().decode_latents(latents) * 2 - 1


def calibration_outputs(item: dict[str, torch.Tensor], truth: torch.Tensor, worn: torch.Tensor) -> dict:
    """The known outputs every report scores beside the model (see the module docstring)."""
    from torchvision.transforms.functional import gaussian_blur

    from vvt.eval.baselines import naive_paste
    from vvt.train.sample_video import to_uint8_frames

    agnostic, mask = item["agnostic"], item["agnostic_mask"]
    pasted = naive_paste(
        to_uint8_frames(agnostic),
        mask[:, 0].numpy() > 0.5,
        to_uint8_frames(item["garment"][None])[0],
        item["garment_mask"][0].numpy() > 0.5,
    )
    size = 2 * math.ceil(3 * BLUR_SIGMA) + 1
    blurred = gaussian_blur(truth, kernel_size=size, sigma=BLUR_SIGMA)
    inside = worn > 0.5
    count = inside.sum(dim=(2, 3)).clamp(min=1)
    colour = (truth * inside).sum(dim=(2, 3)) / count  # (N, 3): the garment's true mean colour per frame
    flat = torch.where(mask > 0.5, colour[..., None, None].expand_as(truth), agnostic)
    return {
        "copy_agnostic": agnostic,
        "naive_paste": torch.from_numpy(pasted).permute(0, 3, 1, 2).float() / 127.5 - 1,
        f"blurred_truth_sigma{BLUR_SIGMA:g}": torch.where(mask > 0.5, blurred, agnostic),
        "flat_true_colour": flat,
    }


def score(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor, worn: torch.Tensor) -> dict[str, float]:
    """The report's metrics of one clip: videos ``(N, 3, H, W)`` in [-1, 1], masks ``(N, 1, H, W)``."""
    from vvt.eval.garment import garment_colour_error, masked_psnr
    from vvt.eval.image import psnr, ssim

    p, t = frames01(pred), frames01(truth)
    inside, garment = mask[:, 0].cpu().numpy() > 0.5, worn[:, 0].cpu().numpy() > 0.5
    nan = math.nan
    return {
        "ssim_in_mask": ssim_in_mask(pred, truth, mask),
        "psnr_in_mask": finite_mean(masked_psnr(p, t, inside)) or nan,
        "colour_error": finite_mean(garment_colour_error(p, t, garment)) or nan,
        "ssim": float(ssim(p, t).mean()),
        "psnr": float(psnr(p, t).mean()),
    }


def contact_sheet(path: Path, rows: list[dict[str, torch.Tensor]], frames: Sequence[int], scale: int = 3) -> Path:
    """Write a PNG with one row per clip: ``garment | (agnostic, prediction, ground truth) x frames``.

    ``rows``: dicts with ``garment`` ``(3, H, W)`` and ``agnostic``, ``prediction``, ``truth`` ``(N, 3, H, W)``,
    all in [-1, 1]. Pixels are enlarged ``scale`` times (nearest) so a 64x48 frame can be inspected.
    """
    from PIL import Image, ImageDraw

    from vvt.io import atomic_path
    from vvt.train.sample_video import to_uint8_frames

    gap = 4
    h, w = rows[0]["garment"].shape[-2:]
    header = 14
    columns = ["garment"] + [f"{name} f{f}" for f in frames for name in ("agnostic", "pred", "truth")]
    width = len(columns) * (w * scale + gap) + gap * len(frames)
    sheet = Image.new("RGB", (width, header + len(rows) * (h * scale + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)

    def x_of(col: int) -> int:
        return col * (w * scale + gap) + gap * ((col + 2) // 3)

    for col, name in enumerate(columns):
        draw.text((x_of(col) + 2, 1), name, fill=(0, 0, 0))
    for r, row in enumerate(rows):
        y = header + r * (h * scale + gap)
        tiles = [row["garment"]] + [row[k][f] for f in frames for k in ("agnostic", "prediction", "truth")]
        for col, tile in enumerate(tiles):
            image = Image.fromarray(to_uint8_frames(tile[None])[0]).resize((w * scale, h * scale), Image.NEAREST)
            sheet.paste(image, (x_of(col), y))
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return path


@torch.no_grad()
def evaluate_run(
    run: str | Path,
    data: str | Path | None = None,
    split: str = "test",
    pairs: str = "unpaired",
    max_videos: int = 12,
    steps: int | None = None,
    sheet: str | Path | None = None,
    untrained: bool = True,
) -> dict[str, Any]:
    """Measure every method on a RealVVT run (see the module docstring) and write the contact sheet to
    ``sheet`` (default ``RUN/contact_sheet.png``); returns the report as a dict. ``untrained=False`` leaves
    the untrained model out (the ablation scores many runs on the same clips)."""
    from vvt.train.realvvt import RealVVTRunConfig, try_on

    run, config = load_run(run, RealVVTRunConfig, "realvvt")
    data = heldout_root(config, data)
    clips = _clips(config, data, split, pairs, max_videos)
    models = _models(run, config, untrained)
    steps = steps or config.sample.num_inference_steps

    loss: dict[str, list[float]] = {m: [] for m in models}
    scores: dict[str, list[dict[str, float]]] = {}
    sheet_rows = []
    for index in tqdm(range(len(clips)), desc="report", unit="clip"):
        item = clips[index]
        batch = {k: v.unsqueeze(0) for k, v in item.items() if isinstance(v, torch.Tensor)}
        truth = item["gt_person"] if pairs == "unpaired" else item["person"]
        worn = item["gt_worn_mask"] if pairs == "unpaired" else item["worn_mask"]
        mask = item["agnostic_mask"]
        outputs = {}
        for name, model in models.items():
            seeds = [1000 * index + k for k in range(DRAWS)]
            draws = [float(model(batch, torch.Generator().manual_seed(seed))["dsm"]) for seed in seeds]
            loss[name].append(sum(draws) / DRAWS)
            outputs[name] = try_on(model, item, config, num_inference_steps=steps, seed=index)
        # the same draw with the next clip's garment: a model that ignores its garment scores the same here
        other = dict(item, garment=clips[(index + 1) % len(clips)]["garment"])
        outputs["trained_other_garment"] = try_on(models["trained"], other, config, num_inference_steps=steps,
                                                  seed=index)
        outputs.update(calibration_outputs(item, truth, worn))
        reconstruction = vae_reconstruction(models["trained"], truth)
        outputs["vae_reconstruction"] = reconstruction
        outputs["vae_ceiling"] = _paste(reconstruction, item["agnostic"], mask)
        for name, pred in outputs.items():
            scores.setdefault(name, []).append(score(pred, truth, mask, worn))
        sheet_rows.append(
            {"garment": item["garment"], "agnostic": item["agnostic"], "prediction": outputs["trained"],
             "truth": truth}
        )

    n = config.data.frames
    sheet = Path(sheet) if sheet is not None else run / "contact_sheet.png"
    contact_sheet(sheet, sheet_rows, sorted({0, n // 2, n - 1}))
    methods = {
        name: {"denoising_loss": finite_mean(loss[name]) if name in loss else None}
        | {metric: finite_mean([s[metric] for s in values]) for metric in METRICS}
        for name, values in scores.items()
    }
    return {
        "run": str(run),
        "task": "realvvt",
        "data": str(data),
        "split": split,
        "pairs": pairs,
        "clips": len(clips),
        "size": list(config.data.size),
        "frames": n,
        "sampling_steps": steps,
        "denoising_draws_per_clip": DRAWS,
        "methods": methods,
        "contact_sheet": str(sheet),
        "protocol": "DSM (Eq. 2) with identical seeded draws for every model; SSIM (data range 1, Gaussian "
        "11x11 sigma 1.5) and PSNR inside the agnostic mask and over the whole frame, frames in [0, 1]; garment "
        "colour error = mean over channels of |mean RGB(pred) - mean RGB(truth)| inside the truth's worn "
        "mask; every value averaged over frames then clips; vae_reconstruction is the truth through the VAE "
        "as it is, vae_ceiling the same pasted back as the pipeline pastes",
    }


#: the report's row labels (a method without one is shown by its key)
LABELS = {
    "trained": "trained (the run's EMA weights)",
    "untrained": "untrained (the same model at step 0)",
    "trained_other_garment": "calibration: trained, given the next clip's garment (as good as trained = the "
    "garment is ignored)",
    "copy_agnostic": "copy the agnostic video",
    "naive_paste": "naive paste of the garment photo",
    f"blurred_truth_sigma{BLUR_SIGMA:g}": f"calibration: the truth blurred, sigma {BLUR_SIGMA:g}",
    "flat_true_colour": "calibration: flat fill with the garment's true mean colour",
    "vae_reconstruction": "the ground truth through the VAE, not pasted",
    "vae_ceiling": "VAE ceiling, the ground truth through the VAE (pasted back)",
}


def markdown(report: dict[str, Any]) -> str:
    """A report of either task as a Markdown table."""
    if report.get("task") == "fashionmirror":
        from vvt.train.fashionmirror_report import markdown as fashionmirror_markdown

        return fashionmirror_markdown(report)
    text = markdown_table(
        f"Held-out {report['split']} ({report['pairs']}) of {report['data']}: {report['clips']} clips of "
        f"{report['frames']} frames at {report['size'][0]}x{report['size'][1]}, "
        f"{report['sampling_steps']} sampling steps.",
        [
            "held-out denoising loss (lower is better)",
            "SSIM in agnostic mask (higher is better)",
            "PSNR in agnostic mask, dB",
            "garment colour error (lower is better)",
            "SSIM",
            "PSNR, dB",
        ],
        {
            LABELS.get(name, name): [v["denoising_loss"], *(v[m] for m in METRICS)]
            for name, v in report["methods"].items()
        },
    )
    return text + f"\nContact sheet: {report['contact_sheet']}\n\nProtocol: {report['protocol']}.\n"


def run_report(
    run: str | Path,
    data: str | Path | None = None,
    split: str = "test",
    pairs: str = "unpaired",
    max_videos: int = 12,
    steps: int | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate a RealVVT or a FashionMirror run (told apart by its config; ``steps``, the RealVVT sampling
    steps, is ignored for FashionMirror) and write ``out`` (default ``RUN/report.json``) and a ``.md`` beside
    it. ``max_videos`` test videos at most (>= 1), spread evenly over the split (:func:`spread`)."""
    from vvt.train import fashionmirror_report

    if max_videos < 1:
        raise ConfigError(f"--max-videos must be >= 1, got {max_videos}")
    if fashionmirror_report.is_fashionmirror_run(run):
        figures = Path(out).parent if out is not None else Path(run)  # contact sheet and drift plot beside it
        report = fashionmirror_report.evaluate_run(run, data, split, pairs, max_videos, figures=figures)
    else:
        report = evaluate_run(run, data, split, pairs, max_videos, steps)
    return write_report(report, markdown(report), run, out)


def print_report(report: dict[str, Any]) -> None:
    print(markdown(report))
    print("wrote " + ", ".join(report.get("written", [])))
