import pytest
import torch

from acai_repro.nets import LEAK, Architecture, count_parameters, decoder, encoder

# PROTOCOL §3: (colors, depth, latent_width, latent_channels) -> encoder / decoder parameters.
COUNTS = {
    "lines": ((1, 16, 2, 16), 627_472, 313_985),
    "mnist_dz256": ((1, 16, 4, 16), 166_288, 83_329),
    "svhn_dz256": ((3, 64, 4, 16), 2_434_704, 1_219_203),
    "cifar10_dz1024": ((3, 64, 4, 64), 2_655_936, 1_329_795),
}


@pytest.mark.parametrize("name", COUNTS)
def test_parameter_counts(name):
    sizes, n_enc, n_dec = COUNTS[name]
    arch = Architecture(*sizes)
    assert count_parameters(encoder(arch)) == n_enc
    assert count_parameters(decoder(arch)) == n_dec


def test_shapes_and_dz():
    arch = Architecture(3, 64, 4, 64)
    z = encoder(arch)(torch.zeros(2, 3, 32, 32))
    assert z.shape == (2, 64, 4, 4) and arch.dz == 1024
    assert decoder(arch)(z).shape == (2, 3, 32, 32)


def test_initialisation_and_activation():
    arch = Architecture(1, 16, 2, 16)
    net = encoder(arch)
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    for conv in convs:
        assert torch.all(conv.bias == 0)
    wide = convs[-2]  # 3x3 conv with 128 input channels
    expected = 1.0 / (1 + LEAK**2) ** 0.5 / (9 * wide.in_channels) ** 0.5
    assert wide.weight.std().item() == pytest.approx(expected, rel=0.05)
    slopes = {m.negative_slope for m in net if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.2}
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)) for m in net)
