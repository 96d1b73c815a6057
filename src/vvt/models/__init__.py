"""Models shipped inside the package, loaded by name.

``tiny-synth`` is a RealVVT trained on SynthVVT at 64x48 with 8-frame clips by the earlier 2x-latent version of
the README's recipe (``vvt train vae --config tiny-synth-vae``, then ``vvt train realvvt --config tiny-synth``, as
of commit 8ef0433; its saved configs keep those shapes, see its model card); its folder holds the pipeline in
the ``RealVVTPipeline.save_pretrained`` layout
(safetensors, float16) and a model card (``README.md``: training data, command, scores, limits). It has only
ever seen synthetic people: it shows the method working end to end, it does not dress a real person well.

``RealVVTPipeline.from_pretrained("tiny-synth")`` and ``vvt tryon`` without ``--weights`` load it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from vvt.errors import ConfigError, WeightsNotFoundError

#: bundled model name -> what it is
BUNDLED_MODELS = {"tiny-synth": "RealVVT (small preset) trained on SynthVVT, 64x48, 8-frame clips"}
DEFAULT_MODEL = "tiny-synth"


def bundled_model(name: str = DEFAULT_MODEL) -> Path:
    """The folder of bundled model ``name`` (see :data:`BUNDLED_MODELS`)."""
    if name not in BUNDLED_MODELS:
        raise ConfigError(f"unknown bundled model {name!r}; vvt ships: {', '.join(sorted(BUNDLED_MODELS))}")
    folder = Path(str(resources.files(__name__) / name))
    if not (folder / "model_index.json").is_file():
        raise WeightsNotFoundError(
            f"bundled model {name!r}", folder, "the package was installed without its model files; reinstall vvt"
        )
    return folder


def resolve(name_or_path: str | Path) -> Path:
    """A bundled model's folder when ``name_or_path`` is a bundled name and no such local path exists, else
    ``name_or_path`` itself (a local folder always wins over a bundled name)."""
    path = Path(name_or_path)
    if not path.exists() and str(name_or_path) in BUNDLED_MODELS:
        return bundled_model(str(name_or_path))
    return path


def package_model(final: str | Path, dest: str | Path) -> Path:
    """Write the trained pipeline ``final`` (a ``vvt train realvvt`` ``final/``) to ``dest`` in float16
    safetensors, the form a bundled model ships in (``from_pretrained`` loads it back in float32 on a CPU).
    Returns ``dest``."""
    import torch

    from vvt.io import atomic_path
    from vvt.realvvt.pipeline import RealVVTPipeline

    pipe = RealVVTPipeline.from_pretrained(final, dtype=torch.float16)
    with atomic_path(Path(dest)) as tmp:
        pipe.save_pretrained(tmp, safe_serialization=True)
    return Path(dest)
