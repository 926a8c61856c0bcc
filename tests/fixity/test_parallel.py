"""The forked workers of parallel.Workers: answers in submission order, a failure or a death is an error in
the parent (never a hang), and the children are gone when the block ends."""

from __future__ import annotations

import os

import pytest

from handover.fixity import parallel

_state: dict[str, int] = {}


def _init(base: int) -> None:
    _state["base"] = base


def _work(group: list[int]) -> list[tuple[int, int, int]]:
    return [(n, n + _state["base"], os.getpid()) for n in group]


def _fail(group: list[int]) -> list[int]:
    raise ValueError(f"bad batch {group}")


def _die(group: list[int]) -> list[int]:
    os._exit(3)


def test_answers_come_in_submission_order_from_every_worker() -> None:
    groups = [list(range(n * 5, n * 5 + 5)) for n in range(40)]
    with parallel.Workers(3, _init, (100,)) as workers:
        children = [child.pid for child in workers.children]
        answers = list(workers.map(_work, iter(groups)))
    assert [group for group, _ in answers] == groups
    assert [[(n, n + 100) for n, _, _ in result] for _, result in answers] == [
        [(n, n + 100) for n in group] for group in groups
    ]
    assert {pid for _, result in answers for _, _, pid in result} == set(children)
    for pid in children:  # reaped: waitpid has nothing left to wait for
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize(
    ("work", "message"), [(_fail, "ValueError: bad batch"), (_die, "ended without an answer")]
)
def test_a_failing_or_dying_worker_is_an_error_in_the_parent(work: object, message: str) -> None:
    with pytest.raises(RuntimeError, match=message), parallel.Workers(2, _init, (0,)) as workers:
        list(workers.map(work, iter([[1], [2], [3]])))  # type: ignore[arg-type]
