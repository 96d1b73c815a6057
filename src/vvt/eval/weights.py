"""Where the deep metrics find their networks: one local directory, standard file names, nothing downloaded.

The directory is ``--weights-dir`` or, when that is not given, the ``VVT_WEIGHTS`` environment variable.
Each network has the file name its own project publishes, so a user copies the files in unchanged:

=================  ============================================  ==========================================
metric             file                                          what it is
=================  ============================================  ==========================================
FID, KID           ``pt_inception-2015-12-05-6726825d.pth``      pytorch-fid's port of TF's FID Inception-v3
FID, KID (clean)   ``inception-2015-12-05.pt``                   NVIDIA's TorchScript FID Inception, clean-fid
IS                 ``inception_v3_google-0cc3c7bd.pth``          torchvision Inception-v3, ImageNet weights
LPIPS (alex)       ``alexnet-owt-7be5be79.pth``                  torchvision AlexNet, ImageNet weights
LPIPS (squeeze)    ``squeezenet1_1-b8a52dc0.pth``                torchvision SqueezeNet 1.1, ImageNet weights
LPIPS (vgg)        ``vgg16-397923af.pth``                        torchvision VGG-16, ImageNet weights
VFID (I3D)         ``i3d.pt``                                    pytorch-i3d InceptionI3d, Kinetics-400
VFID (ResNeXt)     ``resnext-101.pth``                           3D-ResNets-PyTorch checkpoint, Kinetics-400
=================  ============================================  ==========================================

``i3d.pt`` and ``resnext-101.pth`` are the names CatV2TON's VFID code uses; the 3D-ResNets project calls the
second ``resnext-101-kinetics.pth``, which is accepted too. LPIPS's own linear-layer weights ship inside the
``lpips`` wheel; only its backbone comes from here. Files are read with ``torch.load(weights_only=True)``:
tensors and plain containers only, never arbitrary pickled code; the clean-fid Inception is a TorchScript
archive (``torch.jit.load``: TorchScript code and tensors, see :mod:`vvt.eval.clean_fid`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vvt.errors import InputFileError, WeightsNotFoundError

ENV_VAR = "VVT_WEIGHTS"


@dataclass(frozen=True)
class WeightFile:
    """One network's weights file: accepted names (the first is the one to use) and what it holds."""

    names: tuple[str, ...]
    description: str

    @property
    def name(self) -> str:
        return self.names[0]


WEIGHT_FILES: dict[str, WeightFile] = {
    "fid_inception": WeightFile(
        ("pt_inception-2015-12-05-6726825d.pth",),
        "FID Inception-v3 (pytorch-fid's port of TensorFlow's inception-2015-12-05)",
    ),
    "clean_fid_inception": WeightFile(
        ("inception-2015-12-05.pt",),
        "FID Inception-v3 as clean-fid loads it (NVIDIA's TorchScript inception-2015-12-05.pt)",
    ),
    "inception_v3": WeightFile(
        ("inception_v3_google-0cc3c7bd.pth",), "torchvision Inception-v3 ImageNet weights (IMAGENET1K_V1)"
    ),
    "alex": WeightFile(
        ("alexnet-owt-7be5be79.pth",), "torchvision AlexNet ImageNet weights (LPIPS backbone)"
    ),
    "squeeze": WeightFile(
        ("squeezenet1_1-b8a52dc0.pth",), "torchvision SqueezeNet 1.1 ImageNet weights (LPIPS backbone)"
    ),
    "vgg": WeightFile(("vgg16-397923af.pth",), "torchvision VGG-16 ImageNet weights (LPIPS backbone)"),
    "i3d": WeightFile(
        ("i3d.pt",), "pytorch-i3d InceptionI3d state dict, 400 Kinetics classes (CatV2TON's i3d.pt)"
    ),
    "resnext101": WeightFile(
        ("resnext-101.pth", "resnext-101-kinetics.pth"),
        "3D-ResNets-PyTorch ResNeXt-101 Kinetics checkpoint (CatV2TON's resnext-101.pth)",
    ),
}


def resolve_weights_dir(weights_dir: str | Path | None) -> Path | None:
    """``weights_dir`` if given, else ``$VVT_WEIGHTS``, else None."""
    if weights_dir is not None:
        return Path(weights_dir)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else None


def weight_path(key: str, weights_dir: str | Path | None) -> Path:
    """The existing file for network ``key`` (a key of :data:`WEIGHT_FILES`) in the weights directory.

    Raises:
        WeightsNotFoundError: naming the file to put where (and how to name the directory when none is set).
    """
    spec = WEIGHT_FILES[key]
    root = resolve_weights_dir(weights_dir)
    alias = f"; also accepted: {', '.join(spec.names[1:])}" if len(spec.names) > 1 else ""
    if root is None:
        raise WeightsNotFoundError(
            spec.description,
            f"<weights dir>/{spec.name}",
            f"no weights directory given: pass --weights-dir DIR or set {ENV_VAR}=DIR{alias}",
        )
    for name in spec.names:
        if (root / name).is_file():
            return root / name
    raise WeightsNotFoundError(spec.description, root / spec.name, f"file missing{alias}")


def missing_reason(key: str, weights_dir: str | Path | None) -> str | None:
    """None when network ``key``'s file is present, else the message saying which file to put where."""
    try:
        weight_path(key, weights_dir)
    except WeightsNotFoundError as exc:
        return str(exc)
    return None


def load_torch_file(path: Path) -> dict:
    """``torch.load(path, weights_only=True)`` on the CPU; a clear error for a file that is not weights."""
    import pickle

    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError) as exc:
        raise InputFileError(
            path, f"not a loadable PyTorch weights file ({str(exc).splitlines()[0]})"
        ) from None
    if not isinstance(obj, dict):
        raise InputFileError(path, f"expected a state dict (a dict of tensors), found {type(obj).__name__}")
    return obj


def load_into(module, state_dict: dict, path: Path, assign: bool = False) -> None:
    """``module.load_state_dict(state_dict, strict=True, assign=assign)``; a mismatch names the file and keys."""
    try:
        module.load_state_dict(state_dict, strict=True, assign=assign)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()][:6]
        raise InputFileError(
            path, f"does not fit {type(module).__name__} (wrong network or format): " + " | ".join(lines)
        ) from None


def load_network(build, state_dict: dict, path: Path):
    """``build()`` on the meta device with the file's tensors assigned to it, in float32 and eval mode.

    Building on the meta device skips the random initialisation the weights would overwrite (seconds for
    ResNeXt-101 and the Inceptions on a CPU); the strict load guarantees every parameter and buffer is set.
    """
    import torch

    with torch.device("meta"):
        module = build()
    load_into(module, state_dict, path, assign=True)
    unset = [name for name, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if unset:
        raise InputFileError(path, f"left {type(module).__name__} tensors unset: {', '.join(unset[:6])}")
    return module.float().eval()
