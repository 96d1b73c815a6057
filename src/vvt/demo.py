"""The web demo (``vvt demo``): a Gradio page in front of :func:`vvt.api.tryon_to_file`.

Upload a person video (or press *Use the example*: the bundled SynthVVT clip and garment,
:mod:`vvt.examples`) and a garment photo, choose the category, the steps and the seed, press *Try on*; the
progress shows while it runs, then the result plays (and downloads) next to the input. Every problem with an
upload is shown as one readable line in the page (:class:`gradio.Error`), never a stack trace.

Nothing leaves the machine: Gradio's analytics are off (``GRADIO_ANALYTICS_ENABLED=False``, set before Gradio
is imported), the page uses system fonts (no web fonts), and ``share`` (a public tunnel) is off unless asked.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: element ids the browser test finds
IDS = {
    "video": "vvt-video",
    "garment": "vvt-garment",
    "example": "vvt-example",
    "run": "vvt-run",
    "result": "vvt-result",
}


def _gradio() -> Any:
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    return gr


def _theme(gr: Any) -> Any:
    """Gradio's default theme with system fonts instead of Google Fonts (no outside request)."""
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )


def make_handler(weights: str | Path | None, device: str, out_dir: Path):
    """The function behind *Try on*: ``(video, garment, category, steps, seed, use_example) -> result video
    path``; every failure becomes a :class:`gradio.Error` of one line."""
    gr = _gradio()

    def handle(video: str | None, garment: str | None, category: str, steps: float, seed: float,
               use_example: bool, progress: Any = gr.Progress(track_tqdm=True)) -> str:  # noqa: B008 (Gradio injects it)
        from vvt.api import tryon_to_file
        from vvt.errors import VVTError
        from vvt.examples import example_path

        try:
            if use_example:
                from vvt.examples import load_example

                example = load_example()
                source, photo = example.conditions, garment or example.garment
                # the bundled photo is used as trained on; a catalogue photo is cut out and centred
                prepare = garment is not None and Path(garment).read_bytes() != example_path("garment").read_bytes()
            else:
                if not video:
                    raise gr.Error("Upload a person video first (or press 'Use the example').")
                source, photo, prepare = Path(video), garment, True
            if photo is None:
                raise gr.Error("Upload a garment photo first.")
            progress(0, desc="starting")
            out = Path(tempfile.mkdtemp(prefix="tryon-", dir=out_dir)) / "result.mp4"
            tryon_to_file(source, Path(photo) if isinstance(photo, str) else photo, out, category, weights,
                          device=device, steps=int(steps), seed=int(seed), prepare_garment=prepare)
            return str(out)
        except gr.Error:
            raise
        except VVTError as exc:
            raise gr.Error(_one_line(exc)) from None
        except Exception as exc:  # anything else: one line in the page, the trace in the server log
            logger.exception("try-on failed")
            raise gr.Error(f"The try-on failed: {_one_line(exc)}") from None

    return handle


def _one_line(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def build_demo(weights: str | Path | None = None, device: str = "auto", out_dir: str | Path | None = None) -> Any:
    """The Gradio :class:`gradio.Blocks` of the demo (not launched); results go to ``out_dir`` (default a new
    temporary folder)."""
    gr = _gradio()
    from vvt.api import CATEGORIES
    from vvt.examples import example_path

    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="vvt-demo-"))
    handle = make_handler(weights, device, out_dir)
    with gr.Blocks(title="vvt: video virtual try-on", analytics_enabled=False) as demo:
        gr.Markdown(
            "# vvt: video virtual try-on (RealVVT)\n"
            "Upload a short person video and a garment photo on a plain light background, or press *Use the "
            "example*. Without `--weights` the bundled tiny model runs: it has only seen synthetic people at "
            "64x48 and shows the method end to end; it does not dress real people well."
        )
        use_example = gr.State(False)
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="person video", elem_id=IDS["video"], sources=["upload"])
                garment = gr.Image(label="garment photo", type="filepath", elem_id=IDS["garment"],
                                   sources=["upload"])
                category = gr.Dropdown(list(CATEGORIES), value="upper", label="category")
                steps = gr.Slider(1, 50, value=25, step=1, label="denoising steps")
                seed = gr.Number(value=0, precision=0, minimum=0, label="seed")
                with gr.Row():
                    example = gr.Button("Use the example", elem_id=IDS["example"])
                    run = gr.Button("Try on", variant="primary", elem_id=IDS["run"])
            with gr.Column():
                result = gr.Video(label="result", elem_id=IDS["result"], interactive=False)

        def pick_example() -> tuple:
            return str(example_path("person")), str(example_path("garment")), "upper", True

        example.click(pick_example, outputs=[video, garment, category, use_example])
        video.upload(lambda: False, outputs=use_example)
        run.click(handle, inputs=[video, garment, category, steps, seed, use_example], outputs=result)
    demo.vvt_theme = _theme(gr)
    demo.vvt_out_dir = out_dir
    return demo


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    weights: str | Path | None = None,
    device: str = "auto",
    block: bool = True,
) -> Any:
    """Build and serve the demo on ``host:port`` (``share``: Gradio's public tunnel, off by default)."""
    from vvt.examples import example_dir

    demo = build_demo(weights, device)
    demo.queue()
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        inbrowser=False,
        show_error=True,
        prevent_thread_lock=not block,
        theme=demo.vvt_theme,
        allowed_paths=[str(example_dir()), str(demo.vvt_out_dir)],
    )
    return demo
