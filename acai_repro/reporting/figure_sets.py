"""The figures of a committed result set: rendered by the workflow's own rules from the set's
cells, copied into SET/figures/, and stamped with the set's provenance (its provenance.json:
commit, fingerprint, command) in each PNG's text chunks, so a figure names the run it shows.

    # after a rerun of the set's scale (its weights in the scale's results_dir, here):
    python -m acai_repro.figure_sets docs/quick-table1-results --configfile config/quick.yaml
    # from the set's committed records alone (no weights): the training curves only
    python -m acai_repro.figure_sets docs/quick-table1-results --configfile config/quick.yaml --from-records
    # PNGs the workflow rendered elsewhere (a GPU session brings them back): stamp and copy
    python -m acai_repro.figure_sets docs/gpu-quick-results --configfile config/gpu-quick.yaml --rendered DIR

A set holding table1.csv gets Fig. 3, Fig. 5 and the Table 1 training curves; one holding
Tables 2-3 gets the image interpolations and training curves of each (dataset, dz) of the config's
Tables 2-3. Write the set's provenance.json first (python -m acai_repro.fingerprint --provenance).
tests/test_readme_figures.py checks every figure the docs link against its set's provenance.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from acai_repro.config import DEFAULT_CONFIG, ROOT, ConfigError, load_config
from acai_repro.provenance.doc_quotes import OLDER_MARKER, paragraphs, quote_problems
from acai_repro.provenance.fingerprint import PROVENANCE_FILE, read_committed, read_provenance
from acai_repro.table_registry import ACCURACY_TABLES, TABLES

FIGURES_DIR = "figures"
MAX_BYTES = 512 * 1024  # a committed figure stays well under 1 MB
RECORD_RULES = ("training_curves",)  # need a cell's metrics.json only
WEIGHT_RULES = ("fig3_lines_interpolations", "fig5_vae_samples", "image_interpolations")  # need model.pt
STAMP_KEYS = ("result set", "commit", "fingerprint", "command", "rendered by")


def set_figures(set_dir: Path, config: dict, from_records: bool = False) -> list[str]:
    """File names (under the results' figures/) of the figures that belong to a set's tables."""
    names = []
    if (set_dir / "table1.csv").exists():
        table = config["table1"]
        if not from_records:
            names += ["fig3_lines_interpolations.png", "fig5_vae_samples.png"]
        names.append(f"training_curves_{table['dataset']}_dz{table['dz']}.png")
    if any((set_dir / f"{table}.csv").exists() for table in ACCURACY_TABLES):
        cells = dict.fromkeys(
            (dataset, dz) for table in ACCURACY_TABLES for dataset, dz in config[TABLES[table].paper]["cells"]
        )
        for dataset, dz in cells:
            if not from_records:
                names.append(f"interpolations_{dataset}_dz{dz}.png")
            names.append(f"training_curves_{dataset}_dz{dz}.png")
    return names


def stamp(source: Path, target: Path, fields: dict) -> None:
    """Copy a PNG, its text chunks set to `fields` (what `read_stamp` returns)."""
    info = PngInfo()
    for key, value in fields.items():
        info.add_text(key, str(value))
    with Image.open(source) as image:
        image.save(target, pnginfo=info, optimize=True)


def read_stamp(png: Path) -> dict:
    with Image.open(png) as image:
        return {key: value for key, value in image.text.items() if key in STAMP_KEYS}


def stamp_fields(set_dir: Path, provenance: dict, rendered_by: str) -> dict:
    return {
        "result set": set_dir.as_posix(),
        "commit": provenance["commit"],
        "fingerprint": provenance["fingerprint"],
        "command": provenance["command"],
        "rendered by": rendered_by,
    }


def _copy_records(set_dir: Path, results: Path) -> None:
    """The set's cell records (metrics.json, evals.jsonl, spec.json) where the workflow reads them."""
    for record in set_dir.glob("*/*/dz*/seed*/metrics.json"):
        cell = record.parent.relative_to(set_dir)
        (results / cell).mkdir(parents=True, exist_ok=True)
        for name in ("metrics.json", "evals.jsonl", "spec.json"):
            if (record.parent / name).exists():
                shutil.copy2(record.parent / name, results / cell / name)


def render(workdir: Path, configfiles: list, targets: list, rules, cores: int) -> None:
    """Snakemake on `targets`, allowed to run the figure rules only: a missing cell fails, named,
    instead of training one."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        str(cores),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--allowed-rules",
        *rules,
        "--configfile",
        *map(str, configfiles),
        "--",
        *targets,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"rendering {targets} failed:\n{result.stderr[-3000:]}")


def refresh(
    set_dir: Path,
    configfiles: list,
    from_records: bool = False,
    rendered: Path | None = None,
    workdir: Path = Path("."),
    cores: int = 1,
    rendered_by: str = "",
) -> list[Path]:
    """Render (or take from `rendered`) the set's figures, stamp them with its provenance and
    copy them into SET/figures/. Returns the committed paths."""
    set_dir = Path(set_dir)
    provenance = read_provenance(set_dir)  # before any work: a set without provenance fails here
    config = load_config(DEFAULT_CONFIG, *configfiles)
    names = set_figures(set_dir, config, from_records)
    if not names:
        raise ValueError(
            f"{set_dir}: holds no table1.csv, {', '.join(t + '.csv' for t in ACCURACY_TABLES)}: no figures"
        )
    results_dir = Path(config["results_dir"])
    with tempfile.TemporaryDirectory() as tmp:
        if rendered is None:
            if from_records:
                if results_dir.is_absolute():
                    raise ValueError(f"--from-records needs a relative results_dir, the config has {results_dir}")
                workdir = Path(tmp)
                _copy_records(set_dir, workdir / results_dir)
            targets = [f"{results_dir.as_posix()}/figures/{name}" for name in names]
            render(workdir, configfiles, targets, RECORD_RULES if from_records else RECORD_RULES + WEIGHT_RULES, cores)
            rendered = workdir / results_dir / "figures"
        return _commit_figures(set_dir, Path(rendered), names, stamp_fields(set_dir, provenance, rendered_by))


def _commit_figures(set_dir: Path, rendered: Path, names: list, fields: dict) -> list[Path]:
    missing = [name for name in names if not (rendered / name).exists()]
    if missing:
        raise FileNotFoundError(f"{rendered}: no {', '.join(missing)} (rendered figures of {set_dir})")
    (set_dir / FIGURES_DIR).mkdir(exist_ok=True)
    committed = []
    for name in names:
        target = set_dir / FIGURES_DIR / name
        stamp(rendered / name, target, fields)
        if target.stat().st_size > MAX_BYTES:
            raise ValueError(
                f"{target}: {target.stat().st_size} bytes, over the {MAX_BYTES} a committed figure may have"
            )
        committed.append(target)
    return committed


# ---- The figures a page links: present, small, stamped by their set, the set current or marked ----
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)\)")


def _result_set_of(png: Path) -> Path | None:
    return next((folder for folder in png.parents if (folder / PROVENANCE_FILE).exists()), None)


def linked_figure_problems(page: Path, root: Path = ROOT, committed: dict | None = None) -> list[str]:
    """Every figure `page` links that is missing, too large, outside a result set, not stamped
    with its set's provenance, or from a set the code no longer computes (`committed`: the
    code's fingerprints, default acai_repro/provenance/fingerprints.json) while the paragraph does not say
    'produced by commit X (older code)'."""
    committed = committed or read_committed()
    where = page.relative_to(root).as_posix()
    problems = []
    for block in paragraphs(page.read_text()):
        marked = OLDER_MARKER.findall(block)
        for link in IMAGE_LINK.findall(block):
            problems += _figure_problems(where, (page.parent / link).resolve(), link, root.resolve(), committed, marked)
    return problems


def _figure_problems(where: str, png: Path, link: str, root: Path, committed: dict, marked: list) -> list[str]:
    if not png.exists():
        return [f"{where}: links {link}, which is not committed"]
    if png.stat().st_size > MAX_BYTES:
        return [f"{where}: {link} has {png.stat().st_size} bytes, over {MAX_BYTES}"]
    set_dir = _result_set_of(png)
    if set_dir is None or not set_dir.is_relative_to(root):
        return [f"{where}: {link} lies in no result set (no {PROVENANCE_FILE} in a folder above it)"]
    try:
        provenance = read_provenance(set_dir)
    except ValueError as error:
        return [str(error)]
    name = set_dir.relative_to(root).as_posix()
    found = read_stamp(png)
    wrong = [key for key in ("commit", "fingerprint") if found.get(key) != provenance[key]]
    if wrong:
        return [
            f"{where}: {link} is stamped {[found.get(k) for k in wrong]} for {wrong}, its set {name} records "
            f"{[provenance[k] for k in wrong]}: render it again with python -m acai_repro.figure_sets {name}"
        ]
    return quote_problems(f"{where} ({link})", name, provenance, committed, marked)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acai_repro.figure_sets", description=__doc__.splitlines()[0])
    parser.add_argument("set_dir", type=Path, metavar="SET", help="a committed result set (docs/<name>-results)")
    parser.add_argument("--configfile", nargs="+", required=True, help="the config files of the set's run")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--from-records", action="store_true", help="render from the set's records: training curves only")
    how.add_argument("--rendered", type=Path, metavar="DIR", help="take the PNGs the workflow rendered into DIR")
    parser.add_argument("--directory", type=Path, default=Path("."), help="where the run's results_dir lies")
    parser.add_argument("--cores", type=int, default=1)
    args = parser.parse_args(argv)
    command = "python -m acai_repro.figure_sets " + " ".join(
        map(shlex.quote, argv if argv is not None else sys.argv[1:])
    )
    try:
        written = refresh(
            args.set_dir, args.configfile, args.from_records, args.rendered, args.directory, args.cores, command
        )
    except (ValueError, FileNotFoundError, RuntimeError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
