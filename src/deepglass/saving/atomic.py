"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The data goes to a temporary file in the same folder (so that the final rename stays on one file system), is
flushed and fsync'd, and then `os.replace` puts it in place in one step. A process killed at any moment leaves the
previous file untouched (and at worst a stray `.<name>.*.tmp` file beside it). The new file gets the permissions of
the one it replaces, or those any new file gets (0o666 less the umask), not the temporary file's owner-only ones.
"""
import contextlib
import os
import stat
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
    try:
        os.fchmod(handle, _mode_for(path))
    finally:
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


def _mode_for(path):
    """The permissions of the file at `path`, or those a new file gets: 0o666 less the process's umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask():
    try:  # Linux shows it; setting and resetting it would change it for other threads for a moment
        with open("/proc/self/status") as status:
            return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0o022)
        os.umask(umask)
        return umask


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
