"""Blob transfers on a thread pool, their progress relayed to the one consuming generator.

Pull and push both move several blobs at once and report per-blob progress through a generator
that the CLI or a TUI worker drains. The first failure cancels the others (each job polls the
event it is given) and is raised once every job has stopped, so no thread outlives the call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

E = TypeVar("E")
Job = Callable[[Callable[[E], None], threading.Event], None]

_DONE = object()


def relay(
    jobs: Sequence[Job[E]],
    *,
    workers: int,
    name: str,
    quiet: tuple[type[BaseException], ...] = (),
) -> Iterator[E]:
    """Run `jobs(emit, cancel)` on up to `workers` threads; yield what they emit, in order.

    Exceptions of the `quiet` types are a job's way of saying it stopped because of `cancel`;
    they are not failures. Closing the generator early cancels the jobs too.
    """
    events: queue.Queue[object] = queue.Queue()
    cancel = threading.Event()
    errors: list[BaseException] = []

    def run(job: Job[E]) -> None:
        try:
            job(events.put, cancel)
        except quiet:
            pass
        except BaseException as e:
            errors.append(e)
            cancel.set()
        finally:
            events.put(_DONE)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
    done = 0
    try:
        for job in jobs:
            pool.submit(run, job)
        while done < len(jobs):
            event = events.get()
            if event is _DONE:
                done += 1
            else:
                yield event  # type: ignore[misc]
    finally:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
    if errors:
        raise errors[0]
