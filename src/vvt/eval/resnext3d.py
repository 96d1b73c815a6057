"""3D ResNeXt-101, the video network of VFID_ResNeXt.

Hara, Kataoka & Satoh 2018, "Can Spatiotemporal 3D CNNs Retrace the History of 2D CNNs and ImageNet?",
Sec. 3 and Table 1: ResNeXt bottleneck blocks (1x1x1 -> grouped 3x3x3 with cardinality 32 -> 1x1x1, the
output twice the block's width) in stages of (3, 4, 23, 3) blocks with widths 128/256/512/1024; a 7x7x7 stem
convolution with stride (1, 2, 2), a 3x3x3 max pool with stride 2, stride 2 at the first block of stages
2-4, projection shortcuts where the shape changes ("shortcut B"), global average pooling and a 400-way fc
for Kinetics.

Names follow the 3D-ResNets-PyTorch project (``conv1``, ``bn1``, ``layer1.0.conv2``,
``layer1.0.downsample.0``, ``fc``), whose ``resnext-101-kinetics.pth`` checkpoint CatV2TON ships as
``resnext-101.pth``: a dict with ``state_dict`` whose keys carry DataParallel's ``module.`` prefix.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vvt.eval.weights import load_network, load_torch_file, weight_path


class ResNeXtBottleneck(nn.Module):
    """1x1x1 -> grouped 3x3x3 -> 1x1x1 bottleneck with a residual; output ``2 * planes`` channels."""

    expansion = 2

    def __init__(
        self,
        inplanes: int,
        planes: int,
        cardinality: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
    ):
        super().__init__()
        mid = cardinality * (planes // 32)
        self.conv1 = nn.Conv3d(inplanes, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, 3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class ResNeXt3D(nn.Module):
    """3D ResNeXt: clips ``(B, 3, T, H, W)`` -> Kinetics logits; :meth:`extract_features` -> ``(B, 2048)``.

    Args:
        layers: blocks per stage, (3, 4, 23, 3) for ResNeXt-101.
        cardinality: groups of the 3x3x3 convolutions (32).
        num_classes: fc outputs (400 for Kinetics).
    """

    def __init__(
        self, layers: tuple[int, int, int, int] = (3, 4, 23, 3), cardinality: int = 32, num_classes: int = 400
    ):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv3d(3, 64, 7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(128, layers[0], cardinality, stride=1)
        self.layer2 = self._make_layer(256, layers[1], cardinality, stride=2)
        self.layer3 = self._make_layer(512, layers[2], cardinality, stride=2)
        self.layer4 = self._make_layer(1024, layers[3], cardinality, stride=2)
        self.fc = nn.Linear(cardinality * 32 * ResNeXtBottleneck.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, cardinality: int, stride: int) -> nn.Sequential:
        out = planes * ResNeXtBottleneck.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:  # shortcut B: a projection where the shape changes
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm3d(out)
            )
        blocks_ = [ResNeXtBottleneck(self.inplanes, planes, cardinality, stride, downsample)]
        self.inplanes = out
        blocks_ += [ResNeXtBottleneck(out, planes, cardinality) for _ in range(1, blocks)]
        return nn.Sequential(*blocks_)

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        """VFID features ``(B, 2048)``: layer4 averaged over time and space, no fc.

        3D-ResNets average-pools with a kernel of ``(ceil(T/16), ceil(S/32), ceil(S/32))``, which for the
        protocol's 10-frame 224x224 clips covers the whole ``1x7x7`` map: this global mean.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.extract_features(x))


def resnext101() -> ResNeXt3D:
    """3D ResNeXt-101 (32 groups, shortcut B, 400 Kinetics classes)."""
    return ResNeXt3D((3, 4, 23, 3), cardinality=32, num_classes=400)


def load_resnext101(weights_dir: str | Path | None) -> ResNeXt3D:
    """ResNeXt-101 with ``resnext-101.pth`` (a 3D-ResNets-PyTorch checkpoint) from the weights directory."""
    path = weight_path("resnext101", weights_dir)
    checkpoint = load_torch_file(path)
    state = checkpoint.get("state_dict", checkpoint)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    return load_network(resnext101, state, path)
