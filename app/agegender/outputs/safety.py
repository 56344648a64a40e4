"""Outputs never touch inputs, and are written whole or not at all.

Every output (annotated video or images, results, recordings, snapshots, exports, the soak report) is
checked against the inputs before anything is opened, then written to a temporary file beside its
target and renamed onto it when complete. Readers see the earlier file or the complete new one, never
a half-written one; a run that fails or is refused leaves the earlier file as it was. While a run writes
a target it holds a lock beside it, so a second run to the same name is refused instead of leaving a
pair of outputs from two different runs. An output that is a symbolic link is written through the link
to its target; a device or a pipe (/dev/stdout) is written in place. The files an output folder holds
(--out DIR, --out-dir) are the exception: nobody named them, so a link where one goes is replaced,
never written through, and one that leads to an input is refused.
"""
from __future__ import annotations

import errno
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable

from agegender.errors import OutputError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger("agegender")


def check_folder(path: Path) -> None:
    """OutputError, naming the way out, when `path` cannot be created in its folder."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist; create it or choose another")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is read-only for you; choose another")


def _file_id(path: Path) -> tuple[int, int] | None:
    """The file or folder a path names, by any path: symlinks, hard links, '..' (also after a folder that
    does not exist yet: `x/../a` is `a`); None where there is none."""
    for candidate in (path, os.path.realpath(path)):
        try:
            status = os.stat(candidate)
        except OSError:
            continue
        return status.st_dev, status.st_ino
    return None


def _by_file(inputs: Iterable[Path]) -> dict[tuple[int, int], Path]:
    return {file: Path(source) for source in inputs if (file := _file_id(source)) is not None}


def refuse_outputs_over_inputs(outputs: dict[str, Path | None], inputs: Iterable[Path]) -> None:
    """OutputError naming both when an output (keyed by how the user named it, e.g. '--out') is one of
    the inputs. `inputs` holds the input files and, for a folder input, the folder itself, so a folder
    output that is the input folder is refused too."""
    by_file = _by_file(inputs)
    for option, output in outputs.items():
        source = by_file.get(_file_id(output)) if output is not None else None
        if source is not None:
            raise OutputError(f"{option} {output} is the input {source}: the output would overwrite it; "
                              "choose another output")


def refuse_links_to_inputs(option: str, outputs: Iterable[Path], inputs: Iterable[Path]) -> None:
    """OutputError when a file an output folder (named by `option`) holds where one of its outputs goes is
    an input, by a symbolic or hard link: its output would take the input's place, and the next run
    read the output as the input."""
    by_file = _by_file(inputs)
    for output in outputs:
        source = by_file.get(_file_id(output))
        if source is not None:
            raise OutputError(f"{output} is a link to the input {source}, where {option} writes an output; "
                              "remove the link, or choose another output folder")


def writes_in_place(path: Path) -> bool:
    """A device or a pipe (also behind a link, as /dev/stdout is), or a file descriptor's name (/dev/stdout
    on a file that `>>` appends to): nothing to rename onto, or nothing that may be replaced, so it is
    written directly (open_in_place)."""
    try:
        status = os.stat(path)
    except OSError:
        return False
    if stat.S_ISCHR(status.st_mode) or stat.S_ISFIFO(status.st_mode):
        return True
    if os.path.realpath(path).startswith(("/proc/", "/dev/fd/")) or str(path).startswith(("/dev/fd/", "/proc/")):
        return True
    for fd in (1, 2):  # the very file our stdout or stderr writes to, by whatever name
        try:
            if os.path.samestat(status, os.fstat(fd)):
                return True
        except OSError:
            pass
    return False


def refuse_closed_streams(outputs: dict[str, Path | None]) -> None:
    """An output that leads to the null device by another name (/dev/stdout where stdout was closed before
    the start, and so handed the null device) would lose everything written to it without a word."""
    null = os.stat(os.devnull)
    for option, path in outputs.items():
        if path is None or os.path.abspath(path) == os.devnull:
            continue  # /dev/null itself: the user asked for nothing to be kept
        try:
            lost = os.path.samestat(os.stat(path), null)
        except OSError:
            continue
        if lost:
            raise OutputError(f"{option} {path} leads nowhere: it is a stream that was closed before the start; "
                              "give a file, or open the stream")


def writes_to_stdout(path: Path) -> bool:
    """Whether `path` is where stdout goes (/dev/stdout, a link to it, the file `>` sends stdout to)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(1))
    except OSError:
        return False


def open_in_place(path: Path) -> int:
    """A descriptor that writes `path` in place (see writes_in_place), appending: `>> all.jsonl` keeps
    what the file held. A named pipe is opened without waiting for a reader, a wait that never ends
    where none comes: one that nobody reads is refused."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputError(f"cannot write {path}: it is a pipe that nobody reads; start its reader first, or "
                              "choose a file") from None
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
    os.set_blocking(fd, True)  # a slow reader makes the run wait, never lose a line
    return fd


def is_lone_file(status: os.stat_result) -> bool:
    """Whether a status (of lstat or fstat, which do not follow a link) is a regular file that no other
    name leads to: writing it cannot alter another file through a symbolic or hard link."""
    return stat.S_ISREG(status.st_mode) and status.st_nlink == 1


def through_links(path: Path) -> Path:
    """The file a symbolic link leads to (also a dangling link's target), so that the link is kept and
    its target written; any other path as it is."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


class TargetLock:
    """Held while one run writes `target`: a `.NAME.lock` file beside it, locked with flock (so a run
    that is killed releases it) and removed when the output is finished. A second writer is refused
    with the process that holds it. Where flock does not exist (Windows), outputs are not locked.

    Anyone who can write into the folder can put something at that name, so a lock file is opened
    without following a link, refused unless it is a regular file with one link, and never written
    over: one a killed run left is removed and a new one created."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.path = self.target.with_name(f".{self.target.name}.lock")
        self._fd = None
        if fcntl is None:
            return
        try:
            self._fd = self._acquire()
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):  # some network file systems
                log.warning("%s cannot be locked on its file system (%s); another run could write it at the "
                            "same time", self.target, exc.strerror)
                self.path.unlink(missing_ok=True)
                return
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
                raise self._not_ours() from None
            raise OutputError(f"cannot write {self.target}: {exc.strerror}") from exc

    def _acquire(self) -> int:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _creation_mode())
                created = True
            except FileExistsError:
                try:
                    fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW)
                except FileNotFoundError:  # its holder removed it meanwhile
                    continue
                created = False
            try:
                status = os.fstat(fd)
                if not is_lone_file(status):
                    raise self._not_ours()
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # its last holder may have removed the file between our open and our lock
                if os.path.samestat(status, os.lstat(self.path)):
                    if created:
                        os.write(fd, str(os.getpid()).encode("ascii"))
                        return fd
                    os.unlink(self.path)  # a killed run's: replaced, not written over
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(f"{self.target} is being written by another agegender run (process {holder}); "
                                  "wait for it to finish or choose another name") from None
            except FileNotFoundError:
                pass
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _not_ours(self) -> OutputError:
        return OutputError(f"cannot write {self.target}: {self.path} is not a lock file of agegender (a link, or "
                           "not a regular file); remove it, or choose another name")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def _creation_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class AtomicFile:
    """A temporary file beside `target` (same folder, so the rename is atomic), named
    `.<name>.<random>.part<suffix>` so that writers choosing a format by suffix still see it.
    commit() renames it onto the target; discard() removes it. Devices and pipes (/dev/stdout,
    /dev/null) cannot be renamed onto and are written in place; a symbolic link is written through.
    With follow_links=False (the files an output folder holds) whatever sits at the target's name, a
    link or a pipe, is replaced by the renamed file, and what it led to is left as it was.
    `lock`: the target's lock, where the caller holds it already (it is released with the file)."""

    def __init__(self, target: Path, lock: TargetLock | None = None, follow_links: bool = True) -> None:
        self.in_place = follow_links and writes_in_place(target)
        self._lock = None
        if self.in_place:
            self.target = self.path = Path(target)
            return
        self.target = through_links(target) if follow_links else Path(target)
        check_folder(self.target)
        if self.target.is_dir() and not self.target.is_symlink():
            if lock is not None:
                lock.release()
            raise OutputError(f"cannot write {self.target}: it is a folder; give a file name")
        self._lock = lock or TargetLock(self.target)
        try:
            handle, name = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=f".part{self.target.suffix}",
                                            dir=self.target.parent)
            os.close(handle)
            os.chmod(name, _creation_mode())  # mkstemp's 0600 would otherwise outlive the rename
        except OSError as exc:
            self._lock.release()
            raise OutputError(f"cannot write {self.target}: {exc.strerror}") from exc
        self.path = Path(name)

    def commit(self) -> None:
        if self.in_place:
            return
        try:
            with open(self.path, "rb") as written:
                os.fsync(written.fileno())  # the data reaches the disk before the name does
            os.replace(self.path, self.target)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {self.target}: {exc.strerror}") from exc
        self._lock.release()

    def discard(self) -> None:
        if not self.in_place:
            try:
                self.path.unlink(missing_ok=True)
            finally:
                self._lock.release()

    def close(self, keep: bool = True) -> None:
        self.commit() if keep else self.discard()


def write_bytes_atomically(target: Path, data: bytes, follow_links: bool = True) -> None:
    file = AtomicFile(target, follow_links=follow_links)
    try:
        with open(open_in_place(file.path) if file.in_place else file.path, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        file.discard()
        raise OutputError(f"writing {target} failed: {exc.strerror}") from exc
    file.commit()
