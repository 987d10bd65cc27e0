"""Baseline autoencoder: MSE(x, g(f(x)))."""

from acai_repro.models.base import AutoEncoder, mse


class Baseline(AutoEncoder):
    name = "baseline"
    title = "Baseline"
    order = 10

    def losses(self, x, noise):
        z = self.encoder(x)
        recon = mse(self.decoder(z), x)
        return {"ae": recon, "recon": recon}, z.flatten(1)
