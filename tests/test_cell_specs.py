"""The resolved spec of every Table 1-3 cell is what it was before models carried their own
options: same content, same key order, same resume digest (no cell reruns, no resume lost).

tests/data/cell_specs.json was written by `python tests/test_cell_specs.py` at the commit
before that change (its provenance: tests/data/README.md). Only the cells it recorded are
compared: a model added since brings cells of its own, which have nothing to keep.
"""

import hashlib
import json
import sys
from pathlib import Path

import pytest

from acai_repro.config import cell_spec, spec_digest
from acai_repro.grid_cells import TABLES, load_grid_config, target_cells

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "data" / "cell_specs.json"
# The configurations whose cells are recorded: the paper's, and each reduced scale on it.
LAYERS = {
    "config.yaml": [],
    "config.yaml+quick.yaml": ["config/quick.yaml"],
    "config.yaml+smoke.yaml": ["config/smoke.yaml"],
}


def spec_digests(overlays: list[str]) -> dict[str, dict[str, str]]:
    """Per cell of Tables 1-3: the resume digest and a digest of the spec in its key order."""
    config = load_grid_config([str(ROOT / f) for f in overlays])
    digests = {}
    for cell in target_cells(config, list(TABLES)):
        spec = cell_spec(config, cell.dataset, cell.model, cell.dz, cell.seed)
        ordered = hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]
        digests[cell.name] = {"resume": spec_digest(spec), "ordered": ordered}
    return digests


REFRESH = (
    "if the change means to move them (every such cell then trains again from nothing), rewrite "
    f"{RECORDED.relative_to(ROOT)} with `python tests/test_cell_specs.py` and say why in tests/data/README.md"
)


def spec_problems(recorded: dict, now: dict) -> list[str]:
    """How the recorded cells differ now: gone, reordered, or resolving to another spec.
    Cells that were not recorded (a new model's) are not compared."""
    gone = [name for name in recorded if name not in now]
    if gone:
        return [f"{len(gone)} recorded cells are no longer cells of Tables 1-3, e.g. {gone[:3]}; {REFRESH}"]
    order = [name for name in now if name in recorded]
    if order != list(recorded):
        moved = next(i for i, (a, b) in enumerate(zip(order, recorded)) if a != b)
        return [
            f"the recorded cells come in another order: {order[moved]} where {list(recorded)[moved]} was; {REFRESH}"
        ]
    changed = [name for name in recorded if now[name] != recorded[name]]
    if changed:
        return [f"resolved spec changed for {len(changed)} cells, e.g. {changed[:3]}; {REFRESH}"]
    return []


@pytest.mark.parametrize("layers", list(LAYERS))
def test_every_recorded_table_cell_keeps_its_resolved_spec(layers):
    recorded = json.loads(RECORDED.read_text())[layers]
    problems = spec_problems(recorded, spec_digests(LAYERS[layers]))
    assert not problems, problems[0]


def test_only_recorded_cells_are_compared_and_each_difference_is_named():
    a, b, c = ({"resume": digest, "ordered": digest} for digest in ("1", "2", "3"))
    recorded = {"lines/x/dz64/seed0": a, "lines/y/dz64/seed0": b}
    assert spec_problems(recorded, {**recorded, "lines/new/dz64/seed0": c}) == []
    (gone,) = spec_problems(recorded, {"lines/x/dz64/seed0": a})
    assert "1 recorded cells are no longer cells" in gone and "python tests/test_cell_specs.py" in gone, gone
    (reordered,) = spec_problems(recorded, {"lines/y/dz64/seed0": b, "lines/x/dz64/seed0": a})
    assert "another order: lines/y/dz64/seed0 where lines/x/dz64/seed0 was" in reordered, reordered
    (changed,) = spec_problems(recorded, {"lines/x/dz64/seed0": a, "lines/y/dz64/seed0": c})
    assert "changed for 1 cells, e.g. ['lines/y/dz64/seed0']" in changed, changed


def test_a_changed_option_changes_the_recorded_digest():
    # The comparison above can fail: one option off its default moves every digest of that model.
    config = load_grid_config([])
    config["models"]["acai"]["gamma"] = 0.3
    spec = cell_spec(config, "lines", "acai", 64, 0)
    recorded = json.loads(RECORDED.read_text())["config.yaml"]["lines/acai/dz64/seed0"]
    assert spec_digest(spec) != recorded["resume"], "an option off its default kept the recorded resume digest"


if __name__ == "__main__":
    RECORDED.write_text(json.dumps({name: spec_digests(layers) for name, layers in LAYERS.items()}, indent=1) + "\n")
    print(f"wrote {RECORDED}", file=sys.stderr)
