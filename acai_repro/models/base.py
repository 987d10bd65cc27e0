"""The interface every autoencoder implements (one module per model, as in pythae).

A model module declares everything about its model on the class: `name` (the registry key,
the `{model}` wildcard and the results folder), `title` (tables and figures), `order` (its
place in the default model lists of Tables 1-3), `rate_like` (the measured model whose
training rate `grid cost` borrows while this one has none) and `OPTIONS`, its options as
`Option`s with the paper's defaults: the configuration's `models.<name>` section, its
validation and its documentation are built from them (acai_repro.config).

Who a model is (`name`, `title`, `order`) belongs to the class that declares it: a subclass
that does not set its own title or order gets the defaults, not its parent's (a β-VAE is not
titled "VAE", nor placed in the VAE's column). What a model does is inherited: its methods,
`OPTIONS`, `latent_kind`, and `rate_like`, which defaults to the parent model's name (a
subclass trains at its parent's rate until it is measured itself).

A model owns its networks and computes its own training losses, in two parts:
- `noise(x, generator)` -> dict: every random draw of a step (from the cell's model
  generator, in a fixed order; {} for a model that draws nothing);
- `losses(x, noise)` -> (losses, features), deterministic given its inputs:
  `losses["ae"]` (and, for adversarial models, `losses["critic"]`) are the objectives of the
  parameter groups in `param_groups()`; other entries are logged. `features` feed the
  in-tandem classifier.
The trainer calls `training_losses(x, generator)`, which is the two in turn. Split so, seed
fusion (acai_repro.training.fusion) draws each seed's noise from that seed's own generator and runs
`losses` for all seeds at once under `torch.func.vmap`; a model that overrides
`training_losses` instead trains everywhere but fused.
- `encode` / `decode` / `interpolate` in data space [-1, 1], used by every evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from acai_repro.nets import Architecture, decoder, encoder


@dataclass(frozen=True)
class Option:
    """One option of a model: its type (int, float, str), default, allowed range or choices
    and a one-line description. A `choices` option takes exactly one of `choices`."""

    type: type
    default: object
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    choices: tuple | None = None


DEFAULT_ORDER = 1000  # after the paper's six (10-60) unless a model says otherwise
DEFAULT_RATE_LIKE = "baseline"


class AutoEncoder(nn.Module):
    name = "base"
    title: str | None = None  # None: the name
    order = DEFAULT_ORDER
    rate_like = DEFAULT_RATE_LIKE
    # What `encode` returns, recorded with exported latents (latents.h5's `latent`): "code" (the
    # encoder's output), or what a model says instead ("sample", "continuous (pre-quantisation)").
    latent_kind = "code"
    # Whether decoding draws of N(0, I) shows what the model generates (a prior it trains towards,
    # as the VAE's KL term does): such a model may draw the samples figure (paper Fig. 5).
    has_prior = False
    OPTIONS: dict[str, Option] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if "title" not in own:
            cls.title = None
        if "order" not in own:
            cls.order = DEFAULT_ORDER
        if "rate_like" not in own:
            parent = cls.__mro__[1]
            is_model = parent is not AutoEncoder and "name" in vars(parent)
            cls.rate_like = parent.name if is_model else DEFAULT_RATE_LIKE

    def __init__(self, arch: Architecture, options: dict | None = None):
        super().__init__()
        self.arch = arch
        self.options = self.filled_options(options)
        self.encoder = encoder(arch)
        self.decoder = decoder(arch)

    @classmethod
    def filled_options(cls, options: dict | None = None) -> dict:
        """Every option of `OPTIONS` (in its order): the given value, else the default."""
        given = dict(options or {})
        unknown = sorted(set(given) - set(cls.OPTIONS))
        if unknown:
            raise ValueError(f"models.{cls.name}: unknown options {unknown}; valid: {', '.join(cls.OPTIONS) or 'none'}")
        return {key: given.get(key, option.default) for key, option in cls.OPTIONS.items()}

    # -- data-space interface -------------------------------------------------------
    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latent map [B, C, H', W'] used for interpolation, export and clustering."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] space (unclipped) from latent maps."""
        return self.decoder(z)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened input of the single-layer classifier (docs/protocol.md §6)."""
        return self.encoder(x).flatten(1)

    def interpolate(
        self,
        x_a: torch.Tensor,
        x_b: torch.Tensor,
        n_points: int = 16,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Decode z_k = z_a·(n-1-k)/(n-1) + z_b·k/(n-1): [P, n_points, C, H, W], endpoints included."""
        z_a, z_b = self.encode(x_a, generator), self.encode(x_b, generator)
        t = torch.linspace(0.0, 1.0, n_points, device=z_a.device, dtype=z_a.dtype)
        t = t.view(1, n_points, 1, 1, 1)
        z = z_a[:, None] * (1.0 - t) + z_b[:, None] * t
        images = self.decode(z.flatten(0, 1))
        return images.view(len(x_a), n_points, *images.shape[1:])

    # -- training interface ---------------------------------------------------------
    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser; each key names the loss in `training_losses` it minimises.

        A model with an adversary keeps it in `self.critic`: it gets its own optimiser
        ("critic"); everything else is the autoencoder's ("ae").
        """
        critic = getattr(self, "critic", None)
        critic_params = list(critic.parameters()) if critic is not None else []
        critic_ids = {id(p) for p in critic_params}
        groups = {"ae": [p for p in self.parameters() if id(p) not in critic_ids]}
        if critic_params:
            groups["critic"] = critic_params
        return groups

    @classmethod
    def fusable(cls) -> bool:
        """Whether seed fusion can train this model: its step is split into `noise` and
        `losses` (a model that overrides `training_losses` draws inside its step)."""
        return cls.training_losses is AutoEncoder.training_losses

    def noise(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Every random draw of one training step on batch `x` (its shape, dtype, device)."""
        return {}

    def losses(self, x: torch.Tensor, noise: dict[str, torch.Tensor]):
        """(losses, features) of batch `x` given the step's `noise`; no random draw in here."""
        raise NotImplementedError(f"model {self.name}: implement losses(x, noise) (and noise(x, generator))")

    def training_losses(self, x: torch.Tensor, generator: torch.Generator):
        """One step's (losses, features): its draws, then the deterministic losses."""
        return self.losses(x, self.noise(x, generator))


def unfusable_reason(model_class: type[AutoEncoder]) -> str | None:
    """Why seed fusion cannot train `model_class` (None: it can). It runs `model.losses` under
    vmap with the noise drawn outside, so the step must be split into `noise` and `losses`."""
    if model_class.fusable():
        return None
    return (
        f"model {model_class.name}: seed fusion needs its step split into noise(x, generator) and "
        "losses(x, noise) (docs/extending.md), and it overrides training_losses; train it with "
        "training.seed_fusion: false"
    )


def mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction loss of every model but the VAE: mean over all elements."""
    return F.mse_loss(x_hat, x)


def normal_like(t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype)
