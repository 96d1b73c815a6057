"""``vvt bench train``: one training step at a preset's width and the GPU memory plan it implies."""

from __future__ import annotations

import json

from vvt.cli import main
from vvt.train.bench import GIB, memory_plan

PLAN = {"height": 512, "width": 384, "frames": 16, "batch_per_gpu": 2, "gpus": 8}


def test_memory_plan_scales_what_grows_with_the_tokens_and_adds_the_rest_once():
    """Two steps of 1,000 and 500 tokens grew by 3 and 2 MB: 1 MB grows with 500 tokens, 1 MB does not."""
    mb = 2**20
    measured = {"tokens": 1000, "tokens_small": 500, "step_growth_bytes": 3 * mb, "step_growth_bytes_small": 2 * mb,
                "saved_bytes_no_checkpointing": 4 * mb, "step_growth_bytes_no_checkpointing": 9 * mb,
                "step_growth_bytes_small_no_checkpointing": 5 * mb}
    target = 2 * 16 * 512 * 384
    plan = memory_plan(measured, PLAN, trainable=10**9, frozen=10**8, agn_bytes=0)
    parts = plan["gib_parts"]
    assert parts["activations_checkpointing"] == round((1 * mb + 1 * mb * target / 500) / GIB, 1)
    assert parts["activations_no_checkpointing"] == round((1 * mb + 4 * mb * target / 500) / GIB, 1)
    assert parts["trainable_weights_fp32"] == round(4e9 / GIB, 1) and parts["adamw_states"] == round(8e9 / GIB, 1)
    # one step only: its growth (and the saved tensors) scaled as a whole
    single = {k: measured[k] for k in ("tokens", "step_growth_bytes", "saved_bytes_no_checkpointing")}
    parts = memory_plan(single, PLAN, trainable=10**9, frozen=10**8, agn_bytes=0)["gib_parts"]
    assert parts["activations_checkpointing"] == round(3 * mb * target / 1000 / GIB, 1)
    assert parts["activations_no_checkpointing"] == round(4 * mb * target / 1000 / GIB, 1)
    ddp_adamw = [r for r in plan["estimates"] if r["optimizer"] == "adamw" and r["sharding"] == "ddp"]
    zero2_adamw = [r for r in plan["estimates"] if r["optimizer"] == "adamw" and r["sharding"] == "zero2"]
    assert all(z["gib"] < d["gib"] for z, d in zip(zero2_adamw, ddp_adamw))  # ZeRO-2 shards grads and states


def test_tiny_training_step_gives_finite_gradients_in_every_module(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "train", "--preset", "tiny", "--frames", "4", "--slope-frames", "2", "--device", "cpu",
                 "--precision", "fp32", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["all_finite_and_nonzero"] and set(report["grad_norms"]) == {"unet", "reference_unet", "pose_guider"}
    assert {"tokens_small", "step_growth_bytes_no_checkpointing"} <= set(report["measured"])
    assert len(report["memory_plan"]["estimates"]) == 16


def test_slope_frames_must_be_fewer_frames(tmp_path, capsys):
    assert main(["bench", "train", "--preset", "tiny", "--frames", "4", "--slope-frames", "4", "--device", "cpu",
                 "--out", str(tmp_path / "b.json")]) == 2
    assert "--slope-frames 4 must be at least 1 and below --frames 4" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()
