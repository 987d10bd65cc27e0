"""Downstream evaluations on latents (Tables 2-3): export, linear probe, clustering.

`latents.h5` schema (one per cell): for each split a group with `z` (float32, N×dz, the
flattened latent that interpolation uses; as the model's `latent_kind` says: the code, the VAE's
configured sample or mean, the VQ-VAE's pre-quantisation map) and
`labels` (int64); file attributes `model`, `dataset`, `dz`, `seed`, `latent` (which latent
was exported), `code_version`. Written chunk by chunk, so a split never sits in memory twice.
Every dataset carries HDF5's fletcher32 checksum per chunk and the sha256 of its bytes (attribute
`sha256`; fletcher32 alone passes a chunk zeroed together with its checksum), and the file is in
HDF5's newest format, whose metadata carry checksums too: `read_latents` refuses a damaged file,
or one written without checksums, naming it (DamagedRecordError), so that damage never reads as
latents.
"""

from __future__ import annotations

import hashlib
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from acai_repro.data import read_split, to_float
from acai_repro.files import write_atomically, write_json
from acai_repro.metrics.clustering import cluster_accuracy, kmeans, predict, whiten
from acai_repro.results import DamagedRecordError, read_record
from acai_repro.training.checkpoints import code_version, load_trained, provenance
from acai_repro.training.training_run import resolve_device


@torch.no_grad()
def export_latents(model_path, splits, out_path, chunk: int = 2048, device: str = "cpu", data_path=None) -> None:
    """Encode the given splits of the cell's dataset into `out_path` (written atomically).

    `device`: a torch device or the config's name for one ('auto': CUDA when present).
    `data_path`: where the prepared data lie now (the rule's input; the data may have moved since
    training, which recorded its own location); its content must be the cell's."""
    device = str(resolve_device(device))
    model, _, spec = load_trained(model_path, device)
    if data_path is not None:
        spec = {**spec, "data": {**spec["data"], "path": str(data_path)}}
    generator = torch.Generator(device=device).manual_seed(spec["seed"])
    write = partial(
        _write_latents, model=model, spec=spec, splits=splits, generator=generator, device=device, chunk=chunk
    )
    write_atomically(out_path, write)


def _write_latents(path: Path, model, spec: dict, splits, generator, device: str, chunk: int) -> None:
    """The latents.h5 of the schema above, into `path`, `chunk` images at a time."""
    import h5py

    data = spec["data"]
    with h5py.File(path, "w", libver="latest") as f:  # the latest format: checksummed metadata
        for split in splits:
            images, labels = read_split(data["path"], split, data.get("max_examples"), data.get("content"))
            group = f.create_group(split)
            z = group.create_dataset(
                "z",
                (len(images), spec["dz"]),
                dtype="float32",
                chunks=(min(len(images), chunk), spec["dz"]),
                fletcher32=True,
            )
            labels = np.ascontiguousarray(labels, dtype=np.int64)
            group.create_dataset("labels", data=labels, fletcher32=True).attrs["sha256"] = _sha256(labels)
            digest = hashlib.sha256()  # of the rows in order: the sha256 of the whole dataset
            for start in range(0, len(images), chunk):
                batch = to_float(torch.from_numpy(images[start : start + chunk]).to(device))
                rows = np.ascontiguousarray(model.encode(batch, generator).flatten(1).cpu().numpy(), dtype=np.float32)
                z[start : start + len(batch)] = rows
                digest.update(rows.tobytes())
            z.attrs["sha256"] = digest.hexdigest()
        f.attrs.update(
            model=spec["model"],
            dataset=spec["dataset"],
            dz=spec["dz"],
            seed=spec["seed"],
            latent=model.latent_kind,
            code_version=code_version(),
        )


LATENT_DATASETS = ("z", "labels")


def read_latents(path, split: str, limit: int | None = None):
    """(z, labels) of one split of a latents.h5, the first `limit` rows. The whole file is read
    and checked (each chunk's fletcher32, each dataset's sha256): DamagedRecordError naming the
    file when it is damaged or carries no checksums (written before they were kept)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such latents file")
    try:
        with h5py.File(path, "r") as f:
            # Every split checked, not only the one asked for: a damaged file is refused whole.
            if split not in f:
                raise DamagedRecordError(
                    f"{path}: holds no split {split!r} (it holds {', '.join(f)}): exported for "
                    "other splits; delete it, and the rerun exports the configured ones"
                )
            checked = {
                name: {key: _checked(path, name, group[key]) for key in LATENT_DATASETS} for name, group in f.items()
            }
            data = checked[split]
    except DamagedRecordError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as error:  # what h5py raises for a damaged file
        raise DamagedRecordError(
            f"{path}: damaged latents file ({type(error).__name__}: {error}): delete it, and the rerun exports "
            "it again from the cell's model.pt"
        ) from error
    n = len(data["labels"]) if limit is None else min(limit, len(data["labels"]))
    return data["z"][:n], data["labels"][:n]


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _checked(path: Path, split: str, dataset) -> np.ndarray:
    """The whole dataset (every chunk checked by fletcher32 as it is read), then its sha256."""
    recorded = dataset.attrs.get("sha256")
    if not dataset.fletcher32 or recorded is None:
        raise DamagedRecordError(
            f"{path}: latents without checksums ({split}/{dataset.name.rsplit('/', 1)[-1]}; written by older "
            "code): delete it, and the rerun exports it again"
        )
    values = dataset[()]
    if _sha256(values) != recorded:
        raise DamagedRecordError(
            f"{path}: damaged latents file: {dataset.name} does not match its sha256 (bytes changed since it was "
            "written): delete it, and the rerun exports it again from the cell's model.pt"
        )
    return values


def pixel_features(h5_path, split: str, limit: int | None = None):
    """Raw pixels in [-1, 1], flattened: the paper's pixel baselines."""
    images, labels = read_split(h5_path, split, limit)
    return to_float(torch.from_numpy(images)).flatten(1).numpy(), labels


def linear_probe(train_z, train_y, test_z, test_y, classes: int, max_iter: int = 500, seed: int = 0) -> dict:
    """Single-layer softmax classifier trained to convergence (full-batch L-BFGS)."""
    torch.manual_seed(seed)
    x, y = torch.as_tensor(train_z, dtype=torch.float32), torch.as_tensor(train_y, dtype=torch.long)
    # Standardising only conditions the optimisation (an affine map either way); constant
    # features (MNIST's border) are left as they are.
    shift, scale = x.mean(dim=0), x.std(dim=0)
    scale = torch.where(scale > 1e-3, scale, torch.ones_like(scale))
    layer = torch.nn.Linear(x.shape[1], classes)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    optimizer = torch.optim.LBFGS(
        layer.parameters(),
        max_iter=max_iter,
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(layer((x - shift) / scale), y)
        loss.backward()
        return loss

    start = time.perf_counter()
    optimizer.step(closure)  # returns the loss of its first evaluation (here the untrained ln(classes))
    with torch.no_grad():
        train_logits = layer((x - shift) / scale)
        final_loss = F.cross_entropy(train_logits, y).item()
        train_acc = (train_logits.argmax(1) == y).float().mean().item()
        test_x = torch.as_tensor(test_z, dtype=torch.float32)
        test_acc = (layer((test_x - shift) / scale).argmax(1) == torch.as_tensor(test_y)).float().mean().item()
    state = optimizer.state[optimizer._params[0]]
    return {
        "accuracy": test_acc,
        "train_accuracy": train_acc,
        "final_loss": final_loss,
        "iterations": int(state.get("n_iter", 0)),
        "seconds": time.perf_counter() - start,
    }


def cluster(train_z, test_z, test_y, options: dict, device=None, whitened: bool = True, threads=None) -> dict:
    """docs/protocol.md §6: whiten on train, K-Means (best of the restarts), Hungarian accuracy on test.

    `whitened=False` clusters the raw features (the pixel baseline the paper quotes).
    """
    start = time.perf_counter()
    w_train, w_test = whiten(train_z, test_z) if whitened else (train_z, test_z)
    result = kmeans(
        w_train,
        k=options["k"],
        restarts=options["restarts"],
        max_iter=options["max_iter"],
        tol=options["tol"],
        seed=options["seed"],
        device=device,
        backend=options["backend"],
        threads=threads,
    )
    accuracy = cluster_accuracy(test_y, predict(result.centers, w_test), n_classes=options["k"])
    return {
        "accuracy": accuracy,
        "inertia": result.inertia,
        "iterations": result.n_iter,
        "mean_iterations": float(result.iterations.mean()),
        "restarts": options["restarts"],
        "backend": result.backend,
        "whitened": whitened,
        "seconds": time.perf_counter() - start,
    }


# ---- One function per downstream rule: each script in scripts/ is a single call to one ----


def _finished(metrics_path) -> dict:
    """The start of a cell's record: which cell, whether it finished training, its spec digest
    and the scale it was trained at."""
    cell = read_record(metrics_path)
    if not isinstance(cell.get("spec"), dict) or cell.get("status") not in ("ok", "diverged"):
        raise DamagedRecordError(f"{metrics_path}: damaged record: no 'spec' object and 'status' ok or diverged")
    scale = cell["spec"].get("scale_name")
    return {"cell": cell["cell"], "status": cell["status"], "spec_digest": cell["spec_digest"], "scale_name": scale}


def _probe(features, params) -> dict:
    test_z, test_y = features(params.test_split, params.limit)
    train_z, train_y = features(params.train_split, params.limit)
    return linear_probe(train_z, train_y, test_z, test_y, params.classes, params.options["max_iter"])


def _kmeans(features, params, device, whitened: bool, threads) -> dict:
    test_z, test_y = features(params.test_split, params.limit)
    train_z, _ = features(params.train_split, min(params.options["train_limit"], params.limit or 10**9))
    return cluster(train_z, test_z, test_y, params.options, str(device), whitened, threads)


def _write_record(record, evaluate, params, inputs, device, out_path, log) -> None:
    """Evaluate (only a cell that finished training), add provenance and options, write the JSON."""
    if record["status"] == "ok":
        record.update(evaluate())
        log(f"accuracy {record['accuracy']:.4f}")
    record["provenance"] = {**provenance(device), "inputs": [str(path) for path in inputs]}
    record["options"] = params.options
    write_json(out_path, record)


def probe_cell(inputs, params, device_name: str, out_path, log) -> None:
    """Rule probe: the post-hoc linear probe on one cell's exported latents (Table 2, probe)."""
    features = partial(read_latents, inputs.latents)
    evaluate = partial(_probe, features, params)
    _write_record(_finished(inputs.metrics), evaluate, params, inputs, resolve_device(device_name), out_path, log)


def kmeans_cell(inputs, params, device_name: str, threads: int, out_path, log) -> None:
    """Rule kmeans: K-Means on one cell's whitened latents (Table 3)."""
    device = resolve_device(device_name)
    evaluate = partial(_kmeans, partial(read_latents, inputs.latents), params, device, True, threads)
    _write_record(_finished(inputs.metrics), evaluate, params, inputs, device, out_path, log)


def probe_pixels(dataset: str, inputs, params, device_name: str, out_path, log) -> None:
    """Rule pixels_probe: the single-layer classifier on raw pixels (Table 2's pixel row)."""
    evaluate = partial(_probe, partial(pixel_features, inputs.data), params)
    record = {"dataset": dataset, "status": "ok"}
    _write_record(record, evaluate, params, inputs, resolve_device(device_name), out_path, log)


def kmeans_pixels(dataset: str, inputs, params, device_name: str, threads: int, out_path, log) -> None:
    """Rule pixels_kmeans: plain K-Means on raw pixels, not whitened, as the paper quotes it (Table 3)."""
    device = resolve_device(device_name)
    evaluate = partial(_kmeans, partial(pixel_features, inputs.data), params, device, False, threads)
    _write_record({"dataset": dataset, "status": "ok"}, evaluate, params, inputs, device, out_path, log)
