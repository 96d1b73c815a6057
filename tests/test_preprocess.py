"""Preprocessing without mediapipe: filters, jitter metrics, masks, part maps, garments, parsers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vvt.errors import WeightsNotFoundError
from vvt.pose.densepose import decode_iuv, detectron2_palette, to_vvt_iuv
from vvt.pose.openpose import BODY25, Keypoints
from vvt.preprocess.densepose import render_part_map
from vvt.preprocess.garment import centre_and_pad, garment_mask
from vvt.preprocess.masks import agnostic_mask
from vvt.preprocess.parsing import Parsing, SegformerParser, label_regions
from vvt.preprocess.people import choose_target, person_components
from vvt.preprocess.smoothing import (
    keypoint_jitter,
    mask_iou_change,
    one_euro,
    one_euro_zero_phase,
    smooth_keypoints,
    smooth_masks,
)


def standing_body(cx: float = 100.0, top: float = 40.0, s: float = 40.0, facing: bool = True) -> np.ndarray:
    """BODY_25 ``(25, 3)`` of a person standing with arms hanging slightly out; shoulder width ``s``."""
    sign = 1 if facing else -1  # facing the camera: the person's right is the image's left
    j = {
        "Nose": (cx, top), "Neck": (cx, top + 0.6 * s), "MidHip": (cx, top + 2.0 * s),
        "RShoulder": (cx - sign * s / 2, top + 0.6 * s), "LShoulder": (cx + sign * s / 2, top + 0.6 * s),
        "RElbow": (cx - sign * 0.7 * s, top + 1.3 * s), "LElbow": (cx + sign * 0.7 * s, top + 1.3 * s),
        "RWrist": (cx - sign * 0.8 * s, top + 2.0 * s), "LWrist": (cx + sign * 0.8 * s, top + 2.0 * s),
        "RHip": (cx - sign * 0.25 * s, top + 2.0 * s), "LHip": (cx + sign * 0.25 * s, top + 2.0 * s),
        "RKnee": (cx - sign * 0.25 * s, top + 3.0 * s), "LKnee": (cx + sign * 0.25 * s, top + 3.0 * s),
        "RAnkle": (cx - sign * 0.25 * s, top + 4.0 * s), "LAnkle": (cx + sign * 0.25 * s, top + 4.0 * s),
        "REye": (cx - sign * 0.1 * s, top - 0.05 * s), "LEye": (cx + sign * 0.1 * s, top - 0.05 * s),
        "REar": (cx - sign * 0.2 * s, top), "LEar": (cx + sign * 0.2 * s, top),
        "LBigToe": (cx + sign * 0.3 * s, top + 4.2 * s), "LSmallToe": (cx + sign * 0.35 * s, top + 4.2 * s),
        "LHeel": (cx + sign * 0.25 * s, top + 4.1 * s), "RBigToe": (cx - sign * 0.3 * s, top + 4.2 * s),
        "RSmallToe": (cx - sign * 0.35 * s, top + 4.2 * s), "RHeel": (cx - sign * 0.25 * s, top + 4.1 * s),
    }
    body = np.zeros((25, 3), np.float32)
    for name, (x, y) in j.items():
        body[BODY25[name]] = (x, y, 1.0)
    return body


def at(body: np.ndarray, name: str) -> tuple[int, int]:
    x, y = body[BODY25[name], :2]
    return int(round(y)), int(round(x))


def mid(body, a, b, f=0.5) -> tuple[int, int]:
    pa, pb = body[BODY25[a], :2], body[BODY25[b], :2]
    x, y = pa + f * (pb - pa)
    return int(round(y)), int(round(x))


# --- smoothing ---------------------------------------------------------------------------------------

def test_one_euro_with_beta_zero_is_the_exponential_filter_of_its_cutoff():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2, 2))
    fps, fc = 24.0, 2.0
    a = 1 / (1 + fps / (2 * math.pi * fc))
    expected = np.empty_like(x)
    expected[0] = x[0]
    for t in range(1, len(x)):
        expected[t] = a * x[t] + (1 - a) * expected[t - 1]
    np.testing.assert_allclose(one_euro(x, fps, min_cutoff=fc, beta=0.0), expected, rtol=1e-12)


def test_one_euro_follows_fast_motion_closer_with_larger_beta():
    t = np.arange(48) / 24.0
    x = np.stack([np.stack([np.sin(2 * np.pi * 2 * t), np.zeros_like(t)], -1)], 1)  # (N, 1, 2), 2 Hz
    err_slow = np.abs(one_euro(x, 24, 0.5, beta=0.0) - x).mean()
    err_fast = np.abs(one_euro(x, 24, 0.5, beta=5.0) - x).mean()
    assert err_fast < 0.5 * err_slow


def test_zero_phase_filter_has_no_lag_on_a_ramp():
    x = np.linspace(0, 10, 50)[:, None, None] * np.ones((1, 1, 2))
    one_sided = one_euro(x, 24, 1.0, 0.0)
    both = one_euro_zero_phase(x, 24, min_cutoff=1.0, beta=0.0)
    centre = slice(15, 35)
    assert np.abs(one_sided - x)[centre].mean() > 0.1
    assert np.abs(both - x)[centre].mean() < 0.01


def test_smooth_keypoints_removes_noise_and_leaves_missing_groups_alone():
    rng = np.random.default_rng(1)
    n = 40
    kp = Keypoints.empty(n, 200, 300)
    truth = np.stack([standing_body()[:, :2] + [t * 0.5, 0] for t in range(n)])
    kp.body[..., :2] = truth + rng.normal(0, 2.0, truth.shape)
    kp.body[..., 2] = 1.0
    out = smooth_keypoints(kp, fps=24.0)
    assert np.abs(out.body[..., :2] - truth).mean() < 0.6 * np.abs(kp.body[..., :2] - truth).mean()
    assert keypoint_jitter(out.body[..., :2], truth) < 0.5 * keypoint_jitter(kp.body[..., :2], truth)
    np.testing.assert_array_equal(out.hand_left, kp.hand_left)  # never detected: untouched zeros


def test_smooth_masks_removes_a_one_frame_flicker():
    m = np.zeros((7, 8, 8), bool)
    m[:, 2:6, 2:6] = True
    flicker = m.copy()
    flicker[3] = False
    np.testing.assert_array_equal(smooth_masks(flicker.astype(np.uint8) * 255, sigma=1.0), m)
    assert mask_iou_change(flicker) == pytest.approx(2 / 6)
    assert mask_iou_change(m) == 0.0


def test_smooth_masks_reads_the_range_from_the_dtype():
    faint = np.ones((3, 4, 4), np.uint8)  # 1 of 255 everywhere: no person, not a [0, 1] mask
    assert not smooth_masks(faint, sigma=0.0).any()
    soft = np.full((3, 4, 4), 0.6, np.float32)
    assert smooth_masks(soft, sigma=1.0).all() and not smooth_masks(soft * 0.5, sigma=1.0).any()


def test_jitter_of_a_single_frame_is_zero():
    assert mask_iou_change(np.ones((1, 4, 4), bool)) == 0.0
    assert keypoint_jitter(np.ones((1, 3, 2))) == 0.0


def test_keypoints_resized_scales_x_and_y_and_keeps_confidence():
    kp = Keypoints.empty(2, 100, 50)
    kp.body[..., :] = (10.0, 20.0, 0.7)
    kp.face[1, 3] = (4.0, 6.0, 1.0)
    out = kp.resized(300, 100)
    assert (out.width, out.height) == (300, 100)
    np.testing.assert_allclose(out.body[0, 0], (30.0, 40.0, 0.7), rtol=1e-6)
    np.testing.assert_allclose(out.face[1, 3], (12.0, 12.0, 1.0))
    assert kp.body[0, 0, 0] == 10.0  # the original is untouched
    np.testing.assert_array_equal(kp.copy().all_points(), kp.all_points())


def test_keypoint_jitter_known_answers():
    steps = np.zeros((5, 1, 2))
    steps[:, 0, 0] = [0, 3, 3, 7, 7]  # displacements 3, 0, 4, 0
    assert keypoint_jitter(steps) == pytest.approx(7 / 4)
    assert keypoint_jitter(steps, reference=steps) == 0.0
    valid = np.array([[True], [True], [False], [True], [True]])
    assert keypoint_jitter(steps, valid=valid) == pytest.approx((3 + 0) / 2)


# --- people ------------------------------------------------------------------------------------------

def test_person_components_groups_pieces_and_separates_people():
    prob = np.zeros((100, 120), np.float32)
    prob[10:50, 10:30] = 1  # person A, torso
    prob[55:95, 12:28] = 1  # person A, legs (stacked below)
    prob[30:90, 60:110] = 1  # person B, larger
    people = person_components(prob)
    assert len(people) == 2
    assert people[0][60, 80] and not people[0][20, 20]  # B is largest
    assert people[1][20, 20] and people[1][70, 20]  # A's pieces are one person
    assert choose_target(people, previous=None) == 0
    assert choose_target(people, previous=people[1]) == 1  # tracking beats size


# --- agnostic masks ----------------------------------------------------------------------------------

def _parts():
    body = standing_body()
    person = np.zeros((240, 200), bool)
    return body, person, Parsing({})


def test_upper_mask_covers_torso_and_arms_not_head_hands_or_legs():
    body, person, _ = _parts()
    hand = np.zeros_like(person)
    ry, rx = at(body, "RWrist")
    hand[ry - 4:ry + 12, rx - 6:rx + 6] = True
    head = np.zeros_like(person)
    head[10:60, 85:115] = True
    m = agnostic_mask("upper", body, person, Parsing({"hands": hand, "head": head}))
    for p in (mid(body, "Neck", "MidHip"), mid(body, "RShoulder", "RElbow"), mid(body, "LElbow", "LWrist")):
        assert m[p]
    assert not m[at(body, "Nose")] and not m[hand].any() and not m[head].any()
    assert not m[at(body, "RKnee")] and not m[at(body, "LAnkle")]


def test_lower_mask_covers_legs_not_chest_or_feet():
    body, person, _ = _parts()
    feet = np.zeros_like(person)
    feet[195:215, :] = True
    m = agnostic_mask("lower", body, person, Parsing({"feet": feet}))
    assert m[at(body, "RKnee")] and m[mid(body, "LKnee", "LAnkle")] and m[mid(body, "RHip", "LHip")]
    assert not m[mid(body, "Neck", "MidHip", 0.3)] and not m[feet].any()


def test_dress_mask_contains_both_and_the_gap_between_the_legs():
    body, person, parsing = _parts()
    upper = agnostic_mask("upper", body, person, parsing)
    lower = agnostic_mask("lower", body, person, parsing)
    dress = agnostic_mask("dresses", body, person, parsing)
    assert dress[upper | lower].all()
    assert dress[mid(body, "RKnee", "LKnee")]


def test_parsed_lower_garment_is_protected_from_the_upper_mask():
    body, person, _ = _parts()
    skirt = np.zeros_like(person)
    skirt[int(body[BODY25["MidHip"], 1]) - 10:, :] = True
    plain = agnostic_mask("upper", body, person, Parsing({}))
    parsed = agnostic_mask("upper", body, person, Parsing({"lower": skirt}))
    assert plain[skirt].any() and not parsed[skirt].any()
    np.testing.assert_array_equal(parsed, plain & ~skirt)


def _outfit_frame(hem_slope: float = 0.3):
    """A standing person: a red top whose hem slants (``hem_slope`` rows per column) over a blue skirt,
    red sleeves hanging beside the skirt; returns body, frame, person, top truth, bottom truth, hem rows."""
    body = standing_body()
    h, w = 240, 200
    frame = np.full((h, w, 3), 235, np.uint8)
    person = np.zeros((h, w), bool)
    person[55:198, 75:125] = True  # down to the ankles
    cols = np.arange(w)
    hem = np.round(105 + hem_slope * (cols - 100)).astype(int)  # the real edge: not the hip line (y = 120)
    top = person & (np.arange(h)[:, None] < hem[None, :])
    bottom = person & ~top
    for x0 in (63, 125):  # sleeves touching the torso, from the shoulders down past the hem
        sleeve = np.zeros((h, w), bool)
        sleeve[62:125, x0:x0 + 12] = True
        top |= sleeve
        person |= sleeve
    frame[top] = (200, 40, 40)
    frame[bottom] = (40, 40, 170)
    return body, frame, person, top, bottom, hem


def test_outfit_seam_follows_a_slanted_hem_and_finds_the_sleeves():
    from vvt.preprocess.masks import body_scale
    from vvt.preprocess.outfit import split_outfit

    body, frame, person, top, bottom, hem = _outfit_frame()
    split = split_outfit(frame, body, person, body_scale(body))
    assert split.contrast > 50
    seam = split.above.sum(axis=0)  # rows above the seam, per column
    torso = slice(80, 121)
    assert np.abs(seam[torso] - hem[torso]).max() <= 3
    assert split.top[top].mean() > 0.9 and not split.top[bottom].any()


def test_category_masks_keep_the_other_garment():
    from vvt.preprocess.masks import body_scale
    from vvt.preprocess.outfit import split_outfit

    body, frame, person, top, bottom, _ = _outfit_frame()
    split = split_outfit(frame, body, person, body_scale(body))
    upper = agnostic_mask("upper", body, person, Parsing({}), split)
    lower = agnostic_mask("lower", body, person, Parsing({}), split)
    dress = agnostic_mask("dresses", body, person, Parsing({}), split)
    inner = lambda m: m & (np.abs(np.arange(m.shape[0])[:, None] - split.above.sum(0)[None]) > 3)  # noqa: E731
    assert upper[top].mean() > 0.97 and not inner(upper & bottom).any()
    assert lower[inner(bottom)].mean() > 0.97 and not inner(lower & top).any()
    assert dress[top | bottom].mean() > 0.97


# --- DensePose ---------------------------------------------------------------------------------------

def test_part_map_assigns_the_expected_parts_and_chart_coordinates():
    body = standing_body()
    person = np.zeros((240, 200), bool)
    iuv = render_part_map(body, person)
    part, u, v = decode_iuv(iuv)
    assert part[mid(body, "Neck", "MidHip")] == 2  # torso front
    assert part[mid(body, "RElbow", "RWrist")] == 22  # right forearm, front
    assert part[mid(body, "LShoulder", "LElbow")] == 17  # left upper arm, front
    assert part[mid(body, "RKnee", "RAnkle")] == 13  # right shin, front
    assert part[mid(body, "LHip", "LKnee")] == 10  # left thigh, front
    assert part[at(body, "REye")] == 23 and part[at(body, "LEye")] == 24
    assert part[5, 5] == 0 and (iuv[part == 0] == 0).all()
    a, b = mid(body, "RHip", "RKnee", 0.1), mid(body, "RHip", "RKnee", 0.9)
    assert v[a] == pytest.approx(0.1, abs=0.03) and v[b] == pytest.approx(0.9, abs=0.03)
    back = decode_iuv(render_part_map(standing_body(facing=False), person))[0]
    assert back[mid(body, "Neck", "MidHip")] == 1


def test_detectron2_parts_round_trip_with_compression_noise():
    rng = np.random.default_rng(0)
    part = rng.integers(0, 25, size=(6, 5)).repeat(8, 0).repeat(8, 1)  # 8x8 blocks
    noise = rng.integers(-1, 2, size=part.shape + (3,))  # noise + LUT cell error < 9.5 / 2 (nearest colours)
    frame = detectron2_palette()[part].astype(np.int32) + noise
    iuv = to_vvt_iuv(np.clip(frame, 0, 255).astype(np.uint8), "detectron2_parts")
    got, u, v = decode_iuv(iuv)
    inner = np.zeros(part.shape, bool)  # the 3x3 median filter may change block corners
    inner[np.arange(part.shape[0]) % 8 % 7 != 0] = True
    inner[:, np.arange(part.shape[1]) % 8 % 7 == 0] = False
    np.testing.assert_array_equal(got[inner], part[inner])
    np.testing.assert_allclose(u[got > 0], 0.5, atol=0.003)
    assert (v[got == 0] == 0).all() and (got == 0).any()


def test_dresscode_part_labels_convert_exactly(tmp_path):
    from vvt.io import read_image, write_image

    part = np.random.default_rng(1).integers(0, 25, size=(12, 10)).astype(np.uint8)
    write_image(tmp_path / "013564_5.png", part)  # Dress Code stores I as a grey level
    got, u, v = decode_iuv(to_vvt_iuv(read_image(tmp_path / "013564_5.png"), "dresscode_parts"))
    np.testing.assert_array_equal(got, part)
    np.testing.assert_allclose(u[got > 0], 0.5, atol=0.003)
    assert (u[got == 0] == 0).all() and (v[got == 0] == 0).all()


def test_detectron2_palette_is_viridis_with_purple_background():
    pal = detectron2_palette()
    assert tuple(pal[0]) == (68, 1, 84)
    assert tuple(pal[24]) == (253, 231, 36) or np.abs(pal[24].astype(int) - (253, 231, 37)).max() <= 2


def test_vivid_densepose_converts_to_plausible_parts(vivid_samples):
    from vvt.io import read_video

    frames, _ = read_video(vivid_samples / "densepose" / "upper1.mp4", max_frames=41)
    part = decode_iuv(to_vvt_iuv(frames[40], "detectron2_parts"))[0]
    rows = np.arange(part.shape[0])[:, None] * np.ones_like(part)
    mean_row = {p: rows[part == p].mean() for p in (1, 2, 5, 6, 23, 24) if (part == p).sum() > 50}
    torso = [mean_row[p] for p in (1, 2) if p in mean_row]
    feet = [mean_row[p] for p in (5, 6) if p in mean_row]
    assert torso and feet and max(torso) < min(feet)
    assert 0.4 < (part == 0).mean() < 0.95  # background then body


# --- garments ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("garment", ["00057_00", "00126_00"])
def test_garment_mask_matches_vivid_cloth_mask(vivid_samples, garment):
    from vvt.io import read_image, read_mask

    image = read_image(vivid_samples / "cloth" / f"{garment}.jpg")
    truth = read_mask(vivid_samples / "cloth_mask" / f"{garment}.jpg")
    m = garment_mask(image)
    assert (m & truth).sum() / (m | truth).sum() > 0.95


def test_centre_and_pad_centres_the_garment_at_the_requested_size():
    image = np.full((100, 300, 3), 255, np.uint8)
    image[10:40, 200:260] = (10, 200, 30)
    mask = garment_mask(image)
    out, out_mask = centre_and_pad(image, mask, 128, 96, margin=0.1)
    assert out.shape == (128, 96, 3) and out_mask.shape == (128, 96)
    ys, xs = np.nonzero(out_mask)
    assert abs((xs.min() + xs.max()) / 2 - 47.5) <= 1 and abs((ys.min() + ys.max()) / 2 - 63.5) <= 1
    assert xs.max() - xs.min() + 1 == pytest.approx(96 * 0.8, abs=1)  # width-limited, 10 % margins
    assert (out[~out_mask] == 255).all()


# --- parsing backends --------------------------------------------------------------------------------

FASHN_LABELS = ("background", "face", "hair", "top", "dress", "skirt", "pants", "belt", "bag", "hat", "scarf",
                "glasses", "arms", "hands", "legs", "feet", "torso", "jewelry")


def test_label_regions_maps_fashn_classes():
    regions = label_regions(dict(enumerate(FASHN_LABELS)))
    assert regions["head"] == [1, 2, 9, 11] and regions["upper"] == [3] and regions["lower"] == [5, 6]
    assert regions["dress"] == [4] and regions["hands"] == [13] and regions["feet"] == [15]


def test_segformer_parser_from_a_local_directory(tmp_path):
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    torch.manual_seed(0)
    config = SegformerConfig(num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
                             hidden_sizes=[8, 16], num_attention_heads=[1, 1], decoder_hidden_size=16,
                             num_labels=len(FASHN_LABELS), id2label=dict(enumerate(FASHN_LABELS)),
                             label2id={k: i for i, k in enumerate(FASHN_LABELS)})
    SegformerForSemanticSegmentation(config).save_pretrained(tmp_path)
    SegformerImageProcessor(size={"height": 64, "width": 48}).save_pretrained(tmp_path)
    parser = SegformerParser(tmp_path)
    frame = np.random.default_rng(0).integers(0, 255, size=(80, 60, 3), dtype=np.uint8)
    labels = parser.labels(frame)
    assert labels.shape == (80, 60)
    # the same labels computed directly with the model
    inputs = parser.processor(images=frame, return_tensors="pt")
    with torch.no_grad():
        logits = parser.model(**inputs).logits
    direct = torch.nn.functional.interpolate(logits, size=(80, 60), mode="bilinear").argmax(1)[0].numpy()
    np.testing.assert_array_equal(labels, direct)
    parsing = parser.parse(frame, None, None, None)
    np.testing.assert_array_equal(parsing.get("upper"), labels == 3)
    np.testing.assert_array_equal(parsing.get("lower"), np.isin(labels, [5, 6]))
    assert parsing.knows_garments


def test_segformer_parser_without_weights_says_where_to_put_them(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="config.json"):
        SegformerParser(tmp_path / "nowhere")


# --- comparison with a reference ---------------------------------------------------------------------

def test_mask_scores_known_answers():
    from vvt.preprocess.compare import mask_scores, summarise

    ref = np.zeros((2, 20, 20), bool)
    ref[:, :10, :10] = True
    ours = np.zeros_like(ref)
    ours[0, :10, 5:15] = True  # half inside, half outside
    ours[1] = ref[1]
    other = np.zeros_like(ref)
    other[:, :10, 10:] = True
    scores = mask_scores(ours, ref, other)
    np.testing.assert_allclose(scores["iou"], [50 / 150, 1.0])
    np.testing.assert_allclose(scores["coverage"], [0.5, 1.0])
    np.testing.assert_allclose(scores["excess"], [0.5, 0.0])
    np.testing.assert_allclose(scores["other_garment"], [0.5, 0.0])
    summary = summarise(scores, ours, ref)
    assert summary["mean"]["iou"] == pytest.approx((1 / 3 + 1) / 2) and summary["min"]["coverage"] == 0.5
    assert summary["temporal_change"]["reference"] == 0.0 and summary["temporal_change"]["ours"] == pytest.approx(
        1 - 50 / 150)


def test_mask_changes_and_other_garment_region():
    from vvt.preprocess.compare import mask_changes, other_garment_region

    m = np.zeros((3, 10, 10), bool)
    m[0, :, :4] = True
    m[1, :, :4] = True
    m[2, :, 2:6] = True
    np.testing.assert_allclose(mask_changes(m), [0.0, 1 - 20 / 60])
    parts = np.zeros((1, 10, 10), int)
    parts[0, :5] = 2  # torso
    parts[0, 5:] = 7  # a thigh
    ref = np.zeros((1, 10, 10), bool)
    ref[0, 4:6] = True
    upper = other_garment_region("upper", parts, ref)
    lower = other_garment_region("lower", parts, ref)
    assert upper.sum() == 40 and upper[0, 6:].all() and lower.sum() == 40 and lower[0, :4].all()
    assert not other_garment_region("dresses", parts, ref).any()
