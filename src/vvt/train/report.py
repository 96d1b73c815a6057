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
METHODS = ("trained", "untrained", "copy_agnostic")


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

    samples = read_layout(data, split=split, pairs=pairs)[:max_videos]
    streams = ["person", "agnostic", "agnostic_mask", "densepose", "garment"]
    if pairs == "unpaired":
        streams.append("gt_person")
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


def _models(run: Path, config: Any) -> dict[str, Any]:
    from vvt.realvvt.model import RealVVT

    final = run / "final"
    if not (final / "model_index.json").is_file():
        raise InputFileError(
            final,
            "no trained RealVVT here (model_index.json missing); finish `vvt train "
            "realvvt` first (it exports OUTPUT_DIR/final at max_steps)",
        )
    models = {
        "trained": RealVVT.from_pretrained(final, config=config.model),
        "untrained": RealVVT.from_config(config.model),
    }
    for model in models.values():
        model.config.garment_dropout = 0.0
        model.eval()
    return models


@torch.no_grad()
def evaluate_run(
    run: str | Path,
    data: str | Path | None = None,
    split: str = "test",
    pairs: str = "unpaired",
    max_videos: int = 8,
    steps: int | None = None,
) -> dict[str, Any]:
    """Measure the three methods on a RealVVT run (see the module docstring); returns the report as a dict."""
    from vvt.train.realvvt import RealVVTRunConfig, try_on

    run, config = load_run(run, RealVVTRunConfig, "realvvt")
    data = heldout_root(config, data)
    clips = _clips(config, data, split, pairs, max_videos)
    models = _models(run, config)
    steps = steps or config.sample.num_inference_steps

    loss: dict[str, list[float]] = {m: [] for m in METHODS}
    ssim: dict[str, list[float]] = {m: [] for m in METHODS}
    for index in tqdm(range(len(clips)), desc="report", unit="clip"):
        item = clips[index]
        batch = {k: v.unsqueeze(0) for k, v in item.items() if isinstance(v, torch.Tensor)}
        truth = item["gt_person"] if pairs == "unpaired" else item["person"]
        mask = item["agnostic_mask"]
        for name, model in models.items():
            seeds = [1000 * index + k for k in range(DRAWS)]
            draws = [float(model(batch, torch.Generator().manual_seed(seed))["dsm"]) for seed in seeds]
            loss[name].append(sum(draws) / DRAWS)
            pred = try_on(model, item, config, num_inference_steps=steps, seed=index)
            ssim[name].append(ssim_in_mask(pred, truth, mask))
        ssim["copy_agnostic"].append(ssim_in_mask(item["agnostic"], truth, mask))

    return {
        "run": str(run),
        "task": "realvvt",
        "data": str(data),
        "split": split,
        "pairs": pairs,
        "clips": len(clips),
        "size": list(config.data.size),
        "frames": config.data.frames,
        "sampling_steps": steps,
        "denoising_draws_per_clip": DRAWS,
        "methods": {
            m: {"denoising_loss": finite_mean(loss[m]), "ssim_in_mask": finite_mean(ssim[m])} for m in METHODS
        },
        "protocol": "DSM (Eq. 2) with identical seeded draws for every model; "
        "SSIM (torchmetrics, data range 1, "
        "Gaussian 11x11 sigma 1.5) averaged inside the agnostic mask, frames in [0, 1]",
    }


def markdown(report: dict[str, Any]) -> str:
    """A report of either task as a Markdown table."""
    if report.get("task") == "fashionmirror":
        from vvt.train.fashionmirror_report import markdown as fashionmirror_markdown

        return fashionmirror_markdown(report)
    return markdown_table(
        f"Held-out {report['split']} ({report['pairs']}) of {report['data']}: {report['clips']} clips of "
        f"{report['frames']} frames at {report['size'][0]}x{report['size'][1]}, "
        f"{report['sampling_steps']} sampling steps.",
        ["held-out denoising loss (lower is better)", "SSIM in agnostic mask (higher is better)"],
        {name: [v["denoising_loss"], v["ssim_in_mask"]] for name, v in report["methods"].items()},
    )


def run_report(
    run: str | Path,
    data: str | Path | None = None,
    split: str = "test",
    pairs: str = "unpaired",
    max_videos: int = 8,
    steps: int | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate a RealVVT or a FashionMirror run (told apart by its config; ``steps``, the RealVVT sampling
    steps, is ignored for FashionMirror) and write ``out`` (default ``RUN/report.json``) and a ``.md`` beside
    it. ``max_videos`` test videos at most (>= 1)."""
    from vvt.train import fashionmirror_report

    if max_videos < 1:
        raise ConfigError(f"--max-videos must be >= 1, got {max_videos}")
    if fashionmirror_report.is_fashionmirror_run(run):
        report = fashionmirror_report.evaluate_run(run, data, split, pairs, max_videos)
    else:
        report = evaluate_run(run, data, split, pairs, max_videos, steps)
    return write_report(report, markdown(report), run, out)


def print_report(report: dict[str, Any]) -> None:
    print(markdown(report))
    print("wrote " + ", ".join(report.get("written", [])))
