"""RealVVTPipeline end to end with a tiny model on CPU: a synthetic clip and the real ViViD sample."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
import torch

from vvt.errors import ShapeMismatchError, WeightsNotFoundError
from vvt.io import read_image, read_video, write_video
from vvt.realvvt.attention import spatial_self_attentions
from vvt.realvvt.config import RealVVTConfig
from vvt.realvvt.model import RealVVT
from vvt.realvvt.pipeline import PipelineInputError, RealVVTPipeline

# diffusers' EulerDiscreteScheduler trips a numpy 2 deprecation inside its own code
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

H, W, N = 64, 48, 3



@pytest.fixture(scope="module")
def pipe():
    pipeline = RealVVT.from_config(RealVVTConfig(preset="tiny", seed=0)).pipeline()
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def synthetic_clip(n=N, h=H, w=W, seed=0):
    """A SynthVVT-like clip: a person-shaped blob moving right on a textured background, its torso as the
    agnostic region (grey in the agnostic video), a 3-part DensePose-style map and a striped garment photo on
    white."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    background = (rng.integers(0, 60, (h, w, 3)) + 100).astype(np.uint8)
    person, agnostic, mask, densepose = [], [], [], []
    for i in range(n):
        cx = w // 2 - 3 + 2 * i
        body = ((xx - cx) / 10.0) ** 2 + ((yy - h // 2) / 24.0) ** 2 <= 1
        torso = body & (yy > h // 2 - 12) & (yy < h // 2 + 8)
        frame = background.copy()
        frame[body] = (200, 150, 120)
        frame[torso] = (30, 60, 200)
        person.append(frame)
        a = frame.copy()
        a[torso] = 128
        agnostic.append(a)
        mask.append(torso)
        d = np.zeros((h, w, 3), np.uint8)
        d[body] = (10, 128, 128)
        d[torso] = (20, 200, 60)
        densepose.append(d)
    garment = np.full((h, w, 3), 255, np.uint8)
    garment[10:54, 8:40] = (30, 60, 200)
    garment[10:54:6, 8:40] = (240, 240, 0)
    return np.stack(person), np.stack(agnostic), np.stack(mask), np.stack(densepose), garment


def _uint8(frames):
    return (
        np.stack([np.asarray(f) for f in frames])
        if isinstance(frames, list)
        else np.round(frames * 255).astype(np.uint8)
    )


def test_synthetic_clip_end_to_end(pipe, tmp_path):
    _, agnostic, mask, densepose, garment = synthetic_clip()
    out = pipe(
        agnostic, mask, densepose, garment, num_inference_steps=2, generator=torch.Generator().manual_seed(0)
    )
    frames = out.frames
    assert len(frames) == N and all(isinstance(f, PIL.Image.Image) and f.size == (W, H) for f in frames)
    got = _uint8(frames)
    assert np.array_equal(got[~mask], agnostic[~mask])  # paste-back: exact outside the agnostic mask
    assert np.abs(got[mask].astype(int) - agnostic[mask]).mean() > 1  # generated inside
    path = write_video(tmp_path / "tryon.mp4", got, fps=7)
    video, fps = read_video(path)
    assert video.shape == (N, H, W, 3) and fps == pytest.approx(7)


def test_seeded_and_output_types_agree(pipe):
    _, agnostic, mask, densepose, garment = synthetic_clip()
    args = (agnostic, mask, densepose, garment)
    a = pipe(
        *args, num_inference_steps=2, generator=torch.Generator().manual_seed(4), output_type="np"
    ).frames
    b = pipe(
        *args, num_inference_steps=2, generator=torch.Generator().manual_seed(4), output_type="pt"
    ).frames
    c = pipe(
        *args,
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(5),
        output_type="np",
        paste_back=False,
    ).frames
    assert a.shape == (N, H, W, 3) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    np.testing.assert_allclose(a, b.permute(0, 2, 3, 1).numpy(), rtol=0, atol=1e-6)
    assert not np.array_equal(a, c)
    assert not np.array_equal(
        _uint8(c)[~mask], agnostic[~mask]
    )  # without paste-back the VAE output everywhere


def test_reference_unet_runs_once_per_video(pipe):
    _, agnostic, mask, densepose, garment = synthetic_clip()
    calls = {"reference_unet": [], "unet": [], "pose_guider": []}
    hooks = [
        getattr(pipe, name).register_forward_pre_hook(
            lambda m, args, kwargs, name=name: calls[name].append(args[0].shape[0]), with_kwargs=True
        )
        for name in calls
    ]
    try:
        pipe(agnostic, mask, densepose, garment, num_inference_steps=3, output_type="np")
        cfg = {k: list(v) for k, v in calls.items()}
        for v in calls.values():
            v.clear()
        pipe(
            agnostic,
            mask,
            densepose,
            garment,
            num_inference_steps=2,
            max_guidance_scale=1.0,
            output_type="np",
        )
    finally:
        for h in hooks:
            h.remove()
    assert cfg == {"reference_unet": [2], "unet": [2, 2, 2], "pose_guider": [1]}  # both CFG branches batched
    assert calls == {"reference_unet": [1], "unet": [1, 1], "pose_guider": [1]}


def test_accepts_pil_and_tensors_with_resizing(pipe):
    """PIL frames and tensors give what the same frames as uint8 arrays give (up to float rounding: the resizes
    differ in the last bit between CPUs), resized to the working size, with the resized agnostic frames pasted
    back outside the resized mask."""
    _, agnostic, mask, densepose, garment = synthetic_clip(h=80, w=60)
    small_garment = PIL.Image.fromarray(garment).resize((30, 40))
    settings = {"height": H, "width": W, "num_inference_steps": 1, "output_type": "np"}
    frames = pipe(
        [PIL.Image.fromarray(f) for f in agnostic],
        torch.from_numpy(mask).float().unsqueeze(1),
        torch.from_numpy(densepose).permute(0, 3, 1, 2).float() / 127.5 - 1,
        small_garment,
        generator=torch.Generator().manual_seed(2),
        **settings,
    ).frames
    assert frames.shape == (N, H, W, 3)
    arrays = pipe(
        agnostic, mask, densepose, np.asarray(small_garment), generator=torch.Generator().manual_seed(2),
        **settings,
    ).frames
    np.testing.assert_allclose(frames, arrays, rtol=0, atol=1e-5)
    small = pipe.check_inputs(agnostic, mask, densepose, garment, H, W)
    outside = small["agnostic_mask"][:, 0].numpy() < 0.5
    expected = np.round((small["agnostic"].permute(0, 2, 3, 1).numpy() + 1) * 127.5).astype(np.uint8)
    # a last-bit difference can move a value across a rounding boundary: at most one grey level
    assert outside.any() and np.abs(_uint8(frames)[outside].astype(int) - expected[outside]).max() <= 1


@pytest.mark.parametrize(
    "case, error, match",
    [
        ("length", ShapeMismatchError, "differ in length"),
        ("size", ShapeMismatchError, "differ in frame size"),
        ("empty", PipelineInputError, "empty"),
        ("type", PipelineInputError, "garment: expected a PIL image"),
        ("dtype", PipelineInputError, "uint8"),
        ("range", PipelineInputError, r"\[-1, 1\]"),
        ("multiple", PipelineInputError, "multiple of 8"),
        ("pil sizes", ShapeMismatchError, r"PIL frames differ in size \(W, H\): \[\(40, 64\), \(48, 64\)\]"),
    ],
)
def test_input_errors(pipe, case, error, match):
    _, agnostic, mask, densepose, garment = synthetic_clip()
    args = {"agnostic": agnostic, "agnostic_mask": mask, "densepose": densepose, "garment": garment}
    if case == "length":
        args["densepose"] = densepose[:2]
    elif case == "size":
        args["agnostic_mask"] = mask[:, :32]
    elif case == "empty":
        args["agnostic_mask"] = np.zeros_like(mask)
    elif case == "type":
        args["garment"] = "cloth.jpg"
    elif case == "dtype":
        args["agnostic"] = agnostic.astype(np.float32)
    elif case == "range":
        args["densepose"] = torch.from_numpy(densepose).permute(0, 3, 1, 2).float()
    elif case == "multiple":
        args["height"] = 60
    elif case == "pil sizes":
        args["agnostic"] = [PIL.Image.fromarray(f) for f in agnostic[:2]] + [PIL.Image.fromarray(agnostic[2, :, :40])]
    with pytest.raises(error, match=match):
        pipe(**args, num_inference_steps=1)


def test_save_and_load_round_trip(pipe, tmp_path):
    _, agnostic, mask, densepose, garment = synthetic_clip()
    with torch.no_grad():
        pipe.pose_guider.embedding.conv_out.weight.normal_(0, 0.1)  # as if trained: a non-zero guider
    try:
        pipe.save_pretrained(tmp_path / "ckpt")
        index = json.loads((tmp_path / "ckpt" / "model_index.json").read_text())
        assert (
            index["pose_guider"] == ["vvt.realvvt.pose_guider", "PoseGuider"]
            and index["cnt_attention"] is True
        )
        for part in ("unet", "reference_unet", "pose_guider", "vae"):
            assert (tmp_path / "ckpt" / part / "diffusion_pytorch_model.safetensors").is_file()
        assert not list((tmp_path / "ckpt").rglob("*.bin"))
        loaded = RealVVTPipeline.from_pretrained(tmp_path / "ckpt")
        loaded.set_progress_bar_config(disable=True)
        args = (agnostic, mask, densepose, garment)
        a = pipe(
            *args, num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np"
        ).frames
        b = loaded(
            *args, num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np"
        ).frames
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
        model = RealVVT.from_pretrained(tmp_path / "ckpt")
        assert torch.equal(
            model.pose_guider.embedding.conv_out.weight, pipe.pose_guider.embedding.conv_out.weight
        )
        # local folders only: a path without model_index.json is never looked up on a hub
        for missing in (tmp_path / "nowhere", tmp_path / "ckpt" / "unet"):
            with pytest.raises(WeightsNotFoundError, match="model_index.json"):
                RealVVT.from_pretrained(missing)
    finally:
        with torch.no_grad():
            pipe.pose_guider.embedding.conv_out.weight.zero_()


def test_real_vivid_sample_end_to_end(pipe, vivid_samples, tmp_path):
    agnostic, fps = read_video(vivid_samples / "agnostic" / "upper1.mp4", max_frames=N)
    mask, _ = read_video(vivid_samples / "agnostic_mask" / "upper1.mp4", max_frames=N)
    densepose, _ = read_video(vivid_samples / "densepose" / "upper1.mp4", max_frames=N)
    garment = read_image(vivid_samples / "cloth" / "00057_00.jpg")
    mask = mask[..., 0] > 127
    frames = pipe(
        agnostic,
        mask,
        densepose,
        garment,
        height=H,
        width=W,
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames
    assert frames.shape == (N, H, W, 3)
    small = pipe.check_inputs(agnostic, mask, densepose, garment, H, W)
    inside = small["agnostic_mask"][:, 0].numpy() > 0.5
    expected = np.round((small["agnostic"].permute(0, 2, 3, 1).numpy() + 1) * 127.5).astype(np.uint8)
    got = _uint8(frames)
    assert inside.any() and (~inside).any()
    assert np.array_equal(got[~inside], expected[~inside])
    path = write_video(tmp_path / "upper1__00057_00.mp4", got, fps=fps)
    assert read_video(path)[0].shape == (N, H, W, 3)


def test_synthvvt_sample_to_video_file(pipe, tmp_path):
    """A SynthVVT dataset (vvt.data.synth) read back from its ViViD-layout files, tried on with the unpaired
    garment and written as a video file."""
    from vvt.data.synth import SynthConfig, generate

    root = generate(
        tmp_path / "synth", SynthConfig(videos=1, frames=N, height=H, width=W, categories=("upper",))
    )
    cat = root / "upper_body"
    vid, cloth = (cat / "test_pairs_unpaired.txt").read_text().split()
    stem = vid.removesuffix(".mp4")
    agnostic, fps = read_video(cat / "agnostic" / vid)
    mask = read_video(cat / "agnostic_mask" / vid)[0][..., 0] > 127
    densepose = read_video(cat / "densepose" / vid)[0]
    garment = read_image(cat / "cloth" / cloth)
    frames = pipe(agnostic, mask, densepose, garment, num_inference_steps=2, output_type="np").frames
    got = _uint8(frames)
    assert got.shape == (N, H, W, 3) and mask.any()
    assert np.array_equal(got[~mask], agnostic[~mask])
    path = write_video(tmp_path / f"{stem}__{cloth.removesuffix('.jpg')}.mp4", got, fps=fps)
    assert read_video(path)[0].shape == (N, H, W, 3)


def test_samples_in_eval_mode_and_restores_each_module_mode(pipe):
    """A pipeline built from training modules (``RealVVT.pipeline()``: unet, Reference U-Net and pose guider
    in train mode) samples in eval mode - dropout off: injected p=0.5 dropout changes nothing - and leaves
    every submodule's mode as it found it, a mixed one included."""
    _, agnostic, mask, densepose, garment = synthetic_clip()
    trained = ("unet", "reference_unet", "pose_guider")
    assert all(getattr(pipe, name).training for name in trained)

    def run():
        return pipe(
            agnostic, mask, densepose, garment, num_inference_steps=2, output_type="np",
            generator=torch.Generator().manual_seed(0),
        ).frames

    plain = run()
    seen = []
    hooks = [
        module.register_forward_pre_hook(lambda m, args: seen.append(m.training))
        for name in trained
        for module in getattr(pipe, name).modules()
    ]
    # dropout the sampler must switch off: after the C&T attention (Eq. 8) of both U-Nets
    dropouts = [
        (layer.module.to_out, layer.module.to_out[1])
        for unet in (pipe.unet, pipe.reference_unet)
        for layer in spatial_self_attentions(unet)
    ]
    pipe.unet.conv_in.eval()  # a mixed state, to be restored as it is
    before = {name: m.training for name, m in pipe.components.items() if isinstance(m, torch.nn.Module)}
    modes = [m.training for name in before for m in getattr(pipe, name).modules()]
    try:
        for to_out, _ in dropouts:
            to_out[1] = torch.nn.Dropout(0.5).train()
        dropped = run()
        np.testing.assert_array_equal(dropped, plain)
        assert seen and not any(seen)  # every module of the three ran in eval mode
        assert modes == [m.training for name in before for m in getattr(pipe, name).modules()]
        assert all(isinstance(to_out[1], torch.nn.Dropout) and to_out[1].training for to_out, _ in dropouts)
    finally:
        for h in hooks:
            h.remove()
        for to_out, original in dropouts:
            to_out[1] = original
        pipe.unet.conv_in.train()


def test_model_cpu_offload_follows_the_call_order_and_keeps_one_part_on_the_device():
    """accelerate's offload hooks on the CPU, with ``cpu:0`` standing for the accelerator: every ``.to`` the
    hooks make is recorded, and the parts on the "device" are replayed from them."""
    pipeline = RealVVT.from_config(RealVVTConfig(preset="tiny", seed=0)).pipeline()
    pipeline.set_progress_bar_config(disable=True)
    _, agnostic, mask, densepose, garment = synthetic_clip()
    seq = pipeline.model_cpu_offload_seq.split("->")

    # the first call of each part, in order, is the offload sequence (then the VAE decodes)
    calls = []
    hooks = [
        getattr(pipeline, name).register_forward_pre_hook(lambda m, a, name=name: calls.append(name))
        for name in ("image_encoder", "reference_unet", "pose_guider", "unet")
    ]
    vae = pipeline.vae
    for method in ("encode", "decode"):
        original = getattr(vae, method)
        setattr(vae, method, lambda *a, original=original, **k: calls.append("vae") or original(*a, **k))
    try:
        pipeline(agnostic, mask, densepose, garment, num_inference_steps=2, output_type="np")
    finally:
        for h in hooks:
            h.remove()
        del vae.encode, vae.decode
    stages = [name for i, name in enumerate(calls) if i == 0 or calls[i - 1] != name]
    assert stages == [*seq, "vae"]  # encode (CLIP, VAE), reference, pose, denoise, decode

    moves = []
    pipeline.enable_model_cpu_offload(device="cpu")
    for name in seq:
        module = getattr(pipeline, name)
        original = module.to
        module.to = lambda *a, name=name, original=original, **k: (
            moves.append((name, str(a[0] if a else k.get("device")))) or original(*a, **k)
        )
    try:
        pipeline(agnostic, mask, densepose, garment, num_inference_steps=2, output_type="np")
    finally:
        for name in seq:
            del getattr(pipeline, name).to
        pipeline.remove_all_hooks()
    loads = []
    for name, where in moves:
        if where != "cpu" and (not loads or loads[-1] != name):
            loads.append(name)
    assert loads == [*seq, "vae"]
    # the U-Net is sent back before the VAE decodes. (That each part leaves as the next arrives cannot be seen
    # here: accelerate's hook skips offloading a previous part whose device is already "cpu", which on a
    # CPU-only machine the execution device "cpu:0" is; the hooks chain in model_cpu_offload_seq order.)
    decode = max(i for i, (name, where) in enumerate(moves) if name == "vae" and where != "cpu")
    assert ("unet", "cpu") in moves[:decode]
    last = moves[-len(seq) :]  # maybe_free_model_hooks sends every part back
    assert {name for name, _ in last} == set(seq) and all(where == "cpu" for _, where in last)
