"""Zip archives (`.keras`) read with suspicion and written atomically.

Before anything is read: the file must be a complete zip and nothing else (its first member at byte 0 and its end
record the last bytes: a zip appended to another file, a polyglot, is refused); no member may have an absolute path,
a `..` part, a backslash or a drive letter (nothing is ever extracted, but such names only come from crafted files);
no member may be encrypted, use an unknown compression, or declare far more bytes than it stores. Members are then
read in chunks up to their declared size and a limit, and zip's CRC check catches data that differs from what was
declared.

The limits are module attributes, so a program that must open unusual files can raise them:
`MAX_MEMBERS`, and `MAX_EXPANSION` (declared bytes per stored byte) above `BOMB_FLOOR_BYTES`.
"""
import io
import os
import zipfile
import zlib

from deepglass.saving.errors import SavedFileError

MAX_MEMBERS = 1000
MAX_EXPANSION = 100  # deflate never gets near it on weights or JSON; a decompression bomb does
BOMB_FLOOR_BYTES = 1 << 20
_CHUNK = 1 << 20
_LOCAL_SIGNATURE, _END_SIGNATURE, _END_RECORD_SIZE = b"PK\x03\x04", b"PK\x05\x06", 22


class _ArchiveFile(zipfile.ZipFile):
    """A ZipFile on a file it owns: the file is opened once, so that a save replacing it meanwhile cannot show the
    checks one version and the reads another."""

    def __init__(self, file):
        self._file = file
        super().__init__(file, "r")

    def close(self):
        try:
            super().close()
        finally:
            self._file.close()


def open_archive(path):
    """The validated `zipfile.ZipFile` of `path`, or a SavedFileError saying what is wrong."""
    label = str(path)
    file = open(path, "rb")
    try:
        size = os.fstat(file.fileno()).st_size
        archive = _ArchiveFile(file)
    except zipfile.BadZipFile as error:
        file.close()
        raise SavedFileError(label, f"it is not a complete zip archive ({error}); a .keras file is a zip archive. "
                                    "The file is truncated, corrupt, or of another format.") from None
    except BaseException:
        file.close()
        raise
    try:
        _check_layout(file, archive, size, label)
        _check_members(archive, size, label)
    except BaseException:
        archive.close()
        raise
    return archive


def _check_layout(file, archive, size, label):
    """The zip must fill the file: its first local header at byte 0, its end record (and comment) the last bytes."""
    end_record = _END_RECORD_SIZE + len(archive.comment)
    file.seek(0)
    head = file.read(4)
    file.seek(max(size - end_record, 0))
    tail = file.read(4)
    first = min((info.header_offset for info in archive.infolist()), default=0)
    if tail != _END_SIGNATURE or (archive.infolist() and (head != _LOCAL_SIGNATURE or first != 0)):
        raise SavedFileError(label, "it holds other data before or after its zip archive (a polyglot: a zip joined "
                                    "to another file); a .keras file is a zip archive and nothing else.")


def _check_members(archive, size, label):
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise SavedFileError(label, f"the archive has {len(members)} members; a .keras file has a few.")
    names = set()
    for info in members:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if (name.startswith(("/", "\\")) or "\\" in name or ".." in parts or "\x00" in name
                or (len(name) > 1 and name[1] == ":")):
            raise SavedFileError(label, f"the archive member {name!r} has an absolute or parent-relative path; "
                                        "refusing a crafted archive.")
        if name in names:
            raise SavedFileError(label, f"the archive holds {name!r} twice; refusing an ambiguous archive.")
        names.add(name)
        if info.flag_bits & 0x1:
            raise SavedFileError(label, f"the archive member {name!r} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise SavedFileError(label, f"the archive member {name!r} uses compression method {info.compress_type}; "
                                        "only stored and deflated members are read.")
        if info.header_offset + info.compress_size > size:
            raise SavedFileError(label, f"the archive member {name!r} extends past the end of the file; the file "
                                        "is truncated.")
        if info.file_size > BOMB_FLOOR_BYTES and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
            raise SavedFileError(label, f"the archive member {name!r} declares {info.file_size} bytes but stores "
                                        f"{info.compress_size}; refusing a decompression bomb.")


def read_member(archive, name, limit, label):
    """The bytes of member `name`, read in chunks, refused beyond `limit` bytes (None: its declared size, which
    `open_archive` has checked) or beyond its declared size."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise SavedFileError(label, f"the archive has no {name!r}; a .keras file holds config.json, metadata.json "
                                    "and model.weights.h5.") from None
    if limit is not None and info.file_size > limit:
        raise SavedFileError(label, f"{name!r} declares {info.file_size} bytes, over the {limit} accepted.")
    try:
        buffer = _read_capped(archive, info, label)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        raise SavedFileError(label, f"reading {name!r} failed ({error}); the file is truncated or corrupt.") from None
    if buffer.tell() != info.file_size:
        raise SavedFileError(label, f"{name!r} holds {buffer.tell()} bytes but declares {info.file_size}.")
    return buffer.getvalue()


def _read_capped(archive, info, label):
    buffer = io.BytesIO()
    with archive.open(info, "r") as member:
        while True:
            chunk = member.read(_CHUNK)
            if not chunk:
                return buffer
            buffer.write(chunk)
            if buffer.tell() > info.file_size:
                raise SavedFileError(label, f"{info.filename!r} holds more bytes than it declares; refusing it.")


def write_archive(path, members):
    """Write `members` (name -> bytes) as a zip archive at `path`, stored uncompressed as Keras does."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
