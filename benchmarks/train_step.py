"""Images/s of one training step per model: eager vs the captured CUDA graph, and
the library vs a minimal hand-written loop (--reference).

Each model trains on a batch drawn every step on the device (lines: the renderer; MNIST and
SVHN: a random uint8 dataset held on the device, the same ops as the real one), with the
library's step (`acai_repro.training.train.one_step`): eager, then graphed (`acai_repro.training.cuda_graphs`),
alternating over the repeats, median. Also one full lines evaluation (Table 1's metrics, the
test set, classifier accuracy, reconstruction) timed on the device, cold and warm.

    python benchmarks/train_step.py --device cuda              # eager vs graphed, + evaluation
    python benchmarks/train_step.py --device cpu --steps 2      # eager only ("n/a (CPU)")
    python benchmarks/train_step.py --sustain 10 --settings "lines dz64" --models acai
        # one graphed cell for 10 s: the unit of the several-processes-per-GPU measurement
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
from acai_repro.data import ImageSource, LinesSource
from acai_repro.metrics import lines as metrics
from acai_repro.models import MODELS
from acai_repro.training.cuda_graphs import EagerStep, GraphedStep
from acai_repro.training.train import evaluate
from acai_repro.training.training_run import build_run, one_step, train_step

# name -> (dataset, dz); lines uses Table 1's dz of each model (table1.dz_by_model).
SETTINGS = {"lines dz64": ("lines", 64), "mnist dz256": ("mnist", 256), "svhn dz256": ("svhn", 256)}
# Models with a hand-written reference step (--reference); the others print n/a there.
REFERENCE_MODELS = ("baseline", "denoising", "vae", "aae", "vqvae", "acai")
BATCH = 64


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
            self.critic = nn.Sequential(
                nn.Linear(self.dz, 100), nn.LeakyReLU(0.2), nn.Linear(100, 100), nn.LeakyReLU(0.2), nn.Linear(100, 1)
            ).to(device)
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
                loss = loss + F.binary_cross_entropy_with_logits(
                    self.critic(feats), torch.ones(len(x), 1, device=x.device)
                )
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


# ---- the library, eager and graphed -------------------------------------------------
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cell(config, setting: str, model: str, device: torch.device):
    """(spec, run, source) of one benchmark cell on `device`."""
    dataset, dz = SETTINGS[setting]
    if dataset == "lines":
        dz = config["table1"].get("dz_by_model", {}).get(model, dz)
    spec = cell_spec(config, dataset, model, dz, 0)
    spec["device"] = str(device)
    torch.manual_seed(0)
    run = build_run(spec, device)
    if dataset == "lines":
        return spec, run, LinesSource(device, spec["evaluation"]["test_lines"], 0)
    source = ImageSource.__new__(ImageSource)  # a random on-device uint8 "dataset", no file
    colors, generator = spec["architecture"]["colors"], torch.Generator().manual_seed(0)
    source.device = device
    source.train_images = torch.randint(0, 256, (60_000, 32, 32, colors), dtype=torch.uint8, generator=generator).to(
        device
    )
    source.train_labels = torch.randint(0, 10, (60_000,), generator=generator).to(device)
    return spec, run, source


def stepper(config, setting, model, device, graphed: bool):
    _, run, source = cell(config, setting, model, device)
    worst = torch.zeros((), device=device)
    step = lambda: one_step(run, source, BATCH, worst)  # noqa: E731
    return GraphedStep(run, step, [worst]) if graphed else EagerStep(step)


def images_per_second(step, steps: int, device) -> float:
    for _ in range(3):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps * BATCH / (time.perf_counter() - start)


def evaluation_seconds(config, device) -> tuple[float, float]:
    """One full lines evaluation (Table 1 settings) of an ACAI cell: cold (reference set
    built and moved to the device) and warm."""
    metrics._reference_set.cache_clear()
    metrics._dense_references.cache_clear()
    _, run, source = cell(config, "lines dz64", "acai", device)
    times = []
    for index in range(3):
        _sync(device)
        start = time.perf_counter()
        evaluate(run, source, index)
        _sync(device)
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:])


def sustain(config, setting, model, device, seconds: float, start_at: float) -> None:
    """Replay one graphed cell for `seconds` from wall time `start_at`; print its images/s."""
    step = stepper(config, setting, model, device, graphed=device.type == "cuda")
    images_per_second(step, 10, device)
    while time.time() < start_at:
        time.sleep(0.01)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            step()
        steps += 50
        _sync(device)
    rate = steps * BATCH / (time.perf_counter() - start)
    print(f"sustained {setting} {model}: {rate:.0f} img/s over {time.perf_counter() - start:.1f} s", flush=True)


def library_vs_reference(config, setting, model, device, steps, repeats) -> str:
    if model not in REFERENCE_MODELS:
        return f"{'n/a':>12} {'(no reference)':>12} {'':>6}"
    spec, run, _ = cell(config, setting, model, device)
    arch = spec["architecture"]
    sizes = (arch["colors"], arch["depth"], arch["latent_width"], arch["latent_channels"])
    x = torch.rand(BATCH, sizes[0], 32, 32, device=device) * 2 - 1
    y = torch.randint(0, 10, (BATCH,), device=device)
    ref = Reference(model, sizes, device)
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(images_per_second(lambda: train_step(run, x, y), steps, device))
        theirs.append(images_per_second(lambda: ref.step(x, y), steps, device))
    a, b = statistics.median(ours), statistics.median(theirs)
    return f"{a:>12.0f} {b:>12.0f} {a / b:>6.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50, help="eager steps per timing")
    parser.add_argument("--graphed-steps", type=int, default=400, help="graphed steps per timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--models", nargs="+", default=list(MODELS), choices=list(MODELS), help="default: every registered model"
    )
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--reference", action="store_true", help="also the library vs a hand-written loop (eager)")
    parser.add_argument("--no-evaluation", action="store_true")
    parser.add_argument("--sustain", type=float, help="seconds of one graphed cell (see above)")
    parser.add_argument("--start-at", type=float, default=0.0, help="wall time (epoch s) to start --sustain")
    args = parser.parse_args()
    device = torch.device(args.device)
    config = load_config("config/config.yaml")
    if args.sustain:
        return sustain(config, args.settings[0], args.models[0], device, args.sustain, args.start_at)
    graphs = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if graphs else "CPU"
    print(
        f"device {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}, batch {BATCH}, "
        f"{args.steps} eager / {args.graphed_steps} graphed steps x {args.repeats} alternating repeats, median"
    )
    extra = f" {'library':>12} {'reference':>12} {'ratio':>6}" if args.reference else ""
    print(f"{'setting':<12} {'model':<10} {'eager img/s':>12} {'graphed img/s':>14} {'speed-up':>9}{extra}")
    for setting in args.settings:
        for model in args.models:
            eager = stepper(config, setting, model, device, graphed=False)
            graphed = stepper(config, setting, model, device, graphed=True) if graphs else None
            e_rates, g_rates = [], []
            for _ in range(args.repeats):
                e_rates.append(images_per_second(eager, args.steps, device))
                if graphed is not None:
                    g_rates.append(images_per_second(graphed, args.graphed_steps, device))
            e = statistics.median(e_rates)
            g = (
                f"{statistics.median(g_rates):>14.0f} {statistics.median(g_rates) / e:>8.1f}x"
                if g_rates
                else f"{'n/a (CPU)':>14} {'':>9}"
            )
            more = (
                " " + library_vs_reference(config, setting, model, device, args.steps, args.repeats)
                if args.reference
                else ""
            )
            print(f"{setting:<12} {model:<10} {e:>12.{0 if e >= 100 else 2}f} {g}{more}", flush=True)
            del eager, graphed
    if not args.no_evaluation:
        cold, warm = evaluation_seconds(config, device)
        print(f"one full lines evaluation on {device}: {warm:.3f} s warm ({cold:.3f} s first, with the reference set)")


if __name__ == "__main__":
    main()
