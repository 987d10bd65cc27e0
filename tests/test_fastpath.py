"""The fast training path (training.fast_path) on the CPU, and the exact 2x nearest upsampling
that both paths use. The CUDA side (graphed = eager on the fast path, packed = solo) is in
tests/test_cuda.py."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from acai_repro.config import cell_spec, spec_digest
from acai_repro.data import build_source
from acai_repro.models import MODELS
from acai_repro.nets import NearestUpsample2x
from acai_repro.reporting import tables
from acai_repro.training import fastpath
from acai_repro.training.cuda_graphs import step_blockers
from acai_repro.training.signals import TrainingInterrupted
from acai_repro.training.train import train_cell, train_pack
from acai_repro.training.training_run import build_run, train_step
from tests.conftest import ROOT, tiny_spec

QUIET = lambda message: None  # noqa: E731


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().view(torch.int32)


def _upsample_both(x: torch.Tensor, grad: torch.Tensor):
    """(PyTorch's output, input gradient), (ours) for the same input and output gradient."""
    results = []
    for up in (lambda t: F.interpolate(t, scale_factor=2, mode="nearest"), NearestUpsample2x()):
        leaf = x.detach().clone().requires_grad_()
        out = up(leaf)
        out.backward(grad)
        results.append((out, leaf.grad))
    return results


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("shape", [(64, 16, 8, 8), (3, 5, 4, 2), (2, 128, 16, 16)])
def test_upsample_equals_pytorch_bit_for_bit(shape, memory_format):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator).contiguous(memory_format=memory_format)
    n, c, h, w = shape
    # Gradients over 60 orders of magnitude (rounding differs with the order of the sum),
    # and one all -0.0 channel (0 + -0 is +0: the sum starts from a zero accumulator).
    scale = torch.logspace(-30, 30, 2 * w)
    grad = torch.randn(n, c, 2 * h, 2 * w, generator=generator) * scale
    grad[0, 0] = -0.0
    grad = grad.contiguous(memory_format=memory_format)
    (ref_out, ref_grad), (out, ours_grad) = _upsample_both(x, grad)
    assert torch.equal(_bits(out), _bits(ref_out)), "forward differs from F.interpolate(nearest)"
    differing = (_bits(ours_grad) != _bits(ref_grad)).sum().item()
    assert differing == 0, f"{differing} of {ref_grad.numel()} input-gradient values differ in their bits"
    assert out.is_contiguous(memory_format=memory_format), f"output lost the input's {memory_format}"


def test_a_reordered_sum_would_be_caught():
    """Known-bad: summing the four gradients in another order moves bits on these inputs, so the
    test above can fail."""
    generator = torch.Generator().manual_seed(0)
    grad = torch.randn(64, 16, 16, 16, generator=generator) * torch.logspace(-30, 30, 16)
    g = grad.reshape(64, 16, 8, 2, 8, 2)
    pytorch_order = (((g[:, :, :, 0, :, 0] + 0.0) + g[:, :, :, 0, :, 1]) + g[:, :, :, 1, :, 0]) + g[:, :, :, 1, :, 1]
    other_order = (((g[:, :, :, 1, :, 1] + 0.0) + g[:, :, :, 1, :, 0]) + g[:, :, :, 0, :, 1]) + g[:, :, :, 0, :, 0]
    assert not torch.equal(_bits(pytorch_order), _bits(other_order)), "the inputs do not tell sum orders apart"


def test_exact_path_spec_is_unchanged_and_fast_path_is_part_of_the_spec(smoke_config):
    exact = cell_spec(smoke_config, "lines", "acai", 64, 0)
    assert "fast_path" not in exact["training"], "the exact path must keep every earlier cell's spec"
    fast_config = dict(smoke_config, training=dict(smoke_config["training"], fast_path=True))
    fast = cell_spec(fast_config, "lines", "acai", 64, 0)
    assert fast["training"]["fast_path"] is True, "a fast cell's spec must name its path"
    assert spec_digest(fast) != spec_digest(exact), "a fast cell must not resume from an exact checkpoint"
    assert (fastpath.path_name(exact), fastpath.path_name(fast)) == ("exact", "fast")


def test_fast_path_compiles_every_network_and_fuses_adam(smoke_config):
    run = build_run(tiny_spec(smoke_config, "acai", fast_path=True), torch.device("cpu"))
    networks = fastpath.networks(run.model)
    assert len(networks) == 3, f"ACAI has an encoder, a decoder and a critic, found {len(networks)} networks"
    uncompiled = [type(m).__name__ for m in networks if not fastpath.is_compiled(m)]
    assert not uncompiled, f"networks left uncompiled: {uncompiled}"
    convs = [m for m in run.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs), "weights not channels-last"
    assert all(o.param_groups[0]["fused"] for o in run.optimizers.values()), "Adam not fused"
    exact = build_run(tiny_spec(smoke_config, "acai"), torch.device("cpu"))
    assert not any(o.param_groups[0].get("fused") for o in exact.optimizers.values()), "exact path's Adam fused"
    assert not any(fastpath.is_compiled(m) for m in fastpath.networks(exact.model)), "exact path compiled"


def test_compiled_networks_keep_their_state_dict_keys(smoke_config):
    """Checkpoints load either way: a fast model's keys are an exact model's keys."""
    fast = build_run(tiny_spec(smoke_config, "acai", fast_path=True), torch.device("cpu")).model
    exact = build_run(tiny_spec(smoke_config, "acai"), torch.device("cpu")).model
    assert list(fast.state_dict()) == list(exact.state_dict()), "compiling changed the state_dict keys"
    exact.load_state_dict(fast.state_dict())
    fast.load_state_dict(exact.state_dict())


# The network layers' kernels (forward and backward) that must run inside a compiled graph on the
# fast path, as the profiler names them; the autograd node of an eager upsampling.
LAYER_OPS = (
    "aten::convolution",
    "aten::convolution_backward",
    "aten::leaky_relu",
    "aten::leaky_relu_backward",
    "aten::avg_pool2d",
    "aten::avg_pool2d_backward",
    "_NearestUp2xBackward",
)
# AOTAutograd's forward and backward, and the call of an inductor graph (a graph compiled without
# autograd, e.g. under no_grad, has only this one)
COMPILED_SCOPES = ("CompiledFunction", "CompiledFunctionBackward", "## Call CompiledFxGraph")


def _outside_compiled_graphs(events) -> list[str]:
    """The LAYER_OPS among profiler `events` that ran outside a compiled graph (no enclosing
    compiled forward or backward), with how many times."""
    counts: dict[str, int] = {}
    for event in events:
        if event.name in LAYER_OPS and not _inside_compiled(event):
            counts[event.name] = counts.get(event.name, 0) + 1
    return [f"{name} x{n}" for name, n in sorted(counts.items())]


def _inside_compiled(event) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith(COMPILED_SCOPES):
            return True
        parent = parent.cpu_parent
    return False


def _fast_step_outside_compiled(smoke_config, model: str) -> list[str]:
    """The network layer ops that ran outside a compiled graph in a fast training step of
    `model` (batch, losses, backward, Adam), after one step that compiles."""
    spec = tiny_spec(smoke_config, model, fast_path=True, batch_size=4)
    cpu = torch.device("cpu")
    run, source = build_run(spec, cpu), build_source(spec, cpu)
    train_step(run, *source.train_batch(4, run.data_generator))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiled:
        train_step(run, *source.train_batch(4, run.data_generator))
    return _outside_compiled_graphs(profiled.events())


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_fast_step_runs_every_convolution_inside_a_compiled_graph(smoke_config, model):
    """Every convolution, activation, pooling and upsampling of a fast training step runs in a
    compiled graph, forward and backward; each graph dynamo made went through the fast path's
    counted backend (compiled_summary)."""
    before = fastpath.compiled_summary()
    outside = _fast_step_outside_compiled(smoke_config, model)
    assert not outside, f"{model}: network layers ran outside a compiled graph: {outside}"
    after = fastpath.compiled_summary()
    new_graphs = after["dynamo_unique_graphs"] - before["dynamo_unique_graphs"]
    assert after["graphs"] - before["graphs"] == new_graphs, f"{model}: dynamo compiled graphs the fast path did not"


def test_the_exact_path_is_seen_running_its_convolutions_eagerly(smoke_config):
    """Known-bad control of the test above: the exact path's step is flagged."""
    spec = tiny_spec(smoke_config, "baseline", batch_size=4)
    cpu = torch.device("cpu")
    run, source = build_run(spec, cpu), build_source(spec, cpu)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiled:
        train_step(run, *source.train_batch(4, run.data_generator))
    outside = " ".join(_outside_compiled_graphs(profiled.events()))
    for op in ("aten::convolution ", "aten::convolution_backward", "aten::leaky_relu ", "_NearestUp2xBackward"):
        assert op in outside + " ", f"an eager {op.strip()} was not seen: {outside}"


def test_compiled_summary_counts_the_convolutions_of_a_fresh_compile(smoke_config):
    torch._dynamo.reset()  # compile again what earlier tests compiled
    before = fastpath.compiled_summary()
    _fast_step_outside_compiled(smoke_config, "baseline")
    after = fastpath.compiled_summary()
    arch = build_run(tiny_spec(smoke_config, "baseline"), torch.device("cpu")).model
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in arch.modules())
    got = {key: after[key] - before[key] for key in before}
    assert got["graphs"] == 2, f"the baseline's encoder and decoder are two graphs, got {got}"
    assert got["convolutions"] == convs, f"the baseline has {convs} convolutions, the summary counted {got}"
    assert got["ops"] > convs, got


def test_fast_step_has_no_capture_blockers(smoke_config):
    spec = tiny_spec(smoke_config, "acai", fast_path=True, batch_size=4)
    assert step_blockers(spec) == [], "the fast step must capture in a CUDA graph as the exact one does"


def _weights(path):
    return torch.load(path, weights_only=False)["model"]


def _evals(record):
    return json.dumps([{k: v for k, v in e.items() if k != "images_per_s"} for e in record["evals"]], sort_keys=True)


def _assert_same_weights(a, b, what):
    differing = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differing, f"{what}: tensors differ: {differing}"


RUN_SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
from acai_repro.training.train import train_cell
record = train_cell(json.loads(sys.argv[1]), sys.argv[2], lambda m: None)
print(json.dumps(record["evals"]))
"""


@pytest.mark.slow
def test_fast_path_gives_the_same_bits_in_two_processes(smoke_config, tmp_path):
    """The same command gives the same bits: two fresh processes (each compiling), same cell."""
    spec = tiny_spec(smoke_config, "acai", total_images=64 * 6, eval_every=64 * 3, fast_path=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", RUN_SCRIPT, json.dumps(spec), str(tmp_path / name)], env=env, check=True)
    _assert_same_weights(_weights(tmp_path / "a/model.pt"), _weights(tmp_path / "b/model.pt"), "two runs")
    first, second = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("a", "b"))
    assert _evals(first) == _evals(second), "evaluation histories differ between two runs"
    assert first["path"] == "fast" and first["spec"]["training"]["fast_path"] is True, "metrics.json must name the path"


@pytest.mark.slow
def test_fast_path_differs_from_exact_but_trains_the_same_method(smoke_config, tmp_path):
    """Other bits, same method: after a few steps the losses agree to float32 rounding."""
    exact = train_cell(tiny_spec(smoke_config, "acai", total_images=128, eval_every=128), tmp_path / "e", QUIET)
    fast = train_cell(
        tiny_spec(smoke_config, "acai", total_images=128, eval_every=128, fast_path=True), tmp_path / "f", QUIET
    )
    assert exact["path"] == "exact" and fast["path"] == "fast"
    for key in ("loss_ae", "loss_critic", "test_recon_mse"):
        a, b = exact["evals"][-1][key], fast["evals"][-1][key]
        assert abs(a - b) <= 1e-4 * abs(a), f"{key}: exact {a} vs fast {b}: not the same method"


@pytest.mark.slow
def test_fast_pack_equals_each_cell_alone_and_resumes_exactly(smoke_config, tmp_path):
    """Two seeds of a fast ACAI cell in one pack (sharing compiled code) equal each trained
    alone; a pack stopped by SIGTERM at its first evaluation resumes to the same bits."""
    specs = [tiny_spec(smoke_config, "acai", total_images=64 * 8, eval_every=64 * 4, fast_path=True)]
    specs.append(dict(specs[0], seed=1))
    solo = [train_cell(spec, tmp_path / f"solo{spec['seed']}", QUIET) for spec in specs]
    cells = _stopped_at_first_evaluation(specs, tmp_path, "pack")
    packed = train_pack(cells, QUIET)
    for spec, alone, together in zip(specs, solo, packed):
        seed = spec["seed"]
        what = f"seed {seed} packed and resumed vs alone"
        _assert_same_weights(
            _weights(tmp_path / f"solo{seed}/model.pt"), _weights(tmp_path / f"pack{seed}/model.pt"), what
        )
        assert _evals(alone) == _evals(together), f"{what}: evaluation histories differ"


def _stopped_at_first_evaluation(specs, folder, prefix="seed"):
    """The cells of `specs` (one per seed) in `folder`/<prefix><seed>, trained in one pack until
    SIGTERM at their first evaluation."""

    def stop_at_first_evaluation(message):
        if "kimg" in message:
            os.kill(os.getpid(), signal.SIGTERM)

    cells = [(spec, folder / f"{prefix}{spec['seed']}") for spec in specs]
    with pytest.raises(TrainingInterrupted):
        train_pack(cells, stop_at_first_evaluation)
    return cells


TRAINING_OF_PATH = {"exact": {}, "fast": {"fast_path": True}, "fast-fused": {"fast_path": True, "seed_fusion": True}}


def _cell_record(folder, path: str):
    folder.mkdir(parents=True)
    spec = {"training": TRAINING_OF_PATH[path], "scale_name": "gpu-quick-fast"}
    evals = [{"mean_distance": 0.002, "smoothness": 0.1}]
    record = {
        "status": "ok",
        "cell": {"dataset": "lines", "model": "acai", "dz": 64, "seed": 0},
        "spec": spec,
        "evals": evals,
        "reported": evals[0],
    }
    (folder / "metrics.json").write_text(json.dumps(record))
    probe = {"status": "ok", "cell": record["cell"], "accuracy": 90.0, "scale_name": "gpu-quick-fast"}
    (folder / "probe.json").write_text(json.dumps(probe))
    return folder


@pytest.mark.parametrize("path", list(TRAINING_OF_PATH))
def test_tables_and_their_csv_name_the_training_path(tmp_path, path):
    cell = _cell_record(tmp_path / "lines/acai/dz64/seed0", path)
    frame = tables.collect([cell / "metrics.json"], ["mean_distance"])
    assert list(frame.path) == [path], list(frame.path)
    probe = tables.collect([cell / "probe.json"], ["accuracy"])
    assert list(probe.path) == [path], "a probe record is its cell's path"
    rows = tables.aggregate(frame, ["model", "metric"], "table1", 0)
    assert list(rows.path) == [path], list(rows.path)
    label = tables._scales_text(rows)
    assert ("fast path" in label) is (path != "exact"), f"the Markdown row label {label!r} must name a fast path only"
    assert ("seed fusion" in label) is (path == "fast-fused"), (
        f"the label {label!r} must name seed fusion only when fused"
    )
