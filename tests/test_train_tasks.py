"""``vvt train vae`` -> ``realvvt`` -> ``report`` on a tiny SynthVVT tree, and dataset errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from vvt.cli import main
from vvt.config import load_config
from vvt.data.layouts import read_layout
from vvt.errors import LayoutError
from vvt.train.vae import VAERunConfig, VAETask


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from vvt.data.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("synth") / "data"
    generate(root, SynthConfig(videos=4, frames=6, height=64, width=48, categories=("upper",), seed=0))
    return root


def common(out, data) -> list[str]:
    return [
        f"train.output_dir={out}",
        f"data.sources=[{{root: {data}}}]",
        "train.num_workers=0",
        "train.checkpoint_every=2",
        "train.sample_every=2",
        "train.log_every=1",
        "train.num_threads=1",
        "train.init_from=null",  # the bundled recipe starts from its warm-up run
    ]


def test_vae_realvvt_report_pipeline(synth, tmp_path, capsys):
    vae_out, rv_out = tmp_path / "vae", tmp_path / "rv"
    rc = main(
        [
            "train",
            "vae",
            "--config",
            "tiny-synth-vae",
            *common(vae_out, synth),
            "train.max_steps=3",
            "train.batch_size=1",
            "data.frames=2",
        ]
    )
    assert rc == 0
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(vae_out / "final")  # the small preset's frame-wise VAE, no downsampling
    assert vae.encode(torch.zeros(1, 3, 64, 48)).latent_dist.mode().shape == (1, 4, 64, 48)
    # the exported scaling factor makes the posterior means of the training clips unit-variance
    cfg = load_config(VAERunConfig, vae_out / "config.yaml")
    task = VAETask(cfg)
    task.vae = vae
    assert vae.config.scaling_factor == pytest.approx(1.0 / task.latent_std(), rel=1e-4)
    assert (vae_out / "samples" / "step-0000002.mp4").is_file()

    rc = main(
        [
            "train",
            "realvvt",
            "--config",
            "tiny-synth",
            *common(rv_out, synth),
            "train.max_steps=2",
            "train.batch_size=1",
            "data.frames=2",
            f"model.vae_dir={vae_out / 'final'}",
            "sample.num_inference_steps=2",
        ]
    )
    assert rc == 0
    state = json.loads((rv_out / "checkpoints" / "step-0000002" / "trainer_state.json").read_text())
    assert state["step"] == 2 and state["config"]["model"]["lambda_agn"] == 0.5
    assert (rv_out / "samples" / "step-0000002.mp4").is_file()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(rv_out / "logs" / "realvvt"))
    events.Reload()
    assert {"train/loss", "train/dsm", "train/agn"} <= set(events.Tags()["scalars"])
    loss, dsm, agn = (events.Scalars(f"train/{k}")[-1].value for k in ("loss", "dsm", "agn"))
    assert loss == pytest.approx(dsm + 0.5 * agn, rel=1e-4)  # Eq. (5) with lambda_agn = 0.5

    # the exported model is the trained one: the frozen VAE is the one we trained, a U-Net weight moved
    from vvt.realvvt.model import RealVVT

    trained = RealVVT.from_pretrained(rv_out / "final")
    assert torch.equal(trained.vae.encoder.conv_in.weight, vae.encoder.conv_in.weight)
    # the training size, clip length and sampling settings travel with the model
    from vvt.realvvt.pipeline import RealVVTPipeline

    saved = RealVVTPipeline.from_pretrained(rv_out / "final").config
    assert (saved.height, saved.width, saved.num_frames, saved.num_inference_steps) == (64, 48, 2, 2)
    assert (saved.fps, saved.motion_bucket_id, saved.max_guidance_scale) == (7, 40, 2.0)
    capsys.readouterr()
    rc = main(["train", "report", "--run", str(rv_out), "--max-videos", "1", "--steps", "1"])
    assert rc == 0
    report = json.loads((rv_out / "report.json").read_text())
    methods = report["methods"]
    assert set(methods) == {
        "trained",
        "untrained",
        "trained_other_garment",
        "copy_agnostic",
        "naive_paste",
        "blurred_truth_sigma1.5",
        "flat_true_colour",
        "vae_reconstruction",
        "vae_ceiling",
    }
    assert methods["copy_agnostic"]["denoising_loss"] is None
    # with one clip, "the next clip's garment" is its own: the same draw gives the same try-on
    assert methods["trained_other_garment"]["ssim_in_mask"] == pytest.approx(methods["trained"]["ssim_in_mask"])
    assert report["clips"] == 1 and 0 < methods["copy_agnostic"]["ssim_in_mask"] < 1
    # two steps from the same start: trained and untrained models differ, but not by much
    assert methods["trained"]["denoising_loss"] != methods["untrained"]["denoising_loss"]
    # calibration rows with known answers: the true mean colour has no colour error; the grey agnostic
    # region has one; blurring the truth keeps the colour but loses structure
    assert methods["flat_true_colour"]["colour_error"] == pytest.approx(0.0, abs=1e-6)
    assert methods["copy_agnostic"]["colour_error"] > 0.02
    assert methods["blurred_truth_sigma1.5"]["colour_error"] < methods["copy_agnostic"]["colour_error"]
    assert methods["blurred_truth_sigma1.5"]["ssim_in_mask"] < 1.0
    # the ceiling pastes the reconstruction back: outside the mask it is the input, so whole-frame PSNR rises
    assert methods["vae_ceiling"]["psnr"] >= methods["vae_reconstruction"]["psnr"] - 1e-6
    out = capsys.readouterr().out
    assert "| copy the agnostic video | n/a |" in out and "contact_sheet.png" in out
    assert "| VAE ceiling, the ground truth through the VAE (pasted back) |" in out
    from PIL import Image

    sheet = Image.open(rv_out / "contact_sheet.png")
    # one row per clip below a 14-pixel header; garment + 3 x (agnostic, prediction, truth) for frames 0, 1
    assert sheet.size[1] == 14 + 1 * (64 * 3 + 4)
    assert sheet.size[0] == (1 + 2 * 3) * (48 * 3 + 4) + 4 * 2


def test_trained_micro_conditioning_is_used_for_sampling(synth, tmp_path, monkeypatch):
    """A model trained with non-default fps / motion bucket / noise augmentation samples with them."""
    out = tmp_path / "rv"
    rc = main(
        [
            "train",
            "realvvt",
            "--config",
            "tiny-synth",
            *common(out, synth),
            "train.max_steps=1",
            "train.batch_size=1",
            "data.frames=2",
            "data.size=[32,24]",
            "model.preset=tiny",
            "model.vae_dir=null",
            "model.agn_level=null",
            "model.fps=12",
            "model.motion_bucket_id=90",
            "model.noise_aug_strength=0.05",
            "sample.num_inference_steps=3",
            "train.sample_every=100",
        ]
    )
    assert rc == 0
    from vvt.realvvt.model import RealVVT
    from vvt.realvvt.pipeline import RealVVTPipeline

    pipe = RealVVTPipeline.from_pretrained(out / "final")
    assert (pipe.config.height, pipe.config.width, pipe.config.num_frames) == (32, 24, 2)
    seen = {}
    time_ids, encode = RealVVT.added_time_ids, RealVVT.encode_agnostic

    def spy_time_ids(self, batch_size, fps, motion_bucket_id, noise_aug_strength, device, dtype):
        seen["time_ids"] = (fps, motion_bucket_id, noise_aug_strength)
        return time_ids(self, batch_size, fps, motion_bucket_id, noise_aug_strength, device, dtype)

    def spy_encode(self, agnostic, noise_aug_strength, generator=None):
        seen["noise_aug"] = noise_aug_strength
        return encode(self, agnostic, noise_aug_strength, generator)

    monkeypatch.setattr(RealVVT, "added_time_ids", spy_time_ids)
    monkeypatch.setattr(RealVVT, "encode_agnostic", spy_encode)
    g = torch.Generator().manual_seed(0)
    video = torch.rand(2, 3, 32, 24, generator=g) * 2 - 1
    mask = torch.ones(2, 1, 32, 24)
    pipe.set_progress_bar_config(disable=True)
    pipe(video, mask, video, video[0], output_type="pt")
    assert seen == {"time_ids": (12, 90, 0.05), "noise_aug": 0.05}
    assert len(pipe.scheduler.timesteps) == 3  # the run's sampling steps are the default
    # the loaded model carries the same values for further training
    assert RealVVT.from_pretrained(out / "final").config.fps == 12


def test_missing_or_malformed_dataset_fails_before_training(synth, tmp_path, capsys):
    rc = main(["train", "vae", "--config", "tiny-synth-vae", *common(tmp_path / "a", tmp_path / "nowhere")])
    assert rc == 2
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    # a pair list naming a video that is not there
    pairs = synth / "upper_body" / "train_pairs.txt"
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(synth, broken)
    (broken / "upper_body" / "train_pairs.txt").write_text(pairs.read_text() + "s09999.mp4 g00000.jpg\n")
    cfg = load_config(VAERunConfig, "tiny-synth-vae", common(tmp_path / "b", broken))
    # a partial download still trains: the sample whose video is missing is skipped (issue 24) ...
    task = VAETask(cfg)
    assert len(task.sources[0][0]) == len(read_layout(synth, split="train"))
    # ... and strict reading refuses it, naming the file
    with pytest.raises(LayoutError, match="s09999"):
        read_layout(broken, split="train", strict=True)
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_two_processes_equal_one_process_with_two_micro_steps(synth, tmp_path):
    """``accelerate launch --multi_gpu --num_processes 2 -m vvt.cli train vae`` on a CPU-only machine (DDP
    over gloo): DDP averages the gradients of global batches 2s and 2s+1, which is what one process with
    two accumulation micro-steps does, so both runs end with the same weights (up to float summation
    order). (accelerate 1.15's ``--cpu --num_processes 2`` starts ONE process: it needs MPI for more.)"""
    from safetensors.torch import load_file

    args = [
        "train",
        "vae",
        "--config",
        "tiny-synth-vae",
        "train.max_steps=2",
        "train.batch_size=1",
        "data.frames=2",
        "train.sample_every=100",
        "train.ema.enabled=false",
    ]
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "vvt.cli",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = subprocess.run(
        [*launch, *args, *common(tmp_path / "two", synth)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert main([*args, *common(tmp_path / "one", synth), "train.gradient_accumulation_steps=2"]) == 0
    state = json.loads((tmp_path / "two" / "checkpoints" / "step-0000002" / "trainer_state.json").read_text())
    assert state["num_processes"] == 2 and state["next_global_batch"] == 4
    w2 = load_file(str(tmp_path / "two" / "checkpoints" / "step-0000002" / "model.safetensors"))
    w1 = load_file(str(tmp_path / "one" / "checkpoints" / "step-0000002" / "model.safetensors"))
    from vvt.train.vae import build_vae

    model = load_config(VAERunConfig, "tiny-synth-vae").model
    start = {f"trainable.vae.{k}": v for k, v in build_vae(model).state_dict().items()}
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=1e-4, atol=1e-5)
    changed = [k for k in w1 if not torch.allclose(w1[k], start[k], atol=1e-5)]
    assert len(changed) > len(w1) // 2  # the two steps really trained


def test_report_helpers_known_answers():
    """SSIM inside a mask skips frames whose mask is empty (NaN when all are); Markdown of None is n/a."""
    import math

    from vvt.eval.image import masked_ssim
    from vvt.train.report import finite_mean, frames01, markdown_table, ssim_in_mask

    g = torch.Generator().manual_seed(0)
    truth = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    pred = (truth + 0.3 * torch.randn(3, 3, 16, 16, generator=g)).clamp(-1, 1)
    mask = torch.zeros(3, 1, 16, 16)
    mask[0, :, 4:12, 4:12] = 1
    mask[2, :, 2:8, :] = 1  # frame 1: empty mask
    per_frame = masked_ssim(frames01(pred), frames01(truth), mask[:, 0].numpy() > 0.5)
    assert math.isnan(per_frame[1]) and not math.isnan(per_frame[0])
    assert ssim_in_mask(pred, truth, mask) == pytest.approx((per_frame[0] + per_frame[2]) / 2, rel=1e-12)
    assert ssim_in_mask(truth, truth, mask) == pytest.approx(1.0)
    assert math.isnan(ssim_in_mask(pred, truth, torch.zeros_like(mask)))
    assert finite_mean([1.0, math.nan, 3.0]) == 2.0 and finite_mean([math.nan]) is None
    assert frames01(torch.tensor([[[[-1.0, 1.0]]]]).expand(1, 3, 1, 2)).tolist() == [[[[0.0] * 3, [1.0] * 3]]]
    assert markdown_table("T.", ["a", "b"], {"x": [0.5, None]}) == (
        "T.\n\n| method | a | b |\n|---|---|---|\n| x | 0.5000 | n/a |\n"
    )
