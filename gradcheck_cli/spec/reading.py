"""Reading a spec file: a regular file only, and never more of it than a spec may hold. A FIFO,
/dev/zero or a terminal given as a spec would block or never end; each is refused in one line
before it is opened (and opened without blocking, in case it changed in between)."""
from __future__ import annotations

import errno
import os
import stat

from .. import defaults
from ..errors import SpecError

NAME_MAX = 255  # bytes in one file or folder name, on every common file system

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def kind_of(mode: int) -> str:
    """What a file that is neither a regular file nor a folder is: `a FIFO`, `a character device`."""
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def os_problem(exc: OSError, path: str, missing: str = "no such file") -> str:
    """The few words that say why `path` cannot be used: `no such file`, `the name is too long ...`."""
    if exc.errno == errno.ENOENT:
        return missing if not os.path.islink(path) else "a symbolic link to a file that does not exist"
    if exc.errno == errno.ENOTDIR:
        return "no such file (a part of its path is a file, not a folder)"
    if exc.errno == errno.ENAMETOOLONG:
        return name_too_long(path)
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    return f"cannot read: {exc.strerror or exc}"


def cwd_problem() -> str | None:
    """Why the current folder cannot be used (deleted while a shell was in it), or None."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return "the current folder no longer exists (it was deleted or moved); cd to a folder that exists"
    except OSError as exc:
        return f"cannot tell the current folder: {exc.strerror or exc}"
    return None


def name_too_long(path: str) -> str:
    longest = max((len(part.encode("utf-8", "surrogateescape")) for part in path.split(os.sep)), default=0)
    if longest > NAME_MAX:
        return f"the name is too long: {longest:,} bytes, where a file or folder name is at most {NAME_MAX}"
    return f"the path is too long: {len(path.encode('utf-8', 'surrogateescape')):,} bytes"


def not_regular(mode: int) -> str:
    return f"not a regular file ({kind_of(mode)}); a spec is a file, or - for standard input"


def spec_problem(path: str, missing: str = "no such file") -> tuple[bool, str | None]:
    """(whether `path` is a folder, what makes it no spec file, or None): without opening it."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return False, os_problem(exc, path, missing)
    if stat.S_ISDIR(info.st_mode):
        return True, None
    return False, None if stat.S_ISREG(info.st_mode) else not_regular(info.st_mode)


def read_spec_file(path: str) -> bytes:
    """The bytes of the spec file at `path`, at most one more than a spec may hold; a SpecError
    in one line for anything that is not a readable regular file of that size."""
    is_folder, problem = spec_problem(path)
    if is_folder:
        raise SpecError("is a folder, not a spec file", path)
    if problem:
        raise SpecError(problem, path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SpecError(os_problem(exc, path), path) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped for something else since it was looked at
            raise SpecError(not_regular(info.st_mode), path)
        limit, chunks, size = defaults.MAX_SPEC_BYTES + 1, [], 0
        while size < limit:
            chunk = os.read(fd, limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", path) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > defaults.MAX_SPEC_BYTES:
        size = max(info.st_size, len(data))
        raise SpecError(f"the file is {size:,} bytes; a spec is at most {defaults.MAX_SPEC_BYTES:,}", path, 1)
    return data
