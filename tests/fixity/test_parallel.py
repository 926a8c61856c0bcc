"""The forked workers of parallel.Workers: answers in submission order from every worker, a failure or a death
is an error in the parent (never a hang), messages bigger than a pipe both ways, and no child left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handover.fixity import parallel
from handover.fixity.errors import FixityError
from handover.fixity.report import Report

pytestmark = pytest.mark.skipif(not parallel.FORK, reason="forked workers only where fork is the way")

_state: dict[str, int] = {}


def _init(base: int) -> None:
    _state["base"] = base


def _refuse(base: int) -> None:
    raise FixityError(f"this Python's OpenSSL has no sm{base}")


def _work(group: list[int]) -> list[tuple[int, int, int]]:
    return [(n, n + _state["base"], os.getpid()) for n in group]


def _fail(group: list[int]) -> list[int]:
    raise ValueError(f"bad batch {group}")


def _die(group: list[int]) -> list[int]:
    os._exit(3)


def _echo_big(group: list[bytes]) -> list[bytes]:
    """An answer of several pipes' worth for a task of several pipes' worth."""
    return [item * 4 for item in group]


class _Box:
    """Not something marshal can carry: the pipe takes it pickled."""

    def __init__(self, n: int) -> None:
        self.n = n


def _unbox(group: list[_Box]) -> list[_Box]:
    return [_Box(box.n * 2) for box in group]


def test_answers_come_in_submission_order_from_every_worker() -> None:
    groups = [list(range(n * 5, n * 5 + 5)) for n in range(40)]
    with parallel.Workers(3, _init, (100,)) as workers:
        children = [child.pid for child in workers.children]
        answers = list(workers.map(_work, iter(groups)))
    assert [group for group, _ in answers] == groups
    assert [[(n, m) for n, m, _ in result] for _, result in answers] == [
        [(n, n + 100) for n in group] for group in groups
    ]
    assert {pid for _, result in answers for _, _, pid in result} == set(children)
    assert os.getpid() not in children
    for pid in children:  # reaped: waitpid has nothing left to wait for
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_an_exception_in_a_worker_is_raised_in_the_parent_as_itself() -> None:
    with pytest.raises(ValueError, match=r"bad batch \[2\]"), parallel.Workers(2, _init, (0,)) as workers:
        list(workers.map(_fail, iter([[2], [3]])))


def test_a_worker_that_dies_is_an_error_in_the_parent() -> None:
    with pytest.raises(parallel.WorkerFailed, match="ended"), parallel.Workers(2, _init, (0,)) as workers:
        list(workers.map(_die, iter([[1], [2], [3], [4], [5]])))


def test_a_set_up_that_fails_in_the_workers_is_its_error_in_the_parent() -> None:
    """multiprocessing.Pool started new workers for ever when the initializer raised; here the run ends with
    the message the CLI prints (exit 2)."""
    with pytest.raises(FixityError, match="no sm3"), parallel.Workers(2, _refuse, (3,)) as workers:
        list(workers.map(_work, iter([[1], [2]])))


def test_tasks_and_answers_bigger_than_a_pipe_do_not_wait_on_each_other() -> None:
    """A worker blocked writing a big answer reads no task: the parent, blocked writing one to it, reads that
    answer meanwhile (without that, both would wait for ever)."""
    groups = [[bytes([n]) * (100 << 10) for _ in range(3)] for n in range(12)]  # 300 KiB a task, 1.2 MiB back
    with parallel.Workers(2, _init, (0,)) as workers:
        answers = list(workers.map(_echo_big, iter(groups)))
    assert [result for _, result in answers] == [[item * 4 for item in group] for group in groups]


def test_what_marshal_cannot_carry_goes_pickled() -> None:
    with parallel.Workers(2, _init, (0,)) as workers:
        answers = list(workers.map(_unbox, iter([[_Box(1), _Box(2)], [_Box(3)]])))
    assert [[box.n for box in result] for _, result in answers] == [[2, 4], [6]]


def test_a_dead_worker_is_a_message_and_exit_2_from_the_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No traceback: the run could not be done, and the agent says why."""
    from handover.fixity.cli import main

    def dying_run(args: object) -> Report:
        with parallel.Workers(2, _init, (0,)) as workers:
            list(workers.map(_die, iter([[1], [2]])))
        raise AssertionError("the workers died: unreachable")

    code = main(["verify", str(tmp_path), "--manifest", str(tmp_path / "m")], runner=dying_run)
    err = capsys.readouterr().err
    assert code == 2 and "handover-agent verify: worker process" in err and "ended" in err
    assert "Traceback" not in err
