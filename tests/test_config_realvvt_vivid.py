"""The shipped paper config ``realvvt-vivid-512x384`` and its 8-GPU accelerate configs: every value against its
source (RealVVT Sec. 4 and the authors' released configuration), and a source named beside every value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from vvt.config import PRESET_DIR, load_config
from vvt.train.realvvt import RealVVTRunConfig

CONFIG = PRESET_DIR / "realvvt-vivid-512x384.yaml"
PAPER = Path(__file__).resolve().parents[1].parent / "shared" / "papers" / "realvvt.txt"

# (value in the loaded config, expected, source)
PAPER_SEC_4 = {
    "size": ((512, 384), "trained at a resolution of 512×384"),
    "batch_size": (2, "batch size = 2"),
    "learning_rate": (5e-5, "5e^{-5}"),
    "lambda_agn": (0.5, "λ_{agn} , is set to 0.5"),
    "lambda_n": (0.01, "λ_N , is set to 0.01"),
    "backbones": ("SD 2.1 + SVD-XT", "pre-trained with Stable Diffusion 2.1 and Stable Video Diffusion XT"),
    "gpus": (8, "eight NVIDIA Tesla A800"),
}


@pytest.fixture(scope="module")
def config() -> RealVVTRunConfig:
    return load_config(RealVVTRunConfig, "realvvt-vivid-512x384")


def test_the_papers_settings(config):
    assert tuple(config.data.size) == PAPER_SEC_4["size"][0]
    assert config.train.batch_size == PAPER_SEC_4["batch_size"][0]
    assert config.train.learning_rate == pytest.approx(PAPER_SEC_4["learning_rate"][0])
    assert config.train.optimizer == "adamw"
    assert config.model.lambda_agn == pytest.approx(PAPER_SEC_4["lambda_agn"][0])
    assert config.model.lambda_n == pytest.approx(PAPER_SEC_4["lambda_n"][0])
    assert config.model.preset == "full"
    assert "img2vid-xt" in str(config.model.svd_dir) and "2-1" in str(config.model.sd21_dir)
    assert config.model.agn_form == "max" and config.model.cnt_attention
    assert config.model.agn_level == 4  # 64x48 latent / 4 = 16x12 tokens, the paper's 1/32 map
    assert config.trainable == ["unet", "reference_unet", "pose_guider"]
    # image datasets join the video dataset (Sec. 4: joint training)
    assert [s.root.name for s in config.data.sources] == ["vivid", "viton-hd", "dresscode"]


def test_the_paper_says_what_the_config_cites():
    if not PAPER.is_file():
        pytest.skip(f"paper text not found at {PAPER}")
    text = PAPER.read_text()
    for name, (_, quote) in PAPER_SEC_4.items():
        assert quote in text, name


def test_the_authors_defaults_and_the_memory_settings(config):
    m = config.model
    assert (m.P_mean, m.P_std) == (0.7, 1.6)
    assert (m.fps, m.motion_bucket_id) == (7, 40)
    assert m.noise_aug_strength == pytest.approx(0.02)
    assert m.garment_dropout == pytest.approx(0.05)
    assert config.data.frames == 16
    assert config.train.mixed_precision == "bf16"
    assert config.train.gradient_checkpointing is True
    assert m.torch_dtype == "fp32" and m.variant == "auto"
    assert "adamw8bit" in CONFIG.read_text()  # the 8-bit option is named beside the optimiser


def test_every_value_names_its_source():
    sources = ("paper Sec.", "authors' config", "vvt")
    leaves = 0
    for line in CONFIG.read_text().splitlines():
        body = line.split("#", 1)[0]
        if not re.search(r":\s*\S", body) and not body.strip().startswith("- "):
            continue  # comments, blank lines and section headers
        leaves += 1
        comment = line.split("#", 1)[1] if "#" in line else ""
        assert any(s in comment for s in sources), line
    assert leaves >= 40


@pytest.mark.parametrize(
    ("name", "kind"), [("ddp.yaml", "MULTI_GPU"), ("deepspeed_zero2.yaml", "DEEPSPEED")]
)
def test_the_8_gpu_accelerate_configs(name, kind):
    data = yaml.safe_load((PRESET_DIR / "accelerate" / name).read_text())
    assert data["distributed_type"] == kind
    assert data["num_processes"] == 8 and data["num_machines"] == 1
    assert data["mixed_precision"] == "bf16"
    if kind == "DEEPSPEED":
        assert data["deepspeed_config"]["zero_stage"] == 2
