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

KID is reported x 1000 (as CatVTON and RealVVT's Table 2 print it); the report's protocol block says so.
A metric that cannot be computed (weights absent, no ground truth, images instead of videos) is reported as
``None`` with its reason under ``absent``, never as zero.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vvt.errors import ShapeMismatchError, VVTError
from vvt.eval import fid as fidlib
from vvt.eval import image as imagelib
from vvt.eval import temporal
from vvt.eval.inception import inception_score
from vvt.eval.inputs import read_frames, read_mask_frames
from vvt.eval.vfid import VFIDProtocol, clip_features
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
KID_SCALE = 1000


@dataclass
class EvalConfig:
    """Settings of an evaluation (every field has the published protocol's default).

    Attributes:
        metrics: metric names; None = every metric the inputs allow (absent weights are then reported, not
            raised). Naming a metric explicitly makes missing weights an error that says which file to add.
        weights_dir: the local weights folder (None: ``$VVT_WEIGHTS``).
        device: ``"cpu"``, ``"cuda"``, ... for the networks.
        lpips_net: LPIPS backbone, ``"squeeze"`` (CatV2TON) or ``"alex"`` (image try-on papers) or ``"vgg"``.
        vfid: clip protocol of VFID.
        flow: optical flow for the temporal metrics, ``"dis"`` or ``"farneback"``.
        seed: seeds KID's subset sampling (the only random step).
        kid_subsets, kid_subset_size: KID's subsets (Bińkowski et al.: 100 of 1000).
        is_splits: Inception-Score splits (Salimans et al.: 10).
        batch_size: frames per forward pass of the image networks.
        size: (H, W) every stream is resized to before evaluation, or None to evaluate at the native size.
        max_frames: evaluate only the first frames of every video.
    """

    metrics: tuple[str, ...] | None = None
    weights_dir: str | Path | None = None
    device: str = "cpu"
    lpips_net: str = "squeeze"
    vfid: VFIDProtocol = field(default_factory=VFIDProtocol)
    flow: str = "dis"
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    batch_size: int = 8
    size: tuple[int, int] | None = None
    max_frames: int | None = None

    def __post_init__(self):
        problems = []
        unknown = [m for m in self.metrics or () if m not in ALL_METRICS]
        if unknown:
            problems.append(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(ALL_METRICS)}")
        if self.lpips_net not in imagelib.LPIPS_NETS:
            problems.append(
                f"unknown LPIPS backbone {self.lpips_net!r}; choose from {', '.join(imagelib.LPIPS_NETS)}"
            )
        if self.flow not in temporal.FLOW_METHODS:
            problems.append(f"unknown optical flow {self.flow!r}; choose from {', '.join(temporal.FLOW_METHODS)}")
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
        return {
            "ssim": "SSIM as torchmetrics (CatV2TON) defines it: [0,1] frames, data_range 1, Gaussian 11x11 "
            "sigma 1.5, reflection-padded map; "
            "mean over frames, then items",
            "psnr": "10 log10(1/MSE) on [0,1] frames (MSE floored at 1e-10: identical frames give 100 dB)",
            "lpips": f"lpips v0.1, backbone {self.lpips_net}, inputs in [-1,1] at native size",
            "masked_ssim": "SSIM map averaged inside the mask (agnostic mask: the try-on region)",
            "fid": "pytorch-fid Inception pool3 (2048-d), 299x299 bilinear, all frames; scipy sqrtm",
            "kid": f"polynomial-kernel unbiased MMD^2, {self.kid_subsets} subsets of "
            f"<= {self.kid_subset_size}, "
            f"same features as FID; reported x {KID_SCALE}",
            "is": f"torchvision ImageNet Inception-v3, 299x299, {self.is_splits} splits, predictions only",
            "vfid": self.vfid.describe(),
            "warp_error": f"Lai et al. 2018 E_warp: MSE on [0,1] between pred t+1 and pred t warped by the "
            f"reference video's {self.flow} flow, non-occluded pixels (forward-backward check); mean per "
            f"frame pair, then over pairs",
            "flicker": "mean |change| of the try-on region's mean colour, pred t+1 vs warped pred t, [0,1]",
            "size": list(self.size) if self.size else "native",
            "max_frames": self.max_frames,
            "seed": self.seed,
        }


@dataclass
class _MethodState:
    items: dict[str, dict[str, float]] = field(default_factory=dict)
    fid_features: list[np.ndarray] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    clip_features: dict[str, list[np.ndarray]] = field(
        default_factory=lambda: {"vfid_i3d": [], "vfid_resnext": []}
    )
    frames: int = 0
    clips: int = 0


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
        requested = tuple(config.metrics) if self.explicit else ALL_METRICS
        self.absent: dict[str, str] = {}
        self.metrics = [m for m in ALL_METRICS if m in requested and not self._weights_absent(m)]
        self._nets: dict[str, torch.nn.Module] = self._load_networks()
        self._state = {m: _MethodState() for m in self.methods}
        self._real = {"fid_features": [], "vfid_i3d": [], "vfid_resnext": []}
        self._real_paths: set[Path] = set()
        self._has = {"gt": False, "mask": False, "reference": False, "clips": False, "real": False}

    # ---------------------------------------------------------------- setup
    def _weights_key(self, metric: str) -> str | None:
        return {
            "lpips": self.config.lpips_net,
            "fid": "fid_inception",
            "kid": "fid_inception",
            "is": "inception_v3",
            "vfid_i3d": "i3d",
            "vfid_resnext": "resnext101",
        }.get(metric)

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
        from vvt.eval.i3d import load_i3d
        from vvt.eval.inception import load_fid_features, load_inception_classifier
        from vvt.eval.resnext3d import load_resnext101

        wd, nets = self.config.weights_dir, {}
        if "lpips" in self.metrics:
            nets["lpips"] = imagelib.LPIPS(self.config.lpips_net, wd)
        if "fid" in self.metrics or "kid" in self.metrics:
            nets["fid"] = load_fid_features(wd)
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

    def _distribution_features(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        feats = {}
        if "fid" in self._nets:
            feats["fid_features"] = self._batched(self._nets["fid"], frames)
        for key in ("vfid_i3d", "vfid_resnext"):
            if key in self._nets and self.config.vfid.num_clips(frames.shape[0]) > 0:
                feats[key] = clip_features(self._nets[key], frames, self.config.vfid, self.device)
        return feats

    def add_real(self, path: Path, frames: np.ndarray | None = None) -> None:
        """Add a real video/image to the reference distribution of FID/KID/VFID (each path counted once)."""
        if path in self._real_paths or not any(m in self.metrics for m in DISTRIBUTION):
            return
        self._real_paths.add(path)
        if frames is None:
            frames = read_frames(path, self.config.max_frames, self.config.size)
        for key, value in self._distribution_features(frames).items():
            self._real[key].append(value)
        self._has["real"] = True

    # ---------------------------------------------------------------- items
    def _read(self, path: Path) -> np.ndarray:
        return read_frames(path, self.config.max_frames, self.config.size)

    def add(
        self,
        name: str,
        preds: dict[str, Path],
        gt: Path | None = None,
        reference: Path | None = None,
        mask: Path | None = None,
    ) -> None:
        """Evaluate one item for every method.

        Args:
            name: item name (keys the per-item results).
            preds: method -> predicted video/image path (methods missing here are simply not evaluated on it).
            gt: ground truth (None: the full-reference metrics skip this item).
            reference: video whose motion the prediction follows (default: ``gt``).
            mask: try-on region mask video/image (white = region), for masked SSIM and flicker.
        """
        c = self.config
        gt_frames = self._read(gt) if gt is not None else None
        ref_path = reference if reference is not None else gt
        ref_frames = gt_frames if ref_path == gt else (self._read(ref_path) if ref_path is not None else None)
        mask_frames = read_mask_frames(mask, c.max_frames, c.size) if mask is not None else None
        if gt is not None:
            self.add_real(gt, gt_frames)
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
            self._add_prediction(self._state[method], name, pred, gt_frames, mask_frames, motions)

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
                values["ssim"] = float(imagelib.frame_means(ssim_map).mean())
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
        for key, value in self._distribution_features(pred).items():
            (state.fid_features if key == "fid_features" else state.clip_features[key]).append(value)
        if "is" in self._nets:
            state.probs.append(self._batched(self._nets["is"], pred))
        state.frames += pred.shape[0]
        state.clips += self.config.vfid.num_clips(pred.shape[0])
        self._has["clips"] |= self.config.vfid.num_clips(pred.shape[0]) > 0
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
        if metric.startswith("vfid") and not h["clips"]:
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
        real = {k: np.concatenate(v) for k, v in self._real.items() if v}
        methods = {}
        for method, st in self._state.items():
            metrics: dict[str, float | None] = {m: None for m in ALL_METRICS if m in active or m in absent}
            spread: dict[str, float] = {}
            method_absent = {m: r for m, r in absent.items() if m in metrics}
            for m in ("ssim", "psnr", "lpips", "masked_ssim", "warp_error", "flicker"):
                if m in active:
                    metrics[m] = _nanmean(item.get(m, np.nan) for item in st.items.values())
            for m in DISTRIBUTION:
                if m in ("fid", "kid"):
                    parts, real_key, unit = st.fid_features, "fid_features", "frames"
                else:
                    parts, real_key, unit = st.clip_features[m], m, f"{c.vfid.clip_len}-frame clips"
                if m not in active or not parts or real_key not in real:
                    continue
                feats, real_feats = np.concatenate(parts), real[real_key]
                if min(len(feats), len(real_feats)) < 2:  # a covariance / an unbiased MMD needs two samples
                    reason = f"needs at least 2 {unit} on each side, got {len(feats)} predicted, {len(real_feats)} real"
                    if self.explicit:
                        raise VVTError(f"metric {m} cannot be computed on these inputs: {reason}")
                    method_absent[m] = reason
                elif m == "kid":
                    mean, std = fidlib.kid_from_features(
                        feats, real_feats, c.kid_subsets, c.kid_subset_size, c.seed
                    )
                    metrics[m], spread[m] = mean * KID_SCALE, std * KID_SCALE
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
                "counts": {"items": len(st.items), "frames": st.frames, "clips": st.clips},
                "items": st.items,
            }
        return {"protocol": c.protocol(), "real_set": {"items": len(self._real_paths)}, "methods": methods}
