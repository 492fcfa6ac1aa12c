"""sure — machine unlearning for image classifiers.

The flagship is SURE (Selective Unlearning via Representation Erasure, Sepahvand et al., ICLR 2025):
domain-adversarial training through a gradient reversal layer so that the forget set's representations
become indistinguishable from held-out data, while cross-entropy on the retain set keeps accuracy.

>>> from sure_unlearn import METHODS
>>> {"sure", "finetune", "retrain"} <= set(METHODS.available())
True
"""

from sure_unlearn.api import unlearn
from sure_unlearn.methods import METHODS, make_config, register_method
from sure_unlearn.models import MODELS, build_model, wrap_model

__all__ = ["METHODS", "MODELS", "build_model", "make_config", "register_method", "unlearn", "wrap_model"]
__version__ = "0.1.0"
