"""Images/s of one training step per model: the library vs a minimal hand-written loop.

Both sides build the same architecture (the reference with plain nn.Sequential, written
here without the library), do the same work per step (the model's losses, its optimisers,
the in-tandem linear classifier) on the same fixed batch already on the device, and are
timed alternately in one run. Target: library / reference >= 1.0.

    python benchmarks/train_step.py [--steps 20] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from acai_repro.config import cell_spec, load_config
from acai_repro.train import build_run, train_step

SETTINGS = {  # name -> (colors, depth, latent_width, latent_channels)
    "lines dz64": (1, 16, 2, 16),
    "mnist dz256": (1, 16, 4, 16),
}
MODELS = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]


# ---- the hand-written reference (no library code) ------------------------------------
def _conv(i, o, k):
    c = nn.Conv2d(i, o, k, padding=k // 2)
    nn.init.normal_(c.weight, 0, 1 / math.sqrt(1.04 * k * k * i))
    nn.init.zeros_(c.bias)
    return c


def ref_encoder(colors, depth, width, latent):
    scales = int(math.log2(32 // width))
    layers, c = [_conv(colors, depth, 1)], depth
    for s in range(scales):
        n = depth << s
        layers += [_conv(c, n, 3), nn.LeakyReLU(0.2), _conv(n, n, 3), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
        c = n
    layers += [_conv(c, depth << scales, 3), nn.LeakyReLU(0.2), _conv(depth << scales, latent, 3)]
    return nn.Sequential(*layers)


def ref_decoder(colors, depth, width, latent):
    scales = int(math.log2(32 // width))
    layers, c = [], latent
    for s in reversed(range(scales)):
        n = depth << s
        layers += [_conv(c, n, 3), nn.LeakyReLU(0.2), _conv(n, n, 3), nn.LeakyReLU(0.2), nn.Upsample(scale_factor=2)]
        c = n
    layers += [_conv(c, depth, 3), nn.LeakyReLU(0.2), _conv(depth, colors, 3)]
    return nn.Sequential(*layers)


class Reference:
    """One model's step written out by hand: the shortest eager PyTorch that does the work."""

    def __init__(self, model, sizes, device):
        colors, depth, width, latent = sizes
        if model == "vqvae":
            width, latent = 4, latent * width * width // 16
        self.model, self.dz, self.latent_shape = model, width * width * latent, (latent, width, width)
        self.enc = ref_encoder(colors, depth, width, latent).to(device)
        self.dec = ref_decoder(colors, depth, width, latent).to(device)
        self.clf = nn.Linear(self.dz, 10).to(device)
        ae = list(self.enc.parameters()) + list(self.dec.parameters())
        if model == "vae":
            self.mu, self.lv = nn.Linear(self.dz, self.dz).to(device), nn.Linear(self.dz, self.dz).to(device)
            ae += list(self.mu.parameters()) + list(self.lv.parameters())
        if model == "aae":
            self.critic = nn.Sequential(nn.Linear(self.dz, 100), nn.LeakyReLU(0.2), nn.Linear(100, 100),
                                        nn.LeakyReLU(0.2), nn.Linear(100, 1)).to(device)  # fmt: skip
        if model == "acai":
            self.critic = ref_encoder(colors, depth, width, latent).to(device)
        if model == "vqvae":
            self.codebook = torch.randn(16384, self.dz, device=device) * 0.01
            self.count = torch.zeros(16384, device=device)
            self.sums = self.codebook.clone()
        self.opt = torch.optim.Adam(ae, 1e-4)
        self.opt_clf = torch.optim.Adam(self.clf.parameters(), 1e-4)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), 1e-4) if hasattr(self, "critic") else None

    def step(self, x, y):
        m, critic_loss = self.model, None
        if m == "vae":
            h = self.enc(x).flatten(1)
            mu, lv = self.mu(h), self.lv(h)
            z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
            logits = self.dec(z.view(len(x), *self.latent_shape))
            loss = F.binary_cross_entropy_with_logits(logits, (x + 1) / 2, reduction="sum") / len(x)
            loss = loss + 0.5 * (mu**2 + lv.exp() - 1 - lv).sum() / len(x)
            feats = h
        elif m == "vqvae":
            ze = self.enc(x)
            flat = ze.flatten(1).detach()
            idx = ((flat**2).sum(1, keepdim=True) - 2 * flat @ self.codebook.T + (self.codebook**2).sum(1)).argmin(1)
            zq = self.codebook[idx].view_as(ze)
            loss = F.mse_loss(self.dec(ze + (zq - ze).detach()), x) + 10 * ((ze - zq) ** 2).mean()
            with torch.no_grad():
                self.count.mul_(0.999).add_(torch.bincount(idx, minlength=16384).float(), alpha=0.001)
                self.sums.mul_(0.999).add_(torch.zeros_like(self.sums).index_add_(0, idx, flat), alpha=0.001)
                n = self.count.sum()
                self.codebook = self.sums / ((self.count + 1e-5) / (n + 16384e-5) * n)[:, None]
            feats = zq.flatten(1)
        else:
            inp = x + torch.randn_like(x) if m == "denoising" else x
            z = self.enc(inp)
            xh = self.dec(z)
            loss = F.mse_loss(xh, x)
            feats = z.flatten(1)
            if m == "denoising":
                with torch.no_grad():
                    feats = self.enc(x).flatten(1)
            if m == "aae":
                loss = loss + F.binary_cross_entropy_with_logits(self.critic(feats), torch.ones(len(x), 1, device=x.device))
                d = self.critic(torch.cat([feats.detach(), torch.randn_like(feats)]))
                target = torch.cat([torch.zeros(len(x), 1), torch.ones(len(x), 1)]).to(x.device)
                critic_loss = F.binary_cross_entropy_with_logits(d, target) * 2
            if m == "acai":
                a = 0.5 - (torch.rand(len(x), 1, 1, 1, device=x.device) - 0.5).abs()
                xm = self.dec(a * z + (1 - a) * z.flip(0))
                loss = loss + 0.5 * self.critic(xm).mean((1, 2, 3)).pow(2).mean()
                d = self.critic(torch.cat([xm.detach(), (xh + 0.2 * (x - xh)).detach()])).mean((1, 2, 3))
                critic_loss = (d[: len(x)] - a.flatten()).pow(2).mean() + d[len(x) :].pow(2).mean()
        clf_loss = F.cross_entropy(self.clf(feats.detach()), y)
        self.opt.zero_grad(set_to_none=True)
        self.opt_clf.zero_grad(set_to_none=True)
        ae_params = [p for g in self.opt.param_groups for p in g["params"]]
        loss.backward(inputs=ae_params)
        clf_loss.backward()
        if critic_loss is not None:
            self.opt_critic.zero_grad(set_to_none=True)
            critic_loss.backward(inputs=list(self.critic.parameters()))
            self.opt_critic.step()
        self.opt.step()
        self.opt_clf.step()


# ---- timing ----------------------------------------------------------------------
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(step, x, y, steps, device) -> float:
    for _ in range(3):
        step(x, y)
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    _sync(device)
    return steps * len(x) / (time.perf_counter() - start)


def library_step(model, sizes, device, config):
    colors, depth, width, latent = sizes
    config["datasets"]["bench"] = {"colors": colors, "classes": 10, "depth": depth, "latent_width": width,
                                   "latent_width_by_model": {"vqvae": 4}}  # fmt: skip
    spec = cell_spec(config, "bench", model, width * width * latent, 0)
    spec["device"] = str(device)
    run = build_run(spec, device)
    return lambda x, y: train_step(run, x, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=MODELS)
    args = parser.parse_args()
    device = torch.device(args.device)
    config = load_config("config/config.yaml")
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch 64, "
          f"{args.steps} steps x {args.repeats} alternating repeats, median")  # fmt: skip
    print(f"{'setting':<12} {'model':<10} {'library img/s':>14} {'reference img/s':>16} {'ratio':>7}")
    for setting, sizes in SETTINGS.items():
        x = torch.rand(64, sizes[0], 32, 32, device=device) * 2 - 1
        y = torch.randint(0, 10, (64,), device=device)
        for model in args.models:
            torch.manual_seed(0)
            lib = library_step(model, sizes, device, config)
            ref = Reference(model, sizes, device)
            ours, theirs = [], []
            for _ in range(args.repeats):
                ours.append(images_per_second(lib, x, y, args.steps, device))
                theirs.append(images_per_second(ref.step, x, y, args.steps, device))
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"{setting:<12} {model:<10} {a:>14.0f} {b:>16.0f} {a / b:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
