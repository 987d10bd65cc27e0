"""Every name, path and section the prose cites exists and is what it says.

Read: README.md, docs/*.md, config/README.md, benchmarks/README.md, the comments of the config
files and the docstrings of every module of the package. Checked:
- a dotted name in backticks (`train.build_run`, `acai_repro.models.MODELS`,
  `tables.report_rule`) resolves to code in the package (module, then attributes), to a key
  of the config schema or to a key of a cell's spec; names of other libraries (`torch.compile`, `np.std`) are not ours;
- a file path in backticks or a Markdown link that starts in one of the repository's own
  folders exists;
- a section cited as "docs/protocol.md §N" or "protocol §N" is a numbered heading of
  docs/protocol.md, and nothing cites the specification's own numbering ("PROTOCOL §N",
  whose sections differ from the page the repository carries).
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
from pathlib import Path

import pytest

from acai_repro.config import DEFAULT_CONFIG, cell_spec, load_config, load_schema, with_run_settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "acai_repro"
OWN_FOLDERS = ("acai_repro", "benchmarks", "config", "docs", "profiles", "report", "rules", "scripts", "tests")
# Output files and folders the prose names as a run writes them (results/...), not repository files.
OUTPUT_ROOTS = ("results",)
FILE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".smk", ".sh", ".csv", ".json", ".txt", ".tex", ".npz", ".toml", ".cfg")
# Libraries whose dotted names the prose quotes (`torch.compile`, `np.std`).
FOREIGN = {
    "torch",
    "np",
    "numpy",
    "tf",
    "pd",
    "pandas",
    "sklearn",
    "scipy",
    "snakemake",
    "h5py",
    "os",
    "sys",
    "math",
    "pooch",
    "lib",
    "jax",
    "cudnn",
    "cublas",
    "pytest",
    "itertools",
    "functools",
    "typing",
    "dataclasses",
    "json",
    "hashlib",
    "random",
    "signal",
    "subprocess",
    "pathlib",
    "matplotlib",
    "plt",
    "yaml",
    "jsonschema",
    "fcntl",
    "contextlib",
    "collections",
    "shutil",
    "time",
    "ruff",
    "pip",
    "nvidia",
    "cuda",
}

# Files a page tells the reader to create.
TO_BE_CREATED = {"acai_repro/models/betavae.py"}
# Wrong on purpose: the page shows it as the typo the schema rejects.
SHOWN_AS_WRONG = {"models.acai.lamda"}

DOTTED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\(\))?`")
BACKTICKED = re.compile(r"`([^`\s]+)`")
MD_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
SECTION = re.compile(r"(?:docs/protocol\.md|protocol)\s*§\s*(\d+)", re.IGNORECASE)
SPEC_SECTION = re.compile(r"PROTOCOL(?:\.md)?\s*§")


def prose_files() -> list[Path]:
    pages = [ROOT / "README.md", ROOT / "config" / "README.md", ROOT / "benchmarks" / "README.md"]
    return pages + sorted((ROOT / "docs").glob("*.md"))


def config_comments() -> dict[str, str]:
    texts = {}
    for path in sorted((ROOT / "config").glob("*.yaml")):
        lines = [line.split("#", 1)[1] for line in path.read_text().splitlines() if "#" in line]
        texts[str(path.relative_to(ROOT))] = "\n".join(lines)
    return texts


def module_docstrings() -> dict[str, str]:
    texts = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        tree = ast.parse(path.read_text())
        docs = [
            ast.get_docstring(node)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]
        texts[str(path.relative_to(ROOT))] = "\n".join(doc for doc in docs if doc)
    return texts


def all_texts() -> dict[str, str]:
    texts = {str(path.relative_to(ROOT)): path.read_text() for path in prose_files()}
    texts.update(config_comments())
    texts.update(module_docstrings())
    return texts


def package_modules() -> set[str]:
    """Every importable module of the package, by its dotted name under the package."""
    names = set()
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = path.relative_to(ROOT / PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names.add(".".join(parts))
    return names


def schema_resolves(parts: list[str], schema: dict) -> bool:
    """Whether a dotted config key names a property of the schema (maps with free keys, such as
    `datasets.mnist`, accept any key at that level); `definitions.x` names a definition."""
    if parts[0] == "definitions":
        return len(parts) == 2 and parts[1] in schema["definitions"]
    node = schema
    for part in parts:
        node = resolve_ref(node, schema)
        props = node.get("properties", {})
        if part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        elif isinstance(node.get("patternProperties"), dict) and node["patternProperties"]:
            node = next(iter(node["patternProperties"].values()))
        else:
            return False
    return True


@functools.cache
def example_spec() -> dict:
    """One real-data cell's spec with its run settings, read once."""
    config = load_config(DEFAULT_CONFIG)
    return with_run_settings(cell_spec(config, "mnist", "acai", 32, 0), config)


def spec_resolves(parts: list[str]) -> bool:
    """Whether a dotted name is a key of a cell's spec (spec.json, model.pt), run settings
    included: `data.content`, `data.path`."""
    node = example_spec()
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def resolve_ref(node: dict, schema: dict) -> dict:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def module_named(name: str, modules: set[str]) -> str | None:
    """The package's module that `name` names: its full dotted name under the package, or the
    tail of exactly one module's name (`clustering` for `metrics.clustering`)."""
    if name in modules:
        return name
    tails = [module for module in modules if module.endswith("." + name)]
    return tails[0] if len(tails) == 1 else None


def code_resolves(parts: list[str], modules: set[str]) -> bool:
    """Whether `a.b.c` (optionally prefixed by the package) is a module of the package followed by
    attributes that exist on it."""
    if parts[0] == PACKAGE:
        parts = parts[1:]
        if not parts:
            return True
    for cut in range(len(parts), 0, -1):
        module = module_named(".".join(parts[:cut]), modules)
        if module:
            obj = importlib.import_module(f"{PACKAGE}.{module}")
            for attr in parts[cut:]:
                if not hasattr(obj, attr):
                    return False
                owner, obj = obj, getattr(obj, attr)
            # A function or class is cited where it is defined, not where another module imports it.
            defined_in = getattr(obj, "__module__", None) if parts[cut:] and callable(obj) else None
            return defined_in is None or defined_in == f"{PACKAGE}.{module}" or not isinstance(owner, type(importlib))
    return False


def unresolved_dotted_names(text: str, modules: set[str], schema: dict) -> list[str]:
    top_modules = {part for name in modules for part in name.split(".")}
    config_keys = set(schema["properties"]) | {"definitions"}
    bad = []
    for name in DOTTED.findall(text):
        parts = name.split(".")
        if name.endswith(FILE_SUFFIXES) or "." + parts[-1] in (".pt", ".h5", ".jsonl", ".ipynb", ".png", ".pdf"):
            continue  # a file name, checked as a path where it has a folder
        if parts[0] in FOREIGN or name in SHOWN_AS_WRONG:
            continue
        ours = parts[0] == PACKAGE or parts[0] in top_modules or parts[0] in config_keys
        if not ours:
            continue
        as_config = parts[0] in config_keys and schema_resolves(parts, schema)
        # A model's option, written under its model's name (`vae.beta` for `models.vae.beta`).
        as_option = parts[0] in schema["properties"]["models"].get("properties", {}) and schema_resolves(
            ["models", *parts], schema
        )
        if not (code_resolves(parts, modules) or as_config or as_option or spec_resolves(parts)):
            bad.append(name)
    return bad


def cited_paths(text: str, page: Path) -> list[tuple[str, Path]]:
    """(as written, where it points) for every repository path the text cites."""
    paths = []
    for token in BACKTICKED.findall(text):
        token = token.rstrip(".,:;")
        first = token.split("/", 1)[0]
        if "/" in token and first in OWN_FOLDERS and not any(c in token for c in "*{}<>$[]"):
            paths.append((token, ROOT / token.split("::")[0]))
    if page.suffix == ".md":
        for target in MD_LINK.findall(text):
            if "://" in target or target.startswith("mailto:") or any(c in target for c in "*{}<>$"):
                continue
            paths.append((target, (page.parent / target)))
    return paths


def protocol_sections() -> set[str]:
    text = (ROOT / "docs" / "protocol.md").read_text()
    return set(re.findall(r"^## (\d+)\.", text, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def texts():
    return all_texts()


def test_every_dotted_name_resolves(texts):
    modules = package_modules()
    schema = load_schema()
    bad = {where: names for where, text in texts.items() if (names := unresolved_dotted_names(text, modules, schema))}
    assert not bad, f"names that are neither code of the package nor a config key: {bad}"


def test_every_cited_path_exists(texts):
    bad = {}
    for where, text in texts.items():
        missing = [
            written
            for written, target in cited_paths(text, ROOT / where)
            if not target.exists() and not written.startswith(OUTPUT_ROOTS) and written not in TO_BE_CREATED
        ]
        if missing:
            bad[where] = missing
    assert not bad, f"paths cited but absent from the repository: {bad}"


def test_every_protocol_section_exists(texts):
    sections = protocol_sections()
    assert len(sections) >= 6, f"docs/protocol.md has numbered sections {sorted(sections)}"
    bad = {where: cited for where, text in texts.items() if (cited := sorted(set(SECTION.findall(text)) - sections))}
    assert not bad, f"sections of docs/protocol.md cited but absent (it has {sorted(sections)}): {bad}"
    spec = {where: len(SPEC_SECTION.findall(text)) for where, text in texts.items() if SPEC_SECTION.search(text)}
    assert not spec, f"cite docs/protocol.md §N, the page the repository carries, not PROTOCOL §N: {spec}"


def test_the_checks_catch_what_they_claim():
    """Known-bad citations are caught, known-good ones pass."""
    modules = package_modules()
    schema = load_schema()
    good = "`acai_repro.models.MODELS`, `fastpath.accelerate`, `tables.report_rule`, `torch.compile`"
    assert unresolved_dotted_names(good, modules, schema) == []
    bad = "`train.build_run`, `fastpath.no_such_function`, `training.no_such_key`"
    assert unresolved_dotted_names(bad, modules, schema) == [
        "train.build_run",
        "fastpath.no_such_function",
        "training.no_such_key",
    ]
    cited = cited_paths("see `docs/nowhere.md` and [x](gpu.md)", ROOT / "docs" / "page.md")
    assert [(w, t.exists()) for w, t in cited] == [("docs/nowhere.md", False), ("gpu.md", True)]
    assert SECTION.findall("docs/protocol.md §6 and protocol §42") == ["6", "42"]
