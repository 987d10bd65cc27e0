"""Model registry: name -> class, filled by discovery (no list to edit).

Every module of this package that defines an `AutoEncoder` subclass with its own `name` is a
model, one file each (acai_repro.models.base says what a model declares). A model kept outside
the package joins through the environment variable ACAI_EXTRA_MODELS: comma-separated module
paths, importable from sys.path (PYTHONPATH). Snakemake and every job it starts inherit the
variable, so the whole workflow sees the same registry. MODELS is ordered by each class's
`order` (then name): the order of the default model lists of Tables 1-3.

This package reads no configuration: acai_repro.config builds the `models` section of the
schema from MODELS.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re

from acai_repro.models.base import AutoEncoder

EXTRA_MODELS_ENV = "ACAI_EXTRA_MODELS"
# A model name is a path component of the results and a Snakemake wildcard value.
MODEL_NAME = r"[a-z][a-z0-9_]*"
RESERVED_NAMES = ("pixels",)  # the tables' raw-pixel column

MODELS: dict[str, type[AutoEncoder]] = {}


def model_classes(module) -> list[type[AutoEncoder]]:
    """The models a module defines: AutoEncoder subclasses of its own that set `name`."""
    return [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls)
        and issubclass(cls, AutoEncoder)
        and cls is not AutoEncoder
        and cls.__module__ == module.__name__
        and "name" in vars(cls)
    ]


def _check_name(cls: type[AutoEncoder]) -> None:
    if not re.fullmatch(MODEL_NAME, cls.name) or cls.name in RESERVED_NAMES:
        raise ValueError(
            f"{cls.__module__}.{cls.__qualname__}: model name {cls.name!r} must match {MODEL_NAME} "
            f"and not be one of {', '.join(RESERVED_NAMES)}"
        )
    known = MODELS.get(cls.name)
    if known is not None and known is not cls:
        raise ValueError(f"{cls.__module__}: model name {cls.name!r} is already taken by {known.__module__}")


def register(module_name: str, required: bool = True) -> list[str]:
    """Import `module_name` and add its models to MODELS (kept in `order`); their names.

    `required`: a module that defines no model is an error (an extra module named by the user)."""
    classes = model_classes(importlib.import_module(module_name))
    if required and not classes:
        raise ValueError(f"{module_name}: defines no model (an AutoEncoder subclass that sets `name`)")
    for cls in classes:
        _check_name(cls)
    MODELS.update((cls.name, cls) for cls in classes)
    ordered = sorted(MODELS.values(), key=lambda cls: (cls.order, cls.name))
    MODELS.clear()
    MODELS.update((cls.name, cls) for cls in ordered)
    return [cls.name for cls in classes]


def extra_modules() -> list[str]:
    return [name.strip() for name in os.environ.get(EXTRA_MODELS_ENV, "").split(",") if name.strip()]


def _discover() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name != "base":
            register(f"{__name__}.{info.name}", required=False)
    for name in extra_modules():
        try:
            register(name)
        except ImportError as error:
            raise ImportError(f"{EXTRA_MODELS_ENV}: cannot import {name!r}: {error}") from error


def title_of(name: str) -> str:
    """The display title of a model (tables, figures); an unregistered name stays as it is."""
    return (MODELS[name].title if name in MODELS else None) or name


def build_model(name: str, arch, options: dict | None = None) -> AutoEncoder:
    """A new `name` model; options not given take the model's defaults."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return MODELS[name](arch, options)


_discover()
