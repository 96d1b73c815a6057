"""Evaluation: the papers' metrics (SSIM, PSNR, LPIPS, FID, KID, IS, VFID with I3D and 3D-ResNeXt-101),
temporal consistency (warping error, garment flicker, masked SSIM) and the benchmark runner.

``vvt.eval.evaluate(pred_dir, gt_dir, metrics=..., masks_dir=..., protocol=...)`` scores a folder of
predictions under a named protocol (:mod:`vvt.eval.protocols`: ``vvt``, ``catv2ton``, ``realvvt-vvt``,
``realvvt-image``); ``vvt bench quality`` runs baselines and the model over a dataset split and writes the
papers' tables; ``vvt bench table`` (:mod:`vvt.eval.table`) scores predictions with one published table's
protocol and writes it beside the paper's rows.
Deep metrics load their networks from a local weights folder (:mod:`vvt.eval.weights`).

The names below are imported on first use, so the command line (``vvt.eval.bench``) stays quick to load.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "evaluate": "vvt.eval.api",
    "ALL_METRICS": "vvt.eval.evaluator",
    "EvalConfig": "vvt.eval.evaluator",
    "Evaluator": "vvt.eval.evaluator",
    "PROTOCOLS": "vvt.eval.protocols",
    "VFIDProtocol": "vvt.eval.vfid",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vvt.eval' has no attribute {name!r}")
