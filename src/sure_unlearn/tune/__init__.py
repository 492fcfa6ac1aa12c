"""Hyperparameter search and the studies built on it: ``sure tune``, ``sure sensitivity``,
``sure stability``.

* :mod:`~sure_unlearn.tune.space` — search spaces, declared beside each method's config (no Optuna needed).
* :mod:`~sure_unlearn.tune.objective` — one objective for every method: the distance to the oracle.
* :mod:`~sure_unlearn.tune.storage` — in-memory, SQLite, journal-file, PostgreSQL and MySQL studies.
* :mod:`~sure_unlearn.tune.study` — the search itself: same budget, same objective, resumable, shared.
* :mod:`~sure_unlearn.tune.sensitivity`, :mod:`~sure_unlearn.tune.stability` — the two studies reviewers
  asked for, and :mod:`~sure_unlearn.tune.plots` to draw them.

Only ``space`` is imported here: method modules import it at registration, and Optuna stays optional.
"""

from sure_unlearn.tune.space import Choice, Float, Int, Param, Space

__all__ = ["Choice", "Float", "Int", "Param", "Space"]
