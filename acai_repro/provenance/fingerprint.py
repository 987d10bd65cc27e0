"""Bit fingerprints of training: a short hash per model that moves whenever a change moves a bit.

Each registered model trains a few steps of the lines benchmark on the CPU, on one thread,
through the library's own `train_cell`, and is evaluated once. Its fingerprint hashes the
final weights (every tensor of the autoencoder's and the classifier's state, buffers such as
the VQ-VAE's EMA codebook included) and the reported values of that evaluation.
`acai_repro/provenance/fingerprints.json` holds the committed values, one entry per platform (torch build,
machine, CPU vector instructions) that computed them; tests/test_fingerprints.py recomputes this
platform's. Every committed result set records the fingerprints of the models it used and its
platform, and is stale only when one of those moved: a new model leaves every set current
(docs/fingerprints.md). How the docs quote result sets is checked in acai_repro/provenance/doc_quotes.py.

    python -m acai_repro.fingerprint           # print the fingerprints, say which moved (exit 1)
    python -m acai_repro.fingerprint --write   # rewrite acai_repro/provenance/fingerprints.json
    python -m acai_repro.fingerprint --provenance DIR --command CMD   # DIR/provenance.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
from pathlib import Path

import torch

from acai_repro.config import (
    DEFAULT_CONFIG,
    ROOT,
    cell_spec,
    deep_update,
    read_yaml,
    validate_config,
    with_run_settings,
)
from acai_repro.files import write_json
from acai_repro.models import MODELS
from acai_repro.report_rule import REPORTED
from acai_repro.training.checkpoints import code_version, load_trained
from acai_repro.training.train import train_cell

FINGERPRINTS_PATH = Path(__file__).resolve().parent / "fingerprints.json"
WRITE_COMMAND = "python -m acai_repro.fingerprint --write"
LENGTH = 16  # hex characters kept of each sha256
UNKNOWN = "unknown"  # the fingerprint of a result set produced before fingerprints existed
PLATFORMS_KEY = "platforms"

# The paper's configuration with a smoke-scale budget: 4 steps of 64 lines, then one
# evaluation (small, but through every metric), and a VQ-VAE codebook of 256 codes instead of
# 16,384 (the same code; the full codebook's nearest-code search took most of the time).
# Fixed here rather than read from config/smoke.yaml, so that tuning the smoke scale never
# moves a fingerprint.
OVERLAY = {
    "seeds": [0],
    "device": "cpu",
    "models": {"vqvae": {"codebook_size": 256}},
    "training": {"total_images": 256, "eval_every": 256},
    "evaluation": {
        "lines": {"test_lines": 128, "interpolation_pairs": 8, "interpolation_points": 16, "references": 1000}
    },
}


def fingerprint_config() -> dict:
    config = deep_update(read_yaml(DEFAULT_CONFIG), OVERLAY)
    return validate_config(config)


def fingerprint_spec(config: dict, model: str) -> dict:
    """The lines cell of `model` at its Table 1 latent size, seed 0."""
    table = config["table1"]
    dz = table["dz_by_model"].get(model, table["dz"])
    return with_run_settings(cell_spec(config, "lines", model, dz, 0), config)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def weights_digest(*state_dicts: dict) -> str:
    """Hash of every tensor's dtype, shape and bytes. The per-tensor hashes are sorted, so a
    change that only renames or reorders parameters (same bits) keeps its fingerprint."""
    tensor_digests = []
    for state in state_dicts:
        for tensor in state.values():
            tensor = tensor.detach().cpu().contiguous()
            header = f"{tensor.dtype} {tuple(tensor.shape)}\n".encode()
            data = tensor.reshape(-1).view(torch.uint8)  # flat: a 0-d tensor has no byte view
            tensor_digests.append(_digest(header + data.numpy().tobytes()))
    return _digest("\n".join(sorted(tensor_digests)).encode())


def evaluation_text(record: dict) -> str:
    """The reported values of one evaluation record at full precision (repr round-trips)."""
    return "\n".join(f"{key}={record[key]!r}" for key in REPORTED if key in record)


@contextlib.contextmanager
def one_thread():
    """Bits of a CPU reduction depend on how it is split between threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def model_fingerprint(spec: dict) -> str:
    """Train the cell of `spec` in a temporary folder; hash its weights and first evaluation."""
    with tempfile.TemporaryDirectory() as tmp, one_thread():
        metrics = train_cell(spec, tmp, log=lambda message: None)
        if metrics["status"] != "ok":
            raise RuntimeError(f"fingerprint training of {spec['model']} stopped: {metrics['reason']}")
        model, classifier, _ = load_trained(Path(tmp) / "model.pt")
        text = weights_digest(model.state_dict(), classifier.state_dict()) + "\n" + evaluation_text(metrics["evals"][0])
    return _digest(text.encode())[:LENGTH]


def set_fingerprint(fingerprints: dict) -> str:
    """One fingerprint for a set of models: a result set's `fingerprint`, over the models it
    records (before per-model records: over every model registered then)."""
    lines = sorted(f"{model} {value}" for model, value in fingerprints.items())
    return _digest("\n".join(lines).encode())[:LENGTH]


def compute_fingerprints(models=None) -> dict:
    """{model: fingerprint} for `models` (default: every registered model)."""
    config = fingerprint_config()
    return {model: model_fingerprint(fingerprint_spec(config, model)) for model in (models or MODELS)}


# What decides the bits besides the code: the torch build, and the CPU that runs it. The
# instruction set alone is not enough: oneDNN and MKL pick their kernels and blocking by the
# CPU's vendor, model and cache sizes, so two AVX-512 CPUs of other models round differently.
CPUINFO = Path("/proc/cpuinfo")
CACHES = Path("/sys/devices/system/cpu/cpu0/cache")
# Vector-instruction flags of /proc/cpuinfo (a hypervisor may hide some of a model's).
VECTOR_FLAGS = ("avx", "amx", "fma", "f16c", "sse", "ssse", "vaes", "vpclmul", "gfni", "asimd", "sve", "neon")
NOT_RECORDED = "CPU not recorded"  # entries computed before CPUs were recorded: their CPU is unknown


def _cpuinfo_fields(text: str) -> dict:
    """The first processor's `key: value` lines of /proc/cpuinfo."""
    fields = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _linux_cpu(fields: dict) -> str:
    """Vendor, model name and (x86) family/model numbers; ARM: implementer and part."""
    if "vendor_id" in fields:
        numbers = f" (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"
        return f"{fields['vendor_id']} {fields.get('model name', 'unnamed model')}{numbers}"
    if "CPU implementer" in fields:
        return f"implementer {fields['CPU implementer']}, part {fields.get('CPU part', '?')}, variant {fields.get('CPU variant', '?')}"
    return ""


def _fallback_cpu() -> str:
    """No /proc/cpuinfo: macOS's brand string, else what Python knows (Windows: vendor, family, model)."""
    if sys.platform == "darwin":
        import subprocess

        with contextlib.suppress(OSError, subprocess.SubprocessError):
            brand = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5, check=False
            )
            if brand.stdout.strip():
                return brand.stdout.strip()
    return platform.processor() or "unknown CPU"


def cpu_caches(root: Path = CACHES) -> str:
    """cpu0's caches as Linux lists them, e.g. 'L1d 32K L1i 32K L2 512K L3 32768K'; '' elsewhere."""
    caches = []
    for index in sorted(root.glob("index*")):
        with contextlib.suppress(OSError):
            kind = (index / "type").read_text().strip()
            suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
            caches.append(f"L{(index / 'level').read_text().strip()}{suffix} {(index / 'size').read_text().strip()}")
    return " ".join(caches)


def cpu_record(cpuinfo: Path = CPUINFO, caches: Path = CACHES) -> dict:
    """The CPU's identity: `cpu` (vendor, model), `caches`, `vector_flags`."""
    fields = _cpuinfo_fields(cpuinfo.read_text()) if cpuinfo.exists() else {}
    flags = (fields.get("flags") or fields.get("Features") or "").split()
    return {
        "cpu": _linux_cpu(fields) or _fallback_cpu(),
        "caches": cpu_caches(caches),
        "vector_flags": " ".join(sorted(f for f in flags if f.startswith(VECTOR_FLAGS))),
    }


def platform_record() -> dict:
    """What else decides the bits: the torch build, the CPU's vector instructions, and the CPU."""
    return {
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        **cpu_record(),
    }


def platform_key(record: dict | None = None) -> str:
    """The name of a platform in fingerprints.json and in a result set's provenance. The vector
    flags enter as a short digest (their list is in the entry)."""
    record = record or platform_record()
    key = f"torch {record['torch']}, {record['machine']}, {record['cpu_capability']}, {record.get('cpu', NOT_RECORDED)}"
    if record.get("caches"):
        key += f", caches {record['caches']}"
    if record.get("vector_flags"):
        key += f", flags {_digest(record['vector_flags'].encode())[:8]}"
    return key


def canonical_platform(name: str) -> str:
    """A platform name as fingerprints.json keys it now: a name of the older form (torch,
    machine, instruction set; the CPU not recorded) gets the CPU part that says so."""
    return f"{name}, {NOT_RECORDED}" if name.count(", ") == 2 else name


# Every record written before fingerprints were kept per platform (a fingerprints.json without
# `platforms`, a provenance.json without `platform`) was computed on this one.
LEGACY_PLATFORM = canonical_platform("torch 2.13.0+cpu, x86_64, AVX2")


def read_committed(path: Path = FINGERPRINTS_PATH) -> dict:
    """fingerprints.json: {"platforms": {platform key: {"models": ..., "set": ..., torch, machine,
    cpu_capability}}}. A file of the older layout (one platform's values at the top) is read as
    that platform's entry."""
    record = json.loads(Path(path).read_text())
    if PLATFORMS_KEY not in record:
        entry = {key: record[key] for key in ("torch", "machine", "cpu_capability", "set", "models") if key in record}
        record = {**{k: v for k, v in record.items() if k not in entry}, PLATFORMS_KEY: {platform_key(entry): entry}}
    # An entry of the older form (no CPU recorded) is keyed as one whose CPU is unknown.
    platforms = {}
    for entry in record[PLATFORMS_KEY].values():
        entry = entry if "cpu" in entry else {**entry, "cpu": NOT_RECORDED}
        platforms[platform_key(entry)] = entry
    return {**record, PLATFORMS_KEY: platforms}


def platform_entry(committed: dict, key: str) -> dict | None:
    """One platform's committed fingerprints, or None when none were computed there."""
    return committed.get(PLATFORMS_KEY, {}).get(canonical_platform(key))


def moved_models(committed: dict, computed: dict) -> list[str]:
    """Models of both whose fingerprint differs."""
    return sorted(name for name in set(committed) & set(computed) if committed[name] != computed[name])


def new_models(committed: dict, computed: dict) -> list[str]:
    """Models computed here that the committed file does not record yet (`--write` adds them;
    no result set used them, so none goes stale)."""
    return sorted(set(computed) - set(committed))


def retired_models(committed: dict) -> list[str]:
    """Models the committed file records that are no longer registered (`--write` drops them)."""
    return sorted(set(committed) - set(MODELS))


def _entry(models: dict, platform_fields: dict) -> dict:
    return {**platform_fields, "set": set_fingerprint(models), "models": dict(sorted(models.items()))}


def updated_table(committed: dict, computed: dict, here: dict) -> dict:
    """The committed table with this platform's entry replaced by `computed`. On every other
    platform a model that moved here is dropped (its value there is unknown now, so the sets
    that used it there go stale), and so is a model no longer registered; an entry left empty
    goes. A platform recorded for the first time moves nothing elsewhere: there is no earlier
    value here to compare with."""
    key = platform_key(here)
    before = (platform_entry(committed, key) or {}).get("models", {})
    dropped = set(moved_models(before, computed))
    platforms = {}
    for other, entry in committed.get(PLATFORMS_KEY, {}).items():
        kept = {m: v for m, v in entry["models"].items() if m not in dropped and m in MODELS}
        if other != key and kept:
            platforms[other] = _entry(kept, {k: v for k, v in entry.items() if k not in ("set", "models")})
    platforms[key] = _entry(computed, here)
    return {
        "note": (
            "Bit fingerprints of a smoke-scale lines training per model (CPU, one thread; "
            "acai_repro/provenance/fingerprint.py), one entry per platform that computed them: the torch build and the CPU "
            "(vendor, model, caches, vector instructions). Entries whose cpu reads 'CPU not recorded' were "
            "computed before CPUs were recorded, on CPUs of unknown model; no machine matches them. Rewrite with the "
            "command below only together with rerunning every committed result set quoted as current "
            "(docs/fingerprints.md)."
        ),
        "command": WRITE_COMMAND,
        PLATFORMS_KEY: dict(sorted(platforms.items())),
    }


def write_fingerprints(computed: dict, path: Path = FINGERPRINTS_PATH) -> dict:
    """Write this platform's fingerprints into the table (updated_table)."""
    committed = read_committed(path) if Path(path).exists() else {}
    table = updated_table(committed, computed, platform_record())
    write_json(path, table)
    return table


# --- Result sets: committed outputs of a run, each with the commit and fingerprint behind it ---

PROVENANCE_FILE = "provenance.json"
# A result set is a folder of committed run outputs: docs/<name>-results/ (the quick runs,
# gpu-quick runs...) and every folder under benchmarks/results/.
RESULT_SET_GLOBS = ("docs/*-results", "benchmarks/results/*")
PROVENANCE_KEYS = {
    "commit": str,
    "fingerprint": str,
    "depends_on_training": bool,
    "command": str,
    "date": str,
    "machine": str,
}
# Optional: {model: fingerprint} of the models the set used; `fingerprint` is then their set
# fingerprint. A record without it (older) holds the set fingerprint of every model registered then.
MODELS_KEY = "models"
# Optional: the platform (platform_key) whose fingerprints `models` are; absent in records written
# before fingerprints were kept per platform, which were all computed on LEGACY_PLATFORM. A name
# of the older form (before CPUs were recorded) reads as canonical_platform makes it.
PLATFORM_KEY = "platform"
COMMIT = re.compile(r"[0-9a-f]{7,40}")
MODEL_FINGERPRINT = re.compile(rf"[0-9a-f]{{{LENGTH}}}")
FINGERPRINT = re.compile(rf"{MODEL_FINGERPRINT.pattern}|{UNKNOWN}")


def result_sets(root: Path = ROOT) -> list[Path]:
    return sorted({path for pattern in RESULT_SET_GLOBS for path in root.glob(pattern) if path.is_dir()})


def read_provenance(set_dir: Path) -> dict:
    """A result set's provenance.json, checked; ValueError names the file and the problem."""
    path = set_dir / PROVENANCE_FILE
    if not path.exists():
        raise ValueError(
            f"{path}: missing; write it with `python -m acai_repro.fingerprint --provenance {set_dir} --command CMD`"
        )
    record = json.loads(path.read_text())
    for key, kind in PROVENANCE_KEYS.items():
        if not isinstance(record.get(key), kind):
            raise ValueError(f"{path}: key {key!r} must be a {kind.__name__}, got {record.get(key)!r}")
    if not COMMIT.fullmatch(record["commit"]):
        raise ValueError(f"{path}: commit {record['commit']!r} is not a commit hash (7-40 hex digits)")
    if not FINGERPRINT.fullmatch(record["fingerprint"]):
        raise ValueError(
            f"{path}: fingerprint {record['fingerprint']!r} is neither {LENGTH} hex digits nor {UNKNOWN!r}"
        )
    if MODELS_KEY in record:
        _check_models(path, record)
    if not isinstance(record.get(PLATFORM_KEY, ""), str):
        raise ValueError(f"{path}: key {PLATFORM_KEY!r} must be a str, got {record[PLATFORM_KEY]!r}")
    return record


def _check_models(path: Path, record: dict) -> None:
    models = record[MODELS_KEY]
    if not isinstance(models, dict) or not models:
        raise ValueError(f"{path}: {MODELS_KEY!r} must map each model the set used to its fingerprint, got {models!r}")
    bad = {name: value for name, value in models.items() if not MODEL_FINGERPRINT.fullmatch(str(value))}
    if bad:
        raise ValueError(f"{path}: {MODELS_KEY!r}: fingerprints of {sorted(bad)} are not {LENGTH} hex digits")
    if record["fingerprint"] != set_fingerprint(models):
        raise ValueError(
            f"{path}: fingerprint {record['fingerprint']!r} is not the set fingerprint of its {MODELS_KEY!r} "
            f"({set_fingerprint(models)})"
        )


def staleness(provenance: dict, committed: dict) -> str | None:
    """Why the code no longer computes what a result set holds, or None when it does.
    `committed`: acai_repro/provenance/fingerprints.json's table (read_committed); the set is compared with
    the entry of the platform that produced it. A set that records its models is stale only when
    one of them moved; an older record, when the set of every model moved."""
    if provenance["fingerprint"] == UNKNOWN:
        return "its fingerprint is unknown (produced before fingerprints existed)"
    where = canonical_platform(provenance.get(PLATFORM_KEY, LEGACY_PLATFORM))
    entry = platform_entry(committed, where)
    if entry is None:
        return f"no fingerprints are committed for its platform ({where})"
    recorded = provenance.get(MODELS_KEY)
    if recorded is None:
        if provenance["fingerprint"] == entry["set"]:
            return None
        return f"its set fingerprint is {provenance['fingerprint']}, the code's is {entry['set']}"
    now = entry["models"]
    moved = [
        f"{model} {value} then, {now.get(model, 'none committed')} now"
        for model, value in sorted(recorded.items())
        if now.get(model) != value
    ]
    return ("fingerprints moved: " + "; ".join(moved)) if moved else None


def models_in_records(set_dir: Path) -> list[str]:
    """The models whose cell records (metrics.json) a result set holds."""
    found = {json.loads(path.read_text())["cell"]["model"] for path in Path(set_dir).rglob("metrics.json")}
    return sorted(found)


def write_provenance(
    set_dir: Path, command: str, commit: str, machine: str, depends_on_training: bool, models: list | None = None
) -> dict:
    """Record how a result set was produced, with the fingerprints of the models it used
    (`models`; default: those of its cell records) in the code at hand."""
    models = models or models_in_records(set_dir)
    if not models:
        raise ValueError(f"{set_dir}: holds no metrics.json: name the models it used with --models")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"{set_dir}: models {unknown} are not registered; registered: {', '.join(MODELS)}")
    fingerprints = compute_fingerprints(models)
    record = {
        "commit": commit,
        "fingerprint": set_fingerprint(fingerprints),
        MODELS_KEY: dict(sorted(fingerprints.items())),
        PLATFORM_KEY: platform_key(),
        "depends_on_training": depends_on_training,
        "command": command,
        "date": datetime.date.today().isoformat(),
        "machine": machine,
    }
    write_json(Path(set_dir) / PROVENANCE_FILE, record)
    read_provenance(Path(set_dir))  # the record it wrote passes its own checks
    return record


def default_machine() -> str:
    return f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}"


def _provenance_main(args) -> int:
    commit = args.commit or code_version()
    if not COMMIT.fullmatch(commit):
        where = "--commit" if args.commit else "this checkout"
        print(f"{where}: {commit!r} is not a clean commit's hash: commit first, or pass --commit HASH", file=sys.stderr)
        return 2
    models = [name.strip() for name in args.models.split(",") if name.strip()] if args.models else None
    try:
        record = write_provenance(
            args.provenance, args.command, commit, args.machine or default_machine(), not args.timings_only, models
        )
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(json.dumps(record, indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acai_repro.fingerprint", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {FINGERPRINTS_PATH.name}")
    parser.add_argument(
        "--provenance",
        type=Path,
        metavar="DIR",
        help=f"write DIR/{PROVENANCE_FILE} for a result set produced by this checkout",
    )
    parser.add_argument("--command", help="with --provenance: the command that produced the set")
    parser.add_argument("--commit", help="with --provenance: the commit that produced it (default: this checkout's)")
    parser.add_argument("--machine", help="with --provenance: where it ran (default: this machine)")
    parser.add_argument(
        "--models",
        help="with --provenance: the models the set used, comma-separated (default: those of its metrics.json files)",
    )
    parser.add_argument(
        "--timings-only",
        action="store_true",
        help="with --provenance: the set holds timings only, no value that training bits decide",
    )
    args = parser.parse_args(argv)
    if args.provenance:
        if not args.command:
            parser.error("--provenance needs --command")
        return _provenance_main(args)
    computed = compute_fingerprints()
    table = read_committed() if FINGERPRINTS_PATH.exists() else {}
    here = platform_key()
    entry = platform_entry(table, here)
    committed = entry["models"] if entry else {}
    moved, new = set(moved_models(committed, computed)), set(new_models(committed, computed))
    for model, value in computed.items():
        print(f"{model:12s} {value}{'  (moved)' if model in moved else ''}{'  (new)' if model in new else ''}")
    retired = retired_models(committed)
    for model in retired:
        print(f"{model:12s} recorded, no longer registered")
    print(f"{'set':12s} {set_fingerprint(computed)}")
    if args.write:
        write_fingerprints(computed)
        print(f"wrote {FINGERPRINTS_PATH}")
    elif not table:
        print(f"no {FINGERPRINTS_PATH} yet: write it with `{WRITE_COMMAND}`")
        return 1
    elif entry is None:
        print(
            f"{FINGERPRINTS_PATH} has no fingerprints of this platform ({here}), only of "
            f"{', '.join(table[PLATFORMS_KEY])}: nothing to compare with. `{WRITE_COMMAND}` adds this platform's "
            "and changes no other"
        )
    elif moved or retired:
        print(f"differs from {FINGERPRINTS_PATH} (this platform's entry, {here}): the code moved these bits")
        return 1
    elif new:
        print(
            f"new models, not in {FINGERPRINTS_PATH} yet: {', '.join(sorted(new))} (`{WRITE_COMMAND}` records them; "
            "no result set goes stale)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
