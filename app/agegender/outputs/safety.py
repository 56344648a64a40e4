"""Outputs never touch inputs, and are written whole or not at all.

Every output (annotated video or images, results, recordings, snapshots, exports, the soak report) is
checked against the inputs before anything is opened, then written to a temporary file beside its
target and renamed onto it when complete. Readers see the earlier file or the complete new one, never
a half-written one; a run that fails or is refused leaves the earlier file as it was; of two runs
writing one target, the last to finish wins.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from agegender.errors import OutputError


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


def _creation_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class AtomicFile:
    """A temporary file beside `target` (same folder, so the rename is atomic), named
    `.<name>.<random>.part<suffix>` so that writers choosing a format by suffix still see it.
    commit() renames it onto the target; discard() removes it. Devices (/dev/stdout, /dev/null)
    cannot be renamed onto and are written in place."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.in_place = self.target.is_char_device()
        if self.in_place:
            self.path = self.target
            return
        check_folder(self.target)
        if self.target.is_dir():
            raise OutputError(f"cannot write {self.target}: it is a folder; give a file name")
        try:
            handle, name = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=f".part{self.target.suffix}",
                                            dir=self.target.parent)
            os.close(handle)
            os.chmod(name, _creation_mode())  # mkstemp's 0600 would otherwise outlive the rename
        except OSError as exc:
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

    def discard(self) -> None:
        if not self.in_place:
            self.path.unlink(missing_ok=True)

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
