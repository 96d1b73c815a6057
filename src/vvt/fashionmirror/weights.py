"""Local torchvision state dicts for FashionMirror's pretrained parts: the CMN's ResNet trunk (Sec. 3.1) and
the VGG19 of the sample correctness, perceptual and style losses (Sec. 3.2). Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import torch

from vvt.errors import WeightsNotFoundError


def read_state_dict(path: str | Path, what: str, network: str) -> tuple[Path, dict[str, torch.Tensor]]:
    """``(file, state dict)`` of a ``.safetensors`` / ``.pth`` / ``.pt`` file, or of the first such file (by
    name) in the folder ``path``.

    Args:
        path: the file or folder.
        what: the part that needs it, for messages (e.g. ``"VGG19 loss network"``).
        network: torchvision's name of the network (``"resnet50"``, ``"vgg19"``), for messages.

    Raises:
        WeightsNotFoundError: no such file, or a folder without one.
        InputFileError: a ``.pth`` / ``.pt`` that is not a state dict (read with ``weights_only=True``).
    """
    from vvt.eval.weights import load_torch_file

    path = Path(path)
    if path.is_dir():
        files = sorted([*path.glob("*.safetensors"), *path.glob("*.pth"), *path.glob("*.pt")])
        if not files:
            hint = f"torchvision's {network} ImageNet state dict, .safetensors or .pth"
            raise WeightsNotFoundError(what, path / f"{network}.safetensors", hint)
        path = files[0]
    if not path.is_file():
        raise WeightsNotFoundError(what, path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return path, load_file(str(path))
    return path, load_torch_file(path)
