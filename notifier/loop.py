"""The service loop the schedule runs: poll sources, consume push queues, send due
notifications; one per node.

One node (a machine or container: whatever shares NOTIFIER_NODE_LOCK, by default a file in
NOTIFIER_VAR_DIR) runs at most one service loop, and so one sender pool of
NOTIFIER_SEND_THREADS threads, however the schedule's runs overlap: a loop first takes the
node lock, an exclusive `flock` that the kernel releases when its process ends, even by
SIGKILL. A second loop on the node waits for the lock until its own run time is up and takes
over the moment the first ends, so polling has no gap between schedule runs.

Stopping gracefully: on SIGTERM (or SIGINT where the process does not ignore it) sent to the
loop's process, or on the node's stop notice (the `qcluster` command announces it when the
cluster is told to stop, since django-q2 signals none of its workers), a loop stops claiming,
lets every send already started finish and record its outcome (each bounded by
NOTIFIER_SEND_TIMEOUT), gives back any claim it took but did not start sending, releases the
poll lease and the node lock, and returns. A SIGTERM is then delivered again to the process,
so that a process that would have ended on it still ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from notifier.dispatch import Dispatcher, holder_name
from notifier.pollers import SourcePollers
from notifier.push import PushConsumers
from notifier.storage import get_store
from notifier.storage.base import StorageError, Store

log = logging.getLogger(__name__)

# The node's stop notice: a pipe made by the cluster's main process before it starts its
# workers (which inherit the read end); one byte written makes it readable for every loop.
_node_notice: tuple[int, int] | None = None


def node_stop_arm() -> None:
    """Make the node's stop notice; call it in the process that will start the loops' processes
    (the `qcluster` command, before the cluster forks its workers)."""
    global _node_notice
    if _node_notice is None:
        read, write = os.pipe()
        os.set_blocking(write, False)
        _node_notice = (read, write)


def node_stop_announce() -> None:
    """Tell every service loop started under this process to stop. Safe in a signal handler."""
    if _node_notice is not None:
        with contextlib.suppress(OSError):
            os.write(_node_notice[1], b"s")


class Stopping:
    """Whether a loop has been told to stop, and a sleep that a stop cuts short."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self.signal: int | None = None

    def set(self, signum: int | None = None) -> None:
        if signum is not None and self.signal is None:
            self.signal = signum
        self._event.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"s")

    def _sources(self) -> list[int]:
        return [self._wake_read] + ([_node_notice[0]] if _node_notice is not None else [])

    def is_set(self) -> bool:
        if not self._event.is_set() and select.select(self._sources(), [], [], 0)[0]:
            self._event.set()
        return self._event.is_set()

    def wait(self, seconds: float, *, wake: int | Sequence[int] = ()) -> bool:
        """Sleep up to `seconds`, or until a `wake` file descriptor is readable; True at
        once when told to stop."""
        fds = [wake] if isinstance(wake, int) else list(wake)
        if not self.is_set() and seconds > 0:
            select.select(self._sources() + fds, [], [], seconds)
        return self.is_set()

    def close(self) -> None:
        os.close(self._wake_read)
        os.close(self._wake_write)


@contextlib.contextmanager
def stop_signals_handled(stopping: Stopping) -> Iterator[None]:
    """While inside, SIGTERM (and SIGINT, unless the process ignores it, as django-q2's
    workers do) tells the loop to stop instead of ending the process; on the way out a
    SIGTERM that arrived is delivered again to the handler it displaced."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the node notice still works
        return
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, lambda n, _frame: stopping.set(n))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if stopping.signal == signal.SIGTERM and signal.SIGTERM in previous:
            os.kill(os.getpid(), signal.SIGTERM)


class NodeLock:
    """An exclusive lock on a file, held by one process of the node at a time; the kernel
    releases it when the holding process ends, however it ends."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, *, stopping: Stopping, until: float, poll: float = 0.2) -> bool:
        """Take the lock, waiting until the monotonic time `until`; False if told to stop or
        out of time first."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OSError(
                f"cannot open the node lock file {self.path} ({exc.strerror}): set "
                "NOTIFIER_NODE_LOCK (or NOTIFIER_VAR_DIR) to a writable place"
            ) from exc
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                left = until - time.monotonic()
                if left <= 0 or stopping.wait(min(poll, left)):
                    os.close(fd)
                    return False
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def node_lock_path() -> Path:
    """NOTIFIER_NODE_LOCK; a project using the engine as a library may leave it empty: a file
    in the temporary directory."""
    configured = getattr(settings, "NOTIFIER_NODE_LOCK", "")
    return Path(configured or Path(tempfile.gettempdir()) / "codedeploy-notifier-loop.lock")


def service_loop_run(
    *,
    seconds: float | None = None,
    interval: float | None = None,
    idle_interval: float | None = None,
    store: Store | None = None,
    stopping: Stopping | None = None,
) -> int:
    """Be the node's service loop for `seconds` (default NOTIFIER_LOOP_SECONDS): wait for
    the node lock (while another loop of this node holds it), consume the sources' push
    queues (notifier.push: one thread per queue, woken at once), poll every enabled source
    on its own (notifier.pollers: each under its own lease, so two nodes never poll one
    source at once; every `interval` seconds, default NOTIFIER_POLL_INTERVAL, while busy,
    every `idle_interval`, default NOTIFIER_IDLE_POLL_INTERVAL, while idle) and send due
    notifications as cycles end, until the time is up or it is told to stop. Returns the
    successful poll cycles it ran, over all sources (0 if it never got the node lock)."""
    seconds = settings.NOTIFIER_LOOP_SECONDS if seconds is None else seconds
    interval = settings.NOTIFIER_POLL_INTERVAL if interval is None else interval
    idle = settings.NOTIFIER_IDLE_POLL_INTERVAL if idle_interval is None else idle_interval
    deadline = time.monotonic() + seconds
    own_stopping = stopping is None
    stopping = stopping or Stopping()
    lock = NodeLock(node_lock_path())
    try:
        with stop_signals_handled(stopping):
            if not lock.acquire(stopping=stopping, until=deadline):
                log.info(
                    "service loop: %s; this loop ends",
                    "told to stop"
                    if stopping.is_set()
                    else "another loop of this node ran for all of this one's time",
                )
                return 0
            try:
                return _loop(store or get_store(), interval, idle, deadline, stopping)
            finally:
                lock.release()
    finally:
        if own_stopping:
            stopping.close()


def _loop(store: Store, interval: float, idle: float, deadline: float, stopping: Stopping) -> int:
    holder = holder_name()
    dispatcher = Dispatcher(store=store, holder=holder, stopping=stopping.is_set)
    pollers = SourcePollers(
        store=store,
        holder=holder,
        interval=interval,
        idle_interval=idle,
        threads=settings.NOTIFIER_POLL_THREADS,
    )
    push = PushConsumers(store=store)
    try:
        while not stopping.is_set():
            tick = time.monotonic()
            next_due = interval
            try:
                next_due = pollers.start_due()
                push.update(pollers.configs)
            except (StorageError, DatabaseError) as exc:
                log.warning("the sources could not be read, will retry: %s", exc)
            try:
                dispatcher.dispatch_due()
            except StorageError as exc:
                log.warning("storage unavailable, will retry: %s", exc)
            close_old_connections()
            if time.monotonic() >= deadline:
                break
            pause = min(next_due, interval - (time.monotonic() - tick))
            stopping.wait(pause, wake=(pollers.done_fd, push.wake_fd))
    finally:
        if stopping.is_set():
            log.info("service loop: stopping; finishing %d send(s) in flight", dispatcher.busy)
        push.close()  # before the sends end: a batch being stored finishes, the rest go back
        dispatcher.close()
        pollers.close()
        close_old_connections()
    return pollers.cycles
