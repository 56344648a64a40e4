"""The files an archive run reads: videos and images named, found in folders (recursively) or by a glob,
each with the relative path its outputs mirror under the output folder."""
from __future__ import annotations

import errno
import glob
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from agegender.errors import InputError, OutputError
from agegender.sources.capture import (IMAGE_SUFFIXES, URL_SCHEME, VIDEO_FILE_SUFFIXES, file_url_path, mask_credentials,
                                       refuse_non_utf8_path)

log = logging.getLogger("agegender")


@dataclass(frozen=True)
class ArchiveInput:
    path: Path  # as found (a link stays a link: its target is read)
    key: str  # relative path, with '/' separators: names the input in the manifest, the tables and DIR

    @property
    def is_image(self) -> bool:
        return self.path.suffix.lower() in IMAGE_SUFFIXES


def is_media(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_FILE_SUFFIXES


def _glob_root(pattern: str) -> Path:
    """The folder a glob's matches are named relative to: its part before the first wildcard."""
    plain = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        plain.append(part)
    return Path(*plain) if plain else Path(".")


def _place(match: Path, root: Path, spec: str) -> Path:
    """Where a glob's match goes under the output folder: its path below the glob's root. A '..' after a
    wildcard ('ar*2/../../w/x.jpg') is taken out where the match really is, so that no output climbs out of
    the folder; a match that is not below the root at all is refused. Without '..' the folders keep the
    names they were matched by, links included."""
    place = match.relative_to(root)
    if ".." not in place.parts:
        return place
    real = Path(os.path.realpath(match.parent), match.name)
    try:
        return real.relative_to(os.path.realpath(root))
    except ValueError:
        raise InputError(f"{match}, matched by {spec}, is outside {root}, where the pattern's wildcards begin; "
                         "give a pattern without '..' after a wildcard") from None


def _walk(folder: Path, skip: Path) -> list[Path]:
    """The videos and images under `folder`, sorted; hidden entries and `skip` (the output folder) are left out."""
    found = []
    for root, folders, files in os.walk(folder, onerror=_unreadable):
        root_path = Path(root)
        folders[:] = sorted(f for f in folders if not f.startswith(".") and not _same(root_path / f, skip))
        found += [root_path / name for name in sorted(files)
                  if not name.startswith(".") and is_media(Path(name)) and not _left_out(root_path / name)]
    return found


def _left_out(path: Path) -> bool:
    """True, saying why, for a media name found in a folder or by a glob that is a loop of symbolic links
    or not a regular file (a FIFO would wait forever for a writer): the run goes on without it. A dangling
    link is not left out: it fails with its reason, as a file that cannot be read does."""
    try:
        if stat.S_ISREG(os.stat(path).st_mode):
            return False
        reason = "not a regular file"
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            return False
        reason = "a loop of symbolic links"
    log.warning("left out: %s: %s", path, reason)
    return True


def _unreadable(error: OSError) -> None:
    raise InputError(f"cannot read the folder {error.filename}: {error.strerror}; check its permissions")


def _inside(path: Path, folder: Path) -> bool:
    try:
        return folder.resolve() in path.resolve().parents
    except (OSError, RuntimeError):  # RuntimeError: a loop of symbolic links
        return False


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def find_inputs(specs: list[str], out_dir: Path) -> list[ArchiveInput]:
    """Every input the specs name, in the order given (a folder's in name order), each once. A spec that
    names nothing, or two inputs whose outputs would share a path, are refused before anything runs."""
    found: list[ArchiveInput] = []
    for spec in specs:
        spec = file_url_path(spec)  # file:///…, as a file manager copies a file: the file it names
        if URL_SCHEME.match(spec):
            raise InputError(f"{mask_credentials(spec)}: an archive takes files, folders and globs, not addresses; "
                             "for a stream, run agegender process on it without --out-dir")
        path = Path(spec)
        if path.is_dir():
            name = Path(os.path.abspath(path)).name  # its own name, also for '.' or a link to a folder
            matches = [(p, Path(name) / p.relative_to(path)) for p in _walk(path, out_dir)]
            if not matches:
                raise InputError(f"{spec} holds no videos or images (searched recursively)")
        elif path.exists() or path.is_symlink():
            if not path.is_file():
                raise InputError(f"{spec} is not a file or a folder")
            matches = [(path, Path(path.name))]
        elif glob.has_magic(spec):
            root = _glob_root(spec)
            matches = []
            for match in sorted(Path(m) for m in glob.glob(spec, recursive=True)):
                if _same(match, out_dir) or _inside(match, out_dir):
                    continue  # the outputs of an earlier run are not inputs
                if match.is_dir():
                    matches += [(p, _place(p, root, spec)) for p in _walk(match, out_dir)]
                elif is_media(match) and not _left_out(match):
                    matches.append((match, _place(match, root, spec)))
            if not matches:
                raise InputError(f"{spec} matches no videos or images")
        else:
            raise InputError(f"{spec} does not exist")
        found += [ArchiveInput(p.absolute(), rel.as_posix()) for p, rel in matches]
    return _each_once(found)


def _each_once(found: list[ArchiveInput]) -> list[ArchiveInput]:
    by_file: dict[Path, ArchiveInput] = {}
    by_key: dict[str, ArchiveInput] = {}
    for item in found:
        refuse_non_utf8_path(item.path)  # the manifest holds the path
        real = item.path.resolve()
        if real in by_file:
            continue  # named twice (a file and its folder, overlapping globs): processed once
        clash = by_key.get(item.key)
        if clash is not None:
            raise OutputError(f"{clash.path} and {item.path} would both be written as {item.key} in the output "
                              "folder; give their folders instead, so the folder names keep them apart")
        by_file[real] = by_key[item.key] = item
    return list(by_key.values())
