"""ACAI: the adversarially constrained autoencoder interpolation (docs/protocol.md §4).

The ACAI loss lives here, in `ACAI.losses` (its draws, α, in `ACAI.noise`):
- α = 0.5 - |u - 0.5|, u ~ U[0, 1) per example, so α ∈ [0, 0.5];
- each example is mixed with the reversed batch: z_mix = α·z + (1 - α)·z[::-1];
- critic d (the encoder's architecture, mean over all output elements) regresses α on
  g(z_mix) and 0 on x̂ + γ(x - x̂), on detached images;
- the autoencoder minimises MSE + λ·mean(d(g(z_mix))²); λ appears only here.
Both optimisers step from the same forward pass.
"""

import torch

from acai_repro.models.base import AutoEncoder, Option, mse
from acai_repro.nets import encoder


def mix_coefficients(batch: int, generator: torch.Generator, device=None) -> torch.Tensor:
    """α per example, uniform on [0, 0.5]: [batch, 1, 1, 1]."""
    u = torch.rand(batch, 1, 1, 1, generator=generator, device=device)
    return 0.5 - (u - 0.5).abs()


def mix_latents(z: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Mix each latent with its partner in the reversed batch."""
    return alpha * z + (1.0 - alpha) * z.flip(0)


class Critic(torch.nn.Module):
    """The encoder's architecture reduced to one scalar per image by a mean."""

    def __init__(self, arch):
        super().__init__()
        self.body = encoder(arch)

    def forward(self, x):
        return self.body(x).mean(dim=(1, 2, 3))


class ACAI(AutoEncoder):
    name = "acai"
    title = "ACAI"
    order = 60
    OPTIONS = {
        "lambda": Option(float, 0.5, "weight of the critic term in the autoencoder loss", minimum=0),
        "gamma": Option(float, 0.2, "critic regulariser's blend", minimum=0, maximum=1),
    }

    def __init__(self, arch, options=None):
        super().__init__(arch, options)
        self.critic = Critic(arch)
        self.lam = self.options["lambda"]
        self.gamma = self.options["gamma"]

    def noise(self, x, generator):
        return {"alpha": mix_coefficients(len(x), generator, x.device)}

    def losses(self, x, noise):
        alpha = noise["alpha"]
        z = self.encoder(x)
        x_hat = self.decoder(z)
        x_mix = self.decoder(mix_latents(z, alpha))
        recon = mse(x_hat, x)
        fool = self.critic(x_mix).square().mean()
        ae = recon + self.lam * fool

        blend = x_hat + self.gamma * (x - x_hat)
        judged = self.critic(torch.cat([x_mix.detach(), blend.detach()]))
        critic_mix, critic_blend = judged[: len(x)], judged[len(x) :]
        critic = (critic_mix - alpha.view(-1)).square().mean() + critic_blend.square().mean()
        return {"ae": ae, "critic": critic, "recon": recon, "fool": fool}, z.flatten(1)
