"""The metric networks: architecture facts from the papers, and random weights saved in the weights layout
loading through the real code path with identical outputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import inception as tv_inception

from eval_support import saved_network, weights_dir
from vvt.errors import InputFileError, WeightsNotFoundError
from vvt.eval.i3d import InceptionI3d, load_i3d
from vvt.eval.inception import (
    FIDInceptionA,
    FIDInceptionE,
    load_fid_features,
    load_inception_classifier,
)
from vvt.eval.resnext3d import load_resnext101, resnext101
from vvt.eval.vfid import VFIDProtocol, video_clips
from vvt.eval.weights import weight_path


def _clip(seed: int, t: int = 4, size: int = 32) -> torch.Tensor:
    return torch.rand(2, 3, t, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_resnext101_has_the_published_size_and_3d_resnets_names():
    net = resnext101()
    # Hara et al. 2018, Table 2: 3D ResNeXt-101 (cardinality 32) has 48.34M parameters
    assert sum(p.numel() for p in net.parameters()) / 1e6 == pytest.approx(48.34, abs=0.005)
    names = dict(net.named_parameters())
    assert names["layer1.0.conv2.weight"].shape == (128, 4, 3, 3, 3)  # 32 groups of 4 channels
    assert names["layer4.0.downsample.0.weight"].shape == (2048, 1024, 1, 1, 1)  # shortcut B projection
    assert names["fc.weight"].shape == (400, 2048)


def test_i3d_has_the_inflated_inception_v1_widths():
    shapes = {k: tuple(v.shape) for k, v in InceptionI3d().state_dict().items()}
    assert shapes["Conv3d_1a_7x7.conv3d.weight"] == (64, 3, 7, 7, 7)
    assert shapes["Mixed_3b.b1b.conv3d.weight"] == (128, 96, 3, 3, 3)
    assert shapes["Mixed_5c.b0.conv3d.weight"] == (384, 832, 1, 1, 1)
    assert shapes["logits.conv3d.weight"] == (400, 1024, 1, 1, 1)
    assert "logits.conv3d.bias" in shapes and "Mixed_4f.b3b.bn.running_var" in shapes


def test_i3d_same_padding_keeps_ceil_of_size_over_stride():
    net = InceptionI3d().eval()
    x = _clip(0, t=10, size=40)
    h = net.Conv3d_1a_7x7(x)
    assert h.shape[2:] == (5, 20, 20)
    assert net.MaxPool3d_2a_3x3(h).shape[2:] == (5, 10, 10)


def test_i3d_and_resnext_load_from_the_weights_dir_with_identical_features():
    wd = weights_dir("i3d", "resnext101")
    x = _clip(1)
    with torch.no_grad():
        for saved, loaded in ((saved_network("i3d"), load_i3d(wd)), (saved_network("resnext101"),
                                                                   load_resnext101(wd))):
            torch.testing.assert_close(loaded.extract_features(x), saved.extract_features(x), rtol=0, atol=0)
    assert load_i3d(wd).extract_features(x).shape == (2, 1024)


def test_resnext_accepts_the_3d_resnets_file_name(tmp_path):
    (tmp_path / "resnext-101-kinetics.pth").symlink_to(weights_dir("resnext101") / "resnext-101.pth")
    assert weight_path("resnext101", tmp_path).name == "resnext-101-kinetics.pth"
    with pytest.raises(WeightsNotFoundError, match=r"i3d\.pt"):
        load_i3d(tmp_path)


def test_a_file_of_the_wrong_network_is_rejected_naming_it(tmp_path):
    torch.save(InceptionI3d(num_classes=10).state_dict(), tmp_path / "i3d.pt")
    with pytest.raises(InputFileError, match=r"i3d\.pt.*does not fit InceptionI3d"):
        load_i3d(tmp_path)
    (tmp_path / "pt_inception-2015-12-05-6726825d.pth").write_text("not weights")
    with pytest.raises(InputFileError, match="not a loadable PyTorch weights file"):
        load_fid_features(tmp_path)


def test_fid_and_is_inceptions_load_from_the_weights_dir():
    wd = weights_dir("fid_inception", "inception_v3")
    images = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(2)) * 2 - 1
    feats = load_fid_features(wd)(images)
    reference = saved_network("fid_inception")
    with torch.no_grad():  # the pool3 output of the saved network, its own forward up to the average pool
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
        for name, child in reference.named_children():
            if name in ("dropout", "fc"):
                break
            x = child(x)
    torch.testing.assert_close(feats, x.flatten(1), rtol=0, atol=0)
    assert feats.shape == (1, 2048)
    probs = load_inception_classifier(wd)(images)
    assert probs.shape == (1, 1000)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(1, dtype=probs.dtype))


def test_fid_blocks_pool_like_tensorflow():
    torch.manual_seed(0)
    tv_block = tv_inception.InceptionA(8, pool_features=4).eval()
    fid_block = FIDInceptionA(8, pool_features=4).eval()
    fid_block.load_state_dict(tv_block.state_dict())
    x = torch.rand(1, 8, 9, 9) + 1
    with torch.no_grad():
        diff = (fid_block(x) - tv_block(x)).abs().sum(dim=1)[0]
    # TF's average pool ignores the padding: only the border pixels' pool branch changes
    assert diff[1:-1, 1:-1].max() < 1e-6 and diff[0, 0] > 1e-4
    e = FIDInceptionE(8, pool="max").eval()
    with torch.no_grad():
        pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        torch.testing.assert_close(e(x)[:, -192:], e.branch_pool(pooled))


def test_vfid_clips_follow_the_protocol():
    frames = torch.arange(23, dtype=torch.uint8)[:, None, None, None].expand(23, 8, 8, 3).clone()
    frames[..., 0] = 0  # R = 0, G = B = frame index
    clips = video_clips(frames.numpy(), VFIDProtocol(clip_len=10, size=4))
    assert clips.shape == (2, 3, 10, 4, 4)  # 23 frames: two non-overlapping 10-frame clips, tail dropped
    expected = torch.arange(20, dtype=torch.float32).reshape(2, 10) / 255 * 2 - 1
    torch.testing.assert_close(clips[:, 0, :, 0, 0], expected)  # channel 0 is B (BGR order)
    assert (clips[:, 2] == -1).all()  # channel 2 is R = 0
    rgb = video_clips(frames.numpy(), VFIDProtocol(clip_len=10, size=4, channel_order="rgb"))
    assert (rgb[:, 0] == -1).all()
