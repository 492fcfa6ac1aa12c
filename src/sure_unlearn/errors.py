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
    """A method's loss or weights became non-finite (NaN or ±inf); it stopped at the end of that epoch.

    ``epoch`` counts from 1; ``None`` for one-shot methods, whose single update produced the bad weights.
    """

    def __init__(self, method: str, epoch: int | None, what: str = "loss") -> None:
        self.method, self.epoch, self.what = method, epoch, what
        when = f"in epoch {epoch}" if epoch is not None else "in its update"
        verb = "is" if what == "loss" else "are"
        super().__init__(
            f"{method} diverged {when}: its {what} {verb} not finite (NaN or inf); lower its learning rate or "
            "step size, or check the inputs"
        )

    def __reduce__(self) -> tuple[type, tuple[str, int | None, str]]:  # picklable across processes
        return (DivergenceError, (self.method, self.epoch, self.what))
