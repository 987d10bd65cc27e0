"""The docs' quotes of committed result sets: a doc that quotes a set whose fingerprints moved
says so ("produced by commit C (older code)" in the paragraph that names the set), and a marker
stays only while the set is stale. tests/test_fingerprints.py runs these checks over README.md,
docs/ and benchmarks/ (docs/fingerprints.md)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from acai_repro.provenance.fingerprint import (
    FINGERPRINTS_PATH,
    PROVENANCE_FILE,
    ROOT,
    read_committed,
    read_provenance,
    result_sets,
    staleness,
)

DOC_GLOBS = ("*.md", "docs/**/*.md", "benchmarks/**/*.md")
# What a doc writes next to numbers it quotes from a set that the current code no longer
# reproduces bit for bit; the same paragraph names the set's folder.
OLDER_MARKER = re.compile(r"produced by commit ([0-9a-f]{7,40}) \(older code\)", re.IGNORECASE)


def same_commit(a: str, b: str) -> bool:
    """Short and full hashes of one commit match."""
    return a.startswith(b) or b.startswith(a)


def docs(root: Path = ROOT) -> list[Path]:
    return sorted({path for pattern in DOC_GLOBS for path in root.glob(pattern) if path.is_file()})


def _set_spelling(set_dir: Path, doc: Path, root: Path) -> re.Pattern:
    """The set's folder as the doc may name it: from the repository root or from the doc."""
    names = {set_dir.relative_to(root).as_posix(), Path(os.path.relpath(set_dir, doc.parent)).as_posix()}
    # Not inside a longer name: "run-results-old", "other/run-results", "run-results.md".
    return re.compile("|".join(rf"(?<![\w./-]){re.escape(name)}(?![\w-]|\.\w)" for name in sorted(names)))


def paragraphs(text: str) -> list[str]:
    """Blocks between blank lines, whitespace collapsed (a marker may wrap across lines)."""
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text)]


def older_markers(text: str, spellings: dict) -> dict:
    """{set folder: commits its older-code markers name}. A marker belongs to the set named
    nearest to it in its paragraph, so one paragraph may mark several sets."""
    marks: dict = {}
    for block in paragraphs(text):
        mentions = [(m.start(), name) for name, pattern in spellings.items() for m in pattern.finditer(block)]
        for marker in OLDER_MARKER.finditer(block) if mentions else ():
            _, nearest = min(mentions, key=lambda mention: abs(mention[0] - marker.start()))
            marks.setdefault(nearest, []).append(marker.group(1))
    return marks


def quote_problems(where: str, name: str, provenance: dict, committed: dict, marked: list) -> list[str]:
    """What is wrong with how the doc `where` quotes the set `name` (it names its folder).
    `committed`: acai_repro/provenance/fingerprints.json's record."""
    commit = provenance["commit"]
    problems = [
        f"{where}: marks {name} as produced by commit {other}, but its {PROVENANCE_FILE} names commit {commit}"
        for other in marked
        if not same_commit(other, commit)
    ]
    if not provenance["depends_on_training"]:
        return problems
    stale = staleness(provenance, committed)
    if stale is None and marked:
        problems.append(
            f"{where}: marks {name} as older code, but the code computes it still (its fingerprints are the "
            f"current ones): drop the marker"
        )
    if stale is not None and not any(same_commit(m, commit) for m in marked):
        problems.append(
            f"{where} quotes {name}, produced by commit {commit}, but {stale}: rerun the set, or write "
            f"'produced by commit {commit} (older code)' in the paragraph that names {name}"
        )
    return problems


def doc_problems(doc: Path, provenances: dict, committed: dict, root: Path = ROOT) -> list[str]:
    """Problems of every set that `doc` names (a set's own README, inside it, describes it)."""
    spellings = {
        set_dir: _set_spelling(set_dir, doc, root) for set_dir in provenances if not doc.is_relative_to(set_dir)
    }
    text = doc.read_text()
    marks = older_markers(text, spellings)
    where = doc.relative_to(root).as_posix()
    return [
        problem
        for set_dir, spelling in spellings.items()
        if spelling.search(text)
        for problem in quote_problems(
            where, set_dir.relative_to(root).as_posix(), provenances[set_dir], committed, marks.get(set_dir, [])
        )
    ]


def result_set_problems(root: Path = ROOT, committed: dict | None = None) -> list[str]:
    """Every result set without a valid provenance, and every stale quote left unmarked.
    `committed`: the fingerprints the code has (default: root's acai_repro/provenance/fingerprints.json)."""
    committed = committed or read_committed(root / FINGERPRINTS_PATH.relative_to(ROOT))
    problems, provenances = [], {}
    for set_dir in result_sets(root):
        try:
            provenances[set_dir] = read_provenance(set_dir)
        except ValueError as error:
            problems.append(str(error))
    for doc in docs(root):
        problems.extend(doc_problems(doc, provenances, committed, root))
    return problems
