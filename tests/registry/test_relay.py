"""relay: events arrive, the first failure stops the rest, no thread outlives the call."""

from __future__ import annotations

import threading

import pytest

from imgtui.registry.relay import relay


class Stopped(Exception):
    pass


def _waiter(started: threading.Event):
    def job(emit, cancel: threading.Event) -> None:
        emit("waiting")
        started.set()
        if not cancel.wait(10):
            raise AssertionError("never cancelled")
        raise Stopped

    return job


def test_events_of_every_job_arrive() -> None:
    jobs = [lambda emit, cancel, i=i: [emit((i, n)) for n in range(3)] for i in range(5)]
    got = list(relay(jobs, workers=2, name="t"))
    assert sorted(got) == [(i, n) for i in range(5) for n in range(3)]
    assert [n for i, n in got if i == 3] == [0, 1, 2], "one job's events keep their order"


def test_first_failure_cancels_the_others_and_is_raised() -> None:
    started = threading.Event()

    def failing(emit, cancel) -> None:
        started.wait(10)
        raise ValueError("layer 2: bad digest")

    before = threading.active_count()
    with pytest.raises(ValueError, match="bad digest"):
        list(relay([_waiter(started), failing], workers=2, name="t", quiet=(Stopped,)))
    assert threading.active_count() == before, "every worker thread has finished"


def test_closing_early_cancels_the_jobs() -> None:
    started = threading.Event()
    before = threading.active_count()
    gen = relay([_waiter(started)], workers=1, name="t", quiet=(Stopped,))
    assert next(gen) == "waiting"
    started.wait(10)
    gen.close()  # the consumer went away (a TUI worker cancelled): the job sees cancel
    assert threading.active_count() == before
