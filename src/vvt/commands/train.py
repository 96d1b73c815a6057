"""``vvt train TASK``: train with accelerate (``vae``, ``realvvt``, ``fashionmirror``), or ``report`` on a
tiny RealVVT or FashionMirror run."""

from __future__ import annotations

import argparse
from pathlib import Path

from vvt.commands import add_strict_argument

# task -> (module, run-config class, task class, help)
TASKS: dict[str, tuple[str, str, str, str]] = {
    "vae": (
        "vvt.train.vae",
        "VAERunConfig",
        "VAETask",
        "train an AutoencoderKLTemporalDecoder on try-on videos (the latent space of a tiny RealVVT)",
    ),
    "realvvt": (
        "vvt.train.realvvt",
        "RealVVTRunConfig",
        "RealVVTTask",
        "train RealVVT (both U-Nets + pose guider; VAE and CLIP frozen)",
    ),
    "fashionmirror": (
        "vvt.train.fashionmirror",
        "FashionMirrorRunConfig",
        "FashionMirrorTask",
        "train FashionMirror in two stages: the co-attention mask network for stages.cmn_steps steps, "
        "then everything end to end",
    ),
}

EPILOG = """\
Config: a YAML file or a preset name from vvt/configs (tiny-synth-vae, tiny-synth, tiny-synth-fashionmirror,
fashionmirror) with sections train (loop: output_dir, max_steps, batch_size, learning_rate, mixed_precision,
checkpoint_every, ...), data (sources: [{root, layout, split, weight, strict}], size, frames, strict: fail on
a dataset sample that cannot be read instead of skipping it with a warning) and model (fashionmirror
also stages: cmn_steps); override any key with KEY=VALUE (YAML values), e.g. train.max_steps=100
model.lambda_agn=0 'data.sources=[{root: data/synth}]' data.strict=true.

Outputs in train.output_dir: checkpoints/step-N (resume with --resume latest), samples/step-N.mp4,
logs/ (tensorboard --logdir OUTPUT_DIR/logs), final/ (EMA weights, diffusers-style folder).
Several processes/GPUs: accelerate launch [--multi_gpu --num_processes N | --config_file
vvt/configs/accelerate/ddp.yaml] -m vvt.cli train TASK ... (on a CPU-only machine --multi_gpu starts N
CPU processes over gloo). Ctrl-C saves a checkpoint of the last finished step and exits.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train a model with accelerate (one CPU to many GPUs): checkpoints, exact resume, EMA, "
        "TensorBoard, sample videos. `vvt train TASK --help` lists a task's options."
    )
    sub = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, (_, _, _, help_text) in TASKS.items():
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "--config",
            required=True,
            metavar="CONFIG",
            help="YAML config file or preset name (see vvt/configs)",
        )
        p.add_argument(
            "--resume",
            metavar="PATH|latest",
            help="continue from a checkpoint folder, or the newest intact one of train.output_dir "
            "('latest'; skips corrupt ones and says so; starts from step 0 when there is none yet)",
        )
        p.add_argument(
            "--resume-inexact",
            action="store_true",
            help="with --resume: continue even when the checkpoint's RNG states are missing or unreadable "
            "(the run then does not match an uninterrupted one exactly)",
        )
        p.add_argument(
            "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.max_steps=10"
        )
    p = sub.add_parser(
        "report",
        help="held-out evaluation of a tiny RealVVT or FashionMirror run vs its untrained model and "
        "a copy baseline",
        description="Measure, on held-out SynthVVT test videos, in one run, the trained model, the same "
        "model untrained (step 0) and baselines. RealVVT: the denoising loss (fixed noise levels and "
        "noise), SSIM and PSNR inside the agnostic mask, the garment colour error and whole-frame SSIM and "
        "PSNR against the ground truth, for the trained and untrained model, copying the agnostic video, "
        "a naive paste of the garment, the truth blurred, a flat fill with the garment's true colour and "
        "the VAE ceiling (the truth through the VAE); writes a contact sheet PNG (garment | agnostic | "
        "prediction | truth per clip). FashionMirror (detected from the run's config): the held-out end-to-end losses "
        "and the SSIM of the autoregressive try-on (whole frame and inside the garment mask) against "
        "the ground truth; baseline: repeat the source frame. Writes JSON and Markdown.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--run",
        type=Path,
        required=True,
        help="the train.output_dir of a `vvt train realvvt` or `vvt train fashionmirror` run",
    )
    p.add_argument("--data", type=Path, help="held-out dataset (default: the run's first data source)")
    p.add_argument("--split", default="test", help="split of --data to evaluate")
    p.add_argument(
        "--pairs",
        default="unpaired",
        choices=("paired", "unpaired"),
        help="unpaired needs ground_truth/ (SynthVVT); paired compares with the person video",
    )
    p.add_argument(
        "--max-videos", type=int, default=12, help="evaluate this many test videos, spread over the split (default 12)"
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="RealVVT sampling steps (default: the run's sample config)",
    )
    p.add_argument("--out", type=Path, help="JSON report path (default RUN/report.json; Markdown beside it)")
    p.add_argument("--allow-truncated", action="store_true",
                   help="use truncated test videos (fewer frames than their container declares), with a warning")
    add_strict_argument(p)

    p = sub.add_parser(
        "ablation",
        help="RealVVT's Table 6 ablation: C&T off/on x lambda_agn 0/on, over seeds, then one table",
        description="Train every cell of C&T attention off/on x lambda_agn 0/LAMBDA once per seed from one "
        "config, with the same steps and data, score each run on the same held-out clips (as `vvt train "
        "report`) and write OUT/ablation.json and .md: mean and [min, max] over seeds of every metric. "
        "Runs are resumable (re-run the same command). Example: vvt train ablation --config tiny-synth "
        "--out runs/ablation --steps 300 --seeds 0 1 --jobs 2",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", required=True, metavar="CONFIG", help="RealVVT YAML config or preset name")
    p.add_argument("--out", type=Path, required=True, help="folder of the runs and the table")
    p.add_argument("--steps", type=int, required=True, help="training steps of every run")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds (at least 2)")
    p.add_argument("--lambda-agn", type=float, default=0.5, help="the 'on' value of lambda_agn")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once (separate processes)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--max-videos", type=int, default=8, help="held-out clips scored per run")
    p.add_argument("--sampling-steps", type=int, default=None, help="sampling steps (default: the config's)")
    add_strict_argument(p)  # the held-out clips; the training runs get data.strict=true
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides for every run")


def run(args: argparse.Namespace) -> int:
    import importlib

    from vvt.checks import Bound, check_numbers, check_output, check_run_folder
    from vvt.config import load_config

    if args.task == "ablation":
        from vvt.data.layouts import strict_layouts
        from vvt.train.ablation import markdown, run_ablation

        check_output(args.out, folder=True)  # new, empty, or an earlier ablation (marked): never a user's folder
        with strict_layouts(args.strict):
            report = run_ablation(
                args.config,
                args.out,
                steps=args.steps,
                seeds=args.seeds,
                lambda_agn=args.lambda_agn,
                jobs=args.jobs,
                threads=args.threads,
                max_videos=args.max_videos,
                sampling_steps=args.sampling_steps,
                overrides=args.overrides + (["data.strict=true"] if args.strict else []),
            )
        print(markdown(report))
        print("wrote " + ", ".join(report["written"]))
        return 0
    if args.task == "report":
        from vvt.data.layouts import strict_layouts
        from vvt.io import allowing_truncated
        from vvt.train.report import print_report, run_report

        check_numbers({"--max-videos": (args.max_videos, Bound(ge=1)), "--steps": (args.steps, Bound(ge=1))})
        if args.out is not None:
            check_output(args.out, folder=False, suffixes=(".json",), inputs={"--run": args.run, "--data": args.data})
        with allowing_truncated(args.allow_truncated), strict_layouts(args.strict):
            report = run_report(
                args.run,
                data=args.data,
                split=args.split,
                pairs=args.pairs,
                max_videos=args.max_videos,
                steps=args.steps,
                out=args.out,
            )
        print_report(report)
        return 0

    from vvt.train.checkpoint import resolve_resume
    from vvt.train.trainer import Trainer

    module_name, config_cls, task_cls, _ = TASKS[args.task]
    module = importlib.import_module(module_name)
    # everything is checked before the task builds its model and before anything is written
    config = load_config(getattr(module, config_cls), args.config, args.overrides)
    sources = getattr(getattr(config, "data", None), "sources", None) or []
    check_run_folder(config.train.output_dir, {f"data.sources[{i}].root": s.root for i, s in enumerate(sources)})
    resume = resolve_resume(config.train.output_dir, args.resume, args.resume_inexact)
    task = getattr(module, task_cls)(config)
    result = Trainer(task, config.train, run_config=config, name=args.task).train(
        resume=resume, inexact=args.resume_inexact, verified=True
    )
    losses = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.losses.items()))
    if result.final_dir is not None:
        print(
            f"trained {args.task} to step {result.step} ({losses}); weights: {result.final_dir}; "
            f"checkpoint: {result.checkpoint}"
        )
    return 0
