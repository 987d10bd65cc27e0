"""Adversarial autoencoder with a N(0, I) prior (docs/protocol.md §4).

Critic: MLP on the flattened latent, dense 100 + LeakyReLU(0.2), dense 100 + LeakyReLU,
dense 1, trained with sigmoid cross-entropy (codes -> 0, prior samples -> 1) on detached
codes. Autoencoder: MSE + w·cross-entropy(critic(code) -> 1).
"""

import torch
import torch.nn.functional as F
from torch import nn

from acai_repro.models.base import AutoEncoder, Option, mse
from acai_repro.nets import LEAK, dense


def _bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class AAE(AutoEncoder):
    name = "aae"
    title = "AAE"
    order = 40
    OPTIONS = {
        "critic_width": Option(int, 100, "hidden width of the latent discriminator", minimum=1),
        "adversary_weight": Option(float, 1.0, "weight of the adversarial term", minimum=0),
    }

    def __init__(self, arch, options=None):
        super().__init__(arch, options)
        width = self.options["critic_width"]
        self.critic = nn.Sequential(
            dense(arch.dz, width),
            nn.LeakyReLU(LEAK),
            dense(width, width),
            nn.LeakyReLU(LEAK),
            dense(width, 1),
        )

    def noise(self, x, generator):
        """Samples of the prior, one per code."""
        shape = (len(x), self.arch.dz)
        return {"prior": torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype)}

    def losses(self, x, noise):
        z = self.encoder(x)
        recon = mse(self.decoder(z), x)
        code = z.flatten(1)
        fool = _bce(self.critic(code), 1.0)
        prior = noise["prior"]
        judged = self.critic(torch.cat([code.detach(), prior]))
        critic = _bce(judged[: len(x)], 0.0) + _bce(judged[len(x) :], 1.0)
        ae = recon + self.options["adversary_weight"] * fool
        return {"ae": ae, "critic": critic, "recon": recon, "fool": fool}, code
