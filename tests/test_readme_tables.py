"""The tables the results page quotes are rendered from committed results, scale included.

Each quoted table sits between `<!-- rendered from CSV [CSV ...] by python -m acai_repro.tables
--markdown -->` and `<!-- end -->`, and must be exactly what `acai_repro.reporting.tables.markdown_tables`
renders from those CSVs with config/config.yaml (the datasets' titles), as that command does: a
number or a scale edited by hand in the README, or a CSV regenerated without the README, fails here.
"""

import re
from pathlib import Path

import pandas as pd
import pytest

from acai_repro.config import load_config
from acai_repro.reporting.tables import markdown_tables

ROOT = Path(__file__).resolve().parent.parent
PAPER_CONFIG = load_config(ROOT / "config" / "config.yaml")  # what the command line reads without overlays
QUOTE = re.compile(r"<!-- rendered from (.+?) by python -m acai_repro\.tables --markdown -->\n(.*?)<!-- end -->", re.S)


def quoted_table_problems(readme: str, root: Path) -> list[str]:
    problems = []
    for csvs, text in QUOTE.findall(readme):
        paths = [root / csv for csv in csvs.split()]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            problems.append(f"{csvs}: quoted, but {missing} not committed")
        elif text != markdown_tables(paths, PAPER_CONFIG):
            problems.append(f"{csvs}: the quoted table differs from python -m acai_repro.tables --markdown {csvs}")
    return problems


QUOTING = ["docs/results.md", "docs/quick-scale.md"]  # the pages that quote measured tables


def test_the_results_page_quotes_tables_only_as_rendered_from_their_csvs():
    results = (ROOT / "docs/results.md").read_text()
    assert len(QUOTE.findall(results)) >= 2, "docs/results.md quotes the GPU and the quick-scale tables"
    for page in QUOTING:
        assert not quoted_table_problems((ROOT / page).read_text(), ROOT), page


def test_the_quick_scale_page_quotes_its_tables_from_their_csvs():
    assert len(QUOTE.findall((ROOT / "docs/quick-scale.md").read_text())) >= 1


@pytest.mark.parametrize("page", QUOTING)
def test_every_quoted_row_of_ours_names_the_scale_its_csv_records(page):
    for csvs, text in QUOTE.findall((ROOT / page).read_text()):
        scales = set().union(*(set(pd.read_csv(ROOT / csv).scale.dropna()) for csv in csvs.split()))
        assert scales, f"{csvs} record no scale"
        ours = [line for line in text.splitlines() if ", ours (" in line]
        assert ours and all(any(f"ours ({s}," in line for s in scales) for line in ours), (csvs, ours)
        # and the reporting rule with its N, or that the value was read on the final weights
        assert all(re.search(r"median of last \d+ of \d+ evaluations\)|final weights\)", line) for line in ours), ours


def test_a_number_edited_by_hand_is_caught(tmp_path):
    csv = "docs/gpu-quick-results/table1.csv"
    (tmp_path / "docs/gpu-quick-results").mkdir(parents=True)
    (tmp_path / csv).write_text((ROOT / csv).read_text())
    rendered = markdown_tables([ROOT / csv], PAPER_CONFIG)
    header = f"<!-- rendered from {csv} by python -m acai_repro.tables --markdown -->\n"
    assert quoted_table_problems(f"{header}{rendered}<!-- end -->", tmp_path) == []
    best = re.search(r"\*\*\d+\.\d\d ± \d+\.\d\d\*\*", rendered).group()  # ACAI's bold Mean Distance
    edited = rendered.replace(best, best.replace("**", "**1", 1))
    assert edited != rendered
    assert quoted_table_problems(f"{header}{edited}<!-- end -->", tmp_path)
    assert quoted_table_problems(f"{header}{rendered}<!-- end -->".replace("table1.csv", "gone.csv"), tmp_path)


def test_tables_2_and_3_render_a_row_of_ours_and_one_of_the_paper_per_dz(tmp_path):
    rows = []
    for dz, base, acai in ((32, 40.0, 45.0), (256, 80.0, 83.0)):
        rows += [("mnist", dz, "baseline", base, None, 1, 0, "ok", 94.9, 0.14, "", "1", "8", "quick", "x"),
                 ("mnist", dz, "acai", acai, None, 1, 0, "ok", 98.25, 0.11, "", "1", "8", "quick", "y")]  # fmt: skip
    rows.append(("mnist", None, "pixels", 91.9, None, 1, 0, "ok", 92.31, None, "text", "", "", None, "z"))
    columns = [
        "dataset",
        "dz",
        "model",
        "mean",
        "std",
        "n_seeds",
        "n_undefined",
        "status",
        "paper_mean",
        "paper_std",
        "paper_source",
        "report_last",
        "evaluations",
        "scale",
        "sources",
    ]
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "table2.csv", index=False)
    text = markdown_tables([tmp_path / "table2.csv"], PAPER_CONFIG)
    assert (
        "| Table 2, in-tandem classifier, ours (quick, 1 seed, median of last 1 of 8 evaluations) | MNIST | 32 | "
        "40.00 | **45.00**° | 91.90 |" in text
    ), text  # best of one seed, marked
    assert (
        "| paper (2^24 images, 3 seeds) | MNIST | 256 | 94.90 ± 0.14 | 98.25 ± 0.11 | 92.31, the paper's Section 4 "
        "text, one measurement |" in text
    ), text
    pd.DataFrame(rows, columns=columns).assign(report_last="", evaluations="").to_csv(
        tmp_path / "table3.csv", index=False
    )
    assert "ours (quick, 1 seed, final weights)" in markdown_tables([tmp_path / "table3.csv"], PAPER_CONFIG)


def test_a_csv_written_before_scales_were_recorded_says_so(tmp_path):
    columns = ["dataset", "dz", "model", "mean", "std", "n_seeds", "status", "paper_mean", "paper_std", "sources"]
    rows = [
        ("mnist", 32, "acai", 35.58, 0.0, 1, "ok", 98.25, 0.11, "x"),
        ("mnist", None, "pixels", 91.9, None, 1, "ok", 92.31, None, "z"),
    ]
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "table2.csv", index=False)
    text = markdown_tables([tmp_path / "table2.csv"], PAPER_CONFIG)
    assert (
        "| Table 2, in-tandem classifier, ours (scale not recorded, 1 seed, rule not recorded) | MNIST | 32 | "
        "**35.58**° | 91.90 |" in text
    ), text
