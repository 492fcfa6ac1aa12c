"""ViT-Small for small images (Dosovitskiy et al. 2021; DeiT-S sizes: dim 384, depth 12, 6 heads, MLP ×4).

Patch 4 for 32 px inputs gives 8×8 = 64 patch tokens plus a CLS token. Pre-norm blocks
(``x + attn(LN(x))``, ``x + mlp(LN(x))``) with PyTorch's fused ``scaled_dot_product_attention``; a learned
position embedding sized for ``spec.image_size / patch``; ``z`` is the CLS token after the final LayerNorm.

Stages (``blocks()``): ``embed, block1 … block{depth}, pool``; ``embed`` and the blocks output
N×(1+T)×dim tokens, ``pool`` outputs ``z`` (N×dim).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sure_unlearn.errors import ConfigError
from sure_unlearn.models.base import MODELS, ModelSpec, Normalize, SplitModel


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch``×``patch`` patches → tokens; prepends the CLS token, adds positions."""

    def __init__(self, in_channels: int, dim: int, patch: int, num_patches: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)  # N×T×dim; flatten, not view: channels_last safe
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1) + self.pos_embed


class Attention(nn.Module):
    """Multi-head self-attention: one qkv projection, fused attention, an output projection."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)  # N×heads×T×(d/heads)
        return self.proj(x.transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ClsPool(nn.Module):
    """The final LayerNorm, applied to the CLS token (LayerNorm is per token, so this equals norm-then-pick)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x[:, 0])


class ViT(SplitModel):
    """A Vision Transformer with a CLS token; see the module docstring."""

    def __init__(
        self, spec: ModelSpec, patch: int, dim: int, depth: int, heads: int, mlp_ratio: float
    ) -> None:
        super().__init__()
        if spec.image_size % patch:
            raise ConfigError(f"ViT patch {patch} does not divide the image size {spec.image_size}")
        if dim % heads:
            raise ConfigError(f"ViT dim {dim} is not divisible by heads {heads}")
        if depth < 1:
            raise ConfigError(f"ViT depth must be at least 1, got {depth}")
        self.depth = depth
        self.norm_in = Normalize(spec.mean, spec.std)
        self.embed = PatchEmbed(spec.in_channels, dim, patch, (spec.image_size // patch) ** 2)
        for i in range(1, depth + 1):
            self.add_module(f"block{i}", Block(dim, heads, mlp_ratio))
        self.pool = ClsPool(dim)
        self.head = nn.Linear(dim, spec.num_classes)
        # timm's ViT init: truncated normal (std 0.02) for linears and the embeddings, zero biases.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.embed.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.embed.cls_token, std=0.02)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(self.norm_in(x))
        for i in range(1, self.depth + 1):
            x = self.get_submodule(f"block{i}")(x)
        return self.pool(x)


@MODELS.register("vit_small")
def vit_small(
    spec: ModelSpec,
    *,
    patch: int = 4,
    dim: int = 384,
    depth: int = 12,
    heads: int = 6,
    mlp_ratio: float = 4.0,
) -> SplitModel:
    """ViT-Small (21.3M parameters at 32 px, patch 4, 10 classes); ``dim``/``depth``/``heads`` shrink it.

    >>> spec = ModelSpec(num_classes=10, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)
    >>> m = vit_small(spec, dim=32, depth=2, heads=2)
    >>> tuple(m(torch.rand(2, 3, 32, 32)).shape), m.feature_dim, m.blocks()
    ((2, 10), 32, ['embed', 'block1', 'block2', 'pool'])
    """
    return ViT(spec, patch, dim, depth, heads, mlp_ratio)
