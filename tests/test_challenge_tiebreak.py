"""The challenge's ε-score when the unlearned and retrained samples have exactly equal ranges."""

from __future__ import annotations

import math

import numpy as np

from sure_unlearn.attacks.challenge import forget_score


def test_equal_ranges_put_the_intervals_around_the_negative_sample():
    """Official rule (``google-deepmind/unlearning_evaluation: metric.py``, the double-threshold rates):
    the interval rules are built around the *positive* sample (the larger median) only when its range is
    strictly smaller than the negative sample's; on equal ranges they are built around the negative one.

    Discretised confidences with range 10 on both sides (5 models each):

        retrained (median 10, positive):  0 10 10 10 10
        unlearned (median 3,  negative):  3  3  3 10 13

    * Single thresholds: the best is t ∈ (3, 10], FNR = 1/5, FPR = 2/5: ε = ln(3/5 / 1/5) = ln 3.
    * Intervals around the negative sample (r ∈ [11, 15], l ∈ [−1, 7]) always hold the four 10s of the
      positive sample: FPR ≥ 4/5, so no such rule certifies ε > 0 and the official ε is ln 3.
    * Intervals around the positive sample (r ∈ [8, 12], l ∈ [−4, 4]) include [3.5, 10], which holds four
      positives and one negative: FPR = FNR = 1/5, ε = ln 4. The other choice would report this.
    """
    retrained = np.array([[0.0], [10.0], [10.0], [10.0], [10.0]])
    unlearned = np.array([[3.0], [3.0], [3.0], [10.0], [13.0]])
    _, eps = forget_score(unlearned, retrained)
    assert math.isclose(eps[0], math.log(3 / 5 - 1e-5) - math.log(1 / 5), rel_tol=1e-9)  # δ = 1e-5
    assert eps[0] < math.log(4) - 0.2

    # control: shrink the positive sample's range by one grid step; it is now strictly peakier, the
    # intervals sit around it and find the ln 4 rule
    _, eps = forget_score(unlearned, retrained + np.array([[0.01], [0], [0], [0], [0]]))
    assert math.isclose(eps[0], math.log(4 / 5 - 1e-5) - math.log(1 / 5), rel_tol=1e-9)
