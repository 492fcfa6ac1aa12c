"""Runs claimed from a shared queue: benchmark processes of one machine given the same queue directory each
take the next run that no process has claimed, so every process stays busy until the plan is done, however
unequal the runs' costs. (``--shard i/n`` fixes each process's part in advance; the part that drew the cheap
runs then idles while another still has hours of work.)

A claim is the file ``<queue>/<name>.json``: the claimant's host, pid and process start time, the
``run.json`` it will write, and whether that is done. Claims are read and written under one lock file
(``<queue>/.lock``), so two processes never both hold a run. A claim is void, and the run free again, when

* its process is gone from this machine before the run was done (killed, crashed, the machine restarted:
  the start time tells a reused pid from the claimant), or
* the run it says is done is no longer where it says (its results directory was deleted).

A claim from another host is trusted as it is; once every process of the queue has stopped,
:meth:`RunQueue.drop_unfinished` frees what they left unfinished.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sure_unlearn.errors import SureError
from sure_unlearn.files import atomic_write_text, check_writable, file_lock

HOST = socket.gethostname()


def start_time(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat``, field 22); None where
    there is no such process or no ``/proc``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # the fields after "(comm)" start at field 3


def alive(pid: int, started: str | None) -> bool:
    """Whether the process that claimed as (``pid``, ``started``) still runs on this machine."""
    now = start_time(pid)
    if now is not None:
        return started is None or now == started
    try:
        os.kill(pid, 0)  # no /proc: the pid alone
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(claim: dict[str, Any]) -> str:
    state = "done" if claim.get("done") else "running"
    return f"{state} in process {claim.get('pid')} on {claim.get('host')} ({claim.get('run')})"


@dataclass(frozen=True)
class RunQueue:
    """The claims in directory ``root`` (created on first use)."""

    root: Path

    @classmethod
    def at(cls, root: str | Path) -> RunQueue:
        return cls(check_writable(root, "--queue"))

    def _path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def holder(self, name: str) -> dict[str, Any] | None:
        """The claim that holds ``name``; None when the run is free (never claimed, or its claim is void)."""
        try:
            claim = json.loads(self._path(name).read_text())
            pid, run = int(claim["pid"]), Path(claim["run"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # never claimed, or a claim file that cannot be read: free
        if claim.get("done"):
            return claim if run.exists() else None
        if claim.get("host") == HOST and not alive(pid, claim.get("started")):
            return None
        return claim

    def _write(self, name: str, run: Path, done: bool) -> None:
        pid = os.getpid()
        claim = {"host": HOST, "pid": pid, "started": start_time(pid), "run": str(run), "done": done}
        atomic_write_text(self._path(name), json.dumps(claim))

    def _mine(self, claim: dict[str, Any] | None) -> bool:
        return claim is not None and claim.get("host") == HOST and claim.get("pid") == os.getpid()

    def claim(self, name: str, run: Path) -> dict[str, Any] | None:
        """Claim run ``name`` for this process, which will write ``run`` (a ``run.json``): None when this
        process now holds it, else the claim of the process that holds it or has done it."""
        with file_lock(self.root / ".lock"):
            holder = self.holder(name)
            if holder is not None and (holder.get("done") or not self._mine(holder)):
                return holder
            self._write(name, run.resolve(), done=False)
            return None

    def done(self, name: str, run: Path) -> None:
        with file_lock(self.root / ".lock"):
            self._write(name, run.resolve(), done=True)

    def release(self, name: str) -> None:
        """Give ``name`` up unfinished (this process stops before writing it), if this process holds it."""
        with file_lock(self.root / ".lock"):
            if self._mine(self.holder(name)):
                self._path(name).unlink(missing_ok=True)

    def drop_unfinished(self) -> int:
        """Free every run claimed but not done, whoever holds it, and remove the void claims; the number of
        claims removed. For a queue whose processes have all stopped, e.g. on another machine, whose claims
        this one cannot test."""
        freed = 0
        with file_lock(self.root / ".lock"):
            for path in self.root.glob("*.json"):
                claim = self.holder(path.stem)
                if claim is None or not claim.get("done"):
                    path.unlink(missing_ok=True)
                    freed += 1
        return freed

    @contextmanager
    def claimed(self, name: str, run: Path) -> Iterator[dict[str, Any] | None]:
        """Hold ``name`` for the block (yields None) and mark it done when the block ends normally, or give
        it up when the block raises; when another process holds it, yield that claim and hold nothing."""
        holder = self.claim(name, run)
        if holder is not None:
            yield holder
            return
        try:
            yield None
        except BaseException:
            self.release(name)
            raise
        self.done(name, run)


def main(argv: list[str] | None = None) -> int:
    """``python -m sure_unlearn.protocol.claims QUEUE``: free the runs a stopped queue left unfinished, before
    its processes start again (the benchmark scripts run it first)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m sure_unlearn.protocol.claims",
        description="Free every run of a run queue that is claimed but not done; run it only while no "
        "process of the queue is running.",
    )
    parser.add_argument("queue", type=Path, help="the queue directory given to `sure benchmark --queue`")
    args = parser.parse_args(argv)
    if not args.queue.is_dir():
        parser.error(f"{args.queue} is not a directory: give the queue directory of `sure benchmark --queue`")
    try:
        freed = RunQueue.at(args.queue).drop_unfinished()
    except SureError as e:
        parser.error(" ".join(str(e).split()))
    print(f"{args.queue}: {freed} unfinished claim{'' if freed == 1 else 's'} freed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
