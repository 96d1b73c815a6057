"""PSNR, SSIM, masked SSIM and LPIPS against scikit-image, torchmetrics and lpips itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import structural_similarity_index_measure

from eval_support import saved_network, weights_dir
from vvt.errors import InputFileError, WeightsNotFoundError
from vvt.eval.image import LPIPS, masked_ssim, psnr, ssim, ssim_map


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    gt = rng.random((2, 40, 48, 3))
    pred = np.clip(gt + 0.1 * rng.standard_normal(gt.shape), 0, 1)
    return pred, gt


def test_ssim_equals_torchmetrics_and_matches_scikit_image_inside(pair):
    pred, gt = pair
    tm = structural_similarity_index_measure(torch.from_numpy(pred).permute(0, 3, 1, 2),
                                             torch.from_numpy(gt).permute(0, 3, 1, 2),
                                             data_range=1.0, reduction="none")
    np.testing.assert_allclose(ssim(pred, gt), tm.numpy(), rtol=1e-9)
    # scikit-image averages the map 5 pixels in from the border; there the maps are the same
    for i in range(2):
        sk = structural_similarity(gt[i], pred[i], data_range=1.0, channel_axis=2, gaussian_weights=True,
                                   sigma=1.5, use_sample_covariance=False)
        assert ssim_map(pred, gt)[i, 5:-5, 5:-5].mean() == pytest.approx(sk, rel=1e-9)
    assert ssim(gt, gt) == pytest.approx([1.0, 1.0], abs=1e-12)


def test_masked_ssim_averages_the_ssim_map_inside_the_mask(pair):
    pred, gt = pair
    mask = np.zeros((2, 40, 48), dtype=bool)
    mask[0, 10:30, 8:36] = True
    mask[1, 5:20, 5:20] = True
    _, sk_map = structural_similarity(gt[0], pred[0], data_range=1.0, channel_axis=2, gaussian_weights=True,
                                      sigma=1.5, use_sample_covariance=False, full=True)
    got = masked_ssim(pred, gt, mask)
    assert got[0] == pytest.approx(sk_map.mean(axis=-1)[mask[0]].mean(), rel=1e-9)
    # differences far (> window radius) outside the mask do not count
    changed = gt.copy()
    changed[:, :, 44:] = 0.0
    assert masked_ssim(changed, gt, mask) == pytest.approx([1.0, 1.0], abs=1e-12)
    assert ssim(changed, gt).max() < 0.99
    assert np.isnan(masked_ssim(pred[:1], gt[:1], np.zeros((1, 40, 48), dtype=bool))[0])


def test_psnr_of_a_known_noise_level_and_against_scikit_image(pair):
    gt = np.full((1, 16, 16, 3), 0.5)
    pred = gt + 0.05 * np.where(np.indices((16, 16)).sum(axis=0) % 2 == 0, 1, -1)[None, ..., None]
    assert psnr(pred, gt)[0] == pytest.approx(10 * np.log10(1 / 0.05**2), rel=1e-12)  # 26.02 dB
    p, g = pair
    assert psnr(p, g)[1] == pytest.approx(peak_signal_noise_ratio(g[1], p[1], data_range=1.0), rel=1e-12)
    assert psnr(g, g)[0] == pytest.approx(100.0)


def test_lpips_loads_its_backbone_from_the_weights_dir_and_matches_lpips():
    import lpips

    wd = weights_dir("squeeze")
    metric = LPIPS("squeeze", wd)
    # the reference: lpips with the same torchvision backbone plugged in directly, module by module
    with pytest.warns(UserWarning):  # lpips passes torchvision the deprecated `pretrained`
        ref = lpips.LPIPS(net="squeeze", pnet_rand=True, verbose=False).eval()
    features = saved_network("squeeze").features
    for slice_ in ref.net.children():
        for name, _ in list(slice_.named_children()):
            setattr(slice_, name, features[int(name)])
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 3, 64, 64, generator=g), torch.rand(3, 3, 64, 64, generator=g)
    with torch.no_grad():
        expected = ref(a * 2 - 1, b * 2 - 1).flatten()
    torch.testing.assert_close(metric(a, b), expected, rtol=1e-5, atol=1e-6)
    assert metric(a, a).abs().max() < 1e-6
    assert (metric(a, b) > 0).all()


def test_lpips_reports_the_missing_and_the_wrong_file(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        LPIPS("alex", tmp_path)
    assert "alexnet-owt-7be5be79.pth" in str(err.value) and str(tmp_path) in str(err.value)
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "alexnet-owt-7be5be79.pth")
    with pytest.raises(InputFileError, match="alexnet-owt-7be5be79.pth.*does not fit"):
        LPIPS("alex", tmp_path)
