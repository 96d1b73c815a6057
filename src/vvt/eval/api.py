"""``vvt.eval.evaluate``: score a folder of predictions against a folder of ground truths."""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm import tqdm

from vvt.errors import VVTError
from vvt.eval.evaluator import TEMPORAL, EvalConfig, Evaluator
from vvt.eval.inputs import MatchedItem, dataset_items, match
from vvt.eval.vfid import VFIDProtocol

log = logging.getLogger(__name__)


def _check_applicable(
    metrics: tuple[str, ...],
    items: list[MatchedItem],
    has_masks: bool,
    protocol: VFIDProtocol,
    max_frames: int | None,
) -> None:
    """Explicitly requested metrics must be computable on these inputs; say why not, all at once."""
    frames = [min(i.info.num_frames, max_frames or i.info.num_frames) for i in items]
    problems = []
    for metric in metrics:
        if metric in ("masked_ssim", "flicker") and not has_masks:
            problems.append(
                f"{metric} needs masks (--masks DIR: one mask video/image per item, white = region)"
            )
        if metric in TEMPORAL and max(frames) < 2:
            problems.append(f"{metric} needs videos of at least 2 frames; every item has one frame")
        if metric.startswith("vfid") and max(frames) < protocol.clip_len:
            problems.append(
                f"{metric} needs videos of at least {protocol.clip_len} frames (one clip); "
                f"the longest item has {max(frames)}"
            )
    if problems:
        raise VVTError("cannot compute the requested metrics: " + "; ".join(problems))


def evaluate(
    pred_dir: str | Path,
    gt_dir: str | Path,
    metrics: list[str] | tuple[str, ...] | None = None,
    masks_dir: str | Path | None = None,
    *,
    protocol: str = "vvt",
    weights_dir: str | Path | None = None,
    device: str = "cpu",
    lpips_net: str | None = None,
    vfid: VFIDProtocol | None = None,
    flow: str | None = None,
    fid_backend: str | None = None,
    kid_scale: int | None = None,
    ssim_border: str | None = None,
    size: tuple[int, int] | None = None,
    resize: str | None = None,
    seed: int = 0,
    max_frames: int | None = None,
    batch_size: int = 8,
    show_progress: bool = True,
    pairs: str = "paired",
) -> dict:
    """Score predictions against ground truths matched by name (videos, frame folders or images).

    Args:
        pred_dir: folder of predicted videos / frame folders / images.
        gt_dir: folder of ground truths with the same names and frame counts (and sizes, unless the protocol
            resizes every stream to one size), or a dataset root in a layout vvt reads (e.g. CatV2TON's ViViD-S
            split): its test split (``pairs``), each sample's prediction named ``PRED/<sample name>``, its mask
            the sample's agnostic mask, its scored frames its ``frame_ranges`` (ViViD-S ``front_seqs``)
            (:func:`vvt.eval.inputs.dataset_items`).
        metrics: names from :data:`vvt.eval.evaluator.ALL_METRICS`; None = every metric of the protocol the
            inputs allow, with metrics whose weights are absent reported as ``None`` plus the reason (never
            zero). Naming a metric whose weights are absent raises :class:`vvt.errors.WeightsNotFoundError`.
        masks_dir: try-on region masks (e.g. agnostic masks) with the same names, for ``masked_ssim`` and
            ``flicker``.
        protocol: a name of :data:`vvt.eval.protocols.PROTOCOLS` (``vvt``, ``catv2ton``, ``realvvt-vvt``,
            ``realvvt-image``): fixes the settings below that are left None.
        weights_dir: the local weights folder (default ``$VVT_WEIGHTS``); see :mod:`vvt.eval.weights`.
        device: torch device of the networks.
        lpips_net, vfid, flow, fid_backend, kid_scale, ssim_border, size, resize: settings of
            :class:`~vvt.eval.evaluator.EvalConfig`; None takes the protocol's, a value must agree with a
            fixed protocol (any value may change ``vvt``'s, and the report lists the changes).
        seed: seed of KID's subset sampling; the same inputs and seed give the same report.
        max_frames: use only the first frames of each video.
        batch_size: frames per forward pass.
        show_progress: show a progress bar.
        pairs: with a dataset root as ``gt_dir``, its ``"paired"`` or ``"unpaired"`` test split (ViViD-S:
            ``test_data_180.jsonl`` or ``test_data_180_unpaired.jsonl``). Unpaired real data has no ground
            truth: FID/KID/VFID compare the predictions with the person videos (CatV2TON's unpaired tables) and
            the full-reference metrics are absent (:func:`vvt.eval.inputs.dataset_items`).

    Returns:
        ``{"pred_dir", "gt_dir", "masks_dir", "protocol", "metrics", "spread", "absent", "counts", "items"}``:
        ``protocol`` holds the protocol's name and full settings, ``metrics`` maps each metric to its value
        (KID x the protocol's ``kid_scale``) or None, ``absent`` gives the reasons,
        ``spread`` the standard deviations of KID and IS over their subsets/splits, ``items`` per-item values.

    Raises:
        VVTError: unknown metric names or protocol, invalid settings, a fixed protocol setting overridden, or a
            requested metric these inputs cannot give.
        ShapeMismatchError: names, frame counts or sizes differ (every offending item listed).
        WeightsNotFoundError: a requested metric's weights file is missing (naming the file and folder).
    """
    config = EvalConfig.for_protocol(  # checks the settings before any file is read
        protocol,
        metrics=tuple(metrics) if metrics else None,
        weights_dir=weights_dir,
        device=device,
        lpips_net=lpips_net,
        vfid=vfid,
        flow=flow,
        fid_backend=fid_backend,
        kid_scale=kid_scale,
        ssim_border=ssim_border,
        size=size,
        resize=resize,
        seed=seed,
        max_frames=max_frames,
        batch_size=batch_size,
    )
    items = dataset_items(gt_dir, pred_dir, masks_dir, same_size=config.size is None, pairs=pairs)
    if items is None:
        if pairs != "paired":
            raise VVTError(f"pairs={pairs!r} needs a dataset root as the ground truth (e.g. CatV2TON's ViViD-S "
                           f"folder); {gt_dir} is in no layout vvt reads, so it is read as a folder of ground "
                           "truths")
        items = match(pred_dir, gt_dir, masks_dir, same_size=config.size is None)
    return {
        "pred_dir": str(pred_dir),
        "gt_dir": str(gt_dir),
        "masks_dir": str(masks_dir) if masks_dir else None,
        **evaluate_items(items, config, show_progress=show_progress),
    }


def evaluate_items(items: list[MatchedItem], config: EvalConfig, show_progress: bool = True) -> dict:
    """Score matched items (:func:`vvt.eval.inputs.match` / :func:`~vvt.eval.inputs.pair`) with ``config``.

    ``config.scope`` is set here from the protocol and whether the items are videos.

    Returns:
        ``{"protocol", "metrics", "spread", "absent", "counts", "items"}`` (see :func:`evaluate`).
    """
    config = config.with_scope(any(i.info.is_video for i in items))
    if config.metrics:
        has_masks = any(i.mask is not None for i in items)
        _check_applicable(config.metrics, items, has_masks, config.vfid, config.max_frames)
    evaluator = Evaluator(config, ["pred"])
    for item in tqdm(items, desc="evaluating", unit="item", disable=not show_progress):
        if item.gt is None and item.reference is not None:  # unpaired real data: the person videos are the real set
            evaluator.add_real(item.reference, ranges=item.ranges)
        evaluator.add(item.name, {"pred": item.pred}, gt=item.gt, reference=item.reference, mask=item.mask,
                      ranges=item.ranges)
    report = evaluator.report()
    return {"protocol": report["protocol"], **report["methods"]["pred"]}
