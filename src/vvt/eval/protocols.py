"""Evaluation protocols: named presets that fix every setting a published number depends on.

Published try-on numbers are computed with different code, sizes, clip sampling, channel orders, resize
filters and backbones, and papers rarely say which; the same predictions can score an order of magnitude
apart. A protocol fixes all of these at once, and every report prints the protocol's name and full settings
(:meth:`vvt.eval.evaluator.EvalConfig.protocol`).

=================  =========================================================================================
protocol           what it reproduces
=================  =========================================================================================
``vvt``            vvt's default: native size, every non-overlapping 10-frame VFID clip (BGR, as CatV2TON's
                   loader), LPIPS SqueezeNet, FID/KID with the pytorch-fid Inception, KID x1000, every
                   metric. Its settings may be changed one by one (``--lpips-net`` ...); the report lists the
                   changes. It differs from ``catv2ton`` in the VFID clips and the FID backend only.
``catv2ton``       CatV2TON's released scripts as they run (``eval_video_metrics.py``,
                   ``eval_image_metrics.py``): native size, VFID on frames 0-9 of each video repeated as its
                   ``bisect_left`` indexing does (:func:`vvt.eval.vfid.catv2ton_clip_counts`), BGR, LPIPS
                   SqueezeNet, FID/KID through clean-fid, KID x1000. Videos: SSIM, LPIPS, VFID I3D and
                   ResNeXt; images: SSIM, LPIPS, FID, KID. The ViViD-S VFIDs of CatV2TON (13.60 paired) and
                   MagicTryOn were made with this script.
``realvvt-vvt``    RealVVT Table 1 (and 6): VVT at 512x384 (Sec. 4), SSIM, LPIPS, VFID I3D and ResNeXt.
``realvvt-image``  RealVVT Tables 2-5: VITON-HD and Dress Code at 1024x768, SSIM, LPIPS, FID, KID.
=================  =========================================================================================

RealVVT released no evaluation code and names only the metrics, the sizes and whose paradigm it follows
("vitondit" for video, StableVITON for images). What the paper does not say, the RealVVT presets choose as
follows, and say so in every report: frames resized with PIL bicubic to the paper's size (VVT's 256x192
frames are enlarged; both sizes are 4:3, so nothing is stretched); VFID on every clip in RGB, the order the
I3D and ResNeXt weights were trained on; LPIPS with AlexNet, the ``lpips`` default that most image try-on
papers use; FID/KID through clean-fid; KID x1000; SSIM on the full map.

KID scales of published tables (:mod:`vvt.eval.fid` returns the raw value, x1): CatVTON and CatV2TON print
KID x1000 (``eval_image_metrics.py`` multiplies clean-fid's ``compute_kid`` by 1000). RealVVT Tables 2-5
print KID with no scale; their baseline rows (0.37 to 4.42 on VITON-HD, up to 18.44 on Dress Code) are
copied from other papers and look like a mix of scales, so compare with them only by order of magnitude.
RealVVT Table 1's VFID-ResNeXt column likewise mixes values near 0.1 (VITON-DiT, RealVVT) with values near 5
(the others), two codebases of that metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from vvt.errors import VVTError
from vvt.eval.vfid import VFIDProtocol

#: the EvalConfig fields a protocol fixes, with the command-line option that sets each
SETTINGS = {
    "size": "--size",
    "resize": "--resize",
    "vfid": "--vfid-channel-order",
    "lpips_net": "--lpips-net",
    "fid_backend": "--fid-backend",
    "kid_scale": "--kid-scale",
    "ssim_border": "--ssim-border",
    "flow": "--flow",
}
VIDEO_TABLE = ("ssim", "lpips", "vfid_i3d", "vfid_resnext")
IMAGE_TABLE = ("ssim", "lpips", "fid", "kid")


@dataclass(frozen=True)
class Protocol:
    """A named preset of evaluation settings.

    Attributes:
        name: the ``--protocol`` name.
        summary: one line: what it reproduces.
        source: where its settings come from.
        settings: a value for every key of :data:`SETTINGS` (``EvalConfig`` fields).
        fixed: whether the settings are fixed (a paper's protocol) or defaults that may be changed (``vvt``).
        video_metrics, image_metrics: the metrics scored on videos / images when none are named explicitly
            (None: every metric the inputs allow).
    """

    name: str
    summary: str
    source: str
    settings: dict = field(default_factory=dict)
    fixed: bool = True
    video_metrics: tuple[str, ...] | None = None
    image_metrics: tuple[str, ...] | None = None

    def scope(self, is_video: bool) -> tuple[str, ...] | None:
        """The metrics this protocol scores on videos (``is_video``) or images, None for all."""
        return self.video_metrics if is_video else self.image_metrics

    def resolve(self, overrides: dict) -> tuple[dict, dict]:
        """``(settings, changed)``: the protocol's settings with ``overrides`` applied (None values ignored),
        and the settings that differ from the preset.

        Raises:
            VVTError: an override of a fixed protocol's setting, or an unknown setting name.
        """
        unknown = sorted(set(overrides) - set(SETTINGS))
        if unknown:
            raise VVTError(f"unknown protocol setting(s) {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
        changed = {k: v for k, v in overrides.items() if v is not None and v != self.settings[k]}
        if changed and self.fixed:
            listed = "; ".join(
                f"{k} is {_show(self.settings[k])} ({SETTINGS[k]}), got {_show(v)}" for k, v in changed.items()
            )
            raise VVTError(
                f"protocol {self.name} fixes its settings: {listed}; drop the option(s) or use --protocol vvt"
            )
        return {**self.settings, **changed}, changed


def _show(value) -> str:
    if isinstance(value, VFIDProtocol):
        return f"{value.channel_order} clips of {value.clip_len} frames at {value.size}, {value.sampling} sampling"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return "native" if value is None else str(value)


def describe_settings(settings: dict) -> dict:
    """The settings as plain values for a report (sizes as ``HxW``, VFID's fields spelled out)."""
    out = {}
    for key, value in settings.items():
        if isinstance(value, VFIDProtocol):
            out.update(vfid_clip_len=value.clip_len, vfid_size=value.size, vfid_channel_order=value.channel_order,
                       vfid_sampling=value.sampling)
        else:
            out[key] = _show(value) if key == "size" else value
    return out


_BASE = {
    "size": None,
    "resize": "area",
    "vfid": VFIDProtocol(),
    "lpips_net": "squeeze",
    "fid_backend": "pytorch-fid",
    "kid_scale": 1000,
    "ssim_border": "full",
    "flow": "dis",
}

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "vvt",
            "vvt's default: every clip, every metric, at the inputs' size",
            "vvt.eval (CatV2TON's networks and preprocessing with every VFID clip scored)",
            dict(_BASE),
            fixed=False,
        ),
        Protocol(
            "catv2ton",
            "CatV2TON's released eval_video_metrics.py / eval_image_metrics.py as they run",
            "Zheng-Chong/CatV2TON: modules/fid_metrics/dataset.py (VideoDataset), vfid.py, eval_*_metrics.py",
            {**_BASE, "vfid": VFIDProtocol(sampling="catv2ton"), "fid_backend": "clean-fid"},
            video_metrics=VIDEO_TABLE,
            image_metrics=IMAGE_TABLE,
        ),
        Protocol(
            "realvvt-vvt",
            "RealVVT Table 1 (and 6): VVT at 512x384, SSIM, LPIPS, VFID I3D and ResNeXt",
            "RealVVT (Li et al. 2025), Sec. 4 and Table 1; unstated choices as in vvt.eval.protocols",
            {
                **_BASE,
                "size": (512, 384),
                "resize": "bicubic",
                "vfid": VFIDProtocol(channel_order="rgb"),
                "lpips_net": "alex",
                "fid_backend": "clean-fid",
            },
            video_metrics=VIDEO_TABLE,
            image_metrics=VIDEO_TABLE,
        ),
        Protocol(
            "realvvt-image",
            "RealVVT Tables 2-5: VITON-HD and Dress Code at 1024x768, SSIM, LPIPS, FID, KID",
            "RealVVT (Li et al. 2025), Sec. 4 and Tables 2-5; unstated choices as in vvt.eval.protocols",
            {
                **_BASE,
                "size": (1024, 768),
                "resize": "bicubic",
                "vfid": VFIDProtocol(channel_order="rgb"),
                "lpips_net": "alex",
                "fid_backend": "clean-fid",
            },
            video_metrics=IMAGE_TABLE,
            image_metrics=IMAGE_TABLE,
        ),
    )
}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; a VVTError listing the names otherwise."""
    if name not in PROTOCOLS:
        raise VVTError(f"unknown evaluation protocol {name!r}; choose from {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def with_channel_order(protocol: Protocol, channel_order: str | None) -> VFIDProtocol | None:
    """The protocol's VFID settings with another channel order (None when ``channel_order`` is None)."""
    return None if channel_order is None else replace(protocol.settings["vfid"], channel_order=channel_order)


def report_lines(protocol: dict) -> list[str]:
    """A report's protocol block (:meth:`~vvt.eval.evaluator.EvalConfig.protocol`) as Markdown list lines."""
    changed = protocol.get("changed_from_protocol") or []
    lines = [f"- protocol: {protocol['name']} ({protocol['summary']})" + (
        f", changed: {', '.join(changed)}" if changed else ""), f"- source: {protocol['source']}"]
    lines.append("- settings: " + ", ".join(f"{k} {v}" for k, v in protocol["settings"].items()))
    skip = {"name", "summary", "source", "settings", "changed_from_protocol"}
    lines += [f"- {k}: {v}" for k, v in protocol.items() if k not in skip]
    return lines
