# Snakemake adapter: linear probe or K-Means of one cell (latents) or of raw pixels.
import json

from acai_repro import downstream
from acai_repro.snakemake_io import logged
from acai_repro.train import provenance, resolve_device


def features(split, limit=None):
    if snakemake.rule.startswith("pixels"):
        return downstream.pixel_features(snakemake.input.data, split, limit)
    return downstream.read_latents(snakemake.input.latents, split, limit)


with logged(snakemake) as log:
    p = snakemake.params
    if snakemake.rule.startswith("pixels"):
        record = {"dataset": snakemake.wildcards.dataset, "status": "ok"}
    else:
        cell = json.loads(open(snakemake.input.metrics).read())
        record = {"cell": cell["cell"], "status": cell["status"], "spec_digest": cell["spec_digest"]}
    if record["status"] == "ok":
        test_z, test_y = features(p.test_split, p.limit)
        if snakemake.rule.endswith("kmeans"):
            train_z, _ = features(p.train_split, min(p.options["train_limit"], p.limit or 10**9))
            device = str(resolve_device(p.device))
            whitened = not snakemake.rule.startswith("pixels")  # pixels: plain K-Means, as quoted
            record.update(downstream.cluster(train_z, test_z, test_y, p.options, device, whitened, snakemake.threads))
        else:
            train_z, train_y = features(p.train_split, p.limit)
            record.update(downstream.linear_probe(train_z, train_y, test_z, test_y, p.classes, p.options["max_iter"]))
        log(f"{snakemake.rule}: accuracy {record['accuracy']:.4f}")
    record["provenance"] = provenance(resolve_device(p.device))
    record["provenance"]["inputs"] = [str(path) for path in snakemake.input]
    record["options"] = p.options
    downstream.write_json(snakemake.output[0], record)
