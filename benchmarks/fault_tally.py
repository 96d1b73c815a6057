"""Count the outcomes of the fault table of ``tests/test_faults.py`` (issue 18's tally) in one process.

    OMP_NUM_THREADS=1 PYTHONPATH=src:tests python benchmarks/fault_tally.py --out /tmp/tally.jsonl [--checkpoints]

Every case of :data:`test_faults.CASES` runs ``vvt.cli.main(["-q", *argv])`` in its own hard-linked copy of the
test world (as the tests do, but in-process: torch is imported once, which makes the table affordable on a
loaded machine; the tests themselves run each case as a subprocess). Each case is classified as *clear* (exit 2,
one error line naming the file and the problem, nothing changed), *unclear* (exit 2 but a name is missing),
*traceback* (an exception escaped), *silent* (exit 0: a bad input accepted) and *partial* (a file changed or
appeared). ``--checkpoints`` also trains the tiny reference run for the checkpoint cases. One JSON line per case
goes to ``--out`` as it finishes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path


class _TmpFactory:
    def __init__(self, base: Path):
        self.base = base

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.base))


def _function(fixture):
    """The plain function behind a pytest fixture (pytest >= 8.4 and older)."""
    return getattr(fixture, "_fixture_function", None) or fixture.__pytest_wrapped__.obj


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, one per case")
    parser.add_argument("--checkpoints", action="store_true", help="also the checkpoint cases (trains 3 steps)")
    parser.add_argument("--only", nargs="*", default=None, help="case ids (default: all)")
    args = parser.parse_args()

    import test_faults as tf
    from fault_support import changes, snapshot
    from vvt import cli
    from vvt.io.atomic import link_tree

    base = Path(tempfile.mkdtemp(prefix="vvt-fault-tally-"))
    factory = _TmpFactory(base)
    world = _function(tf.world)(factory)
    run_dir = _function(tf.run_dir)(factory, world) if args.checkpoints else None
    home = Path.cwd()
    for case in tf.CASES:
        if (args.only and case.id not in args.only) or (case.setup and run_dir is None):
            continue
        if case.skip == "cuda" and tf.HAS_CUDA:
            continue
        cwd = link_tree(world, base / f"case-{case.id}")
        if case.setup:
            tf._prepare_run(case.setup, run_dir, cwd / "R")
        before = snapshot(cwd)
        err = io.StringIO()
        tick = time.perf_counter()
        os.chdir(cwd)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    rc = cli.main(["-q", *case.argv])
                except SystemExit as exc:
                    rc = exc.code if isinstance(exc.code, int) else 2
                except BaseException:  # noqa: BLE001 - what a user would see as a traceback
                    traceback.print_exc(file=err)
                    rc = 1
        finally:
            os.chdir(home)
        stderr = err.getvalue()
        changed = changes(before, snapshot(cwd))
        lines = [line for line in stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith(f"vvt {case.argv[0]}: error: ")]
        if "Traceback" in stderr:
            outcome = "traceback"
        elif rc == 0:
            outcome = "silent"
        elif changed:
            outcome = "partial"
        elif rc == 2 and len(errors) == 1 and all(n in errors[0] for n in case.names):
            outcome = "clear"
        else:
            outcome = "unclear"
        record = {"id": case.id, "outcome": outcome, "rc": rc, "changed": changed,
                  "seconds": round(time.perf_counter() - tick, 2), "error": errors[-1] if errors else stderr[-400:]}
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"{case.id}: {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
