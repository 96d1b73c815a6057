"""The clean-fid backend against clean-fid's own steps: its resize, and its call of the TorchScript network
(a random TorchScript module saved as ``inception-2015-12-05.pt`` stands in for NVIDIA's)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from eval_support import saved_network, smooth_frames, weights_dir, write_lossless
from vvt.errors import InputFileError, WeightsNotFoundError
from vvt.eval import evaluate
from vvt.eval.clean_fid import clean_resize, load_clean_fid_features
from vvt.eval.fid import fid_from_features
from vvt.eval.inputs import read_frames


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch):
    monkeypatch.delenv("VVT_WEIGHTS", raising=False)


def reference_clean_features(path, frames: np.ndarray) -> np.ndarray:
    """clean-fid's mode="clean" written out: make_resizer("PIL", False, "bicubic", (299, 299)) on each uint8
    frame, ToTensor of the float32 result (no rescaling), then InceptionV3W.forward with resize_inside=False."""
    def resize(x):
        def single(plane):
            img = Image.fromarray(plane.astype(np.float32), mode="F").resize((299, 299), resample=Image.BICUBIC)
            return np.asarray(img).clip(0, 255).reshape(299, 299, 1)

        return np.concatenate([single(x[:, :, c]) for c in range(3)], axis=2).astype(np.float32)

    batch = torch.stack([torch.from_numpy(resize(f).transpose(2, 0, 1).copy()) for f in frames])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch marks TorchScript deprecated
        base = torch.jit.load(str(path)).eval()
    with torch.no_grad():
        return base.layers.forward((batch - 128) / 128).view((batch.shape[0], 2048)).double().numpy()


def test_clean_resize_is_pil_bicubic_per_channel_in_float():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 40, 3), dtype=np.uint8)
    out = clean_resize(image)
    assert out.shape == (299, 299, 3) and out.dtype == np.float32
    for c in range(3):
        direct = np.asarray(Image.fromarray(image[..., c].astype(np.float32), mode="F").resize((299, 299),
                                                                                            Image.BICUBIC))
        np.testing.assert_array_equal(out[..., c], direct.clip(0, 255))
    assert not np.array_equal(out, np.round(out))  # kept in float, never quantised
    # PIL's 8-bit bicubic rounds and clips between its two passes: clean-fid deliberately does not
    quantised = np.asarray(Image.fromarray(image).resize((299, 299), Image.BICUBIC)).astype(np.float32)
    assert np.median(np.abs(out - quantised)) <= 0.5 and np.abs(out - quantised).max() > 1
    flat = np.full((10, 7, 3), 77, np.uint8)
    np.testing.assert_allclose(clean_resize(flat), 77, atol=1e-4)


def test_features_pass_through_the_scripted_module_as_clean_fid_calls_it():
    wd = weights_dir("clean_fid_inception")
    path = wd / "inception-2015-12-05.pt"
    frames = smooth_frames(3, 48, 36, seed=4)
    feats = load_clean_fid_features(wd)(frames)
    assert feats.shape == (3, 2048)
    np.testing.assert_allclose(feats.double().numpy(), reference_clean_features(path, frames), rtol=1e-6,
                               atol=1e-7)
    # not the network's own resizing forward (resize_inside=True, clean-fid's legacy_tensorflow mode)
    inside = saved_network("clean_fid_inception")(torch.from_numpy(frames).permute(0, 3, 1, 2).float(), True)
    assert not np.allclose(feats.numpy(), inside.detach().numpy(), rtol=1e-3)


def test_clean_fid_backend_fid_equals_the_reference_features_distance(tmp_path):
    for i in range(2):
        frames = smooth_frames(3, 40, 32, seed=i)
        write_lossless(tmp_path / "gt" / f"v{i}", frames)
        write_lossless(tmp_path / "pred" / f"v{i}", np.flipud(frames).copy())
    wd = weights_dir("clean_fid_inception")
    report = evaluate(tmp_path / "pred", tmp_path / "gt", ["fid"], weights_dir=wd, fid_backend="clean-fid",
                      show_progress=False)
    path = wd / "inception-2015-12-05.pt"

    def feats(side):
        return np.concatenate([reference_clean_features(path, read_frames(tmp_path / side / f"v{i}"))
                               for i in range(2)])

    assert report["metrics"]["fid"] == pytest.approx(fid_from_features(feats("pred"), feats("gt")), rel=1e-5)
    assert report["protocol"]["settings"]["fid_backend"] == "clean-fid"
    assert "backend clean-fid" in report["protocol"]["fid"]


def test_clean_fid_weights_missing_or_wrong_are_named(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"inception-2015-12-05\.pt"):
        load_clean_fid_features(tmp_path)
    torch.save({"w": torch.zeros(1)}, tmp_path / "inception-2015-12-05.pt")
    with pytest.raises(InputFileError, match="inception-2015-12-05.pt: not a TorchScript archive"):
        load_clean_fid_features(tmp_path)
