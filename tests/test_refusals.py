"""Values that passed validation and crashed a job after training (or trained on the test set):
each refused when the config is checked, naming the key and the bound, before any job."""

import subprocess
import sys

import numpy as np
import pytest

from acai_repro.config import ConfigError, load_config
from acai_repro.data import ImageSource, LabelError
from acai_repro.data.prepare import write_h5
from tests.conftest import ROOT

PAPER, SMOKE = ROOT / "config" / "config.yaml", ROOT / "config" / "smoke.yaml"

# (overlay on the smoke scale, the key the error names, the bound or rule it states)
REFUSED = [
    (
        "table2: {cells: [[mnist, 32], [mnist, 32]]}",
        "'table2.cells.1'",
        "row [mnist, 32] is written twice (first as table2.cells.0)",
    ),
    ("datasets: {mnist: {colors: 3}}", "'datasets.mnist.colors'", "idx data (data.sources.mnist.format) has 1 colour"),
    ("datasets: {svhn: {classes: 5}}", "'datasets.svhn.classes'", "classes must be at least 10"),
    ("clustering: {k: 600}", "'clustering.k'", "more than the 512 examples K-Means fits on mnist"),
    ("datasets: {mnist: {max_examples: 5}}", "'clustering.k'", "k must be at most 5"),
    ("figures: {image_pairs: [[0, 100000]]}", "'figures.image_pairs.0'", "indices must be below 512"),
    ("seeds: [10000000000000]\nfigures: {seed: 10000000000000}", "'seeds.0'", "greater than the maximum of 4294967295"),
    ("seeds: [0, 99999999999999999999]", "'seeds.1'", "greater than the maximum of 4294967295"),
    (
        "datasets: {mnist: {train_splits: [train, test]}}",
        "'datasets.mnist.train_splits.1'",
        "'test' is the test split (datasets.mnist.test_split)",
    ),
    ("datasets: {mnist: {train_splits: [train, train]}}", "'datasets.mnist.train_splits.1'", "'train' is listed twice"),
    ("clustering: {k: 70000}", "'clustering.k'", "more than clustering.train_limit = 60000"),
    # a train-only or one-class dataset as a Table 2-3 row: every model trained, 100.0 everywhere
    (
        "table2: {cells: [[celeba, 32]]}",
        "'table2.cells.0'",
        (
            "celeba has no test split apart from its training images (splits: train), so its accuracy and clustering "
            "would be measured on training data; Table 2-3 rows take mnist, svhn, cifar10 (celeba makes figures only)"
        ),
    ),
    ("table3: {cells: [[mnist, 32], [celeba, 64]]}", "'table3.cells.1'", "celeba has no test split apart"),
    (
        "datasets: {mnist: {classes: 1}}",
        "'table2.cells.0'",
        "mnist has 1 class (datasets.mnist.classes), so every accuracy and clustering score would read 100",
    ),
    # TF32 is cuDNN's: on the CPU the cells would retrain for identical numbers
    (
        "device: cpu\ntraining: {conv_tf32: true}",
        "'training.conv_tf32'",
        (
            "true, but device: cpu; TF32 convolutions exist on CUDA only (the CPU computes float32 either way): "
            "set training.conv_tf32: false, or device: cuda"
        ),
    ),
    # a rule no cell can meet: the tables failed after all training
    (
        "tables: {report_rule: {last: 300, of: 256}}",
        "'tables.report_rule.last'",
        "300 of 256 is more than all of a cell's evaluations; last must be at most of (256)",
    ),
]


def _overlay(tmp_path, text, name="overlay.yaml"):
    path = tmp_path / name
    path.write_text(text + "\n")
    return path


@pytest.mark.parametrize("text,key,bound", REFUSED, ids=[r[0][:40] for r in REFUSED])
def test_a_value_that_crashed_a_job_is_refused_naming_key_and_bound(tmp_path, text, key, bound):
    with pytest.raises(ConfigError) as error:
        load_config(PAPER, SMOKE, _overlay(tmp_path, text))
    assert f"config key {key}" in str(error.value), str(error.value)
    assert bound in str(error.value), str(error.value)


def test_the_shipped_scales_and_celebas_figures_only_split_stay_valid():
    """CelebA has one split (no labels): its cells train and are shown on it, for figures only."""
    for scale in ("config.yaml", "quick.yaml", "smoke.yaml", "gpu-quick.yaml"):
        config = load_config(PAPER, ROOT / "config" / scale)
        assert config["datasets"]["celeba"]["test_split"] in config["datasets"]["celeba"]["train_splits"]


def _prepared(path, labels_up_to, test_size):
    splits = {
        split: (np.zeros((n, 32, 32, 1), np.uint8), np.arange(n, dtype=np.int64) % (labels_up_to + 1))
        for split, n in (("train", 20), ("test", test_size))
    }
    write_h5(path, splits, {"dataset": "mnist"})


def test_the_refused_rows_and_settings_have_valid_neighbours(tmp_path):
    """Each refusal above is of the value, not of the key: its sensible neighbour stays valid."""
    for text in (
        "table3: {cells: [[mnist, 32], [svhn, 64]]}",
        "datasets: {mnist: {classes: 2}}",
        "device: cuda\ntraining: {conv_tf32: true}",
        "device: cpu\ntraining: {conv_tf32: false}",
        "tables: {report_rule: {last: 256, of: 256}}",
    ):
        assert load_config(PAPER, SMOKE, _overlay(tmp_path, text)), text


def test_a_prepared_dataset_bounds_classes_and_figure_pairs(tmp_path):
    """With the data prepared, its labels bound `classes` and its test set the figure pairs."""
    (tmp_path / "data").mkdir()
    _prepared(tmp_path / "data" / "mnist.h5", labels_up_to=9, test_size=12)
    data = f"data: {{data_dir: {tmp_path / 'data'}}}\n"
    with pytest.raises(
        ConfigError,
        match=r"'datasets.mnist.classes': 5, but .*mnist.h5 has labels up to 9: classes must be at least 10",
    ):
        load_config(PAPER, SMOKE, _overlay(tmp_path, data + "datasets: {mnist: {classes: 5}}"))
    with pytest.raises(
        ConfigError, match=r"'figures.image_pairs.0': \[0, 12\] names test image 12, .*indices must be below 12"
    ):
        load_config(PAPER, SMOKE, _overlay(tmp_path, data + "figures: {image_pairs: [[0, 12]]}"))
    assert load_config(PAPER, SMOKE, _overlay(tmp_path, data + "figures: {image_pairs: [[0, 11]]}"))


def test_a_training_job_refuses_labels_beyond_classes_before_its_first_step(tmp_path):
    _prepared(tmp_path / "mnist.h5", labels_up_to=9, test_size=12)
    data = {"path": tmp_path / "mnist.h5", "train_splits": ["train"], "test_split": "test"}
    with pytest.raises(LabelError, match="'datasets.mnist.classes': 5, but .* has labels up to 9"):
        ImageSource(data, "cpu", classes=5, dataset="mnist")
    assert len(ImageSource(data, "cpu", classes=10, dataset="mnist").train_labels) == 20


def test_results_dir_naming_a_file_or_a_dangling_link_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("a file\n")
    with pytest.raises(ConfigError, match="'results_dir': notes.txt is an existing file, not a folder"):
        load_config(PAPER, SMOKE, _overlay(tmp_path, "results_dir: notes.txt"))
    with pytest.raises(ConfigError, match="'results_dir': notes.txt is an existing file"):
        load_config(PAPER, SMOKE, _overlay(tmp_path, "results_dir: notes.txt/smoke"))
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(
        ConfigError, match=f"'results_dir': link is a symbolic link to {tmp_path / 'gone'}, which does not exist"
    ):
        load_config(PAPER, SMOKE, _overlay(tmp_path, "results_dir: link"))


def _snakemake(tmp_path, *args):
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path / "work"),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_device_cuda_without_cuda_is_refused_before_any_job(tmp_path):
    overlay = _overlay(tmp_path, "device: cuda")
    result = _snakemake(
        tmp_path, "--configfile", str(SMOKE), str(overlay), "--", "results/smoke/lines/acai/dz64/seed0/metrics.json"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "config key 'device': cuda, but this machine has no CUDA device" in output, output[-2000:]
    assert not (tmp_path / "work" / "results").exists(), "a job ran before the refusal"


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_refusals_reach_snakemake_before_any_job(tmp_path):
    overlay = _overlay(tmp_path, "datasets: {mnist: {train_splits: [train, test]}}")
    result = _snakemake(tmp_path, "-n", "--configfile", str(SMOKE), str(overlay), "--", "results/smoke/table2.tex")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "invalid configuration: config key 'datasets.mnist.train_splits.1'" in output, (
        output[-2000:]
    )
    assert "Traceback" not in output


def test_an_exponent_without_a_decimal_point_is_explained(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(PAPER, SMOKE, _overlay(tmp_path, "training: {learning_rate: 1e-4}"))
    assert "config key 'training.learning_rate': '1e-4' is not of type number" in str(error.value)
    assert "YAML 1.1 reads 1e-4 as a string (an exponent needs a decimal point): write 1.0e-4" in str(error.value)
    assert (
        load_config(PAPER, SMOKE, _overlay(tmp_path, "training: {learning_rate: 1.0e-4}"))["training"]["learning_rate"]
        == 1e-4
    )


def test_an_empty_source_path_is_refused_not_read_as_download(tmp_path):
    with pytest.raises(ConfigError, match="'data.sources.mnist.path': empty; give the local folder .* or null"):
        load_config(PAPER, SMOKE, _overlay(tmp_path, "data: {sources: {mnist: {path: ''}}}"))
    assert load_config(PAPER, SMOKE, _overlay(tmp_path, "data: {sources: {mnist: {path: null}}}"))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_tf32_where_the_jobs_would_run_on_the_cpu_is_refused_before_any_job(tmp_path):
    """device: auto falls back to the CPU here: TF32 there is refused as the run starts."""
    overlay = _overlay(tmp_path, "device: auto\ntraining: {conv_tf32: true}")
    result = _snakemake(
        tmp_path, "--configfile", str(SMOKE), str(overlay), "--", "results/smoke/lines/acai/dz64/seed0/metrics.json"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "config key 'training.conv_tf32': true, but this machine has no CUDA device" in output, output[-2000:]
    assert not (tmp_path / "work" / "results").exists(), "a job ran before the refusal"


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_configfile_written_from_the_directory_folder_fails_in_snakemake_as_documented(tmp_path):
    """Snakemake reads --configfile from the folder it is run in, before --directory applies and
    before any of the workflow's code: config/README.md says so and what to write instead."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(ROOT),
        "--configfile",
        "config/smoke.yaml",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "FileNotFoundError" in output and "'config/smoke.yaml'" in output, output[-2000:]
    readme = (ROOT / "config" / "README.md").read_text()
    assert "Snakemake\nreads `--configfile` paths from the folder you run it in" in readme
    absolute = subprocess.run(
        [*command[:-1], str(ROOT / "config" / "smoke.yaml"), "--", "results/smoke/lines/acai/dz64/seed0/spec.json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert absolute.returncode == 0, absolute.stderr[-2000:]
