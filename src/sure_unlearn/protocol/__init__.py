"""The benchmark protocol: configurations and presets, references (originals, oracles), runs, evaluation,
checkpoints and the results layout. Built on the methods and metrics; the report reads what it writes."""

from sure_unlearn.protocol import presets  # registers the named configurations into config.PRESETS

__all__ = ["presets"]
