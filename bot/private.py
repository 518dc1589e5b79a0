"""The data directory is the bot's alone: it holds the Matrix encryption keys, the
author key of anonymous stories, the SQLite database and exports. Every command sets
the umask to 0o077 at start, so each file it makes is 0600 and each directory 0700,
whatever the shell's umask; ``run``, ``console`` and ``migrate`` also make the data
directory 0700 and take group and world access away from what an earlier version left
there (0644 files in 0755 directories, made under the usual umask 022)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

UMASK = 0o077
SHARED = stat.S_IRWXG | stat.S_IRWXO
"""Permission bits that let anyone but the owner in."""


def private_umask() -> None:
    """Files and directories made from now on by this process are its user's alone."""
    os.umask(UMASK)


def private_data_dir(data_dir: Path) -> None:
    """Make `data_dir` (0700) if need be, and take group and world access away from it
    and from everything in it. A path it may not change is logged, not fatal (a volume
    mounted read-only, a file owned by another user): `folkmoot doctor` names it."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in shared_paths(data_dir):
        mode = stat.S_IMODE(path.lstat().st_mode)
        try:
            path.chmod(mode & ~SHARED)
        except OSError as error:
            log.warning("cannot make %s private (%s)", path, error.strerror or error)


def shared_paths(data_dir: Path) -> list[Path]:
    """`data_dir` and what is in it, where group or others have any access; symbolic
    links are neither followed nor changed."""
    return [path for path in _walk(data_dir) if stat.S_IMODE(path.lstat().st_mode) & SHARED]


def _walk(top: Path) -> Iterator[Path]:
    if not top.is_dir() or top.is_symlink():
        return
    yield top
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                yield path
