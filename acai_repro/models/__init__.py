"""Model registry: name -> class. Each class is one module of this package."""

from acai_repro.models.aae import AAE
from acai_repro.models.acai import ACAI
from acai_repro.models.base import AutoEncoder
from acai_repro.models.baseline import Baseline
from acai_repro.models.denoising import Denoising
from acai_repro.models.vae import VAE
from acai_repro.models.vqvae import VQVAE

MODELS: dict[str, type[AutoEncoder]] = {
    cls.name: cls for cls in (Baseline, Denoising, VAE, AAE, VQVAE, ACAI)
}


def build_model(name: str, arch, options: dict | None = None) -> AutoEncoder:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    from acai_repro.config import model_options  # the schema holds every default (import cycle)

    return MODELS[name](arch, model_options(name, options))
