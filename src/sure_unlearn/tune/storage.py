"""Where a study lives, so that it resumes after an interruption and several workers can share it.

=====================================  ==============================================================
``--storage``                          use
=====================================  ==============================================================
``memory``                             one process; gone when it ends (no resume)
``sqlite:///runs/tune/studies.db``     one process (resumes); SQLite's locking is not for many writers
``journal:runs/tune/journal.log``      several processes on one machine: an append-only file with a lock
``postgresql://user:pw@host/db``       workers on many machines (needs ``psycopg2``)
``mysql+pymysql://user:pw@host/db``    workers on many machines (needs ``pymysql``)
=====================================  ==============================================================

Database storages send a heartbeat: a trial whose worker stopped beating for ``2 × heartbeat`` seconds is
marked FAIL by the next worker that looks. The journal file has no heartbeat, so each trial records its
worker (``host:pid``) and a worker on the same host fails the RUNNING trials of processes that no longer
exist — the journal is for one machine by design.

>>> make_storage("memory") is None
True
>>> redact("postgresql://ann:secret@db.lab:5432/sure")
'postgresql://ann:***@db.lab:5432/sure'
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from pathlib import Path
from typing import Any

from sure_unlearn.errors import ConfigError

HEARTBEAT_S = 30


def worker_id() -> str:
    """``host:pid`` of this process (recorded on each trial it runs)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def make_storage(url: str | None, heartbeat_s: int = HEARTBEAT_S) -> Any:
    """``None`` (in memory), an Optuna ``JournalStorage`` for ``journal:PATH``, or an ``RDBStorage``."""
    if url in (None, "", "memory", ":memory:"):
        return None
    assert url is not None
    import optuna

    if (path := journal_path(url)) is not None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        if not path.name:
            raise ConfigError(f"--storage {url}: name the journal file, e.g. journal:runs/tune/journal.log")
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in url:
        raise ConfigError(
            f"--storage {url!r} is not a storage: use memory, sqlite:///PATH, journal:PATH, "
            "postgresql://USER:PASSWORD@HOST/DB or mysql+pymysql://USER:PASSWORD@HOST/DB"
        )
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=heartbeat_s, grace_period=2 * heartbeat_s
            )
    except ImportError as e:
        raise ConfigError(
            f"--storage {redact(url)} needs a database driver that is not installed ({e}); "
            "pip install psycopg2-binary (PostgreSQL) or pymysql (MySQL, URL mysql+pymysql://…)"
        ) from None
    except Exception as e:  # noqa: BLE001 - SQLAlchemy's connection errors have no common base we can name
        raise ConfigError(f"cannot open --storage {redact(url)}: {type(e).__name__}: {e}") from None


def journal_path(url: str | None) -> Path | None:
    """The file of a ``journal:PATH`` storage (None for any other storage).

    >>> journal_path("journal:runs/j.log"), journal_path("sqlite:///x.db")
    (PosixPath('runs/j.log'), None)
    """
    return Path(url.removeprefix("journal:")).expanduser() if url and url.startswith("journal:") else None


def redact(url: str | None) -> str:
    """The URL with its password hidden, fit for logs and results files."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url or "memory")


def _dead(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or os.name != "posix":
        return False  # another machine's worker (or no way to tell): the database heartbeat decides
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release_stale(study: Any) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker is gone; returns their numbers.

    Database storages: the heartbeat decides (Optuna's ``fail_stale_trials``). Any storage: a trial whose
    recorded worker is a process of this host that no longer exists.
    """
    import optuna
    from optuna.trial import TrialState

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # a no-op without a heartbeat (memory, journal)
    released = []
    for t in orphans(study):
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        released.append(t.number)
    return released


def orphans(study: Any) -> list[Any]:
    """The RUNNING trials whose recorded worker is a process of this host that no longer exists (read only)."""
    from optuna.trial import TrialState

    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if (w := t.user_attrs.get("worker")) and w != worker_id() and _dead(w)
    ]
