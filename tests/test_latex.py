"""Every generated .tex table, and every committed one (docs/*-results), compiles as it is pasted: each
is \\input as it is (a captioned table float, or the scorecard's longtable) into a minimal article with
the preamble its header comment names, through pdflatex (Debian's texlive-latex-base and
texlive-latex-recommended; .ci/run installs them). An overfull box, a float taller than the page
("Float too large"), a table without a caption or type below \\small is a failure."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from acai_repro.models import MODELS
from acai_repro.reporting.scorecard import SCORECARD_PREAMBLE, write_scorecard
from acai_repro.reporting.tables import LATEX_PREAMBLE, latex_text, write_accuracy_table, write_table1

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


ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(ROOT.glob("docs/*-results/*.tex"))  # every table a result set ships
PREAMBLE = f"{LATEX_PREAMBLE} {SCORECARD_PREAMBLE}"  # every package any generated table names
SMALLER_THAN_SMALL = re.compile(r"\\(footnotesize|scriptsize|tiny|resizebox|scalebox)\b")


def table_problems(tex_file: Path) -> list[str]:
    """What keeps a generated table from being pasted as it is: no caption, type below \\small, a
    preamble its header does not name."""
    text = Path(tex_file).read_text()
    problems = []
    floats = text.count("\\begin{table}") + text.count("\\begin{longtable}")
    if not floats or text.count("\n\\caption{") < floats:
        problems.append(f"{tex_file}: {floats} tables, {text.count(chr(10) + chr(92) + 'caption{')} captions")
    problems += [f"{tex_file}: type set with \\{m}" for m in SMALLER_THAN_SMALL.findall(text)]
    if "% Needs in the preamble: " not in text:
        problems.append(f"{tex_file}: no preamble line")
    return problems


def compile_tables(tex_files, workdir: Path, preamble: str = PREAMBLE) -> Path:
    """A PDF of a document that \\inputs each file as it is; fails with pdflatex's log on any error, an
    overfull box (a table wider than the text) or a float taller than the page."""
    if PDFLATEX is None:
        _no_engine()
    inputs = "\n\n".join(f"\\input{{{Path(t).resolve()}}}\n\\clearpage" for t in tex_files)
    (workdir / "tables.tex").write_text(DOCUMENT % (preamble, inputs))
    for _ in range(2):  # longtable settles its column widths on the second run
        run = subprocess.run(
            [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "tables.tex"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout[-3000:]
    log = (workdir / "tables.log").read_text(errors="replace")
    overfull = re.findall(r"Overfull \\[hv]box \(([\d.]+pt) too (?:wide|high)\)[^\n]*", log)
    assert not overfull, f"wider than the text: {overfull}"
    assert "Float too large" not in log, (
        "a float taller than the page: " + log[log.index("Float too large") - 200 :][:400]
    )
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
            t1.append(
                _write(
                    root / f"lines/{model}/dz{dz}/seed{seed}/metrics.json",
                    {"status": status, "cell": cell, "reported": reported, "spec": spec},
                )
            )
            cell = {"dataset": "mnist", "model": model, "dz": 32, "seed": seed}
            folder = root / f"mnist/{model}/dz32/seed{seed}"
            reported = {"classifier_accuracy": 0.5 + 0.05 * i} if status == "ok" else {}
            t2.append(
                _write(folder / "metrics.json", {"status": status, "cell": cell, "reported": reported, "spec": spec})
            )
            t3.append(_write(folder / "kmeans.json", {"status": status, "cell": cell, "accuracy": 0.4 + 0.05 * i}))
    pixels = {
        name: _write(root / f"mnist/pixels/{name}.json", {"dataset": "mnist", "status": "ok", "accuracy": 0.9})
        for name in ("probe", "kmeans")
    }
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
    write_accuracy_table(
        t2,
        [pixels["probe"]],
        cells,
        MODELS6,
        seeds,
        "classifier_accuracy",
        "table2",
        "Table 2",
        out / "table2.tex",
        out / "table2.csv",
    )
    write_accuracy_table(
        t3,
        [pixels["kmeans"]],
        cells,
        MODELS6,
        seeds,
        "accuracy",
        "table3",
        "Table 3",
        out / "table3.tex",
        out / "table3.csv",
    )
    records = {"table1": t1, "table2": (t2, [pixels["probe"]]), "table3": (t3, [pixels["kmeans"]])}
    write_scorecard(records, out / "reproduction.csv", out / "reproduction.md", out / "reproduction.tex")
    tex = [out / f"{name}.tex" for name in ("table1", "table2", "table3", "reproduction")]
    assert "undef." in tex[0].read_text() and "diverged" in tex[0].read_text()
    assert [p for t in tex for p in table_problems(t)] == []
    assert "$\\beta$-VAE \\& co\\_1" in tex[0].read_text()
    caption = next(line for line in tex[0].read_text().splitlines() if line.startswith("\\caption{"))
    assert "$2^{8}$ training images per autoencoder (the paper: $2^{24}$)" in caption, caption
    assert "over 2 seeds (0, 1)" in caption and "last 1 of 4 evaluations" in caption, caption
    assert "ddof" not in caption and "Table 1:" not in caption, caption
    assert "\\label{tab:table1}" in tex[0].read_text() and "\\label{tab:table2}" in tex[1].read_text()
    grid = tex[1].read_text()  # the raw pixels last, under a rule of their own
    assert grid.index("\\midrule\nPixels &") > grid.index("\nACAI &"), grid
    compile_tables(tex, tmp_path)


@pytest.mark.parametrize("tex_file", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_committed_table_is_captioned_in_small_type_and_compiles(tex_file, tmp_path):
    assert table_problems(tex_file) == []
    compile_tables([tex_file], tmp_path)


def test_the_committed_tables_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in COMMITTED}
    assert {
        "docs/quick-table1-results/table1.tex",
        "docs/gpu-quick-results/reproduction.tex",
        "docs/quick-tables23-results/reproduction.tex",
    } <= names, names


def test_a_table_taller_than_the_page_fails(tmp_path):
    tall = tmp_path / "tall.tex"
    tall.write_text(
        "\\begin{table}\\caption{x}\\begin{tabular}{l}\n" + "x \\\\\n" * 120 + "\\end{tabular}\\end{table}\n"
    )
    with pytest.raises(AssertionError, match="taller than the page"):
        compile_tables([tall], tmp_path)


def test_a_table_without_a_caption_or_in_tiny_type_is_named(tmp_path):
    bare = tmp_path / "bare.tex"
    bare.write_text(
        "% Needs in the preamble: x\n\\begin{table}\\footnotesize\\begin{tabular}{l}x\\end{tabular}\\end{table}\n"
    )
    problems = table_problems(bare)
    assert any("1 tables, 0 captions" in p for p in problems) and any("footnotesize" in p for p in problems), problems


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


def test_the_protocols_six_settings_fit_the_text_width_in_small_type(tmp_path):
    """Table 2 at the protocol: three datasets, two dz each, six models and the pixels: a tabular per
    dataset, one under the other, none wider than the text."""
    if PDFLATEX is None:
        _no_engine()
    cells = [["mnist", 32], ["mnist", 256], ["svhn", 32], ["svhn", 256], ["cifar10", 256], ["cifar10", 1024]]
    spec = {"training": {"total_images": 2**24}, "scale_name": "protocol"}
    paths, pixels = [], []
    for dataset, dz in cells:
        for i, model in enumerate(MODELS6):
            for seed in (0, 1, 2):
                cell = {"dataset": dataset, "model": model, "dz": dz, "seed": seed}
                reported = {"classifier_accuracy": 0.9 + 0.01 * i + 0.001 * seed}
                paths.append(
                    _write(
                        tmp_path / f"{dataset}/{model}/dz{dz}/seed{seed}/metrics.json",
                        {"status": "ok", "cell": cell, "reported": reported, "spec": spec},
                    )
                )
    for dataset in ("mnist", "svhn", "cifar10"):
        pixels.append(
            _write(tmp_path / f"{dataset}/pixels/probe.json", {"dataset": dataset, "status": "ok", "accuracy": 0.5})
        )
    tex = tmp_path / "table2.tex"
    write_accuracy_table(
        paths,
        pixels,
        cells,
        MODELS6,
        [0, 1, 2],
        "classifier_accuracy",
        "table2",
        "Table 2",
        tex,
        tmp_path / "table2.csv",
    )
    assert tex.read_text().count("\\begin{tabular}") == 3 and table_problems(tex) == []
    compile_tables([tex], tmp_path)
