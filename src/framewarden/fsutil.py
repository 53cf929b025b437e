"""Files that readers never see half-written (banks, scan results, reports)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, suffix: str = ".tmp") -> None:
    """Write ``data`` to ``path``: readers see the old file or the whole new one, never a part.

    The data goes to a hidden temporary file in the same folder (``.<name>.*<suffix>``),
    is fsynced, then renamed over ``path`` (atomic on POSIX); a failure removes it.
    The file gets the mode a plain ``open()`` would give (0666 less the umask), not
    mkstemp's 0600: results and reports are meant to be read by other tools and users.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process umask: from /proc on Linux (no race), else by setting and restoring it."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
