"""The generic trainer: exact resume, Ctrl-C, NaN, atomic checkpoints, logging, data stream, 2 processes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from train_toy import ToyTask
from vvt.errors import ConfigError, InputFileError
from vvt.train import checkpoint as ckpt
from vvt.train.config import EMAConfig, TrainerConfig
from vvt.train.data import BatchStream
from vvt.train.trainer import Trainer, TrainingDivergedError


def config(out: Path, **kw) -> TrainerConfig:
    base = dict(
        output_dir=out,
        max_steps=6,
        batch_size=3,
        gradient_accumulation_steps=2,
        learning_rate=1e-2,
        checkpoint_every=100,
        sample_every=100,
        log_every=1,
        num_workers=0,
        ema=EMAConfig(decay=0.9),
    )
    base.update(kw)
    return TrainerConfig(**base)


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "final" / "net.safetensors"))


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path):
    """Stopped by KeyboardInterrupt inside step 4 (k=3) and resumed to 2k=6: same raw and EMA weights."""
    Trainer(ToyTask(), config(tmp_path / "a", checkpoint_every=3), name="toy").train()
    a_raw = load_file(str(ckpt.checkpoint_dir(tmp_path / "a", 6) / "model.safetensors"))
    a_ema = load_file(str(ckpt.checkpoint_dir(tmp_path / "a", 6) / ckpt.EMA_FILE))

    # 3 steps x 2 micro-steps = 6 calls; call 8 is the second micro-step of step 4
    with pytest.raises(KeyboardInterrupt):
        Trainer(ToyTask(interrupt_at=8), config(tmp_path / "b"), name="toy").train()
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "b")] == [3]
    # resume with DataLoader workers: the data stream must not depend on them
    result = Trainer(ToyTask(), config(tmp_path / "b", num_workers=1), name="toy").train(resume="latest")
    assert result.step == 6
    b_raw = load_file(str(ckpt.checkpoint_dir(tmp_path / "b", 6) / "model.safetensors"))
    b_ema = load_file(str(ckpt.checkpoint_dir(tmp_path / "b", 6) / ckpt.EMA_FILE))
    for k in a_raw:
        assert torch.equal(a_raw[k], b_raw[k]), k
    for k in a_ema:
        assert torch.equal(a_ema[k], b_ema[k]), k
    # the export holds the EMA weights, which differ from the raw ones
    final = weights(tmp_path / "a")
    assert torch.equal(final["0.weight"], a_ema["trainable.net.0.weight"])
    assert not torch.equal(final["0.weight"], a_raw["trainable.net.0.weight"])

    # resuming run a from its periodic checkpoint at step 3 also reproduces step 6
    result = Trainer(ToyTask(), config(tmp_path / "c"), name="toy").train(
        resume=ckpt.checkpoint_dir(tmp_path / "a", 3)
    )
    c_raw = load_file(str(ckpt.checkpoint_dir(tmp_path / "c", 6) / "model.safetensors"))
    assert all(torch.equal(a_raw[k], c_raw[k]) for k in a_raw)


def test_training_reduces_the_loss_and_logs_every_term(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    task = ToyTask(dropout=0.0)
    result = Trainer(
        task,
        config(out, max_steps=30, gradient_accumulation_steps=1, sample_every=10, learning_rate=3e-2),
        name="toy",
    ).train()
    events = EventAccumulator(str(out / "logs" / "toy"))
    events.Reload()
    assert {"train/loss", "train/mse", "train/abs", "train/lr"} <= set(events.Tags()["scalars"])
    loss = [e.value for e in events.Scalars("train/loss")]
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, 31))
    assert sum(loss[-5:]) / 5 < 0.5 * sum(loss[:5]) / 5
    assert events.Scalars("train/abs")[-1].value == pytest.approx(result.losses["abs"], rel=1e-5)
    assert result.losses["abs"] == pytest.approx(result.losses["mse"] ** 0.5, rel=1e-5)
    assert [p.name for p in task.samples] == ["step-0000010.mp4", "step-0000020.mp4", "step-0000030.mp4"]
    assert all(p.is_file() for p in task.samples)


def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match="not finite at step 3.*step-0000002"):
        Trainer(ToyTask(nan_at=5), config(out, checkpoint_every=2), name="toy").train()
    assert [s for s, _ in ckpt.list_checkpoints(out)] == [2]
    assert not (out / "final").exists()


def test_checkpoints_keep_last_and_survive_a_crash_while_saving(tmp_path, monkeypatch):
    out = tmp_path / "run"
    Trainer(ToyTask(), config(out, max_steps=4, checkpoint_every=1, keep_last=2), name="toy").train()
    assert [s for s, _ in ckpt.list_checkpoints(out)] == [3, 4]
    before = {p.name: p.read_bytes() for p in ckpt.checkpoint_dir(out, 4).iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        Trainer(ToyTask(), config(out, max_steps=5, checkpoint_every=1, keep_last=2), name="toy").train(
            "latest"
        )
    assert [s for s, _ in ckpt.list_checkpoints(out)] == [3, 4]
    assert {p.name: p.read_bytes() for p in ckpt.checkpoint_dir(out, 4).iterdir()} == before
    assert ckpt.resolve_resume(out, "latest") == ckpt.checkpoint_dir(out, 4)
    with pytest.raises(InputFileError, match="not a vvt training checkpoint"):
        ckpt.resolve_resume(out, tmp_path)


def test_empty_data_fails_before_training(tmp_path):
    task = ToyTask(data=torch.utils.data.TensorDataset(torch.zeros(0, 4)))
    with pytest.raises(ConfigError, match="training data is empty"):
        Trainer(task, config(tmp_path), name="toy").train()
    assert not (tmp_path / "checkpoints").exists()
    # periods and counts the loop divides or counts by are checked before anything starts
    with pytest.raises(
        ConfigError, match="train.keep_last must be >= 0, got -1; train.sample_every must be >= 1, got 0"
    ):
        Trainer(ToyTask(), config(tmp_path, sample_every=0, keep_last=-1), name="toy")


def test_batch_stream_epochs_shards_and_weights():
    one = BatchStream([7], [1.0], batch_size=2, seed=3)
    first = [k for g in range(7) for k in one.global_batch(g)]
    # 14 positions = two epochs, each a permutation of the 7 samples
    assert sorted(k[1] for k in first[:7]) == list(range(7))
    assert sorted(k[1] for k in first[7:]) == list(range(7))
    assert first[:7] != first[7:]
    assert [k[2] for k in first] == [0] * 7 + [1] * 7  # the epoch, for datasets with set_epoch
    # two processes take the even and odd global batches; a resumed stream continues where it stopped
    r0 = BatchStream([7], [1.0], 2, 3, rank=0, world_size=2)
    r1 = BatchStream([7], [1.0], 2, 3, rank=1, world_size=2, start=1)
    it0, it1 = iter(r0), iter(r1)
    assert [next(it0) for _ in range(2)] == [one.global_batch(0), one.global_batch(2)]
    assert next(it1) == one.global_batch(3)
    # weighted sources: batch frequencies follow the weights, each batch from one source
    mixed = BatchStream([5, 9], [1.0, 3.0], batch_size=2, seed=0)
    batches = [mixed.global_batch(g) for g in range(4000)]
    assert all(len({k[0] for k in b}) == 1 for b in batches)
    share = Counter(b[0][0] for b in batches)[1] / len(batches)
    assert share == pytest.approx(0.75, abs=0.03)
    # within a source the positions still run through whole permutations
    src1 = [k[1] for b in batches if b[0][0] == 1 for k in b][:18]
    assert sorted(src1[:9]) == list(range(9)) and sorted(src1[9:]) == list(range(9))


def test_shipped_accelerate_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    root = Path(__file__).resolve().parents[1] / "src" / "vvt" / "configs" / "accelerate"
    loaded = {p.stem: load_config_from_file(str(p)) for p in sorted(root.glob("*.yaml"))}
    assert {k: v.distributed_type.value for k, v in loaded.items()} == {
        "ddp": "MULTI_GPU",
        "deepspeed_zero2": "DEEPSPEED",
        "fsdp": "FSDP",
    }
    assert loaded["deepspeed_zero2"].deepspeed_config["zero_stage"] == 2
    assert loaded["fsdp"].fsdp_config["fsdp_sharding_strategy"] == "FULL_SHARD"


def test_checkpoints_carry_a_manifest_and_resume_latest_skips_corrupt_ones(tmp_path, caplog):
    out = tmp_path / "run"
    Trainer(ToyTask(), config(out, max_steps=3, checkpoint_every=1, keep_last=0), name="toy").train()
    steps = {s: p for s, p in ckpt.list_checkpoints(out)}
    manifest = json.loads((steps[3] / ckpt.MANIFEST_FILE).read_text())["files"]
    assert {"model.safetensors", "optimizer.bin", "random_states_0.pkl", ckpt.EMA_FILE, ckpt.STATE_FILE} <= set(
        manifest
    )
    assert all(ckpt.verify_checkpoint(p).intact for p in steps.values())
    # truncated latest: named, skipped, and the run continues from step 2 to the same weights
    model = steps[3] / "model.safetensors"
    model.write_bytes(model.read_bytes()[:100])
    verdict = ckpt.verify_checkpoint(steps[3])
    assert verdict.problems == [(model, f"100 bytes, manifest.json says {manifest['model.safetensors']['size']} "
                                        "(truncated?)")]
    with pytest.raises(InputFileError, match="model.safetensors: corrupt checkpoint: 100 bytes"):
        ckpt.resolve_resume(out, steps[3])
    with caplog.at_level("WARNING"):
        assert ckpt.resolve_resume(out, "latest") == steps[2]
    assert "skipping corrupt checkpoint step-0000003" in caplog.text and "falling back to step-0000002" in caplog.text
    # a changed byte of the same size is found by its SHA-256
    state = steps[2] / "optimizer.bin"
    data = bytearray(state.read_bytes())
    data[-10] ^= 1
    state.write_bytes(bytes(data))
    assert "SHA-256 mismatch" in ckpt.verify_checkpoint(steps[2]).describe()
    assert ckpt.resolve_resume(out, "latest") == steps[1]
    # RNG states: missing is an error unless inexact; without any usable checkpoint, latest says so
    (steps[1] / "random_states_0.pkl").unlink()
    with pytest.raises(InputFileError, match="no intact checkpoint.*3 corrupt"):
        ckpt.resolve_resume(out, "latest")
    with pytest.raises(InputFileError, match="random_states_0.pkl: corrupt checkpoint: missing.*--resume-inexact"):
        ckpt.resolve_resume(out, steps[1])
    assert ckpt.resolve_resume(out, steps[1], inexact=True) == steps[1]
    # a checkpoint of before manifests: structural checks
    (steps[1] / ckpt.MANIFEST_FILE).unlink()
    ema = steps[1] / ckpt.EMA_FILE
    ema.write_bytes(ema.read_bytes()[:-8])
    assert any(f == ema and "unreadable" in p for f, p in ckpt.verify_checkpoint(steps[1]).problems)


def test_resume_with_other_trained_modules_is_one_short_error(tmp_path):
    class OtherTask(ToyTask):
        def trainable_modules(self):
            return {"head": self.net}

    out = tmp_path / "run"
    Trainer(ToyTask(), config(out, max_steps=2, checkpoint_every=1), name="toy").train()
    with pytest.raises(InputFileError) as err:
        Trainer(OtherTask(), config(out, max_steps=3), name="toy").train(resume="latest")
    message = str(err.value)
    assert "model.safetensors: the checkpoint trains [net] but this run trains [head]" in message
    assert len(message) < 400 and "\n" not in message


def test_init_from_starts_from_another_runs_weights_with_a_fresh_optimiser(tmp_path):
    """``train.init_from``: the weights of run a's newest checkpoint (or of a named one), nothing else - the
    step count starts at 0 and, with a vanishing learning rate, the weights after a step are a's."""
    a = tmp_path / "a"
    Trainer(ToyTask(), config(a, max_steps=3, checkpoint_every=2), name="toy").train()
    a2, a3 = (load_file(str(ckpt.checkpoint_dir(a, s) / "model.safetensors")) for s in (2, 3))
    for source, expected in ((a, a3), (ckpt.checkpoint_dir(a, 2), a2)):
        out = tmp_path / f"b{len(expected)}-{source.name}"
        result = Trainer(ToyTask(), config(out, max_steps=1, checkpoint_every=1, learning_rate=1e-12,
                                           init_from=source), name="toy").train()
        assert result.step == 1 and [s for s, _ in ckpt.list_checkpoints(out)] == [1]
        b = load_file(str(ckpt.checkpoint_dir(out, 1) / "model.safetensors"))
        for k in expected:
            torch.testing.assert_close(b[k], expected[k], rtol=0, atol=1e-6)
    assert not all(torch.allclose(a2[k], a3[k]) for k in a2)  # the two sources differ

    class OtherTask(ToyTask):
        def trainable_modules(self):
            return {"head": self.net}

    with pytest.raises(InputFileError, match="the checkpoint trains \\[net\\] but this run trains \\[head\\]"):
        Trainer(OtherTask(), config(tmp_path / "c", init_from=a), name="toy").train()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="train.init_from: no checkpoint in this run"):
        Trainer(ToyTask(), config(tmp_path / "d", init_from=tmp_path / "empty"), name="toy").train()
