"""The run queue's claims: a run is held by one live process at a time; a claim whose process died, whose pid
now names another process, or whose done run was deleted is void; a run given up by an error is free."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sure_unlearn.protocol.claims import HOST, RunQueue, start_time


@pytest.fixture
def other_process():
    """A live process that is not this one."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield p
    p.kill()
    p.wait()


def held_by(queue: RunQueue, name: str, pid: int, run, *, done=False, host=HOST, started="same") -> None:
    started = start_time(pid) if started == "same" else started
    claim = {"host": host, "pid": pid, "started": started, "run": str(run), "done": done}
    (queue.root / f"{name}.json").write_text(json.dumps(claim))


def test_a_run_is_held_by_its_claimant_until_it_dies(tmp_path, other_process):
    queue = RunQueue.at(tmp_path / "q")
    held_by(queue, "a", other_process.pid, tmp_path / "x" / "run.json")
    holder = queue.claim("a", tmp_path / "mine" / "run.json")
    assert holder is not None and holder["pid"] == other_process.pid
    assert queue.claim("b", tmp_path / "b.json") is None  # a free run is ours
    assert queue.holder("b")["pid"] == os.getpid()
    assert queue.claim("b", tmp_path / "b.json") is None  # and stays ours
    other_process.kill()
    other_process.wait()
    assert queue.claim("a", tmp_path / "mine" / "run.json") is None  # its claimant is gone: taken over
    assert queue.holder("a")["run"] == str((tmp_path / "mine" / "run.json").resolve())


def test_a_reused_pid_does_not_keep_a_claim(tmp_path, other_process):
    queue = RunQueue.at(tmp_path / "q")
    held_by(queue, "a", other_process.pid, tmp_path / "run.json", started="0")  # an earlier process, same pid
    assert queue.claim("a", tmp_path / "run.json") is None


def test_a_claim_from_another_host_is_trusted(tmp_path):
    queue = RunQueue.at(tmp_path / "q")
    held_by(queue, "a", 2**22 + 1, tmp_path / "run.json", host=HOST + "-other", started=None)
    assert queue.claim("a", tmp_path / "run.json") is not None


def test_a_done_run_stays_done_while_its_file_exists(tmp_path, other_process):
    queue = RunQueue.at(tmp_path / "q")
    run = tmp_path / "elsewhere" / "run.json"
    run.parent.mkdir()
    run.write_text("{}")
    held_by(queue, "a", other_process.pid, run, done=True)
    other_process.kill()
    other_process.wait()
    assert queue.claim("a", tmp_path / "run.json")["done"]  # its process is gone, its run is not
    run.unlink()
    assert queue.claim("a", tmp_path / "run.json") is None  # the results were deleted: run it again


def test_claimed_marks_done_on_success_and_frees_the_run_on_an_error(tmp_path):
    queue = RunQueue.at(tmp_path / "q")
    run = tmp_path / "run.json"
    with pytest.raises(KeyboardInterrupt), queue.claimed("a", run) as holder:
        assert holder is None and queue.holder("a") is not None
        raise KeyboardInterrupt
    assert queue.holder("a") is None and not (queue.root / "a.json").exists()
    with queue.claimed("a", run) as holder:
        assert holder is None
        run.write_text("{}")
    assert queue.holder("a")["done"] is True


def test_an_unreadable_claim_frees_the_run(tmp_path):
    queue = RunQueue.at(tmp_path / "q")
    (queue.root / "a.json").write_text("{not json")
    assert queue.claim("a", tmp_path / "run.json") is None


def test_drop_unfinished_frees_every_running_claim_and_keeps_the_done_ones(tmp_path, other_process):
    queue = RunQueue.at(tmp_path / "q")
    run = tmp_path / "run.json"
    run.write_text("{}")
    held_by(queue, "live", other_process.pid, run)  # running, held by a live process
    held_by(queue, "away", 2**22 + 1, run, host=HOST + "-other", started=None)
    held_by(queue, "done", other_process.pid, run, done=True)
    (queue.root / "bad.json").write_text("{not json")
    assert queue.drop_unfinished() == 3
    assert sorted(p.name for p in queue.root.glob("*.json")) == ["done.json"]
    assert queue.claim("live", run) is None and queue.claim("away", run) is None
    assert queue.claim("done", run)["done"]


def test_the_module_frees_a_stopped_queue_from_the_command_line(tmp_path, other_process):
    queue = RunQueue.at(tmp_path / "q")
    run = tmp_path / "run.json"
    run.write_text("{}")
    held_by(queue, "live", other_process.pid, run)
    held_by(queue, "done", other_process.pid, run, done=True)
    out = subprocess.run(
        [sys.executable, "-m", "sure_unlearn.protocol.claims", str(queue.root)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "1 unfinished claim freed" in out
    assert sorted(p.name for p in queue.root.glob("*.json")) == ["done.json"]


@pytest.mark.parametrize("where", ["missing", "a-file"])
def test_the_module_refuses_a_path_that_is_no_queue_in_one_line(tmp_path, where):
    path = tmp_path / where
    if where == "a-file":
        path.write_text("")
    p = subprocess.run(
        [sys.executable, "-m", "sure_unlearn.protocol.claims", str(path)], capture_output=True, text=True
    )
    assert p.returncode == 2 and "is not a directory" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "missing").exists()  # refused, not created
