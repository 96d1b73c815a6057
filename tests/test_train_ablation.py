"""``vvt train ablation``: the grid of Table 6, its summary over seeds and its checks (the runs themselves
are the ordinary ``vvt train realvvt`` and ``vvt train report``, tested in test_train_tasks.py)."""

from __future__ import annotations

import pytest

from vvt.errors import ConfigError
from vvt.train.ablation import cells, markdown, run_ablation, summarise


def test_grid_is_table_6_order_with_every_seed():
    grid = cells(0.5, [0, 1])
    assert [(c["cnt"], c["lambda_agn"], c["seed"]) for c in grid] == [
        (False, 0.0, 0), (False, 0.0, 1), (False, 0.5, 0), (False, 0.5, 1),
        (True, 0.0, 0), (True, 0.0, 1), (True, 0.5, 0), (True, 0.5, 1),
    ]
    assert len({c["name"] for c in grid}) == 8 and grid[-1]["name"] == "cnt1-agn0.5-seed1"


def test_summary_gives_mean_and_spread_over_seeds():
    grid = cells(0.5, [0, 1])
    results = {c["name"]: {"ssim_in_mask": 0.1 * i, "colour_error": None} for i, c in enumerate(grid)}
    table = summarise(results, grid)
    on = table["C&T on, lambda_agn 0.5"]
    assert on["ssim_in_mask"] == pytest.approx({"mean": 0.65, "min": 0.6, "max": 0.7})
    assert on["colour_error"] is None and [r["seed"] for r in on["runs"]] == [0, 1]
    text = markdown({"data": "d", "split": "test", "pairs": "unpaired", "clips": 2, "steps": 5, "seeds": [0, 1],
                     "table": table})
    assert "| + | 0.5 | n/a | 0.6500 [0.6000, 0.7000] |" in text


@pytest.mark.parametrize(
    "kwargs, message",
    [({"seeds": [0]}, "at least 2 seeds"), ({"lambda_agn": 0.0}, "lambda-agn"), ({"jobs": 0}, ">= 1")],
)
def test_bad_settings_fail_before_any_run(tmp_path, kwargs, message):
    args = {"seeds": [0, 1], "steps": 1} | kwargs
    with pytest.raises(ConfigError, match=message):
        run_ablation("tiny-synth", tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()
