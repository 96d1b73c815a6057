"""``vvt bench table``: one command per published table, scored with that paper's protocol and printed next to
the paper's own rows.

A paper's tables are data (``vvt/eval/tables/<paper>.yaml``): for each table its title, source (table and
page), dataset, protocol (:mod:`vvt.eval.protocols`), columns in the paper's order, notes, and the published
rows copied as printed. ``run_table`` scores a prediction folder against the ground truth with the table's
protocol and writes ``OUT/table.md`` (the published rows, then this run's) and ``OUT/table.json``.

The ground truth (``--data``) is either a folder of videos / frame folders / images matched with the
predictions by name (as ``vvt eval --gt``), or a dataset root in a layout vvt reads (VVT, VITON-HD, Dress
Code, ...): its paired test split is the ground truth (the table's category only, for Dress Code's Tables
3-5), and each sample's prediction is ``PRED/<sample name>`` with a video or image suffix or as a frame
folder, the names ``vvt bench quality`` writes. SSIM and LPIPS compare each prediction with its paired
ground truth; FID, KID and VFID compare the set of predictions with the set of ground truths.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from vvt.checks import add_device_argument
from vvt.commands import add_strict_argument
from vvt.errors import InputFileError, VVTError
from vvt.eval.evaluator import ALL_METRICS
from vvt.eval.protocols import PROTOCOLS, report_lines
from vvt.eval.runner import FORMATS, header
from vvt.io import atomic_write_text

log = logging.getLogger(__name__)

TABLES_DIR = Path(__file__).parent / "tables"


@dataclass(frozen=True)
class PaperTable:
    """One published table: where it is from, how it was scored, and its rows as printed.

    Attributes:
        paper, number: the paper's name (its YAML file) and the table number.
        title, source, dataset: the caption, where the rows are (table, page, section), what was scored.
        protocol: the :mod:`vvt.eval.protocols` name that scores it.
        columns: metric names in the paper's column order.
        rows: ``(method, cells)`` with each cell the printed text, or None where the paper prints "-".
        category: the Dress Code category of the table (when the dataset root holds several).
        notes: caveats to print with the table.
    """

    paper: str
    number: int
    title: str
    source: str
    dataset: str
    protocol: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str | None, ...]], ...]
    category: str | None = None
    notes: tuple[str, ...] = ()


def papers() -> list[str]:
    """Names of the papers whose tables are stored."""
    return sorted(p.stem for p in TABLES_DIR.glob("*.yaml"))


def load_table(paper: str, number: int) -> PaperTable:
    """The stored table ``number`` of ``paper``.

    Raises:
        VVTError: unknown paper or table (listing the available ones), or a malformed table file.
    """
    path = TABLES_DIR / f"{paper}.yaml"
    if not path.is_file():
        raise VVTError(f"no stored tables for paper {paper!r}; available: {', '.join(papers())}")
    data = yaml.safe_load(path.read_text())
    tables = data["tables"]
    if number not in tables:
        raise VVTError(f"{paper} has no stored table {number}; available: {', '.join(map(str, tables))}")
    t = tables[number]
    columns = tuple(t["columns"])
    problems = [f"unknown metric {c!r}" for c in columns if c not in ALL_METRICS]
    if t["protocol"] not in PROTOCOLS:
        problems.append(f"unknown protocol {t['protocol']!r}")
    rows = []
    for row in t["rows"]:
        cells = tuple(None if v == "-" else v for v in str(row["values"]).split())
        if len(cells) != len(columns):
            problems.append(f"row {row['method']!r} has {len(cells)} values for {len(columns)} columns")
        for cell in cells:
            try:
                float(cell) if cell is not None else None
            except ValueError:
                problems.append(f"row {row['method']!r}: {cell!r} is not a number")
        rows.append((row["method"], cells))
    if problems:
        raise InputFileError(path, f"table {number}: " + "; ".join(problems))
    return PaperTable(
        paper=paper,
        number=number,
        title=t["title"],
        source=t["source"],
        dataset=t["dataset"],
        protocol=t["protocol"],
        columns=columns,
        rows=tuple(rows),
        category=t.get("category"),
        notes=tuple(t.get("notes") or ()),
    )


def table_items(data: Path, pred: Path, table: PaperTable, same_size: bool):
    """The matched items a table scores: ``data`` as a dataset root (:func:`vvt.eval.inputs.dataset_items`, the
    table's category only) or as a ground-truth folder (:func:`vvt.eval.inputs.match`).

    Raises:
        InputFileError / ShapeMismatchError / LayoutError: missing folders, unmatched names or frame counts.
    """
    from vvt.eval.inputs import dataset_items, match

    items = dataset_items(data, pred, same_size=same_size, category=table.category, agnostic_masks=False)
    return items if items is not None else match(pred, data, same_size=same_size)


def run_table(
    paper: str,
    number: int,
    data: Path,
    pred: Path,
    out: Path,
    *,
    name: str = "this run",
    weights_dir: Path | None = None,
    device: str = "cpu",
    seed: int = 0,
    show_progress: bool = True,
) -> dict:
    """Score ``pred`` against ``data`` with table ``number`` of ``paper``'s protocol; write ``OUT/table.md``
    and ``OUT/table.json``.

    Metrics whose weights are absent are reported as n/a with the file to add (never zero).

    Returns:
        the JSON report: the table's source and notes, the published rows, this run's metrics, the protocol.
    """
    from vvt.eval.api import evaluate_items
    from vvt.eval.evaluator import EvalConfig

    table = load_table(paper, number)
    config = EvalConfig.for_protocol(table.protocol, weights_dir=weights_dir, device=device, seed=seed)
    items = table_items(Path(data), Path(pred), table, same_size=config.size is None)
    log.info("%s table %d: %d item(s), protocol %s", paper, number, len(items), table.protocol)
    report = evaluate_items(items, config, show_progress=show_progress)
    result = {
        "paper": paper,
        "table": number,
        "title": table.title,
        "source": table.source,
        "dataset": table.dataset,
        "data": str(data),
        "pred": str(pred),
        "columns": list(table.columns),
        "published": [
            {"method": method, "values": {c: None if v is None else float(v) for c, v in zip(table.columns, cells)}}
            for method, cells in table.rows
        ],
        "result": {
            "name": name,
            "metrics": {c: report["metrics"].get(c) for c in table.columns},
            "absent": {c: r for c, r in report["absent"].items() if c in table.columns},
            "spread": report["spread"],
            "counts": report["counts"],
        },
        "notes": list(table.notes),
        "protocol": report["protocol"],
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(out / "table.md", markdown(result, table))
    return result


def markdown(result: dict, table: PaperTable) -> str:
    """The table in the paper's column order: the published rows as printed, then this run's row."""
    protocol = result["protocol"]

    def head(column: str) -> str:
        if column == "kid":  # the papers print KID without a scale; this run's is stated
            return f"KID ↓ (this run ×{protocol['kid_scale']})"
        return header(column, protocol)

    cols = table.columns
    lines = [
        f"# {table.paper} Table {table.number}: {table.title}",
        "",
        f"Published rows: {table.source}, copied as printed. Last row: `{result['pred']}` against "
        f"`{result['data']}` ({result['result']['counts']['items']} item(s)), protocol {protocol['name']}.",
        "",
        "| Method | " + " | ".join(head(c) for c in cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for method, cells in table.rows:
        lines.append(f"| {method} | " + " | ".join("-" if v is None else v for v in cells) + " |")
    ours = result["result"]
    cells = ["n/a" if ours["metrics"][c] is None else FORMATS[c].format(ours["metrics"][c]) for c in cols]
    lines.append(f"| **{ours['name']}** | " + " | ".join(cells) + " |")
    if ours["absent"]:
        lines += ["", "n/a:"] + [f"- {header(c, protocol)[:-2]}: {r}" for c, r in ours["absent"].items()]
    lines += ["", f"Dataset: {table.dataset}."]
    if table.notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in table.notes]
    lines += ["", "Protocol:"] + report_lines(protocol)
    return "\n".join(lines) + "\n"


def add_arguments(parser) -> None:
    parser.description = (
        "Score predictions with a published table's own protocol and write the table in the paper's column "
        "order next to the paper's rows (OUT/table.md, OUT/table.json). Example: vvt bench table --paper "
        "realvvt --table 1 --data VVT/ --pred out/vvt-test --weights-dir ~/vvt-weights --out table1/. "
        "--data is a folder of ground truths named like the predictions, or a dataset root (its paired test "
        "split; predictions named PRED/<sample name>.mp4|.png). Metrics whose weight file is missing are n/a "
        "with the file to add."
    )
    parser.add_argument("--paper", choices=papers(), required=True, help="paper whose table to reproduce")
    parser.add_argument(
        "--table", type=int, required=True, help="table number (realvvt: 1 VVT, 2 VITON-HD, 3-5 Dress Code "
        "upper/lower/dresses, 6 the ablation on VVT)"
    )
    parser.add_argument("--data", type=Path, required=True, help="ground-truth folder or dataset root")
    parser.add_argument("--pred", type=Path, required=True, help="folder of predictions")
    parser.add_argument("--name", default="this run", help="label of this run's row")
    parser.add_argument(
        "--weights-dir",
        type=Path,
        default=None,
        help="folder with the metric networks' weight files (default: $VVT_WEIGHTS); see vvt.eval.weights",
    )
    add_device_argument(parser, "the networks")
    parser.add_argument("--seed", type=int, default=0, help="seed of KID's subsets")
    parser.add_argument(
        "--out", type=Path, default=Path("bench-table"), help="output folder (table.md, table.json)"
    )
    add_strict_argument(parser)


def run(args) -> dict:
    from vvt.checks import resolve_device
    from vvt.data.layouts import strict_layouts

    args.device = resolve_device(args.device)
    with strict_layouts(args.strict):
        result = run_table(
            args.paper,
            args.table,
            args.data,
            args.pred,
            args.out,
            name=args.name,
            weights_dir=args.weights_dir,
            device=args.device,
            seed=args.seed,
        )
    print((args.out / "table.md").read_text())
    # `vvt bench` writes the returned dict (plus the environment) to args.out: point it at the JSON report
    args.out = args.out / "table.json"
    return result
