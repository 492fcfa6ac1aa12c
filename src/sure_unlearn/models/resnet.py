"""ResNet-18 and ResNet-50 with the CIFAR stem (He et al. 2016; the CIFAR variant of kuangliu/pytorch-cifar).

The CIFAR stem is one 3×3 stride-1 convolution and no max-pool, so a 32 px image reaches ``layer4`` at
4×4. It is kept for larger inputs too (64 px Tiny-ImageNet then reaches ``layer4`` at 8×8): the global
average pool makes the head independent of the image size, and the unlearning literature trains
Tiny-ImageNet ResNets this way.

Stages (``blocks()``): ``stem, layer1, layer2, layer3, layer4, pool``; ``pool`` outputs ``z`` (N×8w for
ResNet-18, N×32w for ResNet-50, w = ``width``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sure_unlearn.errors import ConfigError
from sure_unlearn.models.base import MODELS, ModelSpec, Normalize, SplitModel


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout)]


class Residual(nn.Module):
    """``relu(residual(x) + shortcut(x))``; the shortcut is the identity, or a strided 1×1 conv-BN when the
    shape changes."""

    def __init__(self, residual: nn.Sequential, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.residual = residual
        self.shortcut = nn.Sequential(*_conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(self.residual(x) + skip)


def basic_block(cin: int, planes: int, stride: int) -> Residual:
    """Two 3×3 convolutions; output ``planes`` channels (expansion 1)."""
    return Residual(
        nn.Sequential(*_conv_bn(cin, planes, 3, stride), nn.ReLU(inplace=True), *_conv_bn(planes, planes, 3)),
        cin,
        planes,
        stride,
    )


def bottleneck(cin: int, planes: int, stride: int) -> Residual:
    """1×1 reduce, 3×3 (carries the stride), 1×1 expand; output ``4 * planes`` channels (expansion 4)."""
    residual = nn.Sequential(
        *_conv_bn(cin, planes, 1),
        nn.ReLU(inplace=True),
        *_conv_bn(planes, planes, 3, stride),
        nn.ReLU(inplace=True),
        *_conv_bn(planes, 4 * planes, 1),
    )
    return Residual(residual, cin, 4 * planes, stride)


BlockFn = Callable[[int, int, int], Residual]


def _stage(block: BlockFn, cin: int, planes: int, n: int, stride: int, expansion: int) -> nn.Sequential:
    """``n`` blocks; the first one carries the stride and the change of width."""
    rest = [block(planes * expansion, planes, 1) for _ in range(n - 1)]
    return nn.Sequential(block(cin, planes, stride), *rest)


class ResNet(SplitModel):
    """A CIFAR-stem ResNet: ``block`` (with its channel ``expansion``) and ``layers`` pick the depth,
    ``width`` the base channel count; stage ``i`` has ``width * 2**i`` planes."""

    def __init__(
        self, spec: ModelSpec, block: BlockFn, expansion: int, layers: list[int], width: int
    ) -> None:
        super().__init__()
        if width < 1:
            raise ConfigError(f"ResNet width must be a positive integer, got {width}")
        self.norm_in = Normalize(spec.mean, spec.std)
        self.stem = nn.Sequential(*_conv_bn(spec.in_channels, width, 3), nn.ReLU(inplace=True))
        w, e = width, expansion
        self.layer1 = _stage(block, w, w, layers[0], stride=1, expansion=e)
        self.layer2 = _stage(block, w * e, 2 * w, layers[1], stride=2, expansion=e)
        self.layer3 = _stage(block, 2 * w * e, 4 * w, layers[2], stride=2, expansion=e)
        self.layer4 = _stage(block, 4 * w * e, 8 * w, layers[3], stride=2, expansion=e)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8 * w * e, spec.num_classes)
        for m in self.modules():  # torchvision's init; the head keeps nn.Linear's default
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.norm_in(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.pool(x)


@MODELS.register("resnet18")
def resnet18(spec: ModelSpec, *, width: int = 64) -> SplitModel:
    """ResNet-18 (BasicBlock ×[2, 2, 2, 2]), CIFAR stem kept at every image size; stages w, 2w, 4w, 8w.

    ``width=64`` is the standard network (11.17M parameters at 10 classes), ``width=16`` has 0.70M.

    >>> spec = ModelSpec(num_classes=10, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)
    >>> m = resnet18(spec, width=8)
    >>> tuple(m(torch.rand(2, 3, 32, 32)).shape), m.feature_dim, m.blocks()[-2:]
    ((2, 10), 64, ['layer4', 'pool'])
    """
    return ResNet(spec, basic_block, 1, [2, 2, 2, 2], width)


@MODELS.register("resnet50")
def resnet50(spec: ModelSpec, *, width: int = 64) -> SplitModel:
    """ResNet-50 (Bottleneck ×[3, 4, 6, 3], expansion 4), CIFAR stem; 23.5M parameters at width 64.

    >>> spec = ModelSpec(num_classes=10, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)
    >>> resnet50(spec, width=8).feature_dim
    256
    """
    return ResNet(spec, bottleneck, 4, [3, 4, 6, 3], width)
