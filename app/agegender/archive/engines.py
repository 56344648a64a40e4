"""Where the tasks run: here, in worker processes, or on a Ray cluster. Each engine takes the inputs to do
and yields a Finished line per input as it completes, in any order; the driver (run.py) records them.

- here (`--workers 1`): one pipeline in this process;
- processes (`--workers N`): N processes, each with its own pipeline, its sessions limited to an equal
  share of the cores so that together they do not oversubscribe them;
- ray (`--engine ray`): Ray actors, each loading the models once, on a local cluster this run starts or
  on an existing one (`--ray-address`). The actors read the inputs and write the outputs themselves, so on
  a cluster of several machines the inputs and the output folder are on storage every node mounts at the
  same path (docs/archive.md)."""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from agegender.archive.inputs import ArchiveInput
from agegender.archive.manifest import Finished
from agegender.archive.task import ArchiveOptions, ArchiveWorker, Stopped
from agegender.errors import AgeGenderError
from agegender.interrupts import SIGNALS
from agegender.vision.parallel import usable_cores

log = logging.getLogger("agegender")

RAY_INSTALL = 'pip install -e ".[cluster]" in the project\'s checkout (on every node)'
THREADS_PER_RAY_WORKER = 2
RAY_CONNECT_SECONDS = 30.0

Todo = list[tuple[ArchiveInput, str]]  # each input with its fingerprint
Progress = Callable[[int], None]  # frames done since the last call


def threads_per_worker(workers: int) -> int:
    return max(1, usable_cores() // workers)


class HereEngine:
    def __init__(self, options: ArchiveOptions) -> None:
        self.worker = ArchiveWorker(options)

    def finished_after_stop(self) -> list[Finished]:
        return []  # the one input in hand was abandoned

    def run(self, todo: Todo, progress: Progress) -> Iterator[Finished]:
        for item, fingerprint in todo:
            yield self.worker.process(item, fingerprint, progress=progress)

    def close(self) -> None:
        self.worker.close()


# --- worker processes ------------------------------------------------------------------------------

_worker: ArchiveWorker | None = None
_stop_event = None
_progress_queue = None


def _start_worker(options: ArchiveOptions, threads: int, stop_event, progress_queue) -> None:
    global _worker, _stop_event, _progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the driver stops us
    import cv2
    from agegender.vision.runtime import limit_session_threads
    cv2.setNumThreads(threads)
    limit_session_threads(threads)
    _stop_event, _progress_queue = stop_event, progress_queue
    _worker = ArchiveWorker(options)


def _start_process_worker(*args) -> None:
    # SIGTERM or a hang-up sent to the process group (a service stopped, `timeout`) would kill us with our
    # outputs and their locks left half-made: the driver stops us at our next frame instead, as for Ctrl-C
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    _start_worker(*args)


def _process_in_worker(item: ArchiveInput, fingerprint: str) -> Finished | None:
    try:
        return _worker.process(item, fingerprint, stop=_stop_event.is_set, progress=_progress_queue.put)
    except Stopped:
        return None


class ProcessEngine:
    def __init__(self, options: ArchiveOptions, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process holding runtime threads
        self._stop = context.Event()
        self._progress = context.Queue()
        self._pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_process_worker,
                                         initargs=(options, threads_per_worker(workers), self._stop, self._progress))
        self.workers = workers
        self._futures: list = []
        self._reported: set = set()

    def run(self, todo: Todo, progress: Progress) -> Iterator[Finished]:
        self._futures = [self._pool.submit(_process_in_worker, item, fingerprint) for item, fingerprint in todo]
        self._reported = set()
        relay = threading.Thread(target=self._relay, args=(progress,), daemon=True, name="archive-progress")
        relay.start()
        try:
            while len(self._reported) < len(self._futures):
                wait([f for f in self._futures if f not in self._reported], timeout=0.5, return_when=FIRST_COMPLETED)
                for future in self._futures:
                    if future.done() and future not in self._reported:
                        try:
                            line = future.result()  # an output that cannot be written stops the run
                        except BrokenProcessPool as exc:
                            raise AgeGenderError(
                                f"a worker process ended unexpectedly ({exc}); the inputs finished so far are "
                                "kept: run the same command to go on, or with --workers 1 to see the error "
                                "of the input that ended it") from None
                        if line is not None:
                            yield line
                        self._reported.add(future)  # once taken: a stop in between reports it again, harmlessly
        finally:
            for future in self._futures:
                future.cancel()  # (those not begun)
            self._stop.set()  # the inputs in hand are abandoned at their next frame
            self._progress.put(None)
            relay.join(timeout=5)

    def finished_after_stop(self) -> list[Finished]:
        """After Ctrl-C: the inputs the workers finished all the same (their last frame was done when the
        stop came) and that were not reported yet, so that the manifest keeps them."""
        left = [f for f in self._futures if f not in self._reported and not f.cancelled()]
        wait(left, timeout=30)
        return [f.result() for f in left if f.done() and f.exception() is None and f.result() is not None]

    def _relay(self, progress: Progress) -> None:
        while (frames := self._progress.get()) is not None:
            progress(frames)

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


# --- Ray ---------------------------------------------------------------------------------------------

class _RayActor:
    """An archive worker as a Ray actor: the models are loaded once per actor."""

    def __init__(self, options: ArchiveOptions, threads: int) -> None:
        _start_worker(options, threads, _NeverStop(), _NoProgress())

    def process(self, item: ArchiveInput, fingerprint: str) -> Finished:
        return _worker.process(item, fingerprint)


class _NeverStop:
    def is_set(self) -> bool:
        return False  # a stopped run kills its actors


class _NoProgress:
    def put(self, frames: int) -> None:
        pass  # Ray runs report frames when an input is finished


def import_ray():
    # Ray's core would print a stack dump for a SIGTERM, which stops the run as Ctrl-C does (set it to 0
    # to see them)
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    try:
        import ray
    except ImportError:
        raise AgeGenderError(f"--engine ray needs Ray, which is not installed: {RAY_INSTALL}") from None
    return ray


RAY_AUTO = "auto"  # Ray's own word for the cluster `ray start` left running on this machine


def ray_host_port(address: str) -> tuple[str, int] | None:
    """HOST and PORT of --ray-address (HOST:PORT, or ray://HOST:PORT for Ray Client), None for "auto",
    else one line."""
    if address == RAY_AUTO:
        return None
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise AgeGenderError(f"--ray-address {address!r} is not HOST:PORT; give the address of the cluster's head "
                             "as `ray start --head` prints it (10.0.0.5:6379), 'auto' for the cluster running on "
                             "this machine, or leave --ray-address out to start one for the run")
    return host.strip("[]"), int(port)


def _probe(address: str) -> None:
    """A plain connection to the head first: where nothing listens, ray.init would retry for many minutes,
    printing its own log lines. "auto" has no address to try: Ray reads it from the running cluster's files,
    and the connection below is bounded in time all the same."""
    where = ray_host_port(address)
    if where is None:
        return
    try:
        socket.create_connection(where, timeout=RAY_CONNECT_SECONDS).close()
    except OSError as exc:
        raise AgeGenderError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one there with "
                             "`ray start --head`, or check --ray-address") from None


@contextmanager
def _stderr_silenced():
    """Ray's core logs every failed try to stderr, beside Python's logging: an address where another
    server listens (the dashboard's port, say) would fill the terminal for the half minute Ray tries."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _connect(ray, address: str) -> None:
    """ray.init(address=...), bounded in time and interruptible: Ray alone retries an address where nothing
    answers for many minutes, printing its own log lines, in calls that do not return to Python for a
    signal. It runs on a thread of its own (in the main thread it would also replace our SIGTERM handler
    with its own), waited for here as any wait, and is left to end with the process if it takes too long."""
    _probe(address)
    failure: list[Exception] = []

    def init() -> None:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except Exception as exc:
            failure.append(exc)
    thread = threading.Thread(target=init, daemon=True, name="ray-connect")
    with _stderr_silenced():
        thread.start()
        thread.join(RAY_CONNECT_SECONDS)
    if failure:
        raise failure[0]
    if thread.is_alive():
        raise AgeGenderError(f"the Ray cluster at {address} did not answer within {RAY_CONNECT_SECONDS:.0f} s; "
                             "check that --ray-address is its head's address (ray status, on the head)")


class RayEngine:
    def __init__(self, options: ArchiveOptions, workers: int, address: str | None) -> None:
        ray = self.ray = import_ray()
        try:
            if address is None:  # a cluster of this machine alone, reachable on loopback only, gone when the run ends
                ray.init(num_cpus=usable_cores(), include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING, _node_ip_address="127.0.0.1")
            else:
                _connect(ray, address)
        except AgeGenderError:
            raise
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise AgeGenderError(f"cannot connect to the Ray cluster {address or '(local)'}: {reason}; check "
                                 "--ray-address and that the cluster is running (ray status)") from exc
        cpus = ray.cluster_resources().get("CPU", 1.0)
        self.workers = workers or max(1, int(cpus // THREADS_PER_RAY_WORKER))
        # a worker's share of the CPUs may be a fraction: more workers than CPUs then share them instead
        # of waiting forever for CPUs the cluster does not have
        share = min(THREADS_PER_RAY_WORKER, cpus / self.workers)
        threads = max(1, int(share))
        actor = ray.remote(num_cpus=share)(_RayActor)
        self.actors = [actor.remote(options, threads) for _ in range(self.workers)]
        log.info("Ray: %d workers of %d threads on a cluster of %g CPUs", self.workers, threads, cpus)

    def finished_after_stop(self) -> list[Finished]:
        return []  # the actors are killed: the inputs they had in hand are redone by the next run

    def run(self, todo: Todo, progress: Progress) -> Iterator[Finished]:
        from ray.exceptions import RayActorError
        from ray.util import ActorPool
        pool = ActorPool(self.actors)
        try:
            for line in pool.map_unordered(lambda actor, job: actor.process.remote(*job), todo):
                progress(line.frames)
                yield line
        except RayActorError as exc:
            raise AgeGenderError(f"a Ray worker ended unexpectedly ({str(exc).splitlines()[0]}); the inputs "
                                 "finished so far are kept: run the same command to go on") from None

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.ray.shutdown()


def open_engine(options: ArchiveOptions, engine: str, workers: int, ray_address: str | None):
    if engine == "ray":
        return RayEngine(options, workers, ray_address)
    if workers <= 1:
        return HereEngine(options)
    return ProcessEngine(options, workers)
