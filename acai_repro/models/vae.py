"""Variational autoencoder (docs/protocol.md §4).

Two dense heads map flatten(f(x)) to μ and log σ² (both dz wide); the decoder output is
a Bernoulli logit on (x + 1)/2, summed over pixels and averaged over the batch, plus
β·KL(q(z|x) || N(0, I)). Images are 2·sigmoid(logits) - 1. Which latent `encode` returns
is the option `latent`: "sample" (the authors' code, the default) or "mean".
"""

import torch
import torch.nn.functional as F

from acai_repro.models.base import AutoEncoder, Option
from acai_repro.nets import dense

LATENT_CHOICES = ("sample", "mean")


class VAE(AutoEncoder):
    name = "vae"
    title = "VAE"
    order = 30
    OPTIONS = {
        "beta": Option(float, 1.0, "weight of the KL term", minimum=0),
        "latent": Option(str, "sample", "latent used downstream; `sample` = the authors' code", choices=LATENT_CHOICES),
    }

    has_prior = True

    def __init__(self, arch, options=None):
        super().__init__(arch, options)
        self.latent = self.options["latent"]
        if self.latent not in LATENT_CHOICES:
            raise ValueError(f"vae latent must be one of {LATENT_CHOICES}, got {self.latent!r}")
        self.head_mean = dense(arch.dz, arch.dz)
        self.head_logvar = dense(arch.dz, arch.dz)

    @property
    def latent_kind(self) -> str:
        """The option `latent`: `encode` returns a sample of q(z|x), or its mean."""
        return self.latent

    def _posterior(self, x):
        h = self.encoder(x).flatten(1)
        return h, self.head_mean(h), self.head_logvar(h)

    def _sample(self, mean, logvar, generator):
        return self._reparametrised(mean, logvar, self._standard_normal(mean, generator))

    @staticmethod
    def _standard_normal(like, generator):
        return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)

    @staticmethod
    def _reparametrised(mean, logvar, standard):
        return mean + torch.exp(0.5 * logvar) * standard

    def encode(self, x, generator=None):
        _, mean, logvar = self._posterior(x)
        z = mean if self.latent == "mean" else self._sample(mean, logvar, generator)
        return z.view(-1, *self.arch.latent_shape)

    def decode(self, z):
        return 2.0 * torch.sigmoid(self.decoder(z)) - 1.0

    def features(self, x):
        return self._posterior(x)[0]

    def noise(self, x, generator):
        """The reparametrisation's N(0, I) draw, one per code."""
        return {"standard": self._standard_normal(x.new_empty(len(x), self.arch.dz), generator)}

    def losses(self, x, noise):
        h, mean, logvar = self._posterior(x)
        z = self._reparametrised(mean, logvar, noise["standard"]).view(-1, *self.arch.latent_shape)
        logits = self.decoder(z)
        batch = len(x)
        nll = F.binary_cross_entropy_with_logits(logits, (x + 1.0) / 2.0, reduction="sum") / batch
        kl = 0.5 * torch.sum(mean.square() + logvar.exp() - 1.0 - logvar) / batch
        loss = nll + self.options["beta"] * kl
        return {"ae": loss, "nll": nll, "kl": kl}, h
