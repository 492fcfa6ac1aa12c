"""Hyperparameter search and the studies built on it: ``sure tune``, ``sure sensitivity``,
``sure stability``.

* :mod:`~sure_unlearn.tune.objective` — one objective for every method: the distance to the oracle.
* :mod:`~sure_unlearn.tune.storage` — in-memory, SQLite, journal-file, PostgreSQL and MySQL studies.
* :mod:`~sure_unlearn.tune.study` — the search itself: same budget, same objective, resumable, shared.
* :mod:`~sure_unlearn.tune.sensitivity`, :mod:`~sure_unlearn.tune.stability` — the two studies reviewers
  asked for, and :mod:`~sure_unlearn.tune.plots` to draw them.

The search spaces themselves are plain data in :mod:`sure_unlearn.space`, declared beside each method's
config; nothing is imported here, so Optuna stays optional until a study runs.
"""
