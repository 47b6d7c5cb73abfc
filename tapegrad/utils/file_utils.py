"""`get_file` (Keras 3's ``keras.utils.get_file``) without a network: tapegrad never
downloads at run time. A file already in the cache, or a local ``file://`` origin, is
served (and archives extracted) exactly where Keras would put them."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from typing import Any


def get_file(
    fname: str | None = None,
    origin: str | None = None,
    untar: bool = False,
    md5_hash: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format: str = "auto",
    cache_dir: str | None = None,
    force_download: bool = False,
) -> str:
    """The path of a cached file, as Keras' ``get_file`` computes it; never downloads.

    The cache is ``cache_dir/cache_subdir`` (``cache_dir`` defaults to ``$KERAS_HOME`` or
    ``~/.keras``, as in Keras). A file found there (with the right hash, when one is given)
    is returned; a ``file://`` origin (or a local path) is copied there first. Anything
    else would need a download, which tapegrad refuses: place the file in the cache
    yourself.

    Args:
        fname: The file name in the cache (default: the last part of ``origin``).
        origin: The file's URL.
        untar: Deprecated Keras alias of ``extract=True, archive_format="tar"``.
        md5_hash: Deprecated Keras alias of ``file_hash`` with MD5.
        file_hash: The expected SHA-256 or MD5 hex digest of the file.
        cache_subdir: Sub-folder of the cache.
        hash_algorithm: ``"sha256"``, ``"md5"`` or ``"auto"`` (by the hash's length).
        extract: Extract the archive (tar, tar.gz, tar.bz2 or zip) and return the folder.
        archive_format: ``"auto"``, ``"tar"``, ``"zip"`` or a list of them.
        cache_dir: The cache's base folder.
        force_download: Refused (it would mean downloading again).

    Returns:
        The path of the file (or of the extracted folder).

    Raises:
        ValueError: No ``origin``, a path as ``fname``, a hash mismatch, or an archive
            member that would land outside the extraction folder.
        RuntimeError: The file is not available locally (no download is ever made).

    Examples:
        >>> import os, tempfile
        >>> source = os.path.join(tempfile.mkdtemp(), "data.txt")
        >>> with open(source, "w") as f:
        ...     _ = f.write("hello")
        >>> path = get_file(origin="file://" + source, cache_dir=tempfile.mkdtemp())
        >>> open(path).read(), os.path.basename(path)
        ('hello', 'data.txt')
    """
    if origin is None:
        raise ValueError('get_file: please specify the "origin" argument (the file\'s URL)')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(cache_dir or os.environ.get("KERAS_HOME", "~/.keras"))
    folder = os.path.join(base, cache_subdir)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:  # not writable: Keras falls back to a temporary folder
        folder = os.path.join(tempfile.gettempdir(), ".keras", cache_subdir)
        os.makedirs(folder, exist_ok=True)
    given = os.fspath(fname) if fname is not None else None
    name = given or os.path.basename(urllib.parse.urlsplit(origin).path)
    if not name:
        raise ValueError(
            f"get_file: cannot parse a file name from the origin {origin!r}; pass `fname`"
        )
    if os.sep in name and given:
        raise ValueError(
            f"get_file: fname must be a file name, not a path (use cache_dir), got {name!r}"
        )
    extract = extract or untar
    target, extraction_dir = _targets(folder, name, bool(given), extract)
    if force_download or not os.path.exists(target):
        _fetch_locally(origin, target, force_download)
    if file_hash is not None and not _hash_matches(target, file_hash, hash_algorithm):
        raise ValueError(
            f"get_file: {target} does not match the expected {hash_algorithm} hash "
            f"{file_hash} (an incomplete or outdated file: replace it)"
        )
    if not extract:
        return target
    _extract(target, extraction_dir, "tar" if untar else archive_format)
    return extraction_dir


def _targets(folder: str, name: str, named: bool, extract: bool) -> tuple[str, str]:
    """Keras' file and extraction paths in the cache."""
    if not extract:
        return os.path.join(folder, name), ""
    if named and "." in name:
        stem = name[: name.find(".")]
        return os.path.join(folder, name), os.path.join(folder, f"{stem}_extracted")
    return os.path.join(folder, f"{name}_archive"), os.path.join(folder, name)


def _fetch_locally(origin: str, target: str, force_download: bool) -> None:
    parts = urllib.parse.urlsplit(origin)
    source = urllib.request.url2pathname(parts.path) if parts.scheme == "file" else origin
    if parts.scheme in ("", "file") and os.path.isfile(source):
        shutil.copyfile(source, target)
        return
    why = "force_download=True asks for a download" if force_download else "it is not cached"
    raise RuntimeError(
        f"get_file: cannot get {origin}: {why}, and tapegrad never downloads at run time "
        f"(no network access). Download it yourself and place it at {target}, or pass "
        "origin='file:///path/to/the/file'"
    )


def _hash_matches(path: str, file_hash: str, algorithm: str) -> bool:
    use_sha256 = algorithm == "sha256" or (algorithm == "auto" and len(file_hash) == 64)
    hasher = hashlib.sha256() if use_sha256 else hashlib.md5()  # noqa: S324 (Keras' md5)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest() == str(file_hash)


def _extract(path: str, folder: str, archive_format: Any) -> None:
    formats = ["tar", "zip"] if archive_format == "auto" else archive_format
    formats = [formats] if isinstance(formats, str) else list(formats)
    if os.path.isdir(folder) and os.listdir(folder):
        return  # extracted before
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                _check_members([m.name for m in archive.getmembers()], folder, path)
                if any(m.issym() or m.islnk() for m in archive.getmembers()):
                    raise ValueError(f"get_file: {path} holds links; not extracted")
                archive.extractall(folder)  # noqa: S202 (members checked above)
            return
        if kind == "zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                _check_members(archive.namelist(), folder, path)
                archive.extractall(folder)  # noqa: S202 (members checked above)
            return
    raise ValueError(f"get_file: {path} is not a {' or '.join(formats)} archive")


def _check_members(names: list[str], folder: str, path: str) -> None:
    root = os.path.realpath(folder)
    for name in names:
        where = os.path.realpath(os.path.join(root, name))
        if os.path.isabs(name) or os.path.commonpath([root, where]) != root:
            raise ValueError(
                f"get_file: the archive {path} has a member outside its folder: {name!r}"
            )


__all__ = ["get_file"]
