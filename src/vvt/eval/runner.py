"""The quality benchmark: run try-on methods over a dataset split and score them the papers' way.

For every test sample of the split (read with :func:`vvt.data.layouts.read_layout`) each method writes its
prediction to ``OUT/predictions/<method>/<sample name>.mp4``; one :class:`~vvt.eval.evaluator.Evaluator` then
scores all methods in the same pass (each ground truth, its optical flow and its features are computed once).

Methods: ``copy_agnostic`` and ``naive_paste`` (:mod:`vvt.eval.baselines`) always; ``realvvt`` when a
checkpoint folder is given (:class:`vvt.realvvt.pipeline.RealVVTPipeline`, seeded per sample), or
``fashionmirror`` with ``method="fashionmirror"`` (:func:`fashionmirror_predict`).

What each sample is compared with:

* ``--pairs paired``: the garment worn in the video; the ground truth is the person video itself
  (reconstruction). A video without a paired garment (e.g. the ViViD samples, whose garments are other
  clothes) is scored for ``copy_agnostic`` only, the other methods list it as skipped.
* ``--pairs unpaired``: another garment. SynthVVT renders the person wearing it (``ground_truth/``), which
  is then the ground truth; real data has none, so the full-reference metrics (SSIM, PSNR, LPIPS, masked
  SSIM) are absent and FID/KID/VFID compare the predictions with the split's real person videos (the
  unpaired protocol of the papers).
* the temporal metrics always take their motion from the source person video, which moves exactly as the
  try-on must, and their region from the agnostic mask.
* a sample with ``frame_ranges`` (CatV2TON's ViViD-S ``front_seqs``) is run and scored on those frames only,
  as CatV2TON's ``eval_video_try_on.py`` does; its predictions hold only them, so ``vvt eval`` on the same
  split matches them.

Outputs: ``OUT/quality.json`` (every number, per-item values, skipped samples, the protocol) and
``OUT/quality.md`` (the table in the papers' column order, then our temporal metrics).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vvt.data.sample import Sample
from vvt.errors import InputFileError
from vvt.eval import baselines
from vvt.eval.evaluator import EvalConfig, Evaluator
from vvt.eval.inputs import read_frames, read_mask_frames
from vvt.eval.protocols import report_lines
from vvt.io import atomic_write_text, read_image, read_mask, video_info, write_video

log = logging.getLogger(__name__)

BASELINES = ("copy_agnostic", "naive_paste")
MODEL_METHOD = "realvvt"
VIDEO_COLUMNS = (
    "ssim",
    "lpips",
    "vfid_i3d",
    "vfid_resnext",
    "fid",
    "kid",
    "is",
    "psnr",
    "masked_ssim",
    "warp_error",
    "flicker",
)
IMAGE_COLUMNS = ("ssim", "lpips", "fid", "kid", "is", "psnr", "masked_ssim")
HEADERS = {
    "ssim": "SSIM ↑",
    "lpips": "LPIPS ↓",
    "vfid_i3d": "VFID_I3D ↓",
    "vfid_resnext": "VFID_ResNeXt ↓",
    "fid": "FID ↓",
    "kid": "KID ↓",
    "is": "IS ↑",
    "psnr": "PSNR ↑",
    "masked_ssim": "mask SSIM ↑",
    "warp_error": "warp err ↓",
    "flicker": "flicker ↓",
}
FORMATS = {
    "ssim": "{:.4f}",
    "lpips": "{:.4f}",
    "vfid_i3d": "{:.3f}",
    "vfid_resnext": "{:.4f}",
    "fid": "{:.2f}",
    "kid": "{:.3f}",
    "is": "{:.3f}",
    "psnr": "{:.2f}",
    "masked_ssim": "{:.4f}",
    "warp_error": "{:.3g}",
    "flicker": "{:.4f}",
}


@dataclass
class QualityConfig:
    """Settings of ``vvt bench quality`` (see :func:`run_quality`)."""

    data: Path
    out: Path
    split: str = "test"
    pairs: str = "paired"
    layout: str = "auto"
    model: Path | None = None
    steps: int = 25
    eval: EvalConfig = field(default_factory=EvalConfig)
    max_items: int | None = None
    method: str = MODEL_METHOD


class _Skip(Exception):
    """A method cannot run on a sample (the reason is recorded in the report, nothing is written)."""


@dataclass
class _Inputs:
    agnostic: np.ndarray
    mask: np.ndarray
    fps: float
    garment: np.ndarray | None
    garment_mask: np.ndarray | None
    sample: Sample


def _load_inputs(sample: Sample, cfg: EvalConfig) -> _Inputs:
    """The sample's streams; without an agnostic video (CatV2TON's ViViD-S ships masks only) the person video
    with the agnostic mask filled grey, as :func:`vvt.preprocess.masks.agnostic_frame` writes agnostic videos."""
    from vvt.preprocess.masks import agnostic_frame

    if sample.agnostic_mask is None:
        raise InputFileError(sample.person or sample.name, "the benchmark needs an agnostic_mask stream")
    ranges = sample.frame_ranges
    mask = read_mask_frames(sample.agnostic_mask, cfg.max_frames, cfg.size, ranges)
    if sample.agnostic is not None:
        agnostic = read_frames(sample.agnostic, cfg.max_frames, cfg.size, cfg.resize, ranges)
    else:
        person = read_frames(sample.person, cfg.max_frames, cfg.size, cfg.resize, ranges)
        if person.shape[:3] != mask.shape:
            raise InputFileError(sample.agnostic_mask, f"{mask.shape[0]} mask frame(s) of {mask.shape[1]}x"
                                 f"{mask.shape[2]} for {person.shape[0]} person frame(s) of {person.shape[1]}x"
                                 f"{person.shape[2]}")
        agnostic = np.stack([agnostic_frame(f, m) for f, m in zip(person, mask)])
    fps = video_info(sample.person).fps if sample.is_video else 1.0
    garment = read_image(sample.garment) if sample.garment is not None else None
    garment_mask = read_mask(sample.garment_mask) if sample.garment_mask is not None else None
    if garment is not None and garment_mask is not None and garment_mask.shape != garment.shape[:2]:
        garment_mask = None  # a mask of another size cannot cut this photo out; fall back to non-white pixels
    return _Inputs(agnostic, mask, fps, garment, garment_mask, sample)


class _Methods:
    """Produces each method's prediction ``(N, H, W, 3)`` uint8 for a sample (or raises :class:`_Skip`)."""

    def __init__(self, config: QualityConfig):
        self.config = config
        self.names = list(BASELINES) + ([config.method] if config.model is not None else [])
        self.pipeline = self._load_pipeline(config.model) if config.model is not None else None

    def _load_pipeline(self, path: Path):
        if self.config.method == "fashionmirror":
            from vvt.fashionmirror.inference import load_model

            return load_model(path, self.config.eval.device)
        from vvt.realvvt.pipeline import RealVVTPipeline

        if not (path / "model_index.json").is_file():
            raise InputFileError(
                path,
                "not a RealVVT pipeline folder (no model_index.json; save one with "
                "RealVVTPipeline.save_pretrained or `vvt train`)",
            )
        pipe = RealVVTPipeline.from_pretrained(path)
        pipe.to(self.config.eval.device)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def predict(self, method: str, inputs: _Inputs, index: int) -> np.ndarray:
        if method == "copy_agnostic":
            return baselines.copy_agnostic(inputs.agnostic)
        if inputs.garment is None:
            raise _Skip("no garment for this sample (the layout pairs none with this video)")
        if method == "naive_paste":
            return baselines.naive_paste(inputs.agnostic, inputs.mask, inputs.garment, inputs.garment_mask)
        if method == "fashionmirror":
            return fashionmirror_predict(self.pipeline, inputs, self.config.eval)
        return self._realvvt(inputs, index)

    def _realvvt(self, inputs: _Inputs, index: int) -> np.ndarray:
        from vvt.pose.densepose import to_vvt_iuv

        sample, cfg = inputs.sample, self.config.eval
        if sample.densepose is None:
            raise _Skip("no DensePose stream")
        try:
            densepose = to_vvt_iuv(
                read_frames(sample.densepose, cfg.max_frames, cfg.size, ranges=sample.frame_ranges),
                sample.densepose_format,
            )
        except ValueError as exc:
            raise _Skip(f"DensePose not convertible: {exc}") from None
        if not inputs.mask.any():
            raise _Skip("the agnostic mask is empty in every frame")
        generator = torch.Generator(device="cpu").manual_seed(cfg.seed + index)
        frames = self.pipeline(
            inputs.agnostic,
            inputs.mask,
            densepose,
            inputs.garment,
            num_inference_steps=self.config.steps,
            generator=generator,
            output_type="np",
        ).frames
        return (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)


def fashionmirror_predict(model, inputs: _Inputs, cfg: EvalConfig) -> np.ndarray:
    """FashionMirror's try-on of a sample, ``(N, H, W, 3)`` uint8 at the agnostic video's size.

    The person image ``h^s`` is frame 0 of the person video (wearing its own garment: unpaired, the garment
    changes; paired, the frame is masked by the CMN's ``M_r`` first, the paper's reconstruction protocol,
    footnote 6); the driving poses are the sample's skeleton frames. Frame 0 is generated too, by a step from
    the source pose to itself, so no predicted frame is an input frame; the model reads no other person frame.
    """
    from vvt.eval.inputs import resize_frames
    from vvt.fashionmirror.sfe import images_to_tensor

    sample = inputs.sample
    if sample.skeleton is None or sample.person is None:
        raise _Skip("FashionMirror needs the person video and its skeleton stream")
    n = len(inputs.agnostic)
    size = tuple(model.config.sample_size)
    device = next(model.parameters()).device
    person = read_frames(sample.person, 1, size, ranges=sample.frame_ranges)
    skeleton = read_frames(sample.skeleton, cfg.max_frames, size, ranges=sample.frame_ranges)[:n]
    garment = resize_frames(inputs.garment[None], size, "area")
    poses = images_to_tensor(np.concatenate([skeleton[:1], skeleton])).unsqueeze(0).to(device)
    with torch.no_grad():
        out = model.generate(images_to_tensor(person).to(device), images_to_tensor(garment).to(device), poses)[0]
    frames = ((out.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    if frames.shape[1:3] != inputs.agnostic.shape[1:3]:
        frames = resize_frames(frames, inputs.agnostic.shape[1:3], "area")
    return frames


def _ground_truth(sample: Sample, pairs: str) -> Path | None:
    if pairs == "paired":
        return sample.person
    return sample.extra.get("gt_person")


def run_quality(config: QualityConfig) -> dict:
    """Run every method on the split, score them, write ``quality.json`` and ``quality.md`` in ``config.out``.

    Returns:
        the JSON report (also written to ``OUT/quality.json``).
    """
    from vvt.data.layouts import read_layout

    samples = read_layout(config.data, layout=config.layout, split=config.split, pairs=config.pairs)
    samples = samples[: config.max_items] if config.max_items else samples
    is_video = all(s.is_video for s in samples)
    methods = _Methods(config)
    evaluator = Evaluator(config.eval.with_scope(is_video), methods.names)
    skipped: dict[str, list[str]] = {m: [] for m in methods.names}
    pred_root = config.out / "predictions"
    for index, sample in enumerate(tqdm(samples, desc="quality benchmark", unit="sample")):
        inputs = _load_inputs(sample, config.eval)
        preds = {}
        for method in methods.names:
            try:
                frames = methods.predict(method, inputs, index)
            except _Skip as reason:
                skipped[method].append(f"{sample.name}: {reason}")
                continue
            preds[method] = write_video(
                pred_root / method / f"{sample.name}.mp4", frames, fps=inputs.fps, crf=0
            )
        gt = _ground_truth(sample, config.pairs)
        if gt is None:
            evaluator.add_real(sample.person, ranges=sample.frame_ranges)
        evaluator.add(sample.name, preds, gt=gt, reference=sample.person, mask=sample.agnostic_mask,
                      ranges=sample.frame_ranges)
    report = evaluator.report()
    result = {
        "data": str(config.data),
        "split": config.split,
        "pairs": config.pairs,
        "model": str(config.model or ""),
        "samples": len(samples),
        "kind": "video" if is_video else "image",
        "skipped": skipped,
        **report,
    }
    config.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config.out / "quality.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(config.out / "quality.md", markdown_table(result))
    return result


def header(column: str, protocol: dict) -> str:
    """The table header of a metric column; KID's names the report's scale (``KID×1000 ↓``)."""
    if column == "kid":
        return f"KID×{protocol['kid_scale']} ↓"
    return HEADERS[column]


def markdown_table(result: dict) -> str:
    """The report as a Markdown table in the papers' column order, followed by the absent metrics' reasons."""
    columns = VIDEO_COLUMNS if result["kind"] == "video" else IMAGE_COLUMNS
    lines = [
        f"# Quality: {result['data']} ({result['split']}, {result['pairs']})",
        "",
        "| Method | " + " | ".join(header(c, result["protocol"]) for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    reasons: dict[str, str] = {}
    for method, rep in result["methods"].items():
        cells = []
        for c in columns:
            value = rep["metrics"].get(c)
            if value is None:
                cells.append("n/a")
                reasons.setdefault(c, rep["absent"].get(c, "not requested"))
            else:
                cells.append(FORMATS[c].format(value))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    real = result["real_set"]["items"]
    lines += [
        "",
        f"{result['samples']} sample(s)"
        + (f"; FID/KID/VFID reference set: {real} item(s)." if real else "."),
    ]
    by_reason: dict[str, list[str]] = {}
    for c, r in reasons.items():
        by_reason.setdefault(r, []).append(header(c, result["protocol"])[:-2])
    if by_reason:
        lines += ["", "n/a:"] + [f"- {', '.join(cols)}: {r}" for r, cols in by_reason.items()]
    skipped = {m: s for m, s in result["skipped"].items() if s}
    if skipped:
        lines += ["", "Skipped samples:"] + [
            f"- {m}: {len(s)} ({s[0]}{', ...' if len(s) > 1 else ''})" for m, s in skipped.items()
        ]
    protocol = result["protocol"]
    lines += ["", "Protocol:"] + report_lines(protocol)
    return "\n".join(lines) + "\n"
