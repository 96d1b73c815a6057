"""Atomic writes that never destroy what a user owns.

Everything vvt writes goes to a temporary sibling first and is renamed into place once complete, so a crash
or Ctrl-C never leaves a half-written output at the target path (after a SIGKILL a hidden ``.NAME.*.tmp``
sibling may remain; it is never mistaken for an output).

Every output *folder* vvt writes carries the marker file ``.vvt-output`` (:data:`OUTPUT_MARKER`). An existing
path is replaced only when that is safe: a file by a file, and a folder only when it is empty or carries the
marker, i.e. vvt made it as its own output. A folder without the marker (a user's data, an input's folder)
is refused with :class:`~vvt.errors.OutputPathError` and left untouched. Whether an output path is an
*input* of the command is checked before any work by :func:`vvt.checks.check_output`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vvt.errors import OutputPathError

#: the file that marks a folder as vvt's own output (safe to replace)
OUTPUT_MARKER = ".vvt-output"
_MARKER_TEXT = "This folder was written by vvt; vvt may replace it when it is given again as an output.\n"


def is_vvt_output(folder: str | Path) -> bool:
    """Whether ``folder`` is a folder that vvt wrote as an output (it carries :data:`OUTPUT_MARKER`)."""
    folder = Path(folder)
    return folder.is_dir() and (folder / OUTPUT_MARKER).is_file()


def mark_output(folder: str | Path) -> Path:
    """Put the :data:`OUTPUT_MARKER` into ``folder`` (an output folder vvt creates)."""
    marker = Path(folder) / OUTPUT_MARKER
    if not marker.is_file():
        marker.write_text(_MARKER_TEXT)
    return Path(folder)


def replaceable_problem(path: str | Path, as_folder: bool | None = None) -> str | None:
    """Why the existing ``path`` must not be replaced by an output, or None when it may (or does not exist).

    ``as_folder``: whether the new output is a folder (None: either). A file (or a symbolic link: the link,
    never its target) may be replaced by a file; a folder only when it is empty or vvt's own output
    (:func:`is_vvt_output`); a file, a link, a device or a pipe never by a folder.
    """
    path = Path(path)
    if path.is_symlink():  # a file output replaces the link itself; a folder cannot be renamed over a link
        if as_folder:
            return "is a symbolic link; give a new folder path (the link and its target are left as they are)"
        return None
    if not path.exists():
        return None
    if path.is_dir():
        if as_folder is False and not is_vvt_output(path):
            return "is a folder; give a file name (this folder is left as it is)"
        if not is_vvt_output(path) and any(path.iterdir()):
            return (
                f"is a folder that vvt did not write (no {OUTPUT_MARKER} marker) and is not empty; "
                "give a new or empty folder (nothing was changed)"
            )
        return None
    if not path.is_file():
        return "is not a regular file (a device, pipe or socket); give a new file name (it is left as it is)"
    if as_folder:
        return "is a file; give a path for a new folder (the file is left as it is)"
    return None


def link_tree(src: str | Path, dst: str | Path) -> Path:
    """Copy the folder ``src`` to ``dst`` with hard links (plain copies where links are impossible).

    Safe as a staging copy because vvt never modifies a file in place: every write replaces the link by a new
    file, so ``src`` keeps its content.
    """

    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link, symlinks=True)
    return Path(dst)


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final`` (same suffix); rename it to ``final`` if the block succeeds.

    Works for files and for folders (the block may create a folder at the yielded path; it receives the
    :data:`OUTPUT_MARKER`). An existing ``final`` is replaced only as :func:`replaceable_problem` allows,
    else :class:`~vvt.errors.OutputPathError` is raised before the block runs and nothing is written. On an
    exception or interrupt the temporary is removed and ``final`` is left as it was.
    """
    final = Path(final)
    problem = replaceable_problem(final)
    if problem:
        raise OutputPathError(final, problem)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent)
    except OSError as exc:  # a parent that is a file, a read-only folder: one line, not a traceback
        raise OutputPathError(final, f"cannot write in {final.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:  # from here on an interrupt (Ctrl-C) at any point removes the temporary
        os.close(fd)
        tmp.unlink()  # the block creates it, as a file or a folder
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"atomic write of {final} produced nothing")
        is_folder = tmp.is_dir() and not tmp.is_symlink()
        problem = replaceable_problem(final, as_folder=is_folder)
        if problem:
            raise OutputPathError(final, problem)
        if is_folder:
            mark_output(tmp)
        if final.is_dir() and not final.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
            old.rmdir()
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists() or tmp.is_symlink():
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
