"""Per-scale results roots and the spec a cell records (acai_repro.results)."""

import json
import re

import pytest

from acai_repro.config import DATASET_NAME, cell_spec, load_config, spec_digest, with_run_settings
from acai_repro.results import (
    SPEC_FILE,
    dataset_pattern,
    nested_roots,
    scale_roots,
    spec_differences,
    write_started_spec,
)
from tests.conftest import ROOT

CONFIGS = ROOT / "config"


def _matches(pattern: str, name: str, after: str = "/lines") -> bool:
    return re.fullmatch(f"results/(?P<dataset>{pattern}){re.escape(after)}", f"results/{name}{after}") is not None


def test_every_shipped_scale_has_its_own_results_dir_and_name():
    configs = {
        path.stem: load_config(CONFIGS / "config.yaml", path)
        for path in CONFIGS.glob("*.yaml")
        if path.name != "schema.yaml"
    }
    roots = [c["results_dir"] for c in configs.values()]
    names = [c["scale_name"] for c in configs.values()]
    assert len(set(roots)) == len(roots) and len(set(names)) == len(names), configs.keys()
    assert configs["config"]["results_dir"] == "results" and configs["config"]["scale_name"] == "paper"
    assert configs["quick"]["results_dir"] == "results/quick" and configs["smoke"]["results_dir"] == "results/smoke"
    assert sorted(scale_roots()) == sorted(roots)


def test_nested_roots_are_the_first_folder_of_the_scales_inside_a_root():
    roots = ["results", "results/quick", "results/smoke/", "./results/gpu-quick", "elsewhere/x", "results/deep/er"]
    assert nested_roots("results", roots) == ["deep", "gpu-quick", "quick", "smoke"]
    assert nested_roots("results/quick", roots) == []
    assert nested_roots("elsewhere", roots) == ["x"]


def test_another_scales_root_is_never_a_dataset_of_the_enclosing_scale():
    paper = dataset_pattern("results", ["results", "results/quick", "results/gpu-quick"])
    assert not _matches(paper, "quick") and not _matches(paper, "gpu-quick")
    for name in ("mnist", "lines", "my-mnist", "quickdraw", "quick_x", "gpu"):
        assert _matches(paper, name), name
    assert _matches(paper, "quick", after="_dz64.png")  # not a folder there: a plain name
    assert dataset_pattern("results/quick", ["results", "results/quick"]) == DATASET_NAME


@pytest.fixture
def quick():
    return load_config(CONFIGS / "config.yaml", CONFIGS / "quick.yaml")


def test_results_dir_and_scale_name_stay_out_of_the_spec_and_its_digest(quick):
    moved = load_config(CONFIGS / "config.yaml", CONFIGS / "quick.yaml")
    moved.update(results_dir="results/elsewhere", scale_name="renamed")
    spec, same = cell_spec(quick, "lines", "acai", 64, 0), cell_spec(moved, "lines", "acai", 64, 0)
    assert spec == same and "results" not in json.dumps(spec) and "quick" not in json.dumps(spec)
    job, moved_job = with_run_settings(spec, quick), with_run_settings(same, moved)
    assert job["scale_name"] == "quick" and moved_job["scale_name"] == "renamed"
    assert spec_digest(job) == spec_digest(moved_job) == spec_digest(spec)


def test_spec_differences_name_each_result_setting_that_differs(quick, paper_config):
    spec = with_run_settings(cell_spec(quick, "lines", "acai", 64, 0), quick)
    paper = with_run_settings(cell_spec(paper_config, "lines", "acai", 64, 0), paper_config)
    assert spec_differences(spec, spec) == []
    changes = spec_differences(spec, paper)
    assert "training.total_images 131072 != 16777216" in changes
    assert not any(c.startswith(("device", "scale_name", "training.check_every")) for c in changes), changes
    other = json.loads(json.dumps(spec))
    del other["model_options"]["gamma"]
    other["model_options"]["lambda"] = 0.25
    assert spec_differences(other, spec) == ["model_options.gamma (absent) != 0.2", "model_options.lambda 0.25 != 0.5"]


def test_the_started_spec_is_written_whole_with_its_digest(tmp_path, quick):
    spec = with_run_settings(cell_spec(quick, "lines", "vae", 64, 0), quick)
    write_started_spec(tmp_path / "cell", spec)
    record = json.loads((tmp_path / "cell" / SPEC_FILE).read_text())
    assert record == {"spec": spec, "spec_digest": spec_digest(spec)}
    assert [p.name for p in (tmp_path / "cell").iterdir()] == [SPEC_FILE]  # no temporary left


def test_a_broken_file_beside_the_scales_is_no_scale(tmp_path):
    (tmp_path / "quick.yaml").write_text("results_dir: results/quick\n")
    (tmp_path / "broken.yaml").write_text("results_dir: [results/x\n")
    (tmp_path / "schema.yaml").write_text("results_dir: not/a/scale\n")
    (tmp_path / "plain.yaml").write_text("seeds: [0]\n")
    assert scale_roots(tmp_path) == ["results", "results/quick"]
