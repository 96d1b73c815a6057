"""``vvt train fashionmirror`` through the shared trainer: the CMN stage, the switch to end-to-end training,
exact resume across the switch, the export, and ``vvt train report`` on a FashionMirror run."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from vvt.cli import main
from vvt.config import load_config, save_config
from vvt.errors import ConfigError, LayoutError
from vvt.train import checkpoint as ckpt
from vvt.train.fashionmirror import FashionMirrorRunConfig, FashionMirrorTask, build_training
from vvt.train.trainer import Trainer

TINY = [
    "data.size=[32, 24]",
    "data.frames=3",
    "train.batch_size=1",
    "train.num_workers=0",
    "train.num_threads=1",
    "train.log_every=1",
    "train.sample_every=100",
    "train.learning_rate=1.0e-3",
    "model.cmn_aspp_channels=8",
    "model.cmn_head_channels=8",
    "model.base_channels=4",
    "model.max_channels=16",
    "model.disc_channels=8",
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from vvt.data.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("synth") / "data"
    generate(root, SynthConfig(videos=4, frames=8, height=64, width=48, categories=("upper",), seed=0))
    return root


def run_config(out, data, *extra) -> FashionMirrorRunConfig:
    overrides = [f"train.output_dir={out}", f"data.sources=[{{root: {data}}}]", *TINY, *extra]
    return load_config(FashionMirrorRunConfig, "tiny-synth-fashionmirror", overrides)


class InterruptedTask(FashionMirrorTask):
    """Raises KeyboardInterrupt at the ``interrupt_at``-th training step (1-based)."""

    def __init__(self, config, interrupt_at: int):
        super().__init__(config)
        self.calls, self.interrupt_at = 0, interrupt_at

    def training_step(self, batch, generator):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return super().training_step(batch, generator)


def train(config, task=None, resume=None):
    task = task or FashionMirrorTask(config)
    return Trainer(task, config.train, run_config=config, name="fashionmirror").train(resume=resume)


def part(state: dict, prefix: str) -> dict:
    return {k: v for k, v in state.items() if k.startswith(f"trainable.{prefix}.")}


@pytest.fixture(scope="module")
def run_a(synth, tmp_path_factory):
    """4 steps: 2 of the CMN stage, 2 end to end; a checkpoint after every step."""
    out = tmp_path_factory.mktemp("fm") / "a"
    cfg = run_config(
        out,
        synth,
        "train.max_steps=4",
        "stages.cmn_steps=2",
        "train.checkpoint_every=1",
        "train.keep_last=4",
        "train.sample_every=2",
    )
    result = train(cfg)
    return out, cfg, result


def test_cmn_stage_trains_the_cmn_only_then_everything_trains(run_a):
    out, cfg, result = run_a
    assert result.step == 4
    init = {f"trainable.{k}": v for k, v in build_training(cfg).state_dict().items()}
    init.update(
        {
            f"trainable.{k[len('model.') :]}": v
            for k, v in build_training(cfg).state_dict().items()
            if k.startswith("model.")
        }
    )
    states = {s: load_file(str(ckpt.checkpoint_dir(out, s) / "model.safetensors")) for s in (2, 4)}
    meta = {s: json.loads((ckpt.checkpoint_dir(out, s) / ckpt.STATE_FILE).read_text()) for s in (1, 2, 3, 4)}
    assert [meta[s]["stage"] for s in (1, 2, 3, 4)] == ["cmn", "cmn", "end2end", "end2end"]
    # after the CMN stage: the CMN moved, SFE, HSG and the discriminator are still their step-0 weights
    for name, moved in (("cmn", True), ("sfe", False), ("hsg", False), ("discriminator", False)):
        tensors = part(states[2], name)
        assert tensors, name
        same = all(torch.equal(v, init[k]) for k, v in tensors.items())
        assert same != moved, name
    # after two end-to-end steps every part moved
    for name in ("sfe", "hsg", "discriminator"):
        assert not all(torch.equal(v, states[2][k]) for k, v in part(states[4], name).items()), name
    # a fresh Adam per stage: its state covers the stage's parameters only
    opt = {s: torch.load(ckpt.checkpoint_dir(out, s) / "optimizer.bin", weights_only=True) for s in (2, 4)}
    cmn_params = sum(1 for p in build_training(cfg).model.cmn.parameters() if p.requires_grad)
    all_params = sum(1 for m in build_training(cfg).trainable_modules("end2end").values() for p in m.parameters())
    assert len(opt[2]["state"]) == cmn_params
    assert len(opt[4]["state"]) == all_params
    # each stage's step count restarts: 2 CMN steps, then 2 end-to-end steps
    assert {int(s["step"]) for s in opt[4]["state"].values()} == {2}


def test_logged_terms_follow_the_stage_and_the_export_is_the_ema_generator(run_a):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from vvt.fashionmirror.inference import load_model

    out, cfg, _ = run_a
    events = EventAccumulator(str(out / "logs" / "fashionmirror"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/cmn")] == [1, 2, 3, 4]
    assert [e.step for e in events.Scalars("train/human_spatial")] == [3, 4]
    loss, cmn = events.Scalars("train/loss"), events.Scalars("train/cmn")
    assert loss[0].value == pytest.approx(cmn[0].value, rel=1e-6)  # CMN stage: loss = Eq. 2
    assert loss[3].value > cmn[3].value  # end to end: Eq. 9 + Eq. 2
    assert (out / "samples" / "step-0000002.mp4").is_file()
    model = load_model(out / "final")
    ema = load_file(str(ckpt.checkpoint_dir(out, 4) / ckpt.EMA_FILE))
    raw = load_file(str(ckpt.checkpoint_dir(out, 4) / "model.safetensors"))
    key = "trainable.sfe." + next(k for k, _ in model.sfe.named_parameters())
    weight = dict(model.sfe.named_parameters())[key[len("trainable.sfe.") :]]
    assert torch.equal(weight.detach(), ema[key]) and not torch.equal(ema[key], raw[key])


def test_resume_across_the_stage_switch_is_exact(run_a, synth, tmp_path):
    out, cfg, _ = run_a
    a_raw = load_file(str(ckpt.checkpoint_dir(out, 4) / "model.safetensors"))
    a_ema = load_file(str(ckpt.checkpoint_dir(out, 4) / ckpt.EMA_FILE))
    args = ("train.max_steps=4", "stages.cmn_steps=2", "train.checkpoint_every=100")

    # interrupted inside step 3, the first end-to-end step: step 2 is saved with the fresh end-to-end state
    b = tmp_path / "b"
    cfg_b = run_config(b, synth, *args)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_b, InterruptedTask(cfg_b, interrupt_at=3))
    assert [s for s, _ in ckpt.list_checkpoints(b)] == [2]
    saved = json.loads((ckpt.checkpoint_dir(b, 2) / ckpt.STATE_FILE).read_text())
    assert saved["stage"] == "end2end"
    assert train(cfg_b, resume="latest").step == 4

    # resumed from run a's step-2 checkpoint, which holds the CMN stage: the switch happens after loading it
    c = tmp_path / "c"
    train(run_config(c, synth, *args), resume=ckpt.checkpoint_dir(out, 2))
    for run in (b, c):
        raw = load_file(str(ckpt.checkpoint_dir(run, 4) / "model.safetensors"))
        ema = load_file(str(ckpt.checkpoint_dir(run, 4) / ckpt.EMA_FILE))
        assert set(raw) == set(a_raw) and set(ema) == set(a_ema)
        for k in a_raw:
            assert torch.equal(raw[k], a_raw[k]), (run.name, k)
        for k in a_ema:
            assert torch.equal(ema[k], a_ema[k]), (run.name, k)

    # a checkpoint resumed with other stage boundaries is refused, before any training
    with pytest.raises(ConfigError, match="stage 'cmn' at step 2"):
        train(
            run_config(tmp_path / "d", synth, *args[:1], "stages.cmn_steps=1"),
            resume=ckpt.checkpoint_dir(out, 2),
        )


def test_config_and_data_errors(synth, vivid_samples, tmp_path):
    cfg = run_config(tmp_path / "e", synth, "stages.cmn_steps=0")
    assert FashionMirrorTask(cfg).stages() == [("end2end", 0)]
    with pytest.raises(ConfigError, match="data.frames must be >= 2"):
        FashionMirrorTask(run_config(tmp_path / "e", synth, "data.frames=1"))
    with pytest.raises(ConfigError, match="cmn_steps must be >= 0"):
        FashionMirrorTask(run_config(tmp_path / "e", synth, "stages.cmn_steps=-1"))
    # the real ViViD samples have no skeleton, worn_mask or pair lists: refused up front, naming the stream
    with pytest.raises(LayoutError, match="skeleton"):
        FashionMirrorTask(
            run_config(tmp_path / "e", vivid_samples, f"data.sources=[{{root: {vivid_samples}, split: test}}]")
        )


def test_pingpong_plays_the_clip_forwards_and_backwards():
    from vvt.train.fashionmirror_report import pingpong

    assert pingpong(4, 10) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert pingpong(1, 3) == [0, 0, 0]


def test_report_trained_vs_untrained(run_a, synth, tmp_path, capsys):
    out, cfg, _ = run_a
    assert main(["train", "report", "--run", str(out), "--max-videos", "1"]) == 0
    report = json.loads((out / "report.json").read_text())
    methods = report["methods"]
    assert (
        report["task"] == "fashionmirror"
        and report["clips"] == 1
        and set(methods) == {"trained", "untrained", "copy_source"}
    )
    assert methods["copy_source"]["heldout_loss"] is None
    for name in ("trained", "untrained"):
        loss = methods[name]["heldout_loss"]
        assert set(loss) == {
            "cmn",
            "human_spatial",
            "clothes_spatial",
            "flow",
            "human_temporal",
            "clothes_temporal",
            "total",
        }
        assert loss["total"] == pytest.approx(sum(v for k, v in loss.items() if k != "total"), rel=1e-6)
    for name in methods:
        assert 0 < methods[name]["ssim"] <= 1 and -1 <= methods[name]["ssim_garment"] <= 1
    assert methods["trained"]["heldout_loss"]["cmn"] != methods["untrained"]["heldout_loss"]["cmn"]
    assert "| copy_source | n/a | n/a |" in capsys.readouterr().out
    # drift: one SSIM per rollout step (the 8-frame clip played forwards and backwards), figures beside the JSON
    assert len(report["drift"]["trained"]) == len(report["drift"]["copy_source"]) == 32
    assert all(0 < v <= 1 for v in report["drift"]["copy_source"])
    assert (out / "fashionmirror-contact-sheet.png").is_file() and (out / "fashionmirror-drift.png").is_file()
    from vvt.io import read_image

    sheet = read_image(out / "fashionmirror-contact-sheet.png")
    assert sheet.shape[1] == 5 * 24  # data.size [32, 24]: person | garment | pose | prediction | ground truth

    # a "trained" model that is the step-0 model scores exactly like the untrained one
    same = tmp_path / "same"
    save_config(cfg, (same / "config.yaml"))
    build_training(cfg).model.save_pretrained(same / "final")
    from vvt.train.fashionmirror_report import evaluate_run

    check = evaluate_run(same, max_videos=1)["methods"]
    assert check["trained"] == check["untrained"]


def test_cmn_weights_load_an_imagenet_resnet50_file(synth, tmp_path):
    """``model.cmn_weights``: a local torchvision ResNet-50 state dict initialises the CMN trunk (Sec. 3.1)."""
    import torchvision
    from safetensors.torch import save_file

    from vvt.errors import WeightsNotFoundError

    torch.manual_seed(3)
    state = {k: v.contiguous() for k, v in torchvision.models.resnet50().state_dict().items()}
    save_file(state, tmp_path / "resnet50.safetensors")
    resnet = ["model.cmn_layers=[3, 4, 6, 3]", "model.cmn_width_per_group=64"]
    cfg = run_config(tmp_path / "w", synth, *resnet, f"model.cmn_weights={tmp_path / 'resnet50.safetensors'}")
    trunk = build_training(cfg).model.cmn.trunk.state_dict()
    assert torch.equal(trunk["layer3.5.conv2.weight"], state["layer3.5.conv2.weight"])
    assert torch.equal(trunk["conv1.weight"], state["conv1.weight"])
    with pytest.raises(WeightsNotFoundError, match="missing.safetensors"):
        build_training(
            run_config(tmp_path / "w", synth, *resnet, f"model.cmn_weights={tmp_path / 'missing.safetensors'}")
        )
