"""VGG-16 with batch norm, CIFAR variant (Simonyan & Zisserman 2015; the CIFAR form of kuangliu/pytorch-cifar).

Thirteen 3×3 conv-BN-ReLU layers in five stages, each closed by a 2×2 max-pool; no 4096-wide classifier:
the pooled 512-channel features are ``z`` and the head is one ``Linear(512, K)`` (14.7M parameters at 10
classes). A 32 px image ends at 1×1; the final adaptive average pool lets 64 px images through too, and
the max-pools use ``ceil_mode`` so an image that is already 1×1 stays 1×1 (8×8 digits work; for 32 and
64 px inputs ``ceil_mode`` changes nothing).

Stages (``blocks()``): ``stage1 … stage5, pool``; ``pool`` outputs ``z`` (N×512·``width_mult``).
"""

from __future__ import annotations

import torch
from torch import nn

from sure_unlearn.errors import ConfigError
from sure_unlearn.models.base import MODELS, ModelSpec, Normalize, SplitModel

STAGES = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]  # VGG-16's conv widths


def _stage(cin: int, widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for cout in widths:
        layers += [
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]
        cin = cout
    return nn.Sequential(*layers, nn.MaxPool2d(2, 2, ceil_mode=True))


class VGG(SplitModel):
    """VGG-16-BN for small images; ``width_mult`` scales every channel count."""

    def __init__(self, spec: ModelSpec, width_mult: float = 1.0) -> None:
        super().__init__()
        if width_mult <= 0:
            raise ConfigError(f"VGG width_mult must be positive, got {width_mult}")
        widths = [[max(1, round(c * width_mult)) for c in stage] for stage in STAGES]
        self.norm_in = Normalize(spec.mean, spec.std)
        self.stage1 = _stage(spec.in_channels, widths[0])
        self.stage2 = _stage(widths[0][-1], widths[1])
        self.stage3 = _stage(widths[1][-1], widths[2])
        self.stage4 = _stage(widths[2][-1], widths[3])
        self.stage5 = _stage(widths[3][-1], widths[4])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(widths[4][-1], spec.num_classes)
        for m in self.modules():  # torchvision's VGG init for convs and BN; the head keeps nn.Linear's
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage2(self.stage1(self.norm_in(x)))
        x = self.stage5(self.stage4(self.stage3(x)))
        return self.pool(x)


@MODELS.register("vgg16_bn")
def vgg16_bn(spec: ModelSpec, *, width_mult: float = 1.0) -> SplitModel:
    """VGG-16-BN, CIFAR variant: z is the pooled last conv stage, the head ``Linear(512·width_mult, K)``.

    >>> spec = ModelSpec(num_classes=10, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)
    >>> m = vgg16_bn(spec, width_mult=0.125)
    >>> tuple(m(torch.rand(2, 3, 32, 32)).shape), m.feature_dim
    ((2, 10), 64)
    """
    return VGG(spec, width_mult)
