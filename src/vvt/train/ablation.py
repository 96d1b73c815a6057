"""``vvt train ablation``: RealVVT's Table 6 ablation in one command (C&T attention x lambda_agn, over seeds).

Table 6 of the paper switches the two contributions on and off: C&T consistency attention (Eq. 8) and the
agnostic mask-guided loss (Eq. 4, weight ``lambda_agn`` in Eq. 5). This command trains every cell of the
2 x 2 grid ``model.cnt_attention in {false, true}`` x ``model.lambda_agn in {0, LAMBDA}`` once per seed, from
the same config, data and number of steps (``train.max_steps``), each with ``train.seed = model.seed = seed``
so that a cell's seeds differ and the cells of one seed share their initialisation and data order. Then it
scores each run with :func:`vvt.train.report.evaluate_run` on the same held-out clips and writes a table of
the mean and the spread (min-max over seeds) of every metric, so that a difference can be told from noise.

Runs go to ``OUT/cnt{0,1}-agn{lambda}-seed{s}`` and are resumable: a cell whose ``final/`` exists is not
trained again, and an interrupted one continues from its latest checkpoint (``--resume latest``). With
``jobs > 1`` that many runs train at once in separate processes, each on ``train.num_threads`` threads (one
thread per process is faster than oversubscribed threads on a small CPU).
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from vvt.errors import ConfigError, VVTError

logger = logging.getLogger(__name__)

METRICS = ("denoising_loss", "ssim_in_mask", "psnr_in_mask", "colour_error", "ssim", "psnr")


def cells(lambda_agn: float, seeds: list[int]) -> list[dict[str, Any]]:
    """The grid in Table 6's order: C&T off/on (outer), lambda_agn 0 / ``lambda_agn``, then the seeds."""
    return [
        {"cnt": cnt, "lambda_agn": lam, "seed": seed, "name": f"cnt{int(cnt)}-agn{lam:g}-seed{seed}"}
        for cnt, lam, seed in itertools.product((False, True), (0.0, lambda_agn), seeds)
    ]


def _train(cell: dict[str, Any], config: str, out: Path, steps: int, threads: int, extra: list[str]) -> None:
    run = out / cell["name"]
    if (run / "final" / "model_index.json").is_file():
        logger.info("%s: already trained", run)
        return
    overrides = [
        f"train.output_dir={run}",
        f"train.max_steps={steps}",
        f"train.seed={cell['seed']}",
        f"model.seed={cell['seed']}",
        f"model.cnt_attention={str(cell['cnt']).lower()}",
        f"model.lambda_agn={cell['lambda_agn']}",
        f"train.num_threads={threads}",
        "train.sample_every=1000000000",
        *extra,
    ]
    command = [sys.executable, "-m", "vvt.cli", "train", "realvvt", "--config", config, "--resume", "latest"]
    log = run.parent / f"{cell['name']}.log"
    run.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as stream:
        done = subprocess.run([*command, *overrides], stdout=stream, stderr=subprocess.STDOUT, env=os.environ)
    if done.returncode != 0:
        raise VVTError(f"ablation run {cell['name']} failed (exit {done.returncode}); see {log}")


def summarise(results: dict[str, dict[str, Any]], grid: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, min and max over seeds of every metric of the trained model, per (C&T, lambda_agn) cell."""
    table: dict[str, Any] = {}
    for cell in grid:
        key = f"C&T {'on' if cell['cnt'] else 'off'}, lambda_agn {cell['lambda_agn']:g}"
        entry = table.setdefault(key, {"cnt_attention": cell["cnt"], "lambda_agn": cell["lambda_agn"], "runs": []})
        entry["runs"].append({"seed": cell["seed"], **results[cell["name"]]})
    for entry in table.values():
        for metric in METRICS:
            values = [r[metric] for r in entry["runs"] if r.get(metric) is not None]
            entry[metric] = (
                {"mean": sum(values) / len(values), "min": min(values), "max": max(values)} if values else None
            )
    return table


def markdown(report: dict[str, Any]) -> str:
    head = (
        f"RealVVT Table 6 ablation on {report['data']} ({report['split']}, {report['pairs']}, "
        f"{report['clips']} clips): {report['steps']} training steps per run, seeds {report['seeds']}; "
        "mean over seeds [min, max].\n\n"
    )
    columns = ["C&T", "lambda_agn", *METRICS]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for entry in report["table"].values():
        cells_ = ["+" if entry["cnt_attention"] else "-", f"{entry['lambda_agn']:g}"]
        for metric in METRICS:
            v = entry[metric]
            cells_.append("n/a" if v is None else f"{v['mean']:.4f} [{v['min']:.4f}, {v['max']:.4f}]")
        lines.append("| " + " | ".join(cells_) + " |")
    return head + "\n".join(lines) + "\n"


def run_ablation(
    config: str,
    out: str | Path,
    steps: int,
    seeds: list[int],
    lambda_agn: float = 0.5,
    jobs: int = 1,
    threads: int = 1,
    max_videos: int = 8,
    sampling_steps: int | None = None,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    """Train the 2 x 2 x ``seeds`` grid (see the module docstring), score every run, write
    ``OUT/ablation.json`` and ``OUT/ablation.md``; returns the report."""
    from vvt.config import load_config
    from vvt.io.atomic import mark_output
    from vvt.train.realvvt import RealVVTRunConfig
    from vvt.train.report import evaluate_run, write_report
    from vvt.train.report import markdown as report_markdown

    if steps < 1 or jobs < 1 or threads < 1 or max_videos < 1:
        raise ConfigError("--steps, --jobs, --threads and --max-videos must be >= 1")
    if len(seeds) < 2:
        raise ConfigError(f"--seeds: give at least 2 seeds to measure the spread, got {seeds}")
    if lambda_agn <= 0:
        raise ConfigError(f"--lambda-agn must be > 0 (the 'on' value), got {lambda_agn}")
    extra = list(overrides or [])
    load_config(RealVVTRunConfig, config, extra)  # validate before any run starts
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out)  # vvt's own folder: the same command may resume it
    grid = cells(lambda_agn, seeds)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_train, cell, config, out, steps, threads, extra) for cell in grid]
        for future in tqdm(futures, desc="ablation runs", unit="run"):
            future.result()
    results, data = {}, None
    for cell in tqdm(grid, desc="ablation reports", unit="run"):
        run = out / cell["name"]
        report = evaluate_run(run, max_videos=max_videos, steps=sampling_steps, untrained=False)
        write_report(report, report_markdown(report), run, run / "report.json")
        results[cell["name"]] = report["methods"]["trained"]
        data = report
    summary = {
        "data": data["data"],
        "split": data["split"],
        "pairs": data["pairs"],
        "clips": data["clips"],
        "steps": steps,
        "seeds": seeds,
        "config": config,
        "overrides": extra,
        "protocol": data["protocol"],
        "table": summarise(results, grid),
    }
    return write_report(summary, markdown(summary), out, out / "ablation.json")
