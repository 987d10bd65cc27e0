"""Bit fingerprints of training, and the commit and fingerprint every committed result set records."""

import json
import math

import pytest
import torch

from acai_repro.provenance import doc_quotes
from acai_repro.provenance import fingerprint as fp

CURRENT_MODELS = {"a": "1" * 16, "b": "2" * 16}  # the code's fingerprints in the small trees below
CURRENT = fp.set_fingerprint(CURRENT_MODELS)
OLDER = "fedcba9876543210"


def table(models: dict, platform: str = fp.LEGACY_PLATFORM) -> dict:
    """A fingerprints.json table holding `models` for one platform."""
    return {fp.PLATFORMS_KEY: {platform: {"set": fp.set_fingerprint(models), "models": models}}}


COMMITTED = table(CURRENT_MODELS)


@pytest.fixture(scope="module")
def committed():
    return fp.read_committed()


@pytest.fixture(scope="module")
def computed():
    """Every registered model's fingerprint, trained once for the module."""
    return fp.compute_fingerprints()


def _this_platform(committed) -> dict:
    """This platform's entry. On a platform the file does not know the comparison is skipped,
    not passed: a skip says in the summary (pytest -rs) that nothing was compared, and how to
    record this platform; a pass would claim a check that did not happen."""
    entry = fp.platform_entry(committed, fp.platform_key())
    if entry is None:
        pytest.skip(
            f"{fp.FINGERPRINTS_PATH.name} holds no fingerprints of this platform ({fp.platform_key()}): "
            "the CPU's own kernels may round differently, so there is nothing to compare with. Record them "
            f"with `{fp.WRITE_COMMAND}` (it changes no other platform's entry; docs/fingerprints.md)"
        )
    return entry


def _assert_not_moved(entry: dict, computed: dict) -> None:
    # A model the file does not record yet (a new one) has nothing to match: `--write` adds it.
    moved = fp.moved_models(entry["models"], computed)
    assert not moved, (
        f"training bits moved for: {', '.join(moved)} (committed: {fp.FINGERPRINTS_PATH}). If the change is meant "
        f"to move them, rewrite the file with `{fp.WRITE_COMMAND}` and, in the same change, rerun every committed "
        "result set the README or docs quote as current, or mark it as produced by an older commit "
        "(docs/fingerprints.md)"
    )


# --- the committed fingerprints ---


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_committed_fingerprints_match_the_code(committed, computed):
    _assert_not_moved(_this_platform(committed), computed)


def test_moved_bits_on_a_known_platform_fail_naming_the_models(computed):
    entry = {"models": dict(computed)}  # a platform whose entry holds what this code computes
    moved = dict(computed, acai="0" * fp.LENGTH)  # as if a change had moved ACAI's training bits
    with pytest.raises(AssertionError, match="training bits moved for: acai "):
        _assert_not_moved(entry, moved)


def test_an_unknown_platform_is_skipped_saying_how_to_record_it(committed, monkeypatch):
    monkeypatch.setattr(
        fp, "platform_key", lambda record=None: "torch 9.9, x86_64, AVX512, GenuineIntel Xeon (family 6, model 143)"
    )
    with pytest.raises(pytest.skip.Exception) as skipped:
        _this_platform(committed)
    message = str(skipped.value)
    assert "no fingerprints of this platform (torch 9.9, x86_64, AVX512, GenuineIntel Xeon" in message, message
    assert f"`{fp.WRITE_COMMAND}`" in message, message


def test_committed_file_records_registered_models_and_their_set_fingerprint(committed):
    assert committed["command"] == fp.WRITE_COMMAND
    for key, entry in committed[fp.PLATFORMS_KEY].items():
        retired = fp.retired_models(entry["models"])
        assert not retired, (
            f"{fp.FINGERPRINTS_PATH} records unregistered models {retired} for {key}: `{fp.WRITE_COMMAND}`"
        )
        assert entry["set"] == fp.set_fingerprint(entry["models"]), f"{key}: 'set' is not the set of 'models'"
        assert key == fp.platform_key(entry), f"entry {key!r} names the platform {fp.platform_key(entry)!r}"
    paper = {"baseline", "denoising", "vae", "aae", "vqvae", "acai"}
    assert any(paper <= set(entry["models"]) for entry in committed[fp.PLATFORMS_KEY].values()), (
        f"no platform records every paper model: {committed[fp.PLATFORMS_KEY]}"
    )


def test_fingerprint_moves_when_training_changes(computed):
    spec = fp.fingerprint_spec(fp.fingerprint_config(), "baseline")
    spec["training"]["learning_rate"] *= 1.5
    assert fp.model_fingerprint(spec) != computed["baseline"]


def test_fingerprints_are_short_hex_and_differ_between_models(computed):
    assert all(len(value) == fp.LENGTH and int(value, 16) >= 0 for value in computed.values())
    assert len(set(computed.values())) == len(computed)


# --- its parts ---


def _state():
    return {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(3), "n": torch.tensor(5)}


def test_weights_digest_moves_with_a_single_bit():
    state = _state()
    flipped = _state()
    flipped["w"].view(torch.int32)[1, 2] ^= 1  # the lowest bit of one float
    assert fp.weights_digest(flipped) != fp.weights_digest(state)
    assert fp.weights_digest(state) == fp.weights_digest(_state())


def test_weights_digest_ignores_names_and_order_but_not_dtype_or_shape():
    state = _state()
    renamed = {f"module.{name}": tensor for name, tensor in reversed(state.items())}
    assert fp.weights_digest(renamed) == fp.weights_digest(state)
    assert fp.weights_digest({**state, "w": state["w"].double()}) != fp.weights_digest(state)
    assert fp.weights_digest({**state, "w": state["w"].reshape(3, 2)}) != fp.weights_digest(state)


def test_evaluation_text_keeps_full_precision_and_only_reported_values():
    record = {"mean_distance": 0.1, "smoothness": math.nan, "classifier_accuracy": 0.5, "test_recon_mse": 0.25}
    nudged = dict(record, mean_distance=math.nextafter(0.1, 1.0))
    assert fp.evaluation_text(nudged) != fp.evaluation_text(record)
    assert fp.evaluation_text(dict(record, images_per_s=123.0, step=4)) == fp.evaluation_text(record)
    assert "smoothness=nan" in fp.evaluation_text(record)


def test_moved_new_and_retired_models_are_told_apart():
    committed = {"a": "1", "b": "2", "c": "3"}
    assert fp.moved_models(committed, dict(committed)) == []
    computed = {"a": "1", "b": "X", "d": "4"}
    assert fp.moved_models(committed, computed) == ["b"]
    assert fp.new_models(committed, computed) == ["d"]
    assert fp.retired_models({"baseline": "1", "no_such_model": "2"}) == ["no_such_model"]


def test_one_thread_is_restored_afterwards():
    torch.set_num_threads(2)
    with fp.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


# --- one entry per platform ---

HERE = {"torch": "2.13.0+cpu", "machine": "x86_64", "cpu_capability": "AVX512"}
THERE = {"torch": "2.13.0+cpu", "machine": "x86_64", "cpu_capability": "AVX2"}


def test_writing_a_new_platform_keeps_the_others(monkeypatch):
    monkeypatch.setattr(fp, "MODELS", {"a": None, "b": None})
    before = fp.updated_table({}, CURRENT_MODELS, THERE)
    after = fp.updated_table(before, {"a": "3" * 16, "b": "4" * 16}, HERE)
    assert after[fp.PLATFORMS_KEY][fp.platform_key(THERE)] == before[fp.PLATFORMS_KEY][fp.platform_key(THERE)], (
        "recording a platform for the first time changed another platform's entry"
    )
    assert after[fp.PLATFORMS_KEY][fp.platform_key(HERE)]["models"] == {"a": "3" * 16, "b": "4" * 16}


def test_a_model_that_moves_here_is_dropped_on_other_platforms(monkeypatch):
    monkeypatch.setattr(fp, "MODELS", {"a": None, "b": None})
    both = fp.updated_table(fp.updated_table({}, CURRENT_MODELS, THERE), {"a": "3" * 16, "b": "4" * 16}, HERE)
    moved = fp.updated_table(both, {"a": "3" * 16, "b": "9" * 16}, HERE)
    there = moved[fp.PLATFORMS_KEY][fp.platform_key(THERE)]
    assert there["models"] == {"a": CURRENT_MODELS["a"]}, f"b moved here but {there['models']} is still recorded there"
    assert there["set"] == fp.set_fingerprint(there["models"])
    monkeypatch.setattr(fp, "MODELS", {"a": None})  # b retired: gone everywhere
    retired = fp.updated_table(moved, {"a": "3" * 16}, HERE)
    assert all("b" not in entry["models"] for entry in retired[fp.PLATFORMS_KEY].values()), retired


def test_a_set_is_compared_with_its_own_platform(tmp_path):
    committed = table(CURRENT_MODELS, fp.platform_key(HERE))
    record = {"fingerprint": CURRENT, "models": CURRENT_MODELS}
    assert fp.staleness({**record, "platform": fp.platform_key(HERE)}, committed) is None
    reason = fp.staleness({**record, "platform": fp.platform_key(THERE)}, committed)
    assert reason == f"no fingerprints are committed for its platform ({fp.platform_key(THERE)})", reason
    assert "no fingerprints are committed for its platform (" + fp.LEGACY_PLATFORM in fp.staleness(record, committed)


def test_the_older_single_platform_file_is_read_as_its_platform(tmp_path):
    path = tmp_path / "fingerprints.json"
    path.write_text(json.dumps({"command": fp.WRITE_COMMAND, **THERE, "set": CURRENT, "models": CURRENT_MODELS}))
    entry = fp.platform_entry(fp.read_committed(path), fp.platform_key(THERE))
    assert entry == {**THERE, "cpu": fp.NOT_RECORDED, "set": CURRENT, "models": CURRENT_MODELS}, entry


# --- result sets in this repository ---


def test_quoted_result_sets_match_the_code_or_are_marked_older():
    problems = doc_quotes.result_set_problems()
    assert not problems, "\n".join(problems)


def test_the_known_result_sets_are_found():
    names = {path.relative_to(fp.ROOT).as_posix() for path in fp.result_sets()}
    assert {
        "docs/gpu-quick-results",
        "docs/quick-tables23-results",
        "docs/quick-table1-results",
        "benchmarks/results/h200",
        "benchmarks/results/cpu",
    } <= names


# --- result-set checks on a small tree: known-good and known-bad quotes ---


def _tree(tmp_path, readme: str, fingerprint=OLDER, commit="abc1234", depends_on_training=True, models=None):
    """docs/run-results with its provenance (`models`: per-model fingerprints, else an older
    record with the set fingerprint only) and a README."""
    results = tmp_path / "docs" / "run-results"
    results.mkdir(parents=True)
    provenance = {
        "commit": commit,
        "fingerprint": fp.set_fingerprint(models) if models else fingerprint,
        **({"models": models} if models else {}),
        "depends_on_training": depends_on_training,
        "command": "snakemake ...",
        "date": "2026-11-26",
        "machine": "test",
    }
    (results / fp.PROVENANCE_FILE).write_text(json.dumps(provenance))
    (tmp_path / "README.md").write_text(readme)
    return tmp_path


def _problems(root, committed=COMMITTED):
    return doc_quotes.result_set_problems(root, committed)


QUOTE = "Mean Distance 12.3e-3, from [docs/run-results/](docs/run-results/)."


def test_a_stale_unmarked_quote_fails_saying_what_to_write(tmp_path):
    (problem,) = _problems(_tree(tmp_path, QUOTE))
    assert problem.startswith("README.md quotes docs/run-results, produced by commit abc1234"), problem
    assert "'produced by commit abc1234 (older code)'" in problem and CURRENT in problem, problem


def test_a_stale_quote_marked_with_its_commit_passes(tmp_path):
    readme = f"Produced by commit abc1234 (older code):\n{QUOTE}\n"
    assert _problems(_tree(tmp_path, readme)) == []
    # a full hash of the same commit
    assert _problems(_tree(tmp_path / "full", readme, commit="abc1234" + "0" * 33)) == []


def test_a_marker_elsewhere_in_the_doc_does_not_count(tmp_path):
    readme = f"{QUOTE}\n\nAnother table, produced by commit abc1234 (older code).\n"
    assert len(_problems(_tree(tmp_path, readme))) == 1


def test_a_marker_naming_another_commit_fails(tmp_path):
    problems = _problems(_tree(tmp_path, f"Produced by commit 9999999 (older code): {QUOTE}"))
    assert any("marks docs/run-results as produced by commit 9999999" in p and "abc1234" in p for p in problems)


def test_a_current_set_passes_and_a_marker_on_it_fails(tmp_path):
    assert _problems(_tree(tmp_path / "plain", QUOTE, fingerprint=CURRENT)) == []
    marked = f"Produced by commit abc1234 (older code): {QUOTE}"
    (problem,) = _problems(_tree(tmp_path / "marked", marked, fingerprint=CURRENT))
    assert "drop the marker" in problem


def test_an_unknown_fingerprint_is_stale(tmp_path):
    (problem,) = _problems(_tree(tmp_path, QUOTE, fingerprint=fp.UNKNOWN))
    assert "fingerprint is unknown" in problem, problem


# --- per-model records: a set is stale only when a model it used moved ---


def test_a_set_stays_current_when_a_model_it_did_not_use_moves_or_a_new_one_comes(tmp_path):
    used_a = _tree(tmp_path, QUOTE, models={"a": CURRENT_MODELS["a"]})
    assert _problems(used_a) == []
    b_moved_and_c_new = table({"a": CURRENT_MODELS["a"], "b": "9" * 16, "c": "3" * 16})
    assert _problems(used_a, b_moved_and_c_new) == []


def test_a_set_is_stale_when_a_model_it_used_moved_naming_it(tmp_path):
    root = _tree(tmp_path, QUOTE, models=dict(CURRENT_MODELS))
    (problem,) = _problems(root, table(dict(CURRENT_MODELS, b="9" * 16)))
    assert f"fingerprints moved: b {'2' * 16} then, {'9' * 16} now" in problem and "older code" in problem, problem
    (gone,) = _problems(root, table({"a": CURRENT_MODELS["a"]}))
    assert "b " + "2" * 16 + " then, none committed now" in gone, gone


def test_an_older_record_without_models_compares_the_set_fingerprint(tmp_path):
    assert _problems(_tree(tmp_path / "same", QUOTE, fingerprint=CURRENT)) == []
    (problem,) = _problems(_tree(tmp_path / "other", QUOTE, fingerprint=OLDER))
    assert f"set fingerprint is {OLDER}, the code's is {CURRENT}" in problem, problem


def test_a_models_record_that_disagrees_with_its_set_fingerprint_is_refused(tmp_path):
    root = _tree(tmp_path, QUOTE, models=dict(CURRENT_MODELS))
    path = root / "docs" / "run-results" / fp.PROVENANCE_FILE
    record = json.loads(path.read_text())
    path.write_text(json.dumps(dict(record, models={"a": CURRENT_MODELS["a"]})))
    (problem,) = _problems(root)
    assert "is not the set fingerprint of its 'models'" in problem, problem
    path.write_text(json.dumps(dict(record, models={"a": "xyz"})))
    (problem,) = _problems(root)
    assert "fingerprints of ['a'] are not 16 hex digits" in problem, problem


def test_the_committed_sets_of_known_fingerprint_record_the_models_they_used():
    for set_dir in fp.result_sets():
        record = fp.read_provenance(set_dir)
        if record["fingerprint"] != fp.UNKNOWN:
            assert "models" in record, f"{set_dir}/provenance.json records no per-model fingerprints"
            used = fp.models_in_records(set_dir)
            assert not used or sorted(record["models"]) == used, (
                f"{set_dir}: records {sorted(record['models'])}, its cells used {used}"
            )


def test_timings_only_sets_need_no_marker(tmp_path):
    assert _problems(_tree(tmp_path, QUOTE, depends_on_training=False)) == []


def test_a_doc_naming_the_set_relative_to_itself_quotes_it(tmp_path):
    root = _tree(tmp_path, "nothing quoted here")
    (root / "docs" / "page.md").write_text("Raw outputs: [run-results/](run-results/).\n")
    (problem,) = _problems(root)
    assert problem.startswith("docs/page.md quotes docs/run-results")


def test_the_sets_own_readme_and_unrelated_names_do_not_count(tmp_path):
    root = _tree(tmp_path, "See docs/run-results-old/ and docs/run-results.md.\n")
    (root / "docs" / "run-results" / "README.md").write_text("Raw outputs of the run. Here: .\n")
    assert _problems(root) == []


def test_each_marker_belongs_to_the_set_named_nearest(tmp_path):
    root = _tree(tmp_path, "")
    other = root / "benchmarks" / "results" / "gpu"
    other.mkdir(parents=True)
    provenance = json.loads((root / "docs" / "run-results" / fp.PROVENANCE_FILE).read_text())
    (other / fp.PROVENANCE_FILE).write_text(json.dumps(dict(provenance, commit="def5678")))
    (root / "README.md").write_text(
        "Table: produced by commit abc1234 (older code), docs/run-results/; the GPU cell "
        "(benchmarks/results/gpu/, produced by commit def5678 (older code)).\n"
    )
    assert _problems(root) == []


def test_a_result_set_without_provenance_fails_naming_the_command(tmp_path):
    root = _tree(tmp_path, QUOTE)
    (root / "benchmarks" / "results" / "new").mkdir(parents=True)
    problems = _problems(root)
    assert any("benchmarks/results/new/provenance.json: missing" in p and "--provenance" in p for p in problems)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("fingerprint", "abc", "neither 16 hex digits nor 'unknown'"),
        ("commit", "HEAD", "not a commit hash"),
        ("depends_on_training", "yes", "must be a bool"),
        ("machine", None, "'machine' must be a str"),
    ],
)
def test_a_malformed_provenance_fails_naming_the_key(tmp_path, key, value, message):
    root = _tree(tmp_path, QUOTE)
    path = root / "docs" / "run-results" / fp.PROVENANCE_FILE
    path.write_text(json.dumps(dict(json.loads(path.read_text()), **{key: value})))
    (problem,) = _problems(root)
    assert message in problem and "provenance.json" in problem


def _cell_record(set_dir, model):
    folder = set_dir / "lines" / model / "dz64" / "seed0"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(
        json.dumps({"cell": {"dataset": "lines", "model": model, "dz": 64, "seed": 0}})
    )


def test_write_provenance_records_the_fingerprints_of_the_models_the_set_used(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(
        fp, "compute_fingerprints", lambda models: trained.append(models) or {m: "1" * 16 for m in models}
    )
    for model in ("vae", "baseline"):
        _cell_record(tmp_path, model)
    record = fp.write_provenance(tmp_path, "snakemake x", "abc1234", "here", depends_on_training=True)
    assert trained == [["baseline", "vae"]], f"fingerprinted {trained}, the set's cells used baseline and vae"
    assert record["models"] == {"baseline": "1" * 16, "vae": "1" * 16}
    assert record["platform"] == fp.platform_key(), f"recorded platform {record['platform']!r}, not this one's"
    assert record["fingerprint"] == fp.set_fingerprint(record["models"])
    assert fp.read_provenance(tmp_path) == record
    named = fp.write_provenance(tmp_path, "x", "abc1234", "here", True, models=["acai"])
    assert list(named["models"]) == ["acai"], named


def test_write_provenance_without_records_or_with_an_unknown_model_says_what_to_pass(tmp_path):
    with pytest.raises(ValueError, match="holds no metrics.json: name the models it used with --models"):
        fp.write_provenance(tmp_path, "x", "abc1234", "here", True)
    with pytest.raises(ValueError, match=r"models \['nope'\] are not registered"):
        fp.write_provenance(tmp_path, "x", "abc1234", "here", True, models=["nope"])


def test_a_set_named_at_the_end_of_a_sentence_is_quoted(tmp_path):
    assert len(_problems(_tree(tmp_path, "Raw outputs in docs/run-results.\n"))) == 1


# --- a platform is its torch build and its CPU ---

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512bw avx512_bf16 hypervisor

processor\t: 1
vendor_id\t: AuthenticAMD
"""
XEON = (
    EPYC.replace("AuthenticAMD", "GenuineIntel")
    .replace("cpu family\t: 25", "cpu family\t: 6")
    .replace("model\t\t: 17", "model\t\t: 143")
    .replace("AMD EPYC 9R14 96-Core Processor", "Intel(R) Xeon(R) Platinum 8488C")
)
GRAVITON = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd sve\nCPU implementer\t: 0x41\nCPU part\t: 0xd40\nCPU variant\t: 0x1\n"


def _caches(root, sizes):
    for index, (level, kind, size) in enumerate(sizes):
        folder = root / f"index{index}"
        folder.mkdir(parents=True)
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (folder / name).write_text(f"{value}\n")
    return root


def _cpu(tmp_path, name, text, sizes=((1, "Data", "48K"), (2, "Unified", "1024K"), (3, "Unified", "32768K"))):
    (tmp_path / name).write_text(text)
    return fp.cpu_record(tmp_path / name, _caches(tmp_path / f"{name}-caches", sizes))


def test_the_cpu_record_names_vendor_model_caches_and_vector_flags(tmp_path):
    record = _cpu(tmp_path, "epyc", EPYC)
    assert record == {
        "cpu": "AuthenticAMD AMD EPYC 9R14 96-Core Processor (family 25, model 17)",
        "caches": "L1d 48K L2 1024K L3 32768K",
        "vector_flags": "avx avx2 avx512_bf16 avx512bw avx512f fma sse sse2",
    }, record
    arm = _cpu(tmp_path, "graviton", GRAVITON)
    assert arm["cpu"] == "implementer 0x41, part 0xd40, variant 0x1" and arm["vector_flags"] == "asimd sve", arm


def test_two_avx512_cpus_of_other_models_or_caches_are_other_platforms(tmp_path):
    """The case that failed CI: one AVX-512 entry stood for every AVX-512 CPU."""
    build = {"torch": "2.13.0+cpu", "machine": "x86_64", "cpu_capability": "AVX512"}
    epyc = fp.platform_key({**build, **_cpu(tmp_path, "epyc", EPYC)})
    xeon = fp.platform_key({**build, **_cpu(tmp_path, "xeon", XEON)})
    smaller = fp.platform_key(
        {**build, **_cpu(tmp_path, "small", EPYC, sizes=((1, "Data", "48K"), (2, "Unified", "512K")))}
    )
    assert len({epyc, xeon, smaller}) == 3, (epyc, xeon, smaller)
    again = tmp_path / "again"
    again.mkdir()
    assert epyc == fp.platform_key({**build, **_cpu(again, "epyc", EPYC)}), "the same CPU read twice"
    assert fp.platform_key({**build, "torch": "2.14.0+cpu", **_cpu(tmp_path, "epyc2", EPYC)}) != epyc, (
        "another torch build"
    )


def test_without_proc_cpuinfo_the_cpu_is_what_python_knows(tmp_path, monkeypatch):
    monkeypatch.setattr(fp.sys, "platform", "win32")
    monkeypatch.setattr(fp.platform, "processor", lambda: "Intel64 Family 6 Model 85 Stepping 7, GenuineIntel")
    record = fp.cpu_record(tmp_path / "no-cpuinfo", tmp_path / "no-caches")
    assert record == {"cpu": "Intel64 Family 6 Model 85 Stepping 7, GenuineIntel", "caches": "", "vector_flags": ""}
    monkeypatch.setattr(fp.platform, "processor", lambda: "")
    assert fp.cpu_record(tmp_path / "no-cpuinfo", tmp_path / "no-caches")["cpu"] == "unknown CPU"


def test_entries_of_the_older_key_read_as_computed_on_an_unrecorded_cpu(tmp_path):
    path = tmp_path / "fingerprints.json"
    path.write_text(
        json.dumps(
            {
                "command": fp.WRITE_COMMAND,
                fp.PLATFORMS_KEY: {
                    "torch 2.13.0+cpu, x86_64, AVX512": {**HERE, "set": CURRENT, "models": CURRENT_MODELS}
                },
            }
        )
    )
    committed = fp.read_committed(path)
    assert list(committed[fp.PLATFORMS_KEY]) == ["torch 2.13.0+cpu, x86_64, AVX512, CPU not recorded"]
    # a result set's provenance that names the older key finds that entry
    record = {"fingerprint": CURRENT, "models": CURRENT_MODELS, "platform": "torch 2.13.0+cpu, x86_64, AVX512"}
    assert fp.staleness(record, committed) is None
    here = {**HERE, **_cpu(tmp_path, "epyc", EPYC)}
    assert fp.platform_entry(committed, fp.platform_key(here)) is None, "an AVX-512 CPU took the unrecorded CPU's bits"


def test_this_machine_has_an_entry_naming_its_cpu(committed):
    """Recorded with `--write` on the machine that develops this code; elsewhere, skipped."""
    entry = _this_platform(committed)
    assert entry["cpu"] == fp.platform_record()["cpu"] and entry["cpu"] != fp.NOT_RECORDED


def test_what_the_docs_say_about_which_cpus_reproduce_the_committed_sets(committed):
    """docs/fingerprints.md: the development machine (an AMD EPYC, family 25 model 1, AVX2) has
    the older AVX2 entry's fingerprints; no machine with a recorded CPU has the AVX-512 entry's."""
    platforms = committed[fp.PLATFORMS_KEY]
    older_avx2 = platforms["torch 2.13.0+cpu, x86_64, AVX2, CPU not recorded"]["models"]
    avx512 = platforms["torch 2.13.0+cpu, x86_64, AVX512, CPU not recorded"]["models"]
    epyc = [
        e
        for e in platforms.values()
        if e["cpu"] == "AuthenticAMD AMD EPYC (family 25, model 1)" and e["cpu_capability"] == "AVX2"
    ]
    assert [e["models"] for e in epyc] == [older_avx2], (
        f"the docs say the EPYC (AVX2) entry equals the older AVX2 one: {epyc}"
    )
    recorded = [key for key, e in platforms.items() if e["cpu"] != fp.NOT_RECORDED and e["models"] == avx512]
    assert not recorded, f"{recorded} reproduce the current quick-scale sets: say so in docs/fingerprints.md"
    doc = (fp.ROOT / "docs" / "fingerprints.md").read_text()
    assert (
        "AuthenticAMD AMD EPYC (family 25,\n  model 1)" in doc
        and "No machine with a recorded CPU has these fingerprints yet" in doc
    )
