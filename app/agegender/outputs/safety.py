"""Outputs never touch inputs, and are written whole or not at all.

Every output (annotated video or images, results, recordings, snapshots, exports, the soak report) is
checked against the inputs before anything is opened, then written to a temporary file beside its
target and renamed onto it when complete. Readers see the earlier file or the complete new one, never
a half-written one; a run that fails or is refused leaves the earlier file as it was. While a run writes
a target it holds a lock beside it, so a second run to the same name is refused instead of leaving a
pair of outputs from two different runs. An output that is a symbolic link is written through the link
to its target; a device or a pipe (/dev/stdout) is written in place.
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


def same_file(a: Path, b: Path) -> bool:
    """True when both name one file or folder, by any path: symlinks, hard links, '..'."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): compare where the paths lead
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_outputs_over_inputs(outputs: dict[str, Path | None], inputs: Iterable[Path]) -> None:
    """OutputError naming both when an output (keyed by how the user named it, e.g. '--out') is one of
    the inputs. `inputs` holds the input files and, for a folder input, the folder itself, so a folder
    output that is the input folder is refused too."""
    inputs = list(inputs)
    for option, output in outputs.items():
        if output is None:
            continue
        for source in inputs:
            if same_file(output, source):
                raise OutputError(f"{option} {output} is the input {source}: the output would overwrite it; "
                                  "choose another output")


def writes_in_place(path: Path) -> bool:
    """A device or a pipe (also behind a link, as /dev/stdout is), or a file descriptor's name (/dev/stdout
    on a file that `>>` appends to): nothing to rename onto, or nothing that may be replaced, so it is
    written directly."""
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
                if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1:
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
    `lock`: the target's lock, where the caller holds it already (it is released with the file)."""

    def __init__(self, target: Path, lock: TargetLock | None = None) -> None:
        self.in_place = writes_in_place(target)
        self._lock = None
        if self.in_place:
            self.target = self.path = Path(target)
            return
        self.target = through_links(target)
        check_folder(self.target)
        if self.target.is_dir():
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


def write_bytes_atomically(target: Path, data: bytes) -> None:
    file = AtomicFile(target)
    try:
        with open(file.path, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        file.discard()
        raise OutputError(f"writing {target} failed: {exc.strerror}") from exc
    file.commit()
