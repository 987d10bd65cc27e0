"""VQ-VAE with an EMA codebook, quantising the whole latent vector (PROTOCOL §4).

Deviation (documented in the README): the authors' released VQ-VAE cannot run as
shipped, so the paper's numbers came from unreleased code. Following the paper's text,
the whole flattened latent (dz values) is one codebook query: 2^14 entries, nearest in
Euclidean distance, straight-through gradient, commitment β·mean((z_e - sg(z_q))²) with
β = 10, codebook = EMA means / Laplace-smoothed EMA counts (decay 0.999, ε = 1e-5).
Interpolation mixes continuous latents, then `decode` quantises.
"""

import math

import torch

from acai_repro.models.base import AutoEncoder, mse


class VQVAE(AutoEncoder):
    name = "vqvae"

    def __init__(self, arch, options=None):
        super().__init__(arch, options)
        self.codebook_size = int(self.options.get("codebook_size", 2**14))
        self.commitment = self.options.get("commitment", 10.0)
        self.decay = self.options.get("decay", 0.999)
        self.epsilon = self.options.get("epsilon", 1e-5)
        # Unit-scaling uniform init of the codebook; EMA counts start at zero.
        bound = math.sqrt(3.0 / self.codebook_size)
        codebook = (torch.rand(self.codebook_size, arch.dz) * 2.0 - 1.0) * bound
        self.register_buffer("codebook", codebook)
        self.register_buffer("ema_count", torch.zeros(self.codebook_size))
        self.register_buffer("ema_sum", codebook.clone())

    def nearest_codes(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook entry of each row of `flat` [B, dz]."""
        distance = (
            flat.square().sum(1, keepdim=True)
            - 2.0 * flat @ self.codebook.T
            + self.codebook.square().sum(1)[None, :]
        )
        return distance.argmin(dim=1)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        return self.codebook[self.nearest_codes(z.flatten(1))].view_as(z)

    def decode(self, z):
        return self.decoder(self.quantize(z))

    def features(self, x):
        return self.quantize(self.encoder(x)).flatten(1)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        counts = torch.bincount(codes, minlength=self.codebook_size).to(flat.dtype)
        sums = torch.zeros_like(self.ema_sum).index_add_(0, codes, flat)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.epsilon) / (total + self.codebook_size * self.epsilon)
        self.codebook.copy_(self.ema_sum / (smoothed * total)[:, None])

    def training_losses(self, x, generator):
        z_e = self.encoder(x)
        flat = z_e.flatten(1)
        codes = self.nearest_codes(flat.detach())
        z_q = self.codebook[codes].view_as(z_e)
        commit = (z_e - z_q).square().mean()
        straight_through = z_e + (z_q - z_e).detach()
        recon = mse(self.decoder(straight_through), x)
        self._ema_update(flat.detach(), codes)
        ae = recon + self.commitment * commit
        return {"ae": ae, "recon": recon, "commit": commit}, z_q.flatten(1)
