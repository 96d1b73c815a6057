"""``vvt train report`` on a FashionMirror run: held-out losses and SSIM against the ground truth of the
trained model, the same model untrained and the copy-the-source baseline, measured in one run on the same
sequences.

* **Held-out losses** on paired test sequences (the person wears the garment ``C``, so every term has its
  ground truth): the end-to-end objective of :meth:`FashionMirrorTraining.training_step` (teacher-forced,
  footnote 3) term by term - ``cmn`` (Eq. 2), ``human_spatial`` and ``clothes_spatial`` (Eq. 10),
  ``flow`` (Eqs. 5-6), ``human_temporal`` and ``clothes_temporal`` (Eq. 11) - and their sum ``total``
  (Eq. 9 plus the CMN loss, weighted as in training). The adversarial terms are left out: the exported
  generator has no discriminator. Both models are scored with the run's loss networks (the same VGG19,
  random from ``model.seed`` when the run had no weights).
* **SSIM** (:func:`vvt.eval.image.ssim`, frames in [0, 1]) of the autoregressive try-on (Eq. 7 from
  ``h^0 = h^s``, :meth:`FashionMirror.generate`) of frames ``1..N-1`` against the ground truth, over the
  whole frame and inside the ground-truth garment mask (:func:`vvt.eval.image.masked_ssim`). With
  ``pairs="unpaired"`` (SynthVVT) the try-on garment is another one and the ground truth is
  ``ground_truth/.../<vid>__<garment>.mp4``, the same person and motion wearing it; with ``"paired"`` it is
  the person video itself. ``copy_source`` repeats the source frame ``h^s``: a model must beat standing still.

Sequences: ``data.frames`` frames from the start of each test video, skips drawn per video from a fixed seed
(the run's ``max_skip``), no flip. The untrained model is the run's step-0 model rebuilt from its config; the
trained one is ``RUN/final`` (EMA weights). Written by :func:`vvt.train.report.run_report`, which tells the
two tasks' runs apart with :func:`is_fashionmirror_run`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from vvt.errors import InputFileError
from vvt.train.report import finite_mean, frames01, heldout_root, load_run, markdown_table, ssim_in_mask

METHODS = ("trained", "untrained", "copy_source")
LOSS_TERMS = ("cmn", "human_spatial", "clothes_spatial", "flow", "human_temporal", "clothes_temporal")


def is_fashionmirror_run(run: str | Path) -> bool:
    """Whether ``run`` is the output folder of ``vvt train fashionmirror`` (its config has ``stages``)."""
    import yaml

    config = Path(run) / "config.yaml"
    if not config.is_file():
        return False
    data = yaml.safe_load(config.read_text()) or {}
    return isinstance(data, dict) and "stages" in data


def _sequences(config: Any, data: Path, split: str, pairs: str, streams: tuple[str, ...], max_videos: int):
    from vvt.data.datasets import FrameSequenceDataset
    from vvt.data.layouts import read_layout

    return FrameSequenceDataset(
        read_layout(data, split=split, pairs=pairs)[:max_videos],
        tuple(config.data.size),
        num_frames=config.data.frames,
        max_skip=config.data.max_skip,
        streams=streams,
        random_start=False,
        flip_prob=0.0,
        label=str(data),
    )


@torch.no_grad()
def evaluate_run(
    run: str | Path,
    data: str | Path | None = None,
    split: str = "test",
    pairs: str = "unpaired",
    max_videos: int = 8,
) -> dict[str, Any]:
    """Measure the three methods (see the module docstring); returns the report as a dict."""
    from vvt.eval.image import ssim
    from vvt.fashionmirror.model import FashionMirror
    from vvt.train.fashionmirror import FashionMirrorRunConfig, build_training, sequence_streams

    run, config = load_run(run, FashionMirrorRunConfig, "fashionmirror")
    final = run / "final"
    if not (final / FashionMirror.config_name).is_file():
        raise InputFileError(
            final,
            "no trained FashionMirror here (config.json missing); finish `vvt train fashionmirror` first",
        )
    data = heldout_root(config, data)
    paired = _sequences(config, data, split, "paired", sequence_streams(config), max_videos)
    if pairs == "unpaired":
        tryon = _sequences(
            config,
            data,
            split,
            "unpaired",
            ("person", "skeleton", "garment", "gt_person", "gt_worn_mask"),
            max_videos,
        )
    else:
        tryon = paired
    evaluator = build_training(config)
    evaluator.w = dataclasses.replace(evaluator.w, adversarial=0.0)
    models = {"trained": FashionMirror.from_pretrained(final), "untrained": evaluator.model}
    for model in models.values():
        model.eval()
    # the end-to-end objective without its adversarial terms: the CMN loss weighted as in training
    weights = {k: evaluator.w.cmn_in_end2end if k == "cmn" else 1.0 for k in LOSS_TERMS}

    losses: dict[str, dict[str, list[float]]] = {m: {k: [] for k in (*LOSS_TERMS, "total")} for m in models}
    for index in tqdm(range(len(paired)), desc="report losses", unit="clip"):
        batch = {k: v.unsqueeze(0) for k, v in paired[index].items() if isinstance(v, torch.Tensor)}
        for name, model in models.items():
            evaluator.model = model
            out = evaluator.training_step(batch, "end2end")
            for k in LOSS_TERMS:
                losses[name][k].append(float(out[k]))
            losses[name]["total"].append(sum(weights[k] * float(out[k]) for k in LOSS_TERMS))

    scores: dict[str, dict[str, list[float]]] = {m: {"ssim": [], "ssim_garment": []} for m in METHODS}
    for index in tqdm(range(len(tryon)), desc="report try-on", unit="clip"):
        item = tryon[index]
        truth = item["gt_person"] if pairs == "unpaired" else item["person"]
        mask = item["gt_worn_mask"] if pairs == "unpaired" else item["worn_mask"]
        person, skeleton = item["person"].unsqueeze(0), item["skeleton"].unsqueeze(0)
        preds = {
            name: model.generate(person[:, 0], item["garment"].unsqueeze(0), person, skeleton)[0]
            for name, model in models.items()
        }
        preds["copy_source"] = item["person"][:1].expand_as(truth[1:])
        for name, pred in preds.items():
            scores[name]["ssim"].append(float(ssim(frames01(pred), frames01(truth[1:])).mean()))
            scores[name]["ssim_garment"].append(ssim_in_mask(pred, truth[1:], mask[1:]))

    return {
        "run": str(run),
        "task": "fashionmirror",
        "data": str(data),
        "split": split,
        "pairs": pairs,
        "clips": len(tryon),
        "loss_clips": len(paired),
        "size": list(config.data.size),
        "frames": config.data.frames,
        "methods": {
            m: {
                "heldout_loss": {k: finite_mean(v) for k, v in losses[m].items()} if m in losses else None,
                "ssim": finite_mean(scores[m]["ssim"]),
                "ssim_garment": finite_mean(scores[m]["ssim_garment"]),
            }
            for m in METHODS
        },
        "protocol": "held-out end-to-end losses (Eqs. 2, 5-6, 9-11, no adversarial term) on paired test "
        "sequences, teacher-forced; SSIM (data range 1, Gaussian 11x11 sigma 1.5) of the autoregressive "
        "try-on of frames 1..N-1, over the whole frame and inside the ground-truth garment mask",
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    return markdown_table(
        f"FashionMirror, held-out {report['split']} ({report['pairs']}) of {report['data']}: "
        f"{report['clips']} sequences of {report['frames']} frames at "
        f"{report['size'][0]}x{report['size'][1]}.",
        ["held-out loss total (lower is better)", "CMN loss", "SSIM (higher is better)", "SSIM in garment"],
        {
            name: [(v["heldout_loss"] or {}).get(k) for k in ("total", "cmn")] + [v["ssim"], v["ssim_garment"]]
            for name, v in report["methods"].items()
        },
    )
