"""Every generated .tex table compiles: each is \\input by a minimal document run through pdflatex
(Debian's texlive-latex-base and texlive-latex-recommended, for booktabs; .ci/run installs them)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from acai_repro.scorecard import write_scorecard
from acai_repro.tables import write_grid_table, write_table1

PDFLATEX = shutil.which("pdflatex")
NO_ENGINE = "needs pdflatex: apt-get install texlive-latex-base texlive-latex-recommended (as .ci/run does)"
MODELS6 = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]
DOCUMENT = r"""\documentclass{article}
\usepackage{booktabs}
\begin{document}
%s
\end{document}
"""


def _no_engine():
    if os.environ.get("ACAI_REQUIRE_PDFLATEX"):  # CI installs it: a missing engine is a failure there
        pytest.fail(NO_ENGINE)
    pytest.skip(NO_ENGINE)


def compile_tables(tex_files, workdir: Path) -> Path:
    """A PDF of a document that \\inputs each file; fails with pdflatex's log on any error."""
    if PDFLATEX is None:
        _no_engine()
    inputs = "\n\n".join(f"\\input{{{Path(t).resolve()}}}\n\\clearpage" for t in tex_files)
    (workdir / "tables.tex").write_text(DOCUMENT % inputs)
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "tables.tex"],
                         cwd=workdir, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    pdf = workdir / "tables.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    return pdf


def _write(path: Path, record: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return str(path)


def _records(root: Path):
    """Records with every case a table prints: a diverged seed, an undefined Smoothness (footnote),
    the VQ-VAE at its own dz; MNIST Tables 2-3 with pixels."""
    spec = {"training": {"total_images": 256}}
    t1, t2, t3 = [], [], []
    for i, model in enumerate(MODELS6):
        for seed in (0, 1):
            status = "diverged" if (model, seed) == ("aae", 1) else "ok"
            dz = 256 if model == "vqvae" else 64
            smoothness = float("nan") if model == "denoising" else 0.1 * i
            reported = {"mean_distance": 0.001 * (i + 1), "smoothness": smoothness} if status == "ok" else {}
            cell = {"dataset": "lines", "model": model, "dz": dz, "seed": seed}
            t1.append(_write(root / f"lines/{model}/dz{dz}/seed{seed}/metrics.json",
                             {"status": status, "cell": cell, "reported": reported, "spec": spec}))  # fmt: skip
            cell = {"dataset": "mnist", "model": model, "dz": 32, "seed": seed}
            folder = root / f"mnist/{model}/dz32/seed{seed}"
            reported = {"classifier_accuracy": 0.5 + 0.05 * i} if status == "ok" else {}
            t2.append(_write(folder / "metrics.json", {"status": status, "cell": cell, "reported": reported, "spec": spec}))
            t3.append(_write(folder / "kmeans.json", {"status": status, "cell": cell, "accuracy": 0.4 + 0.05 * i}))
    pixels = {name: _write(root / f"mnist/pixels/{name}.json", {"dataset": "mnist", "status": "ok", "accuracy": 0.9})
              for name in ("probe", "kmeans")}  # fmt: skip
    return t1, t2, t3, pixels


def test_every_generated_table_compiles(tmp_path):
    if PDFLATEX is None:
        _no_engine()
    t1, t2, t3, pixels = _records(tmp_path / "results")
    out, cells, seeds = tmp_path / "results", [["mnist", 32]], [0, 1]
    write_table1(t1, MODELS6, seeds, out / "table1.tex", out / "table1.csv")
    write_grid_table(t2, [pixels["probe"]], cells, MODELS6, seeds, "classifier_accuracy", "table2", "Table 2",
                     out / "table2.tex", out / "table2.csv")  # fmt: skip
    write_grid_table(t3, [pixels["kmeans"]], cells, MODELS6, seeds, "accuracy", "table3", "Table 3",
                     out / "table3.tex", out / "table3.csv")  # fmt: skip
    records = {"table1": t1, "table2": (t2, [pixels["probe"]]), "table3": (t3, [pixels["kmeans"]])}
    write_scorecard(records, out / "reproduction.csv", out / "reproduction.md", out / "reproduction.tex")
    tex = [out / f"{name}.tex" for name in ("table1", "table2", "table3", "reproduction")]
    assert "undef." in tex[0].read_text() and "diverged" in tex[0].read_text()
    compile_tables(tex, tmp_path)


def test_a_table_that_does_not_compile_fails(tmp_path):
    broken = tmp_path / "broken.tex"
    broken.write_text("\\begin{tabular}{ll}\n a & b & c \\\\\n\\end{tabular}\n")  # three cells in two columns
    with pytest.raises(AssertionError, match="Extra alignment tab"):
        compile_tables([broken], tmp_path)
