"""Unlearning methods. Importing this package registers every method module in it."""

import importlib
import pkgutil

from sure_unlearn.methods.base import (
    METHODS,
    MethodSpec,
    RunContext,
    UnlearnData,
    make_config,
    register_method,
    run_method,
)

# The literature's order (the order of tables and `sure list methods`); any other module in this package — a new
# method is one new file — is registered after these.
_ORDER = [
    "retrain",
    "finetune",
    "grad_ascent",
    "neggrad_plus",
    "random_label",
    "l1_sparse",
    "salun",
    "scrub",
    "scrub_r",
    "boundary_shrink",
    "boundary_expanding",
    "ssd",
    "influence",
    "cf_k",
    "eu_k",
    "sure",
    "sure_plus",
]
_found = [m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"]
for _name in [n for n in _ORDER if n in _found] + sorted(set(_found) - set(_ORDER)):
    importlib.import_module(f"{__name__}.{_name}")

__all__ = [
    "METHODS",
    "MethodSpec",
    "RunContext",
    "UnlearnData",
    "make_config",
    "register_method",
    "run_method",
]
