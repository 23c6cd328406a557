"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The data goes to a temporary file in the same folder (so that the final rename stays on one file system), is
flushed and fsync'd, and then `os.replace` puts it in place in one step. A process killed at any moment leaves the
previous file untouched (and at worst a stray `.<name>.*.tmp` file beside it).
"""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, overwrite=True):
    """Yield a temporary path to write; on success it replaces `path` atomically, on error it is removed.

    Example:
        >>> with atomic_path("model.keras") as tmp:
        ...     write_archive(tmp)
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False; pass overwrite=True to replace it.")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(handle)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


@contextlib.contextmanager
def atomic_open(path, overwrite=True):
    """`atomic_path`, yielding the temporary file opened for binary writing (flushed before the rename)."""
    with atomic_path(path, overwrite) as tmp:
        with open(tmp, "wb") as file:
            yield file
            file.flush()


def _fsync_file(path):
    with open(path, "rb+") as file:
        os.fsync(file.fileno())


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
