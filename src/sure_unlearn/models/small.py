"""Small networks for tests, demos and the 8×8 digits: a three-layer CNN and an MLP.

Both work at any image size and channel count (the CNN pools globally, the MLP reads
``spec.in_channels * spec.image_size**2`` inputs).
"""

from __future__ import annotations

import torch
from torch import nn

from sure_unlearn.errors import ConfigError
from sure_unlearn.models.base import MODELS, ModelSpec, Normalize, SplitModel


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class SmallCNN(SplitModel):
    """conv(c→w)-BN-ReLU, conv(w→2w, stride 2)-BN-ReLU, conv(2w→4w, stride 2)-BN-ReLU, global average pool.

    Stages (``blocks()``): ``conv1, conv2, conv3, pool``; ``z`` has ``4 * width`` columns.
    """

    def __init__(self, spec: ModelSpec, width: int = 16) -> None:
        super().__init__()
        if width < 1:
            raise ConfigError(f"small_cnn width must be a positive integer, got {width}")
        self.norm_in = Normalize(spec.mean, spec.std)
        self.conv1 = _conv_bn_relu(spec.in_channels, width, stride=1)
        self.conv2 = _conv_bn_relu(width, 2 * width, stride=2)
        self.conv3 = _conv_bn_relu(2 * width, 4 * width, stride=2)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, spec.num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv3(self.conv2(self.conv1(self.norm_in(x)))))


class MLP(SplitModel):
    """flatten → (Linear → ReLU) × ``depth`` → z; stages ``layer1 … layer{depth}`` (flatten is in ``layer1``)."""

    def __init__(self, spec: ModelSpec, hidden: int = 128, depth: int = 2) -> None:
        super().__init__()
        if hidden < 1 or depth < 1:
            raise ConfigError(f"mlp needs hidden >= 1 and depth >= 1, got hidden={hidden}, depth={depth}")
        self.norm_in = Normalize(spec.mean, spec.std)
        n_in = spec.in_channels * spec.image_size**2
        self.layer1 = nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(inplace=True))
        for i in range(2, depth + 1):
            self.add_module(f"layer{i}", nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(inplace=True)))
        self.head = nn.Linear(hidden, spec.num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm_in(x)
        for name in self.blocks():  # layer1 … layer{depth}, in order
            x = self.get_submodule(name)(x)
        return x


@MODELS.register("small_cnn")
def small_cnn(spec: ModelSpec, *, width: int = 16) -> SplitModel:
    """A three-layer CNN (≈25k parameters at width 16): fast enough for tests and the digits demo.

    >>> spec = ModelSpec(num_classes=10, in_channels=1, image_size=8, mean=(0.5,), std=(0.25,))
    >>> m = small_cnn(spec, width=4)
    >>> tuple(m(torch.rand(2, 1, 8, 8)).shape), m.feature_dim, m.blocks()
    ((2, 10), 16, ['conv1', 'conv2', 'conv3', 'pool'])
    """
    return SmallCNN(spec, width)


@MODELS.register("mlp")
def mlp(spec: ModelSpec, *, hidden: int = 128, depth: int = 2) -> SplitModel:
    """A ReLU multilayer perceptron on the flattened, normalised image; ``z`` is the last hidden layer.

    >>> spec = ModelSpec(num_classes=10, in_channels=1, image_size=8, mean=(0.5,), std=(0.25,))
    >>> m = mlp(spec, hidden=32, depth=3)
    >>> tuple(m(torch.rand(2, 1, 8, 8)).shape), m.feature_dim, m.blocks()
    ((2, 10), 32, ['layer1', 'layer2', 'layer3'])
    """
    return MLP(spec, hidden, depth)
