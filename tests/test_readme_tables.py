"""The tables the README quotes are rendered from committed results, scale included.

Each quoted Table 1 sits between `<!-- table1 from CSV (python -m acai_repro.tables --markdown) -->`
and `<!-- end -->`, and must be exactly what `acai_repro.tables.markdown_table1` renders from
that CSV: a number or a scale edited by hand in the README, or a CSV regenerated without the
README, fails here.
"""

import re
from pathlib import Path

import pandas as pd

from acai_repro.tables import markdown_table1

ROOT = Path(__file__).resolve().parent.parent
QUOTE = re.compile(r"<!-- table1 from (\S+) \(python -m acai_repro\.tables --markdown\) -->\n(.*?)<!-- end -->", re.S)


def quoted_table_problems(readme: str, root: Path) -> list[str]:
    problems = []
    for csv, text in QUOTE.findall(readme):
        if not (root / csv).exists():
            problems.append(f"{csv}: quoted, but not committed")
        elif text != markdown_table1(root / csv):
            problems.append(f"{csv}: the quoted table differs from its rendering (python -m acai_repro.tables --markdown {csv})")
    return problems


def test_the_readme_quotes_tables_only_as_rendered_from_their_csv():
    readme = (ROOT / "README.md").read_text()
    quoted = QUOTE.findall(readme)
    assert len(quoted) >= 2, "the README quotes the GPU and the quick-scale Table 1"
    assert not quoted_table_problems(readme, ROOT)


def test_every_quoted_row_names_the_scale_its_csv_records():
    for csv, text in QUOTE.findall((ROOT / "README.md").read_text()):
        scales = set(pd.read_csv(ROOT / csv).scale.dropna())
        assert scales, f"{csv} records no scale"
        ours = [line for line in text.splitlines() if ", ours (" in line]
        assert ours and all(any(f"ours ({s}," in line for s in scales) for line in ours), (csv, ours)


def test_a_number_edited_by_hand_is_caught(tmp_path):
    csv = "docs/gpu-quick-results/table1_last4.csv"
    (tmp_path / "docs/gpu-quick-results").mkdir(parents=True)
    (tmp_path / csv).write_text((ROOT / csv).read_text())
    rendered = markdown_table1(ROOT / csv)
    header = f"<!-- table1 from {csv} (python -m acai_repro.tables --markdown) -->\n"
    assert quoted_table_problems(f"{header}{rendered}<!-- end -->", tmp_path) == []
    edited = rendered.replace("**1.28 ± 0.08**", "**1.20 ± 0.08**")
    assert edited != rendered
    assert quoted_table_problems(f"{header}{edited}<!-- end -->", tmp_path)
    assert quoted_table_problems(f"{header}{rendered}<!-- end -->".replace("table1_last4", "gone"), tmp_path)
