"""Errors a user can act on. Each message names the problem and the fix."""


class SureError(Exception):
    """Base class of every error ``sure`` raises on purpose."""


class UnknownNameError(SureError, KeyError):
    """A method, model, dataset, scenario or metric name that no registry knows."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(SureError):
    """Missing, malformed or inconsistent data (datasets, forget sets, class counts)."""


class CheckpointError(SureError):
    """A missing, corrupt or incompatible model checkpoint."""


class ConfigError(SureError):
    """A configuration that cannot work (bad hyperparameter, missing input for a method)."""


class DivergenceError(SureError):
    """A method whose loss or weights became non-finite; the message names the method and the epoch."""
