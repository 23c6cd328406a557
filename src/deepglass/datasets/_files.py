"""Where dataset files come from: the deepglass cache, Keras's cache, system packages, then a verified download.

A file is looked up, in order, in the deepglass cache (`$DEEPGLASS_HOME/datasets`, by default
`~/.deepglass/datasets`), in Keras's cache (`$KERAS_HOME/datasets`, by default `~/.keras/datasets`, where
Keras itself puts its downloads), and in the folders where a system package installs it (Debian's
`dataset-fashion-mnist` puts Fashion-MNIST in `/usr/share/datasets/fashion-mnist`). Whatever is found is
checked against the published checksum, and a file that does not match is reported, never used. Only when
no copy exists is the file downloaded from Keras's published origin, into the deepglass cache: to a
temporary file first, checked, then moved into place, so that an interrupted download leaves nothing behind.
"""
import dataclasses
import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is in none of the places searched and could not be downloaded."""


class DatasetChecksumError(ValueError):
    """A dataset file does not match its published checksum: it is truncated, corrupt or another version."""


@dataclasses.dataclass(frozen=True)
class Resource:
    """One dataset file: its name in the cache, where it is published, and the checksums it may have.

    Arguments:
        name: the file name in the cache, e.g. `"mnist.npz"`.
        origin: the URL it is downloaded from; `None` for a file that comes out of an archive.
        hashes: accepted hex digests of the file: md5 (32 digits) or sha256 (64), as Keras's `file_hash`.
        subdir: the folder under `datasets/` that holds it, e.g. `"fashion-mnist"`.
        keras_paths: other paths under Keras's `datasets/` where Keras keeps it.
        system_dirs: folders where a system package installs it.
        package: the Debian package that installs it there.
        gzip_sha256: sha256 of the gunzipped content, accepted for a `.gz` file that was compressed anew
            (Debian recompresses its copies, so their bytes differ from the published files' but not their data).
    """

    name: str
    origin: str | None
    hashes: tuple
    subdir: str = ""
    keras_paths: tuple = ()
    system_dirs: tuple = ()
    package: str | None = None
    gzip_sha256: str | None = None


def deepglass_home():
    """`$DEEPGLASS_HOME`, or `~/.deepglass`."""
    return os.path.expanduser(os.environ.get("DEEPGLASS_HOME") or os.path.join("~", ".deepglass"))


def cache_dir():
    """Where deepglass keeps dataset files: `deepglass_home()/datasets`."""
    return os.path.join(deepglass_home(), "datasets")


def keras_cache_dirs():
    """Keras's dataset caches: `$KERAS_HOME/datasets`, else `~/.keras/datasets` and, as Keras falls back to it
    when the home folder is read-only, `/tmp/.keras/datasets`."""
    if os.environ.get("KERAS_HOME"):
        return [os.path.join(os.path.expanduser(os.environ["KERAS_HOME"]), "datasets")]
    homes = [os.path.join(os.path.expanduser("~"), ".keras"), os.path.join(tempfile.gettempdir(), ".keras")]
    return [os.path.join(home, "datasets") for home in dict.fromkeys(homes)]


def candidates(resource, name=None):
    """Every path where `resource` (under the file name `name`) may already be, in the order searched."""
    name = name or resource.name
    relative = os.path.join(resource.subdir, name)
    paths = [os.path.join(cache_dir(), relative)]
    for keras_dir in keras_cache_dirs():
        paths.append(os.path.join(keras_dir, relative))
        if name == resource.name:
            paths += [os.path.join(keras_dir, path) for path in resource.keras_paths]
    paths += [os.path.join(folder, name) for folder in resource.system_dirs]
    return list(dict.fromkeys(paths))


def locate(resource, name=None):
    """The first verified copy of `resource`, or `None`; a copy that fails its checksum raises."""
    for path in candidates(resource, name):
        if os.path.isfile(path):
            verify(path, resource)
            return path
    return None


def fetch(resource, loader, path=None):
    """The path of a verified copy of `resource`, found or downloaded; `loader` names the caller in errors.

    Arguments:
        resource: the `Resource` wanted.
        loader: e.g. `"mnist.load_data()"`, for the messages.
        path: Keras's `path` argument: a file name looked up in the caches (`None` for the default name), or a
            path with a folder (`"data/mnist.npz"`), used as it is and downloaded there when missing.
    """
    if path is not None and os.path.dirname(os.fspath(path)):
        path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        if os.path.isfile(path):
            verify(path, resource)
            return path
        return download(resource, path, loader, searched=[path])
    found = locate(resource, path)
    if found is not None:
        return found
    target = os.path.join(cache_dir(), resource.subdir, path or resource.name)
    return download(resource, target, loader, searched=candidates(resource, path))


def digest(path, algorithm):
    """The hex digest of a file, read in 1 MiB chunks."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _algorithm(file_hash):
    return "sha256" if len(file_hash) == 64 else "md5"


def matches(path, resource):
    """Whether the file at `path` has one of `resource`'s checksums."""
    digests = {}
    for expected in resource.hashes:
        algorithm = _algorithm(expected)
        if algorithm not in digests:
            digests[algorithm] = digest(path, algorithm)
        if digests[algorithm] == expected.lower():
            return True
    return resource.gzip_sha256 is not None and _gzip_digest(path) == resource.gzip_sha256


def _gzip_digest(path):
    hasher = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                hasher.update(chunk)
    except (OSError, EOFError):  # not gzip, truncated or failing its CRC: not the data
        return None
    return hasher.hexdigest()


def verify(path, resource):
    """Raise `DatasetChecksumError` unless the file at `path` has one of `resource`'s checksums."""
    if matches(path, resource):
        return
    expected = resource.hashes[0]
    algorithm = _algorithm(expected)
    remedy = (f"reinstall the Debian package {resource.package}" if resource.package
              and os.path.dirname(path) in resource.system_dirs else "delete it so that it is downloaded again")
    raise DatasetChecksumError(
        f"The dataset file {path} is truncated, corrupt or another version: its {algorithm} is "
        f"{digest(path, algorithm)}, expected {expected}; {remedy}, or replace it with a good copy.")


def write_atomic(path, data):
    """Write `data` to `path` through a temporary file in the same folder, so that `path` is whole or absent."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _open_url(url):
    """Open `url` for reading (the one place that touches the network)."""
    return urllib.request.urlopen(url, timeout=60)


# What a failed download raises: no network, DNS failure, refused or reset connection, HTTP error, timeout.
_NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)


def download(resource, target, loader, searched=()):
    """Download `resource` to `target` through a temporary file, check it, then move it into place."""
    if resource.origin is None:
        raise missing(resource, loader, searched, reason="it has no download address of its own")
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    print(f"Downloading data from {resource.origin}")
    handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            try:
                _copy_url(resource.origin, file)
            except _NETWORK_ERRORS as error:
                raise missing(resource, loader, searched,
                              reason=f"downloading it from {resource.origin} failed ({error})") from error
        if not matches(partial, resource):
            raise DatasetChecksumError(
                f"The file downloaded from {resource.origin} does not match its published checksum "
                f"{resource.hashes[0]} (an interrupted or altered download); call {loader} again.")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return target


def _copy_url(url, file):
    with _open_url(url) as response:
        total = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        bar = _progress_bar(int(total) if total and total.isdigit() else None)
        done = 0
        for chunk in iter(lambda: response.read(1 << 20), b""):
            file.write(chunk)
            done += len(chunk)
            if bar is not None:
                bar.update(done)


def _progress_bar(total):
    if not total:
        return None
    from deepglass.training.progbar import Progbar  # only when downloading: keeps the import light
    return Progbar(total, unit_name="byte")


def missing(resource, loader, searched, reason):
    """The error for a file that is nowhere to be found: what is missing, where to put it, who provides it."""
    places = ", ".join(dict.fromkeys(os.path.dirname(path) for path in searched)) or "nowhere"
    target = searched[0] if searched else os.path.join(cache_dir(), resource.subdir, resource.name)
    package = (f", or install the Debian package {resource.package} (`apt install {resource.package}`), which "
               f"puts it in {resource.system_dirs[0]}" if resource.package else "")
    source = f" from {resource.origin}" if resource.origin else ""
    return DatasetNotFoundError(
        f"{loader} needs {os.path.basename(target)}, which is in none of {places}, and {reason}; download it{source} "
        f"where there is a network and copy it to {target} ({_algorithm(resource.hashes[0])} "
        f"{resource.hashes[0]}){package}.")
