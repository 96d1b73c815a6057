"""`vvt bench realvvt` on the tiny preset: its keys, and `ratio` = RealVVT step time over plain SVD."""

from __future__ import annotations

import argparse

import pytest

from vvt.realvvt import bench


def test_tiny_bench_result():
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        ["--preset", "tiny", "--frames", "2", "--size", "32x24", "--steps", "1", "--device", "cpu"]
    )
    result = bench.run(args)
    assert (result["batch"], result["frames"], result["size"], result["latent_size"]) == (
        2,
        2,
        [32, 24],
        [4, 3],
    )
    assert result["ratio"] == pytest.approx(result["realvvt_unet"]["step_s"] / result["plain_unet"]["step_s"])
    assert result["plain_unet"]["step_s"] > 0 and result["one_off_per_video"]["reference_unet_s"] > 0
    assert result["memory_measure"] == "process peak RSS"
    with pytest.raises(SystemExit):
        parser.parse_args(["--size", "30x24"])
