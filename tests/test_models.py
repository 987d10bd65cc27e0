import copy

import pytest
import torch

from acai_repro.config import cell_spec
from acai_repro.data.lines import random_angles, render_lines
from acai_repro.models import MODELS, build_model
from acai_repro.models.acai import ACAI, mix_coefficients, mix_latents
from acai_repro.nets import Architecture, count_parameters
from acai_repro.training.training_run import build_run, train_step
from tests.conftest import tiny_spec

LINES = Architecture(1, 16, 2, 16)


def _batch(n=16, seed=0):
    angles = random_angles(n, torch.Generator().manual_seed(seed))
    return render_lines(angles)


def test_alpha_is_uniform_on_zero_to_half():
    alpha = mix_coefficients(100_000, torch.Generator().manual_seed(0))
    assert alpha.shape == (100_000, 1, 1, 1)
    assert alpha.min() >= 0.0 and alpha.max() <= 0.5
    assert alpha.mean().item() == pytest.approx(0.25, abs=0.005)
    hist = torch.histc(alpha, bins=5, min=0, max=0.5) / len(alpha)
    assert torch.allclose(hist, torch.full((5,), 0.2), atol=0.01)


def test_partner_is_the_reversed_batch():
    z = torch.arange(4.0).view(4, 1, 1, 1)
    alpha = torch.full((4, 1, 1, 1), 0.25)
    mixed = mix_latents(z, alpha)
    assert mixed.flatten().tolist() == [0.25 * 0 + 0.75 * 3, 0.25 * 1 + 0.75 * 2,
                                        0.25 * 2 + 0.75 * 1, 0.25 * 3 + 0.75 * 0]  # fmt: skip


def _acai_losses(lam, seed=0):
    torch.manual_seed(0)
    model = ACAI(LINES, {"lambda": lam, "gamma": 0.2})
    return model, model.training_losses(_batch(), torch.Generator().manual_seed(seed))[0]


def _values(losses):
    return {k: v.detach() for k, v in losses.items()}


def test_lambda_enters_the_autoencoder_loss_only():
    half = _values(_acai_losses(0.5)[1])
    zero = _values(_acai_losses(0.0)[1])
    assert torch.equal(half["critic"], zero["critic"])
    assert torch.equal(half["recon"], zero["recon"])
    assert torch.equal(zero["ae"], zero["recon"])
    assert half["fool"] > 0
    assert half["ae"].item() == pytest.approx((half["recon"] + 0.5 * half["fool"]).item(), rel=1e-6)


def test_critic_update_uses_detached_images():
    model, losses = _acai_losses(0.5)
    autoencoder = list(model.encoder.parameters()) + list(model.decoder.parameters())
    grads = torch.autograd.grad(losses["critic"], autoencoder, allow_unused=True, retain_graph=True)
    assert all(g is None for g in grads), "the critic's loss must not reach the autoencoder"
    critic_grads = torch.autograd.grad(losses["critic"], list(model.critic.parameters()))
    assert all(g is not None for g in critic_grads)


def test_autoencoder_step_leaves_critic_unchanged_by_its_own_loss(smoke_config):
    run = build_run(tiny_spec(smoke_config, "acai"), torch.device("cpu"))
    run.optimizers["critic"].param_groups[0]["lr"] = 0.0
    before = copy.deepcopy(run.model.critic.state_dict())
    x = _batch(8)
    train_step(run, x, torch.zeros(8, dtype=torch.long))
    after = run.model.critic.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("name", list(MODELS))
def test_interface_shapes(name, smoke_config):
    spec = tiny_spec(smoke_config, name)
    model = build_model(name, Architecture(**spec["architecture"]), spec["model_options"])
    x = _batch(4)
    generator = torch.Generator().manual_seed(0)
    z = model.encode(x, generator)
    assert z.shape[1:] == model.arch.latent_shape and model.arch.dz == 64
    assert model.decode(z).shape == x.shape
    assert model.features(x).shape == (4, 64)
    strip = model.interpolate(x[:2], x[2:], 16, generator)
    assert strip.shape == (2, 16, 1, 32, 32)
    losses, features = model.training_losses(x, generator)
    assert set(model.param_groups()) <= set(losses) and features.shape == (4, 64)


def test_interpolation_endpoints_are_reconstructions():
    torch.manual_seed(0)
    model = build_model("baseline", LINES)
    x = _batch(4)
    strip = model.interpolate(x[:2], x[2:], 16)
    with torch.no_grad():
        assert torch.allclose(strip[:, 0], model.decode(model.encode(x[:2])), atol=1e-5)
        assert torch.allclose(strip[:, -1], model.decode(model.encode(x[2:])), atol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_training_reduces_reconstruction_error(name, smoke_config):
    spec = tiny_spec(smoke_config, name, learning_rate=1e-3)
    run = build_run(spec, torch.device("cpu"))
    x = _batch(32, seed=1)
    labels = torch.zeros(32, dtype=torch.long)

    def recon_error():
        with torch.no_grad():
            return (run.model.decode(run.model.encode(x, torch.Generator().manual_seed(0))) - x).square().mean().item()

    before = recon_error()
    for _ in range(40):
        train_step(run, x, labels)
    assert recon_error() < 0.9 * before


def _vqvae(smoke_config, variant, dz=64):
    spec = tiny_spec(smoke_config, "vqvae")
    assert spec["architecture"]["latent_width"] == 4  # PROTOCOL §4 exception on lines
    options = dict(spec["model_options"], variant=variant)
    arch = Architecture(**dict(spec["architecture"], latent_channels=dz // 16))
    torch.manual_seed(0)
    return build_model("vqvae", arch, options)


def _is_codebook_row(rows, codebook):
    return all(any(torch.equal(r, c) for c in codebook) for r in rows)


def test_vqvae_whole_variant_quantises_the_whole_latent(smoke_config):
    model = _vqvae(smoke_config, "whole")
    z = model.encoder(_batch(4))
    decoder_input, queries, codes, quantised = model.bottleneck(z)
    assert queries.shape == (4, 64) and codes.shape == (4,)
    assert _is_codebook_row(quantised, model.codebook)
    # Straight-through: the decoder sees the codebook vectors (up to float rounding).
    torch.testing.assert_close(decoder_input.flatten(1), model.codebook[codes])


def test_vqvae_slices_variant_quantises_ten_slices_of_the_projection(smoke_config):
    model = _vqvae(smoke_config, "slices")
    z = model.encoder(_batch(4))
    decoder_input, queries, codes, quantised = model.bottleneck(z)
    assert queries.shape == (4 * 10, 64) and codes.shape == (40,)
    assert torch.equal(queries, model.project(z.flatten(1)).view(40, 64))
    assert _is_codebook_row(quantised, model.codebook)
    # The decoder sees the MLP of the 10 quantised slices, in the latent map's shape.
    expected = model.mlp(quantised.view(4, 640)).view_as(z)
    torch.testing.assert_close(decoder_input, expected)
    assert torch.equal(model.features(_batch(4)), decoder_input.flatten(1))


def test_vqvae_parameter_counts_of_the_authors_model_on_lines(paper_config):
    # PROTOCOL §4: lines, h = 256: dense 256→2,560, 2,560→512, 512→256; codebook not trained.
    spec = cell_spec(paper_config, "lines", "vqvae", 256, 0)
    assert spec["architecture"] == {"colors": 1, "depth": 16, "latent_width": 4, "latent_channels": 16}
    model = build_model("vqvae", Architecture(**spec["architecture"]), spec["model_options"])
    assert count_parameters(model.project) == 657_920
    assert [count_parameters(model.mlp[i]) for i in (1, 3)] == [1_311_232, 131_328]
    assert model.codebook.shape == (2**14, 256) and not model.codebook.requires_grad
    assert "codebook" not in dict(model.named_parameters())


@pytest.mark.parametrize("variant", ["slices", "whole"])
def test_vqvae_training_reduces_its_loss_and_moves_the_codebook_by_ema(smoke_config, variant):
    spec = tiny_spec(smoke_config, "vqvae", learning_rate=1e-3)  # 30 steps at 1e-4 barely move
    spec["model_options"]["variant"] = variant
    run = build_run(spec, torch.device("cpu"))
    x, labels = _batch(32), torch.zeros(32, dtype=torch.long)
    before_codebook = run.model.codebook.clone()
    first = float(train_step(run, x, labels)["ae"])
    assert not torch.equal(before_codebook, run.model.codebook)
    for _ in range(30):
        last = float(train_step(run, x, labels)["ae"])
    assert last < 0.7 * first
    assert torch.isfinite(run.model.codebook).all()


def test_vqvae_unknown_variant_is_rejected(smoke_config):
    with pytest.raises(ValueError, match="variant"):
        _vqvae(smoke_config, "halves")


def test_vae_latent_choice(smoke_config):
    spec = tiny_spec(smoke_config, "vae")
    arch = Architecture(**spec["architecture"])
    torch.manual_seed(0)
    mean_model = build_model("vae", arch, {"latent": "mean"})
    x = _batch(4)
    a = mean_model.encode(x, torch.Generator().manual_seed(0))
    b = mean_model.encode(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    mean_model.latent = "sample"
    c = mean_model.encode(x, torch.Generator().manual_seed(0))
    assert not torch.equal(a, c)
    with pytest.raises(ValueError, match="latent"):
        build_model("vae", arch, {"latent": "median"})


def test_unknown_model_lists_valid_ones():
    with pytest.raises(ValueError, match="baseline, denoising, vae, aae, vqvae, acai"):
        build_model("gan", LINES)


@pytest.mark.parametrize(
    "name,groups", [("baseline", {"ae"}), ("vae", {"ae"}), ("aae", {"ae", "critic"}), ("acai", {"ae", "critic"})]
)
def test_parameter_groups_split_autoencoder_and_critic(name, groups):
    model = build_model(name, LINES)
    found = model.param_groups()
    assert set(found) == groups
    ae_ids = {id(p) for p in found["ae"]}
    assert ae_ids == {id(p) for n, p in model.named_parameters() if not n.startswith("critic.")}
    if "critic" in found:
        assert {id(p) for p in found["critic"]} == {id(p) for p in model.critic.parameters()}
