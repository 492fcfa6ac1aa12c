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

for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base":
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["METHODS", "MethodSpec", "RunContext", "UnlearnData", "make_config", "register_method", "run_method"]
