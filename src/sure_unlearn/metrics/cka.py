"""Linear centred kernel alignment (CKA; Kornblith, Norouzi, Lee, Hinton, ICML 2019, arXiv 1905.00414).

CKA compares two representations of the *same* n examples, ``X`` (n×d₁) and ``Y`` (n×d₂), through their
Gram matrices K = X Xᵀ and L = Y Yᵀ, so the two layers may have different widths:

    H = I − (1/n) 1 1ᵀ                     (centring)
    HSIC(K, L) ∝ ⟨H K H, H L H⟩_F            (the 1/(n−1)² factor cancels in the ratio below)
    CKA(K, L)  = HSIC(K, L) / √(HSIC(K, K) · HSIC(L, L))          ∈ [0, 1]

For linear kernels on column-centred features X̃ = H X, Ỹ = H Y the same number is

    CKA = ‖Ỹᵀ X̃‖²_F / (‖X̃ᵀ X̃‖_F · ‖Ỹᵀ Ỹ‖_F)

(because ⟨X̃X̃ᵀ, ỸỸᵀ⟩_F = tr(X̃X̃ᵀỸỸᵀ) = ‖ỸᵀX̃‖²_F), which is cheaper when n exceeds the widths.
Linear CKA is invariant to orthogonal transforms and isotropic scaling of either representation, but not
to arbitrary invertible linear maps. It is undefined (NaN here) when a representation is constant over
the n examples. Everything is computed in float64.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(50, 8))
>>> round(linear_cka(x, x), 6), round(linear_cka(x, 3.0 * x + 1.0), 6)
(1.0, 1.0)
>>> ka, kb = gram_linear(x), gram_linear(x[:, :4])
>>> bool(np.isclose(cka_from_grams(ka, kb), linear_cka(x, x[:, :4])))
True
"""

from __future__ import annotations

import numpy as np

from sure_unlearn.errors import DataError


def _as_2d(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise DataError(f"{what} must be an n×d array of representations, got shape {a.shape}")
    return a


def gram_linear(x: np.ndarray) -> np.ndarray:
    """The linear-kernel Gram matrix K = X Xᵀ (n×n, float64) of representations ``x`` (n×d).

    >>> gram_linear(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[5.0, 11.0], [11.0, 25.0]]
    """
    a = _as_2d(x, "x")
    return a @ a.T


def center_gram(k: np.ndarray) -> np.ndarray:
    """H K H with H = I − 11ᵀ/n: subtract row and column means, add back the grand mean (a new array).

    The centred Gram of X equals the Gram of the column-centred X̃ = H X:

    >>> x = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 1.0]])
    >>> xc = x - x.mean(0)
    >>> bool(np.allclose(center_gram(gram_linear(x)), xc @ xc.T))
    True
    """
    g = _as_2d(k, "a Gram matrix")
    if g.shape[0] != g.shape[1]:
        raise DataError(f"a Gram matrix must be square (n×n), got shape {g.shape}")
    return g - g.mean(0, keepdims=True) - g.mean(1, keepdims=True) + g.mean()


def _ratio(hab: float, haa: float, hbb: float) -> float:
    denom = np.sqrt(haa * hbb)
    # a constant representation has a zero centred Gram: its similarity to anything is undefined
    return float(hab / denom) if denom > 0 else float("nan")


def cka_from_grams(ka: np.ndarray, kb: np.ndarray) -> float:
    """Linear CKA from two Gram matrices of the same n examples (HSIC form, see the module docstring).

    >>> k = gram_linear(np.eye(3))
    >>> cka_from_grams(k, k)
    1.0
    """
    a, b = center_gram(ka), center_gram(kb)
    if a.shape != b.shape:
        raise DataError(f"the two Gram matrices must cover the same examples: shapes {a.shape} and {b.shape}")
    # ⟨A, B⟩_F = Σ_ij A_ij B_ij; HSIC's 1/(n−1)² cancels in the ratio
    return _ratio(float(np.vdot(a, b)), float(np.vdot(a, a)), float(np.vdot(b, b)))


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of representations ``x`` (n×d₁) and ``y`` (n×d₂) of the same n examples, in [0, 1].

    Uses whichever of the two equal formulas is cheaper: the Gram form costs ≈ n²(d₁ + d₂) and the
    feature form ‖ỸᵀX̃‖²_F / (‖X̃ᵀX̃‖_F ‖ỸᵀỸ‖_F) costs ≈ n(d₁d₂ + d₁² + d₂²).

    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(200, 5))
    >>> q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> round(linear_cka(x, x @ q), 6)  # an orthogonal transform leaves it at 1
    1.0
    """
    a, b = _as_2d(x, "x"), _as_2d(y, "y")
    if len(a) != len(b):
        raise DataError(f"x and y must hold the same examples: {len(a)} rows and {len(b)} rows")
    n, d1, d2 = len(a), a.shape[1], b.shape[1]
    if n * (d1 + d2) <= d1 * d2 + d1 * d1 + d2 * d2:
        return cka_from_grams(gram_linear(a), gram_linear(b))
    a, b = a - a.mean(0), b - b.mean(0)
    hab = float(np.sum((b.T @ a) ** 2))
    # HSIC(K, K) = ‖X̃X̃ᵀ‖²_F = ‖X̃ᵀX̃‖²_F
    return _ratio(hab, float(np.sum((a.T @ a) ** 2)), float(np.sum((b.T @ b) ** 2)))
