"""The bundled example is what its README's ``vvt synth`` command makes (byte for byte)."""

from __future__ import annotations

import hashlib

import pytest

from vvt.cli import main
from vvt.examples import EXAMPLE_FILES, example_dir

#: example file -> the file of `vvt synth --seed 17 ...` it is a copy of (see vvt/examples/README.md)
SOURCES = {
    "person.mp4": "upper_body/videos/s00001.mp4",
    "agnostic.mp4": "upper_body/agnostic/s00001.mp4",
    "agnostic_mask.mp4": "upper_body/agnostic_mask/s00001.mp4",
    "densepose.mp4": "upper_body/densepose/s00001.mp4",
    "garment.jpg": "upper_body/cloth/g00002.jpg",
    "ground_truth.mp4": "ground_truth/upper_body/videos/s00001__g00002.mp4",
    "worn_mask.mp4": "ground_truth/upper_body/worn_mask/s00001__g00002.mp4",
}


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_readme_lists_every_file():
    readme = (example_dir() / "README.md").read_text()
    assert set(SOURCES) == set(EXAMPLE_FILES.values())
    for name, source in SOURCES.items():
        assert f"`{name}` | `{source}`" in readme


@pytest.mark.slow
def test_example_is_regenerated_by_its_command(tmp_path):
    out = tmp_path / "synth-example"
    argv = ["synth", "--out", str(out), "--videos", "2", "--frames", "8", "--size", "128x96", "--seed", "17",
            "--categories", "upper", "--test-fraction", "0.5"]
    readme = (example_dir() / "README.md").read_text()
    assert "vvt " + " ".join(argv).replace(str(out), "synth-example") in readme
    assert main(argv) == 0
    for name, source in SOURCES.items():
        assert _sha(out / source) == _sha(example_dir() / name), name
