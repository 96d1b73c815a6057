"""Helpers of the fault-injection tests: damaged inputs made on purpose, the real CLI in a subprocess, and
snapshots of a folder tree to prove that nothing but the declared output changed."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

#: the sources the CLI runs (another checkout's with $VVT_FAULTS_SRC, e.g. to count the faults of an older one)
SRC = Path(os.environ.get("VVT_FAULTS_SRC", Path(__file__).resolve().parents[1] / "src"))


def faststart_mp4(path: Path, frames: np.ndarray, fps: float = 24.0) -> Path:
    """H.264 mp4 with its index (``moov``) *before* the frames, as web downloads are: cutting the file short
    keeps the index, which still declares every frame."""
    h, w = frames.shape[1:3]
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def truncate_after_packets(src: Path, dst: Path, keep: int) -> Path:
    """Copy ``src`` to ``dst`` cut right before its packet number ``keep`` (0-based, file order): an interrupted
    download that ends between two frames."""
    with av.open(str(src)) as container:
        offsets = sorted(p.pos for p in container.demux(container.streams.video[0]) if p.size > 0)
    dst.write_bytes(src.read_bytes()[: offsets[keep]])
    return dst


def bomb_png(path: Path, width: int, height: int) -> Path:
    """A tiny PNG file whose header declares ``width x height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder below ``root``: relative path -> ``("dir",)`` or ``("file", size, mtime, inode)``
    (a file rewritten in place changes its mtime, one replaced by a rename its inode)."""
    found: dict[str, tuple] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        rel = p.relative_to(root).as_posix()
        found[rel] = ("dir",) if p.is_dir() else ("file", st.st_size, st.st_mtime_ns, st.st_ino)
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """Paths added, removed or changed between two :func:`snapshot` s."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("TQDM_DISABLE", "1")
    return env


def cli_command(*args: str, quiet: bool = True) -> list[str]:
    return [sys.executable, "-m", "vvt.cli", *(["-q"] if quiet else []), *map(str, args)]


def run_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m vvt.cli -q ARGS`` in a subprocess (bounded in time), with this checkout's sources."""
    return subprocess.run(
        cli_command(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=timeout
    )


def example_analysis(calls: list, min_frames: int = 1, echo: bool = False, nobody: frozenset = frozenset()):
    """A stand-in for :func:`vvt.preprocess.pipeline.analyse_working` (no mediapipe): records ``(name, number of
    frames)`` of each call and gives the bundled example's agnostic masks and DensePose, repeated to the clip's
    length; with fewer than ``min_frames`` frames it finds nobody, as mediapipe may on a clip's first frames.

    ``echo``: the part maps are the working frames themselves, so a frame made of one grey level comes out of
    the DensePose stream as that level (which frame went where). ``nobody``: grey levels (the frame's first
    pixel) of frames that show nobody: such frames are not ``found``, and a clip made only of them raises
    :class:`~vvt.preprocess.keypoints.NoPersonError`, as mediapipe's tracker does."""

    example = []  # loaded once: reading the example's videos again per call grows the RSS (PyAV, allocator)

    def analyse(frames_w, size, fps, category, *args, name="input", **kwargs):
        from vvt.examples import load_example
        from vvt.pose.openpose import Keypoints
        from vvt.preprocess.keypoints import NoPersonError
        from vvt.preprocess.pipeline import WorkingAnalysis

        n = len(frames_w)
        calls.append((name, n))
        found = np.array([int(f[0, 0, 0]) not in nobody for f in frames_w])
        if n < min_frames or not found.any():
            raise NoPersonError(name, f"no person found in any of its {n} frame(s) (mediapipe Holistic)")
        if not example:
            example.append(load_example().conditions)
        pick = np.arange(n) % len(example[0].agnostic_mask)
        masks = example[0].agnostic_mask[pick]
        parts = np.stack(frames_w) if echo else example[0].densepose[pick]
        return WorkingAnalysis(tuple(size), Keypoints.empty(n, size[1], size[0]), masks, masks, parts, found)

    return analyse
