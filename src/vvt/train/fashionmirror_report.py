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
  The try-on reads only the source frame, the garment and the skeletons of frames ``1..N-1`` (Eq. 7 with the
  CMN on the model's own previous frame): no ground-truth frame is passed to the model as a guide.
* **Drift** (``drift``): SSIM per frame against the ground truth along a ``DRIFT_STEPS``-frame autoregressive
  rollout. SynthVVT clips have 16 frames, so the driving sequence plays each whole test clip forwards and
  backwards (0, 1, ..., 15, 14, ..., 0, 1, ...): every frame has its ground truth, and a model that drifts
  cannot recover when the pose comes back.
* **Contact sheet** (``figures``): for the first clips, rows of person | garment | pose | prediction | ground
  truth at a few frames.

Sequences: ``data.frames`` frames from the start of each test video, skips drawn per video from a fixed seed
(the run's ``max_skip``), no flip. The untrained model is the run's step-0 model rebuilt from its config; the
trained one is ``RUN/final`` (EMA weights). Written by :func:`vvt.train.report.run_report`, which tells the
two tasks' runs apart with :func:`is_fashionmirror_run`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from vvt.errors import InputFileError
from vvt.train.report import finite_mean, frames01, heldout_root, load_run, markdown_table, ssim_in_mask

METHODS = ("trained", "untrained", "copy_source")
#: length of the drift rollout (frames generated after the source)
DRIFT_STEPS = 32
LOSS_TERMS = ("cmn", "human_spatial", "clothes_spatial", "flow", "human_temporal", "clothes_temporal")


def is_fashionmirror_run(run: str | Path) -> bool:
    """Whether ``run`` is the output folder of ``vvt train fashionmirror`` (its config has ``stages``)."""
    import yaml

    config = Path(run) / "config.yaml"
    if not config.is_file():
        return False
    data = yaml.safe_load(config.read_text()) or {}
    return isinstance(data, dict) and "stages" in data


def _sequences(
    config: Any,
    data: Path,
    split: str,
    pairs: str,
    streams: tuple[str, ...],
    max_videos: int,
    frames: int | None = None,
    max_skip: int | None = None,
):
    from vvt.data.datasets import FrameSequenceDataset
    from vvt.data.layouts import read_layout

    return FrameSequenceDataset(
        read_layout(data, split=split, pairs=pairs)[:max_videos],
        tuple(config.data.size),
        num_frames=config.data.frames if frames is None else frames,
        max_skip=config.data.max_skip if max_skip is None else max_skip,
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
    figures: str | Path | None = None,
) -> dict[str, Any]:
    """Measure the three methods (see the module docstring); returns the report as a dict. With ``figures`` (a
    folder), also write ``fashionmirror-contact-sheet.png`` and ``fashionmirror-drift.png`` there."""
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
    sheet: list = []
    for index in tqdm(range(len(tryon)), desc="report try-on", unit="clip"):
        item = tryon[index]
        truth = item["gt_person"] if pairs == "unpaired" else item["person"]
        mask = item["gt_worn_mask"] if pairs == "unpaired" else item["worn_mask"]
        person, skeleton = item["person"].unsqueeze(0), item["skeleton"].unsqueeze(0)
        preds = {
            name: model.generate(person[:, 0], item["garment"].unsqueeze(0), skeleton)[0]
            for name, model in models.items()
        }
        preds["copy_source"] = item["person"][:1].expand_as(truth[1:])
        if index < SHEET_CLIPS:
            sheet.append((item, truth, preds["trained"]))
        for name, pred in preds.items():
            scores[name]["ssim"].append(float(ssim(frames01(pred), frames01(truth[1:])).mean()))
            scores[name]["ssim_garment"].append(ssim_in_mask(pred, truth[1:], mask[1:]))

    drift = _drift(config, data, split, pairs, max_videos, models)
    written = []
    if figures is not None:
        written = [Path(figures) / "fashionmirror-contact-sheet.png", Path(figures) / "fashionmirror-drift.png"]
        write_contact_sheet(sheet, written[0])
        write_drift_plot(drift, written[1])
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
        "drift": drift,
        "figures": [str(p) for p in written],
        "protocol": "held-out end-to-end losses (Eqs. 2, 5-6, 9-11, no adversarial term) on paired test "
        "sequences, teacher-forced; SSIM (data range 1, Gaussian 11x11 sigma 1.5) of the autoregressive "
        "try-on of frames 1..N-1 (no ground-truth guide), over the whole frame and inside the ground-truth garment "
        f"mask; drift: SSIM per frame of a {DRIFT_STEPS}-frame rollout over each whole test clip played forwards "
        "and backwards",
    }


SHEET_CLIPS = 3
SHEET_FRAMES = (1, 3, 5)


def pingpong(n: int, length: int) -> list[int]:
    """``length`` frame indices playing ``n`` frames forwards and backwards: 0, 1, ..., n-1, n-2, ..., 0, 1..."""
    if n < 2:
        return [0] * length
    period = 2 * (n - 1)
    return [t % period if t % period < n else period - t % period for t in range(length)]


def _drift(config, data, split, pairs, max_videos, models) -> dict[str, list[float | None]]:
    """SSIM per rollout step (1..DRIFT_STEPS) against the ground truth, averaged over clips, per method."""
    from vvt.eval.image import ssim

    streams = ("person", "skeleton", "garment") + (("gt_person",) if pairs == "unpaired" else ())
    probe = _sequences(config, data, split, pairs, streams, max_videos)
    length = min(probe.num_frames(i) for i in range(len(probe))) if len(probe) else 2
    clips = _sequences(config, data, split, pairs, streams, max_videos, frames=length, max_skip=0)
    per: dict[str, list[list[float]]] = {m: [] for m in ("trained", "copy_source")}
    for index in tqdm(range(len(clips)), desc="report drift", unit="clip"):
        item = clips[index]
        order = torch.tensor(pingpong(item["person"].shape[0], DRIFT_STEPS + 1))
        truth = (item["gt_person"] if pairs == "unpaired" else item["person"])[order]
        skeleton = item["skeleton"][order].unsqueeze(0)
        pred = models["trained"].generate(item["person"][:1], item["garment"].unsqueeze(0), skeleton)[0]
        per["trained"].append([float(v) for v in ssim(frames01(pred), frames01(truth[1:]))])
        copy = item["person"][:1].expand_as(truth[1:])
        per["copy_source"].append([float(v) for v in ssim(frames01(copy), frames01(truth[1:]))])
    return {m: [finite_mean(step) for step in zip(*v)] if v else [] for m, v in per.items()}


def _rgb(x: torch.Tensor) -> np.ndarray:
    """``(3 or 1, H, W)`` in [-1, 1] (or a mask in [0, 1]) -> ``(H, W, 3)`` uint8."""
    if x.shape[0] == 1:
        return np.repeat((x[0].clamp(0, 1) * 255).round().byte().numpy()[..., None], 3, 2)
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def write_contact_sheet(clips: list, path: Path) -> None:
    """Rows of person | garment | pose | prediction | ground truth (``SHEET_FRAMES`` of each clip)."""
    from vvt.io import write_image

    rows = []
    for item, truth, pred in clips:
        for t in SHEET_FRAMES:
            if t < truth.shape[0]:
                cells = [item["person"][0], item["garment"], item["skeleton"][t], pred[t - 1], truth[t]]
                rows.append(np.concatenate([_rgb(c) for c in cells], 1))
    if rows:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, np.concatenate(rows, 0))


def write_drift_plot(drift: dict[str, list[float | None]], path: Path) -> None:
    """The drift curves (SSIM per rollout step) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vvt.io.atomic import atomic_path

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for name, curve in drift.items():
        ax.plot(range(1, len(curve) + 1), [np.nan if v is None else v for v in curve], marker=".", label=name)
    ax.set_xlabel("rollout step (frames after the source)")
    ax.set_ylabel("SSIM vs ground truth")
    ax.set_title(f"FashionMirror drift over a {DRIFT_STEPS}-frame autoregressive rollout")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table, with the drift curve sampled every 4 steps."""
    drift = report.get("drift") or {}
    lines = ""
    if drift:
        steps = list(range(4, DRIFT_STEPS + 1, 4))
        lines = "\n" + markdown_table(
            f"Drift: SSIM against the ground truth at rollout steps {steps[0]}..{steps[-1]} "
            f"({DRIFT_STEPS}-frame rollout, test clips played forwards and backwards).",
            [f"step {s}" for s in steps],
            {m: [c[s - 1] if s - 1 < len(c) else None for s in steps] for m, c in drift.items()},
        )
    if report.get("figures"):
        lines += "\nFigures: " + ", ".join(report["figures"])
        lines += " (contact sheet rows: person | garment | pose | prediction | ground truth).\n"
    return (
        markdown_table(
            f"FashionMirror, held-out {report['split']} ({report['pairs']}) of {report['data']}: "
            f"{report['clips']} sequences of {report['frames']} frames at "
            f"{report['size'][0]}x{report['size'][1]}.",
            ["held-out loss total (lower is better)", "CMN loss", "SSIM (higher is better)", "SSIM in garment"],
            {
                name: [(v["heldout_loss"] or {}).get(k) for k in ("total", "cmn")] + [v["ssim"], v["ssim_garment"]]
                for name, v in report["methods"].items()
            },
        )
        + lines
    )
