"""Denoising autoencoder: MSE(x, g(f(x + ε))), ε ~ N(0, σ²), σ = 1 on [-1, 1] data.

Everything but the training reconstruction (interpolation, classifier, export) uses the
clean code f(x).
"""

import torch

from acai_repro.models.base import AutoEncoder, Option, mse, normal_like


class Denoising(AutoEncoder):
    name = "denoising"
    title = "Denoising"
    order = 20
    OPTIONS = {"noise_std": Option(float, 1.0, "std of the Gaussian input noise", minimum=0)}

    def noise(self, x, generator):
        return {"input": normal_like(x, generator)}

    def losses(self, x, noise):
        noisy = x + self.options["noise_std"] * noise["input"]
        recon = mse(self.decoder(self.encoder(noisy)), x)
        with torch.no_grad():
            clean = self.encoder(x).flatten(1)
        return {"ae": recon, "recon": recon}, clean
