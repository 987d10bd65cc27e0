"""VQ-VAE with an EMA codebook (docs/protocol.md §4), in two variants.

`slices` (default): the authors' model, as their released `vqvae.py` and
`lib/discretization.py` build it and as their table notebook's run names
(`..._num_latents10_..._z_log_size14`) confirm. The encoder's latent map is flattened
(h = dz values), a dense layer maps it to `slices`·h values, which are cut into `slices`
vectors of h values; each is replaced by its nearest of 2^14 codebook vectors (one
codebook shared by the slices), straight-through; the quantised slices together go
through ReLU → dense `mlp_width` → ReLU → dense h, reshaped to the latent map and decoded.

`whole`: the paper's prose: the flattened latent map itself is one codebook query and its
nearest codebook vector is decoded directly (no dense layers). Kept as a documented variant.

Shared by both: commitment β·mean((q - sg(e))²) with β = 10 on the queries q, codebook =
EMA sums / Laplace-smoothed EMA counts (decay 0.999, ε = 1e-5), EMA sums start at the
uniform-unit-scaling codebook, counts at 0. The lookup of a step uses the codebook from
before that step's EMA update (the authors update it after the loss is formed).
Interpolation mixes the encoder's continuous map, then `decode` runs the whole bottleneck.
"""

import math

import torch
from torch import nn

from acai_repro.models.base import AutoEncoder, Option, mse
from acai_repro.nets import dense


class VQVAE(AutoEncoder):
    name = "vqvae"
    title = "VQ-VAE"
    order = 50
    latent_kind = "continuous (pre-quantisation)"  # `encode` is the encoder's map; `decode` quantises
    OPTIONS = {  # this order is the order of a cell spec's model_options (its resume digest ignores it)
        "variant": Option(
            str,
            "slices",
            "`slices`: the authors' code (`slices` parts, one shared codebook); `whole`: one query of the whole vector",
            choices=("slices", "whole"),
        ),
        "slices": Option(int, 10, "parts of the `slices` variant", minimum=1),
        "mlp_width": Option(int, 512, "width of the MLP after quantisation (`slices`)", minimum=1),
        "codebook_size": Option(int, 16384, "codebook entries", minimum=1),
        "commitment": Option(float, 10.0, "commitment weight β", minimum=0),
        "decay": Option(float, 0.999, "EMA decay of the codebook", minimum=0, exclusive_maximum=1),
        "epsilon": Option(float, 1.0e-5, "EMA Laplace smoothing", exclusive_minimum=0),
    }

    def __init__(self, arch, options=None):
        super().__init__(arch, options)
        o = self.options
        self.variant = o["variant"]
        self.codebook_size = int(o["codebook_size"])
        self.commitment = float(o["commitment"])
        self.decay = float(o["decay"])
        self.epsilon = float(o["epsilon"])
        width = arch.dz  # h: the size of one codebook vector in both variants
        if self.variant == "slices":
            self.slices = int(o["slices"])
            self.project = dense(width, self.slices * width)
            self.mlp = nn.Sequential(
                nn.ReLU(),
                dense(self.slices * width, int(o["mlp_width"])),
                nn.ReLU(),
                dense(int(o["mlp_width"]), width),
            )
        elif self.variant != "whole":
            raise ValueError(f"models.vqvae.variant: unknown {self.variant!r}; valid: slices, whole")
        # Uniform unit scaling (TF's default for the authors' codebook): ±sqrt(3 / fan_in),
        # fan_in = the number of codebook vectors.
        bound = math.sqrt(3.0 / self.codebook_size)
        codebook = (torch.rand(self.codebook_size, width) * 2.0 - 1.0) * bound
        self.register_buffer("codebook", codebook)
        self.register_buffer("ema_count", torch.zeros(self.codebook_size))
        self.register_buffer("ema_sum", codebook.clone())

    # -- the bottleneck ---------------------------------------------------------------
    def queries(self, z: torch.Tensor) -> torch.Tensor:
        """The vectors looked up in the codebook: [B·slices, h] (slices) or [B, h] (whole)."""
        flat = z.flatten(1)
        if self.variant == "whole":
            return flat
        return self.project(flat).reshape(-1, flat.shape[1])

    def nearest_codes(self, queries: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook vector of each row of `queries`."""
        distance = (
            queries.square().sum(1, keepdim=True)
            - 2.0 * queries @ self.codebook.T
            + self.codebook.square().sum(1)[None, :]
        )
        return distance.argmin(dim=1)

    def _after_quantisation(self, quantised: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The decoder's input (the latent map's shape) from the quantised queries."""
        if self.variant == "whole":
            return quantised.view_as(z)
        return self.mlp(quantised.reshape(len(z), -1)).view_as(z)

    def bottleneck(self, z: torch.Tensor):
        """(decoder input, queries, their codes, their codebook vectors) of latent maps z."""
        queries = self.queries(z)
        codes = self.nearest_codes(queries.detach())
        quantised = self.codebook[codes]
        straight_through = queries + (quantised - queries).detach()
        return self._after_quantisation(straight_through, z), queries, codes, quantised

    # -- data-space interface -----------------------------------------------------------
    def decode(self, z):
        return self.decoder(self.bottleneck(z)[0])

    def features(self, x):
        """The in-tandem classifier reads the bottleneck's output (the authors' d['dense'])."""
        return self.bottleneck(self.encoder(x))[0].flatten(1)

    # -- training -----------------------------------------------------------------------
    @torch.no_grad()
    def _ema_update(self, queries: torch.Tensor, codes: torch.Tensor) -> None:
        """Codebook ← EMA sums / smoothed EMA counts. No host sync, so a CUDA graph can hold it."""
        if queries.is_cuda:
            # index_add_ of floats uses atomics on a GPU (order varies run to run); the one-hot
            # product is deterministic, as the authors' own (one-hot matmul) update. The counts
            # are sums of ones, exact in either form (integers below 2^24).
            one_hot = torch.nn.functional.one_hot(codes, self.codebook_size).to(queries.dtype)
            counts, sums = one_hot.sum(0), one_hot.T @ queries
        else:
            ones = torch.ones_like(codes, dtype=queries.dtype)
            counts = torch.zeros_like(self.ema_count).index_add_(0, codes, ones)
            sums = torch.zeros_like(self.ema_sum).index_add_(0, codes, queries)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.epsilon) / (total + self.codebook_size * self.epsilon)
        self.codebook.copy_(self.ema_sum / (smoothed * total)[:, None])

    def losses(self, x, noise):
        z_e = self.encoder(x)
        decoder_input, queries, codes, quantised = self.bottleneck(z_e)
        commit = (queries - quantised).square().mean()
        recon = mse(self.decoder(decoder_input), x)
        self._ema_update(queries.detach(), codes)
        ae = recon + self.commitment * commit
        return {"ae": ae, "recon": recon, "commit": commit}, decoder_input.flatten(1)
