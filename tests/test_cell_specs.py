"""The resolved spec of every Table 1-3 cell is what it was before models carried their own
options: same content, same key order, same resume digest (no cell reruns, no resume lost).

tests/data/cell_specs.json was written by `python tests/test_cell_specs.py` at the commit
before that change (its provenance: tests/data/README.md).
"""

import hashlib
import json
import sys
from pathlib import Path

import pytest

from acai_repro.config import cell_spec, spec_digest
from acai_repro.grid import TABLES, load_grid_config, target_cells

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


@pytest.mark.parametrize("layers", list(LAYERS))
def test_every_table_cell_keeps_its_resolved_spec(layers):
    recorded = json.loads(RECORDED.read_text())[layers]
    now = spec_digests(LAYERS[layers])
    assert list(now) == list(recorded), "the cells of Tables 1-3 (or their order) changed"
    changed = [name for name in recorded if now[name] != recorded[name]]
    assert not changed, f"resolved spec changed for {len(changed)} cells, e.g. {changed[:3]}"


def test_a_changed_option_changes_the_recorded_digest():
    # The comparison above can fail: one option off its default moves every digest of that model.
    config = load_grid_config([])
    config["models"]["acai"]["gamma"] = 0.3
    spec = cell_spec(config, "lines", "acai", 64, 0)
    recorded = json.loads(RECORDED.read_text())["config.yaml"]["lines/acai/dz64/seed0"]
    assert spec_digest(spec) != recorded["resume"]


if __name__ == "__main__":
    RECORDED.write_text(json.dumps({name: spec_digests(layers) for name, layers in LAYERS.items()}, indent=1) + "\n")
    print(f"wrote {RECORDED}", file=sys.stderr)
