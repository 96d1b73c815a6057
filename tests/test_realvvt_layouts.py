"""Loading RealVVT's parts from folders laid out like the public SVD-XT, SD 2.1 and CLIP ViT-H/14 repositories
(:mod:`realvvt_layouts`): the fp16 variant files, the dtype choices, the low-memory path and the error that
lists the files expected and found. The real sizes are checked on the meta device."""

from __future__ import annotations

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKLTemporalDecoder, UNet2DConditionModel, UNetSpatioTemporalConditionModel
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

import realvvt_layouts as layouts
from vvt.errors import WeightsNotFoundError
from vvt.realvvt.config import RealVVTConfig
from vvt.realvvt.presets import PRESETS, build_components, load_part


def _strip(config: dict) -> dict:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def _clip_keys(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in ("architectures", "model_type", "transformers_version")}


def test_the_full_preset_has_the_published_shapes():
    full = PRESETS["full"]
    for part, published in (
        ("unet", layouts.SVD_XT_UNET),
        ("vae", layouts.SVD_XT_VAE),
        ("reference_unet", layouts.SD21_UNET),
        ("image_encoder", layouts.CLIP_VIT_H_14),
    ):
        for key, value in full[part].items():
            assert published[key] == value, (part, key)
    assert full["feature_extractor"]["size"] == layouts.CLIP_PREPROCESSOR["size"]
    assert full["feature_extractor"]["crop_size"] == layouts.CLIP_PREPROCESSOR["crop_size"]


def test_the_published_configs_build_the_published_sizes_on_the_meta_device():
    # parameter counts of the released checkpoints (fp16 files: 3.05 GB, 196 MB, 1.73 GB, 1.26 GB)
    with init_empty_weights():
        parts = {
            "unet": UNetSpatioTemporalConditionModel.from_config(_strip(layouts.SVD_XT_UNET)),
            "vae": AutoencoderKLTemporalDecoder.from_config(_strip(layouts.SVD_XT_VAE)),
            "reference_unet": UNet2DConditionModel.from_config(_strip(layouts.SD21_UNET)),
            "image_encoder": CLIPVisionModelWithProjection(CLIPVisionConfig(**_clip_keys(layouts.CLIP_VIT_H_14))),
        }
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in parts.items()}
    assert all(p.is_meta for m in parts.values() for p in m.parameters())
    assert counts == {
        "unet": 1_524_623_082,
        "vae": 97_742_847,
        "reference_unet": 865_910_724,
        "image_encoder": 632_076_800,
    }
    # the widened conv_in and the RealVVT wiring hold at full size too (meta: no memory)
    from vvt.realvvt.presets import widen_conv_in

    with torch.device("meta"):
        unet = widen_conv_in(UNetSpatioTemporalConditionModel.from_config(_strip(layouts.SVD_XT_UNET)))
    assert unet.conv_in.weight.shape == (320, 9, 3, 3)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained")
    return {
        "both": {
            "svd_dir": layouts.write_svd_xt(root / "svd-xt"),
            "sd21_dir": layouts.write_sd21(root / "sd21"),
            "clip_dir": layouts.write_clip(root / "clip"),
        },
        "fp16": {
            "svd_dir": layouts.write_svd_xt(root / "svd-xt-fp16", variants=("fp16",)),
            "sd21_dir": layouts.write_sd21(root / "sd21-fp16", variants=("fp16",)),
            "clip_dir": layouts.write_clip(root / "clip-fp16", variants=("fp16",)),
        },
    }


def test_the_fixture_folders_hold_the_published_file_names(folders):
    svd = folders["both"]["svd_dir"]
    names = {str(p.relative_to(svd)) for p in svd.rglob("*") if p.is_file()}
    assert names == {
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors",
        "image_encoder/config.json",
        "image_encoder/model.safetensors",
        "image_encoder/model.fp16.safetensors",
        "feature_extractor/preprocessor_config.json",
        "scheduler/scheduler_config.json",
    }


@pytest.mark.parametrize(
    ("torch_dtype", "expected"),
    [("auto", torch.float16), ("fp16", torch.float16), ("bf16", torch.bfloat16), ("fp32", torch.float32)],
)
def test_an_fp16_only_folder_loads_in_each_dtype(folders, torch_dtype, expected):
    parts = build_components(RealVVTConfig(preset="full", torch_dtype=torch_dtype, **folders["fp16"]))
    for name in ("unet", "reference_unet", "vae", "image_encoder", "pose_guider"):
        assert {p.dtype for p in parts[name].parameters()} == {expected}, name
    # the values are the fp16 file's, converted once
    from safetensors.torch import load_file

    stored = load_file(folders["fp16"]["sd21_dir"] / "unet" / "diffusion_pytorch_model.fp16.safetensors")
    loaded = parts["reference_unet"].state_dict()
    key = "conv_in.weight"
    torch.testing.assert_close(loaded[key].float(), stored[key].to(expected).float())
    assert parts["unet"].conv_in.in_channels == 9


def test_auto_variant_reads_the_fp16_file_for_16_bit_and_the_full_file_for_fp32(folders):
    from safetensors.torch import load_file

    folder = folders["both"]["sd21_dir"] / "unet"
    full = load_file(folder / "diffusion_pytorch_model.safetensors")["conv_in.weight"]
    half = load_file(folder / "diffusion_pytorch_model.fp16.safetensors")["conv_in.weight"]
    assert not torch.equal(full, half.float())  # the two files differ in the low bits
    fp32 = load_part(UNet2DConditionModel, folder, "sd21", "", variant="auto", torch_dtype="fp32")
    fp16 = load_part(UNet2DConditionModel, folder, "sd21", "", variant="auto", torch_dtype="fp16")
    assert torch.equal(fp32.conv_in.weight, full)
    assert torch.equal(fp16.conv_in.weight, half)
    auto = load_part(UNet2DConditionModel, folder, "sd21", "", variant="auto", torch_dtype="auto")
    assert auto.dtype == torch.float32  # the full-precision file, in its own dtype
    forced = load_part(UNet2DConditionModel, folder, "sd21", "", variant="fp16", torch_dtype="fp32")
    assert torch.equal(forced.conv_in.weight, half.float())


def test_a_missing_variant_names_the_files_expected_and_found(folders):
    folder = folders["fp16"]["svd_dir"] / "unet"
    with pytest.raises(WeightsNotFoundError) as err:
        load_part(UNetSpatioTemporalConditionModel, folder, "svd_dir unet", "", variant="none")
    message = str(err.value)
    assert "diffusion_pytorch_model.safetensors" in message  # expected
    assert "found config.json, diffusion_pytorch_model.fp16.safetensors" in message
    assert str(folder) in message
    with pytest.raises(WeightsNotFoundError, match="model.fp16.safetensors"):
        # a folder with a config.json but a diffusers model's weights: the CLIP file names are expected
        load_part(CLIPVisionModelWithProjection, folders["both"]["sd21_dir"] / "unet", "clip_dir", "")


class _Float32Allocations(TorchDispatchMode):
    """Records the size of every float32 tensor larger than a bias that an op creates off the meta device."""

    def __init__(self):
        super().__init__()
        self.sizes: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.dtype == torch.float32 and not t.is_meta and t.numel() > 64:
                self.sizes.append(t.numel())
        return out


@pytest.mark.parametrize("cls", [UNet2DConditionModel, CLIPVisionModelWithProjection])
def test_an_fp16_checkpoint_loads_in_16_bit_without_a_float32_copy(folders, cls):
    folder = folders["fp16"]["sd21_dir"] / "unet" if cls is UNet2DConditionModel else folders["fp16"]["clip_dir"]
    with _Float32Allocations() as half:
        model = load_part(cls, folder, "part", "", torch_dtype="fp16")
    assert {p.dtype for p in model.parameters()} == {torch.float16}
    with _Float32Allocations() as full:
        model = load_part(cls, folder, "part", "", torch_dtype="fp32")
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert half.sizes == []
    if cls is UNet2DConditionModel:
        assert sum(full.sizes) > 10_000  # the detector sees the upcast when there is one
    # (transformers 5 converts CLIP's tensors where this dispatch-mode detector cannot see them, so for CLIP
    # only the dtypes above are checked)
