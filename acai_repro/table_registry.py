"""The paper's tables, each defined once: its name, its cells (from the config), the record it
reads, the key in that record, its raw-pixel baseline, its titles and its renderer.

Table 1 (the lines), Table 2 twice (the in-tandem classifier; a post-hoc probe beside it) and
Table 3 (K-Means), then the scorecard that judges Tables 1-3 against the paper. The rules
(rules/tables.smk builds a rule per entry), the tables, the grid commands, the training packs and
the figure sets read them here; a new table is one entry plus its renderer (scripts/<script>).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acai_repro.cells import Cell, cell_directory
from acai_repro.config import table1_cells


@dataclass(frozen=True)
class PaperTable:
    """One table the workflow writes (results/<name>.tex and .csv)."""

    name: str  # the output's stem and its rule's name
    paper: str  # the paper's table: the config section listing its cells, paper_values.csv's `table`
    record: str  # the file of each cell its values are read from
    key: str | None  # the value's key in that record (Table 1: its metrics, tables.TABLE1_METRICS)
    pixels: str | None  # the record of each dataset's raw pixels, the baseline row (Table 1: none)
    title: str  # what the table shows, in its caption
    label: str  # its short name, e.g. in the Markdown the README quotes
    script: str  # its renderer, the rule's script under scripts/
    verdict_title: str | None = None  # its name on the scorecard, where the scorecard judges it

    @property
    def reads_history(self) -> bool:
        """Whether each seed's value is read from a trained cell's evaluation history, under the
        reporting rule (tables.report_rule); a probe or K-Means record reads the final weights."""
        return self.record == "metrics.json"

    def cells(self, config: dict, seeds=None) -> list[Cell]:
        """The table's training cells, in its order (seeds last): of the config's seeds, or of
        `seeds` (the figures' seed)."""
        return paper_cells(config, self.paper, seeds)

    def datasets(self, config: dict) -> list[str]:
        """The datasets of its cells, each once, in order."""
        return list(dict.fromkeys(cell.dataset for cell in self.cells(config)))

    def cell_paths(self, config: dict, root) -> list[Path]:
        """Each cell's record under a results root (`results_dir`), in the table's order."""
        return [Path(cell_directory(cell, str(root)), self.record) for cell in self.cells(config)]

    def pixel_paths(self, config: dict, root) -> list[Path]:
        """Each dataset's raw-pixel record under a results root (none for a table without pixels)."""
        return [] if self.pixels is None else [Path(root, d, "pixels", self.pixels) for d in self.datasets(config)]


def paper_cells(config: dict, paper: str, seeds=None) -> list[Cell]:
    """The training cells of one of the paper's tables (table1, table2, table3), from the config:
    Table 1 each model at its own dz; Tables 2-3 every (dataset, dz) x model; seeds last (the
    config's, or `seeds`)."""
    seeds = config["seeds"] if seeds is None else seeds
    if paper == "table1":
        dataset = config["table1"]["dataset"]
        return [Cell(dataset, model, dz, seed) for model, dz in table1_cells(config) for seed in seeds]
    table = config[paper]
    return [Cell(d, m, int(dz), s) for d, dz in table["cells"] for m in table["models"] for s in seeds]


TABLES = {
    table.name: table
    for table in (
        PaperTable(
            "table1",
            "table1",
            "metrics.json",
            None,
            None,
            "Interpolation on the lines benchmark (the paper's Table 1)",
            "Table 1, lines",
            "table1.py",
            "Table 1 (lines)",
        ),
        PaperTable(
            "table2",
            "table2",
            "metrics.json",
            "classifier_accuracy",
            "probe.json",
            "Single-layer classifier on the latent code, trained alongside each autoencoder (the paper's Table 2)",
            "Table 2, in-tandem classifier",
            "accuracy_table.py",
            "Table 2 (single-layer classifier, in tandem)",
        ),
        PaperTable(
            "table2_probe",
            "table2",
            "probe.json",
            "accuracy",
            "probe.json",
            "Single-layer classifier fitted to each autoencoder's final latent codes after training "
            "(a post-hoc probe; the paper's Table 2 trains it alongside)",
            "Table 2, post-hoc probe",
            "accuracy_table.py",
        ),
        PaperTable(
            "table3",
            "table3",
            "kmeans.json",
            "accuracy",
            "kmeans.json",
            "K-Means clustering of the latent codes (the paper's Table 3)",
            "Table 3, K-Means",
            "accuracy_table.py",
            "Table 3 (K-Means)",
        ),
    )
}
# Tables 2-3: accuracy (%) per (dataset, dz), the raw pixels beside the autoencoders.
ACCURACY_TABLES = tuple(name for name, table in TABLES.items() if table.pixels)
# The paper's tables in order, each once (Table 2's probe shares Table 2's cells).
PAPER_TABLES = tuple(dict.fromkeys(table.paper for table in TABLES.values()))


@dataclass(frozen=True)
class Scorecard:
    """The scorecard (results/<name>.csv, .md, .tex): every published value of the tables it
    judges against ours, and the paper's findings from them."""

    name: str
    judged: tuple[str, ...]  # the tables whose published values it judges
    training_of: tuple[str, ...]  # tables whose cells' training records it reads too (images trained on)
    script: str


SCORECARD = Scorecard(
    "reproduction",
    tuple(name for name, table in TABLES.items() if table.verdict_title),
    ("table3",),
    "reproduction.py",
)
