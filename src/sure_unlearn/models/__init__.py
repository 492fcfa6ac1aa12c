"""The model zoo: every architecture is a :class:`SplitModel` registered in :data:`MODELS`.

>>> sorted(MODELS.available())
['mlp', 'resnet18', 'resnet50', 'small_cnn', 'vgg16_bn', 'vit_small']
"""

from sure_unlearn.models import resnet, small, vgg, vit  # noqa: F401  (registers the architectures)
from sure_unlearn.models.base import MODELS, ModelSpec, SplitModel, build_model, capture, wrap_model

__all__ = ["MODELS", "ModelSpec", "SplitModel", "build_model", "capture", "wrap_model"]
