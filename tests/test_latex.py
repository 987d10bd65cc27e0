"""Every generated .tex table compiles and fits the text width of a standard article: each is \\input,
with its caption uncommented, inside a table float of a minimal document (the preamble its header
comment names) run through pdflatex (Debian's texlive-latex-base and texlive-latex-recommended, for
booktabs and graphicx; .ci/run installs them). An overfull box is a failure."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from acai_repro.models import MODELS
from acai_repro.scorecard import write_scorecard
from acai_repro.tables import LATEX_PREAMBLE, latex_text, write_grid_table, write_table1

PDFLATEX = shutil.which("pdflatex")
NO_ENGINE = "needs pdflatex: apt-get install texlive-latex-base texlive-latex-recommended (as .ci/run does)"
MODELS6 = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]
DOCUMENT = r"""\documentclass{article}
%s
\begin{document}
%s
\end{document}
"""


def _no_engine():
    if os.environ.get("ACAI_REQUIRE_PDFLATEX"):  # CI installs it: a missing engine is a failure there
        pytest.fail(NO_ENGINE)
    pytest.skip(NO_ENGINE)


def with_caption(tex_file: Path) -> Path:
    """A copy of a generated table with its commented caption switched on."""
    text = Path(tex_file).read_text()
    assert text.count("\n% \\caption{") == 1, f"{tex_file}: no commented caption line"
    copy = Path(tex_file).with_name(Path(tex_file).stem + "_captioned.tex")
    copy.write_text(text.replace("\n% \\caption{", "\n\\caption{"))
    return copy


def compile_tables(tex_files, workdir: Path, preamble: str = LATEX_PREAMBLE) -> Path:
    """A PDF of a document that \\inputs each file in a table float; fails with pdflatex's log on any
    error or overfull box (a table wider than the text)."""
    if PDFLATEX is None:
        _no_engine()
    inputs = "\n\n".join(f"\\begin{{table}}[p]\\centering\n\\input{{{Path(t).resolve()}}}\n\\end{{table}}\n\\clearpage"
                         for t in tex_files)  # fmt: skip
    (workdir / "tables.tex").write_text(DOCUMENT % (preamble, inputs))
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "tables.tex"],
                         cwd=workdir, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    log = (workdir / "tables.log").read_text(errors="replace")
    overfull = re.findall(r"Overfull \\[hv]box \(([\d.]+pt) too (?:wide|high)\)[^\n]*", log)
    assert not overfull, f"wider than the text: {overfull}"
    pdf = workdir / "tables.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    return pdf


def _write(path: Path, record: dict) -> str:
    if "reported" in record:
        record = {**record, "evals": [record["reported"]] * 4}  # a history: the rule reads the last of 4
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return str(path)


def _records(root: Path):
    """Records with every case a table prints: a diverged seed, an undefined Smoothness (footnote),
    the VQ-VAE at its own dz; MNIST Tables 2-3 with pixels."""
    spec = {"training": {"total_images": 256}, "scale_name": "smoke"}
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


@pytest.fixture
def greek_title(monkeypatch):
    """The VAE titled with a non-ASCII letter and LaTeX specials, as a researcher's model may be."""
    monkeypatch.setattr(MODELS["vae"], "title", "β-VAE & co_1")


def test_every_generated_table_compiles_within_the_text_width(tmp_path, greek_title):
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
    for table in tex:
        text = table.read_text()
        assert f"% Needs in the preamble: {LATEX_PREAMBLE}" in text, table
    assert "$\\beta$-VAE \\& co\\_1" in tex[0].read_text()
    caption = next(line for line in tex[0].read_text().splitlines() if line.startswith("% \\caption{"))
    assert "scale smoke" in caption and "seeds 0, 1" in caption and "last 1 of 4 evaluations" in caption, caption
    compile_tables(tex + [with_caption(t) for t in tex], tmp_path)


def test_a_table_wider_than_the_text_fails(tmp_path):
    wide = tmp_path / "wide.tex"
    wide.write_text("\\begin{tabular}{l}\n" + "x" * 400 + " \\\\\n\\end{tabular}\n")
    with pytest.raises(AssertionError, match="wider than the text"):
        compile_tables([wide], tmp_path)


@pytest.mark.parametrize("title, latex", [("β-VAE", "$\\beta$-VAE"), ("Δ & 50%", "$\\Delta$ \\& 50\\%"),
                                          ("Ω_ΑE", "$\\Omega$\\_AE"), ("Café", "Café"),
                                          ("2^17 images, x^2", "$2^{17}$ images, x\\^{}2")])  # fmt: skip
def test_titles_are_escaped_for_pdflatex(title, latex):
    assert latex_text(title) == latex


def test_a_table_that_does_not_compile_fails(tmp_path):
    broken = tmp_path / "broken.tex"
    broken.write_text("\\begin{tabular}{ll}\n a & b & c \\\\\n\\end{tabular}\n")  # three cells in two columns
    with pytest.raises(AssertionError, match="Extra alignment tab"):
        compile_tables([broken], tmp_path)
