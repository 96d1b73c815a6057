"""The evaluation engine: one pass over the items computes every requested metric for one or more methods.

An item is one test video (or image) with its ground truth (None for an unpaired try-on on real data), a
*reference* video that moves like the prediction (for the temporal metrics; the ground truth by default,
the source person video for unpaired real data), the try-on region mask, and one prediction per method.
Reading each ground truth and computing its optical flow and its features once, however many methods are
compared, is what makes the benchmark runner affordable.

Metric families (names as in reports and ``--metrics``):

==============  ===========================================  ======================================
metric          needs                                        aggregate
==============  ===========================================  ======================================
ssim, psnr,     ground truth                                 mean over frames, then over items
lpips           ground truth + LPIPS backbone weights        same
masked_ssim     ground truth + mask                          same (frames with empty masks skipped)
fid, kid        real set (ground truths or added real        over all frames of all items
                videos) + FID Inception weights
is              FID-independent ImageNet Inception weights   over all predicted frames
vfid_i3d,       real set of videos >= clip_len frames +      over all 10-frame clips
vfid_resnext    I3D / ResNeXt-101 weights
warp_error,     reference video (>= 2 frames); flicker also  mean over items
flicker         a mask
==============  ===========================================  ======================================

KID is reported x ``kid_scale`` (1000 by default, as CatVTON and CatV2TON print it; see
:mod:`vvt.eval.protocols` for the scales of published tables); the report's protocol block says which. FID
and KID come from one of :data:`FID_BACKENDS`: ``pytorch-fid`` (:mod:`vvt.eval.inception`) or ``clean-fid``
(:mod:`vvt.eval.clean_fid`). A metric that cannot be computed (weights absent, no ground truth, images
instead of videos) is reported as ``None`` with its reason under ``absent``, never as zero.

Which metrics, at which size, with which settings: a named protocol (:mod:`vvt.eval.protocols`) fixes them;
:meth:`EvalConfig.for_protocol` builds the settings, and every report carries the protocol's full settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from vvt.errors import ShapeMismatchError, VVTError
from vvt.eval import fid as fidlib
from vvt.eval import image as imagelib
from vvt.eval import temporal
from vvt.eval.inception import inception_score
from vvt.eval.inputs import RESIZE_METHODS, FrameRanges, read_frames, read_mask_frames
from vvt.eval.protocols import SETTINGS, describe_settings, get_protocol
from vvt.eval.vfid import VFIDProtocol, VideoClips, clip_features, sampled_features, scored_counts
from vvt.eval.weights import missing_reason, weight_path

log = logging.getLogger(__name__)

ALL_METRICS = (
    "ssim",
    "psnr",
    "lpips",
    "masked_ssim",
    "fid",
    "kid",
    "is",
    "vfid_i3d",
    "vfid_resnext",
    "warp_error",
    "flicker",
)
FULL_REFERENCE = ("ssim", "psnr", "lpips", "masked_ssim")
DISTRIBUTION = ("fid", "kid", "vfid_i3d", "vfid_resnext")
TEMPORAL = ("warp_error", "flicker")
VFID = ("vfid_i3d", "vfid_resnext")
FID_BACKENDS = ("pytorch-fid", "clean-fid")
KID_SCALES = (1, 1000)


@dataclass
class EvalConfig:
    """Settings of an evaluation (every field has the ``vvt`` protocol's default).

    Build one from a named protocol with :meth:`for_protocol`; the fields a protocol fixes are those of
    :data:`vvt.eval.protocols.SETTINGS`.

    Attributes:
        metrics: metric names; None = every metric of ``scope`` the inputs allow (absent weights are then
            reported, not raised). Naming a metric explicitly makes missing weights an error that says which
            file to add.
        scope: the metrics scored when ``metrics`` is None (a protocol's table columns); None = all.
        weights_dir: the local weights folder (None: ``$VVT_WEIGHTS``).
        device: ``"cpu"``, ``"cuda"``, ... for the networks.
        lpips_net: LPIPS backbone, ``"squeeze"`` (CatV2TON) or ``"alex"`` (image try-on papers) or ``"vgg"``.
        vfid: clip protocol of VFID.
        flow: optical flow for the temporal metrics, ``"dis"`` or ``"farneback"``.
        fid_backend: ``"pytorch-fid"`` or ``"clean-fid"`` (FID and KID features).
        kid_scale: KID is reported times this (1 or 1000).
        ssim_border: SSIM border rule, ``"full"`` or ``"crop5"`` (:mod:`vvt.eval.image`).
        seed: seeds KID's subset sampling (the only random step).
        kid_subsets, kid_subset_size: KID's subsets (Bińkowski et al.: 100 of 1000).
        is_splits: Inception-Score splits (Salimans et al.: 10).
        batch_size: frames per forward pass of the image networks.
        size: (H, W) every stream is resized to before evaluation, or None to evaluate at the native size.
        resize: the filter of that resize (:data:`vvt.eval.inputs.RESIZE_METHODS`).
        max_frames: evaluate only the first frames of every video.
        protocol_name: the protocol these settings come from (:mod:`vvt.eval.protocols`).
        changed: the settings changed from that protocol's (only ``vvt``'s may change).
    """

    metrics: tuple[str, ...] | None = None
    scope: tuple[str, ...] | None = None
    weights_dir: str | Path | None = None
    device: str = "cpu"
    lpips_net: str = "squeeze"
    vfid: VFIDProtocol = field(default_factory=VFIDProtocol)
    flow: str = "dis"
    fid_backend: str = "pytorch-fid"
    kid_scale: int = 1000
    ssim_border: str = "full"
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    batch_size: int = 8
    size: tuple[int, int] | None = None
    resize: str = "area"
    max_frames: int | None = None
    protocol_name: str = "vvt"
    changed: tuple[str, ...] = ()

    @classmethod
    def for_protocol(cls, protocol: str = "vvt", is_video: bool | None = None, **kwargs) -> EvalConfig:
        """The settings of a named protocol (:mod:`vvt.eval.protocols`).

        Args:
            protocol: its name.
            is_video: whether the inputs are videos (picks the protocol's metrics for videos or images);
                None leaves ``scope`` open (set it with :meth:`with_scope` once the inputs are known).
            kwargs: other fields; those of :data:`~vvt.eval.protocols.SETTINGS` given as None take the
                protocol's value, and given otherwise must agree with a fixed protocol.

        Raises:
            VVTError: unknown protocol, a fixed setting overridden, or invalid settings.
        """
        preset = get_protocol(protocol)
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in SETTINGS}
        settings, changed = preset.resolve(overrides)
        scope = preset.scope(is_video) if is_video is not None else None
        return cls(**kwargs, **settings, scope=scope, protocol_name=protocol, changed=tuple(changed))

    def with_scope(self, is_video: bool) -> EvalConfig:
        """These settings with the protocol's metrics for videos (``is_video``) or images."""
        return replace(self, scope=get_protocol(self.protocol_name).scope(is_video))

    def __post_init__(self):
        problems = []
        unknown = [m for m in (*(self.metrics or ()), *(self.scope or ())) if m not in ALL_METRICS]
        if unknown:
            problems.append(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(ALL_METRICS)}")
        choices = {
            "LPIPS backbone": (self.lpips_net, imagelib.LPIPS_NETS),
            "optical flow": (self.flow, temporal.FLOW_METHODS),
            "FID backend": (self.fid_backend, FID_BACKENDS),
            "KID scale": (self.kid_scale, KID_SCALES),
            "SSIM border rule": (self.ssim_border, imagelib.SSIM_BORDERS),
            "resize filter": (self.resize, RESIZE_METHODS),
        }
        for what, (value, allowed) in choices.items():
            if value not in allowed:
                problems.append(f"unknown {what} {value!r}; choose from {', '.join(map(str, allowed))}")
        for name in ("max_frames", "batch_size", "kid_subsets", "kid_subset_size", "is_splits"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} must be at least 1, got {value}")
        if self.size is not None and min(self.size) < 1:
            problems.append(f"size must be positive (H, W), got {tuple(self.size)}")
        if problems:
            raise VVTError("invalid evaluation settings: " + "; ".join(problems))

    def protocol(self) -> dict:
        """What every metric computes, written into each report so numbers are never compared blindly."""
        preset = get_protocol(self.protocol_name)
        settings = {k: getattr(self, k) for k in SETTINGS}
        ssim_rule = {
            "full": "the whole map averaged (torchmetrics since its PR #2721)",
            "crop5": "the map without its 5-pixel border averaged (torchmetrics before PR #2721, scikit-image)",
        }[self.ssim_border]
        fid = {
            "pytorch-fid": "pytorch-fid's Inception port (pool3, 2048-d), 299x299 bilinear inside the network",
            "clean-fid": "clean-fid: per-channel float PIL bicubic resize to 299x299, NVIDIA's TorchScript "
            "Inception (pool3, 2048-d)",
        }[self.fid_backend]
        return {
            "name": self.protocol_name,
            "summary": preset.summary,
            "source": preset.source,
            "settings": describe_settings(settings),
            "changed_from_protocol": list(self.changed),
            "ssim": f"SSIM as torchmetrics defines it: [0,1] frames, data_range 1, Gaussian 11x11 sigma 1.5, "
            f"reflection-padded map, border rule {self.ssim_border}: {ssim_rule}; mean over frames, then items",
            "psnr": "10 log10(1/MSE) on [0,1] frames (MSE floored at 1e-10: identical frames give 100 dB)",
            "lpips": f"lpips v0.1, backbone {self.lpips_net}, inputs in [-1,1]",
            "masked_ssim": "SSIM map averaged inside the mask (agnostic mask: the try-on region)",
            "fid": f"backend {self.fid_backend}: {fid}; all frames; scipy sqrtm",
            "kid": f"polynomial-kernel unbiased MMD^2, {self.kid_subsets} subsets of <= {self.kid_subset_size}, "
            f"same features as FID ({self.fid_backend}); reported x{self.kid_scale}",
            "kid_scale": self.kid_scale,
            "is": f"torchvision ImageNet Inception-v3, 299x299, {self.is_splits} splits, predictions only",
            "vfid": self.vfid.describe(),
            "warp_error": f"Lai et al. 2018 E_warp: MSE on [0,1] between pred t and pred t+1 warped back by the "
            f"reference video's {self.flow} forward flow, on pixels passing Lai et al.'s occlusion rule "
            f"(forward-backward check and motion boundary); mean per frame pair, then over pairs. Comparable "
            f"only between runs with the same flow method ({self.flow}; Lai et al. used FlowNet2)",
            "flicker": "mean |change| of the try-on region's mean colour, pred t vs warped pred t+1, [0,1]",
            "size": list(self.size) if self.size else "native",
            "resize": self.resize if self.size else "none",
            "max_frames": self.max_frames,
            "seed": self.seed,
        }


@dataclass
class _MethodState:
    items: dict[str, dict[str, float]] = field(default_factory=dict)
    fid_features: list[np.ndarray] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    videos: list[VideoClips] = field(default_factory=list)
    frames: int = 0


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255


def _nanmean(values) -> float | None:
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else None


class Evaluator:
    """Accumulates items for several methods, then :meth:`report` computes the metrics.

    Args:
        config: the evaluation settings.
        methods: names of the compared methods (``["pred"]`` for a single prediction folder).
    """

    def __init__(self, config: EvalConfig, methods: list[str]):
        self.config = config
        self.methods = list(methods)
        self.device = torch.device(config.device)
        self.explicit = config.metrics is not None
        requested = tuple(config.metrics) if self.explicit else (config.scope or ALL_METRICS)
        self.absent: dict[str, str] = {}
        self.metrics = [m for m in ALL_METRICS if m in requested and not self._weights_absent(m)]
        self._nets: dict[str, torch.nn.Module] = self._load_networks()
        self._state = {m: _MethodState() for m in self.methods}
        self._real_fid: list[np.ndarray] = []
        self._real_videos: list[VideoClips] = []
        self._real_paths: set[tuple[Path, FrameRanges]] = set()
        self._has = {"gt": False, "mask": False, "reference": False, "real": False}

    # ---------------------------------------------------------------- setup
    def _weights_key(self, metric: str) -> str | None:
        return {
            "lpips": self.config.lpips_net,
            "fid": self._fid_key,
            "kid": self._fid_key,
            "is": "inception_v3",
            "vfid_i3d": "i3d",
            "vfid_resnext": "resnext101",
        }.get(metric)

    @property
    def _fid_key(self) -> str:
        return "clean_fid_inception" if self.config.fid_backend == "clean-fid" else "fid_inception"

    def _weights_absent(self, metric: str) -> bool:
        key = self._weights_key(metric)
        if key is None:
            return False
        reason = missing_reason(key, self.config.weights_dir)
        if reason is None:
            return False
        if self.explicit:
            weight_path(key, self.config.weights_dir)  # raises WeightsNotFoundError with the exact file
        self.absent[metric] = reason
        log.warning("%s skipped: %s", metric, reason)
        return True

    def _load_networks(self) -> dict[str, torch.nn.Module]:
        from vvt.eval.clean_fid import load_clean_fid_features
        from vvt.eval.i3d import load_i3d
        from vvt.eval.inception import load_fid_features, load_inception_classifier
        from vvt.eval.resnext3d import load_resnext101

        wd, nets = self.config.weights_dir, {}
        if "lpips" in self.metrics:
            nets["lpips"] = imagelib.LPIPS(self.config.lpips_net, wd)
        if "fid" in self.metrics or "kid" in self.metrics:
            clean = self.config.fid_backend == "clean-fid"
            nets["fid"] = load_clean_fid_features(wd) if clean else load_fid_features(wd)
        if "is" in self.metrics:
            nets["is"] = load_inception_classifier(wd)
        if "vfid_i3d" in self.metrics:
            nets["vfid_i3d"] = load_i3d(wd)
        if "vfid_resnext" in self.metrics:
            nets["vfid_resnext"] = load_resnext101(wd)
        return {k: v.to(self.device).eval() for k, v in nets.items()}

    # ---------------------------------------------------------------- features
    @torch.no_grad()
    def _batched(self, net: torch.nn.Module, frames: np.ndarray) -> np.ndarray:
        """Frames ``(N, H, W, 3)`` uint8 -> network outputs on [-1, 1] input, in batches."""
        out = []
        for i in range(0, frames.shape[0], self.config.batch_size):
            x = _to_tensor(frames[i : i + self.config.batch_size]).to(self.device) * 2 - 1
            out.append(net(x).double().cpu().numpy())
        return np.concatenate(out)

    @torch.no_grad()
    def _fid_features(self, frames: np.ndarray) -> np.ndarray:
        """FID/KID features ``(N, 2048)`` float64 of frames ``(N, H, W, 3)`` uint8 with the configured backend."""
        net = self._nets["fid"]
        if self.config.fid_backend == "pytorch-fid":
            return self._batched(net, frames)
        b = self.config.batch_size
        return np.concatenate([net(frames[i : i + b]).double().cpu().numpy() for i in range(0, len(frames), b)])

    def _distribution_features(self, path: Path, frames: np.ndarray) -> tuple[np.ndarray | None, VideoClips]:
        """FID features (None without the network) and the VFID clip features of one video."""
        fid = self._fid_features(frames) if "fid" in self._nets else None
        clips = {}
        for key in VFID:
            if key in self._nets:
                has_clip = self.config.vfid.num_clips(frames.shape[0]) > 0
                clips[key] = (
                    clip_features(self._nets[key], frames, self.config.vfid, self.device)
                    if has_clip
                    else np.zeros((0, 0))
                )
        return fid, VideoClips(path, frames.shape[0], clips)

    def add_real(self, path: Path, frames: np.ndarray | None = None, ranges: FrameRanges = ()) -> None:
        """Add a real video/image (its frames of ``ranges``, all when empty) to the reference distribution of
        FID/KID/VFID (each path and ranges counted once)."""
        key = (path, tuple(ranges))
        if key in self._real_paths or not any(m in self.metrics for m in DISTRIBUTION):
            return
        self._real_paths.add(key)
        if frames is None:
            frames = self._read(path, ranges)
        fid, clips = self._distribution_features(path, frames)
        if fid is not None:
            self._real_fid.append(fid)
        self._real_videos.append(clips)
        self._has["real"] = True

    # ---------------------------------------------------------------- items
    def _read(self, path: Path, ranges: FrameRanges = ()) -> np.ndarray:
        return read_frames(path, self.config.max_frames, self.config.size, self.config.resize, ranges)

    def add(
        self,
        name: str,
        preds: dict[str, Path],
        gt: Path | None = None,
        reference: Path | None = None,
        mask: Path | None = None,
        ranges: FrameRanges = (),
    ) -> None:
        """Evaluate one item for every method.

        Args:
            name: item name (keys the per-item results).
            preds: method -> predicted video/image path (methods missing here are simply not evaluated on it).
            gt: ground truth (None: the full-reference metrics skip this item).
            reference: video whose motion the prediction follows (default: ``gt``).
            mask: try-on region mask video/image (white = region), for masked SSIM and flicker.
            ranges: the frames of ``gt``, ``reference`` and ``mask`` that the predictions hold
                (``Sample.frame_ranges``; empty: all).
        """
        c = self.config
        gt_frames = self._read(gt, ranges) if gt is not None else None
        ref_path = reference if reference is not None else gt
        ref_frames = gt_frames if ref_path == gt else (
            self._read(ref_path, ranges) if ref_path is not None else None)
        mask_frames = read_mask_frames(mask, c.max_frames, c.size, ranges) if mask is not None else None
        if gt is not None:
            self.add_real(gt, gt_frames, ranges)
            self._has["gt"] = True
        motions = None
        if ref_frames is not None and ref_frames.shape[0] >= 2 and any(m in self.metrics for m in TEMPORAL):
            motions = temporal.reference_motion(ref_frames, c.flow)
            self._has["reference"] = True
        self._has["mask"] |= mask_frames is not None
        for method, path in preds.items():
            pred = self._read(path)
            self._check_shapes(
                name,
                method,
                path,
                pred,
                {"ground truth": gt_frames, "reference": ref_frames, "mask": mask_frames},
            )
            self._add_prediction(self._state[method], name, path, pred, gt_frames, mask_frames, motions)

    @staticmethod
    def _check_shapes(name: str, method: str, path: Path, pred: np.ndarray, others: dict) -> None:
        problems = []
        for what, arr in others.items():
            if arr is None:
                continue
            if arr.shape[0] != pred.shape[0]:
                problems.append(f"{arr.shape[0]} frame(s) in the {what} but {pred.shape[0]} predicted")
            if arr.shape[1:3] != pred.shape[1:3]:
                problems.append(
                    f"{what} is {arr.shape[1]}x{arr.shape[2]} but the prediction "
                    f"{pred.shape[1]}x{pred.shape[2]} (HxW)"
                )
        if problems:
            raise ShapeMismatchError(f"{name} ({method}, {path}): " + "; ".join(problems))

    def _add_prediction(
        self,
        state: _MethodState,
        name: str,
        path: Path,
        pred: np.ndarray,
        gt: np.ndarray | None,
        mask: np.ndarray | None,
        motions: list | None,
    ) -> None:
        values: dict[str, float] = {}
        pred01 = pred.astype(np.float32) / 255
        if gt is not None:
            gt01 = gt.astype(np.float32) / 255
            want_masked = mask is not None and "masked_ssim" in self.metrics
            ssim_map = imagelib.ssim_map(pred01, gt01) if "ssim" in self.metrics or want_masked else None
            if "ssim" in self.metrics:
                values["ssim"] = float(imagelib.frame_means(ssim_map, self.config.ssim_border).mean())
            if "psnr" in self.metrics:
                values["psnr"] = float(imagelib.psnr(pred01, gt01).mean())
            if want_masked:
                values["masked_ssim"] = _nanmean(imagelib.masked_frame_means(ssim_map, mask))
            if "lpips" in self._nets:
                b = self.config.batch_size
                scores = [
                    self._nets["lpips"](
                        _to_tensor(pred[i : i + b]).to(self.device), _to_tensor(gt[i : i + b]).to(self.device)
                    ).cpu()
                    for i in range(0, pred.shape[0], b)
                ]
                values["lpips"] = float(torch.cat(scores).double().mean())
        if motions is not None:
            if "warp_error" in self.metrics:
                values["warp_error"] = temporal.warping_error(pred01, motions)
            if mask is not None and "flicker" in self.metrics:
                values["flicker"] = temporal.flicker(pred01, motions, mask)
        if any(m in self.metrics for m in DISTRIBUTION):
            fid, clips = self._distribution_features(path, pred)
            if fid is not None:
                state.fid_features.append(fid)
        else:
            clips = VideoClips(path, pred.shape[0], {})
        state.videos.append(clips)
        if "is" in self._nets:
            state.probs.append(self._batched(self._nets["is"], pred))
        state.frames += pred.shape[0]
        state.items[name] = {k: v for k, v in values.items() if v is not None}

    # ---------------------------------------------------------------- report
    def _why_absent(self, metric: str) -> str | None:
        """Why a metric has no data after all items were added (None when it has)."""
        h = self._has
        if metric in FULL_REFERENCE and not h["gt"]:
            return "no ground truth (unpaired try-on on real data)"
        if metric in ("masked_ssim", "flicker") and not h["mask"]:
            return "no masks given"
        if metric in TEMPORAL and not h["reference"]:
            return "needs videos of at least 2 frames with a reference (ground-truth or source) video"
        if metric in DISTRIBUTION and not h["real"]:
            return "no real videos/images to compare the predictions' distribution with"
        if metric in VFID and not any(sum(scored_counts(st.videos, self.config.vfid)) for st in self._state.values()):
            return f"needs videos of at least {self.config.vfid.clip_len} frames (one VFID clip)"
        return None

    def report(self) -> dict:
        """Results: ``{"protocol", "real_set", "methods": {method: {"metrics", "spread", "absent", ..}}}``."""
        c = self.config
        absent = dict(self.absent)
        for metric in self.metrics:
            reason = self._why_absent(metric)
            if reason is not None:
                if self.explicit:
                    raise VVTError(f"metric {metric} cannot be computed on these inputs: {reason}")
                absent[metric] = reason
        active = [m for m in self.metrics if m not in absent]
        real = {m: sampled_features(self._real_videos, m, c.vfid) for m in VFID if m in active}
        if self._real_fid:
            real["fid_features"] = np.concatenate(self._real_fid)
        methods = {}
        for method, st in self._state.items():
            metrics: dict[str, float | None] = {m: None for m in ALL_METRICS if m in active or m in absent}
            spread: dict[str, float] = {}
            method_absent = {m: r for m, r in absent.items() if m in metrics}
            for m in ("ssim", "psnr", "lpips", "masked_ssim", "warp_error", "flicker"):
                if m in active:
                    metrics[m] = _nanmean(item.get(m, np.nan) for item in st.items.values())
            for m in DISTRIBUTION:
                if m not in active:
                    continue
                if m in ("fid", "kid"):
                    if not st.fid_features or "fid_features" not in real:
                        continue
                    feats, real_feats, unit = np.concatenate(st.fid_features), real["fid_features"], "frames"
                else:
                    feats, real_feats = sampled_features(st.videos, m, c.vfid), real[m]
                    unit = f"{c.vfid.clip_len}-frame clips"
                    if not len(feats):
                        continue
                if min(len(feats), len(real_feats)) < 2:  # a covariance / an unbiased MMD needs two samples
                    reason = f"needs at least 2 {unit} on each side, got {len(feats)} predicted, {len(real_feats)} real"
                    if self.explicit:
                        raise VVTError(f"metric {m} cannot be computed on these inputs: {reason}")
                    method_absent[m] = reason
                elif m == "kid":
                    mean, std = fidlib.kid_from_features(
                        feats, real_feats, c.kid_subsets, c.kid_subset_size, c.seed
                    )
                    metrics[m], spread[m] = mean * c.kid_scale, std * c.kid_scale
                else:
                    metrics[m] = fidlib.fid_from_features(feats, real_feats)
            if "is" in active and st.probs:
                metrics["is"], spread["is"] = inception_score(np.concatenate(st.probs), c.is_splits)
            for m, v in metrics.items():
                if v is None and m not in method_absent:
                    method_absent[m] = "no item of this method could be evaluated for it"
            methods[method] = {
                "metrics": metrics,
                "spread": spread,
                "absent": method_absent,
                "counts": {
                    "items": len(st.items),
                    "frames": st.frames,
                    "clips": int(sum(scored_counts(st.videos, c.vfid))),
                },
                "items": st.items,
            }
        return {"protocol": c.protocol(), "real_set": {"items": len(self._real_paths)}, "methods": methods}
