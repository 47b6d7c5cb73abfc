"""Archive I/O: the zip's members, JSON, safetensors, atomic writes, size bounds.

Nothing here knows about layers: it turns bytes into checked members and back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

import numpy as np
import safetensors.numpy


class ArchiveError(ValueError):
    """A model archive or weights file that cannot be loaded: corrupt, hostile or too large.

    Every problem `load_model` and `load_weights` find in a file raises this error (a
    `ValueError`, as before), naming the file, the member and the field; zip, JSON, codec
    and size errors from inside the reader are turned into it. Failing to open the file
    at all stays an `OSError`.

    Examples:
        >>> issubclass(ArchiveError, ValueError)
        True
    """


FORMAT = "tapegrad-model"
WEIGHTS_FORMAT = "tapegrad-weights"
#: The version this tapegrad writes; it reads every version in `READ_VERSIONS`.
VERSION = 3
READ_VERSIONS = (1, 2, 3)
EXTENSIONS = (".tapegrad", ".keras")

_MiB = 1 << 20
#: Largest size (bytes) accepted for each archive member; anything else is refused.
MEMBER_LIMITS = {
    "metadata.json": 1 * _MiB,
    "config.json": 64 * _MiB,
    "optimizer.json": 16 * _MiB,
    "weights.safetensors": 16 * 1024 * _MiB,
}
_REQUIRED = ("metadata.json", "config.json", "weights.safetensors")
_ZIP_MAGIC = b"PK\x03\x04"


# -- archive I/O ------------------------------------------------------------------------------
#: A deflated member may expand at most this many times (small members excepted): genuine
#: JSON compresses a few times to a few tens of times, a zip bomb a thousand times.
MAX_COMPRESSION_RATIO = 200
_SMALL_MEMBER = 1 * _MiB
_TEMP_SUFFIX = ".tmp-tapegrad"
_TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-\d+" + re.escape(_TEMP_SUFFIX) + "$")


def _temporary_name(path: str) -> str:
    """``.<name>.<pid>-<thread>.tmp-tapegrad`` beside ``path``: unique per writer, and
    recognisable, so that a later save removes what a killed writer left."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{os.getpid()}-{threading.get_ident()}{_TEMP_SUFFIX}")


def _remove_stale_temporaries(path: str) -> None:
    """Delete the temporary files of earlier saves of ``path`` whose process is gone."""
    directory, name = os.path.split(os.path.abspath(path))
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        match = _TEMP_PATTERN.match(entry)
        if match is None or match["name"] != name or _process_alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, entry))


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or an unreadable pid): leave it
    return True


def _atomic_write(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Write through ``write(file)`` to a temporary file, fsync, then replace ``path``.

    The temporary file sits beside ``path`` (``os.replace`` must not cross file systems);
    a failure removes it, and each save first removes those that killed saves left."""
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(path)
    temporary = _temporary_name(path)
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where directories fsync
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_members(file: IO[bytes], members: dict[str, bytes]) -> None:
    """The zip, members in a fixed order with fixed timestamps (reproducible bytes)."""
    with zipfile.ZipFile(file, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".safetensors") else zipfile.ZIP_DEFLATED
            )
            archive.writestr(info, data)


# What zipfile and the codecs raise for a corrupt archive, beyond ValueError.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    struct.error,
    NotImplementedError,
    OSError,
    OverflowError,
    IndexError,
    KeyError,
    UnicodeError,
    RuntimeError,
    TypeError,
    ValueError,
    MemoryError,
)


def _read_archive(path: str) -> dict[str, bytes]:
    """The archive's members, validated: a zip, expected names only, bounded sizes.

    Sizes the zip declares are checked against the file itself before anything is read:
    no member's compressed size exceeds the file's, a stored member expands to exactly
    its stored bytes, a deflated one at most `MAX_COMPRESSION_RATIO` times; reads stop
    at the declared size. Failing to open ``path`` raises OSError; everything after it
    raises `ArchiveError`.
    """
    with open(path, "rb") as file:  # OSError here: the file cannot be read at all
        archive_size = os.fstat(file.fileno()).st_size
        try:
            archive = zipfile.ZipFile(file)
        except _ZIP_ERRORS as err:
            raise ArchiveError(
                f"{path}: not a tapegrad model archive (not a valid zip file: "
                f"{type(err).__name__}: {err})"
            ) from err
        with archive:
            members = {}
            for info in archive.infolist():
                name = info.filename
                members[name] = _read_member(archive, info, path, archive_size, members)
    for name in _REQUIRED:
        if name not in members:
            raise ArchiveError(f"{path}: member {name!r} is missing")
    return members


def _read_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    path: str,
    archive_size: int,
    members: dict[str, bytes],
) -> bytes:
    name = info.filename
    if name not in MEMBER_LIMITS:
        raise ArchiveError(
            f"{path}: unexpected member {name!r} (an archive holds only {sorted(MEMBER_LIMITS)})"
        )
    if name in members:
        raise ArchiveError(f"{path}: member {name!r} appears twice")
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{path}: member {name!r} is encrypted")
    limit = MEMBER_LIMITS[name]
    if info.file_size > limit:
        raise ArchiveError(
            f"{path}: member {name!r} is {info.file_size} bytes, more than the {limit} accepted"
        )
    if info.compress_size > archive_size:
        raise ArchiveError(
            f"{path}: member {name!r} field compress_size declares "
            f"{info.compress_size} bytes, more than the file's {archive_size}"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ArchiveError(
            f"{path}: member {name!r} is stored, but its field file_size "
            f"({info.file_size}) differs from compress_size "
            f"({info.compress_size})"
        )
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ArchiveError(
            f"{path}: member {name!r} uses compression method "
            f"{info.compress_type} (stored or deflated only)"
        )
    if info.file_size > max(_SMALL_MEMBER, MAX_COMPRESSION_RATIO * info.compress_size):
        raise ArchiveError(
            f"{path}: member {name!r} field file_size declares "
            f"{info.file_size} bytes from {info.compress_size} compressed "
            f"(more than {MAX_COMPRESSION_RATIO} times: a zip bomb?)"
        )
    try:
        with archive.open(info) as stream:
            data = stream.read(info.file_size + 1)
    except _ZIP_ERRORS as err:
        raise ArchiveError(
            f"{path}: member {name!r} is corrupt ({type(err).__name__}: {err})"
        ) from err
    if len(data) != info.file_size:
        raise ArchiveError(
            f"{path}: member {name!r} holds {len(data)} bytes, its field "
            f"file_size declares {info.file_size}"
        )
    return data


def _parse_json(data: bytes, member: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate keys")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(
            data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants
        )
    except (UnicodeDecodeError, ValueError, RecursionError, MemoryError) as err:
        raise ArchiveError(
            f"{member}: not valid JSON ({type(err).__name__}: {str(err)[:200]})"
        ) from err


def _json_bytes(document: Any, what: str = "document") -> bytes:
    try:
        return json.dumps(document, allow_nan=False, sort_keys=False).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise ValueError(f"save_model: {what} is not JSON-serializable: {err}") from err


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _check_header(metadata: Any, member: str, expected_format: str) -> None:
    if not isinstance(metadata, dict) or "format" not in metadata or "version" not in metadata:
        raise ArchiveError(f"{member}: expected an object with 'format' and 'version'")
    if metadata["format"] != expected_format:
        raise ArchiveError(
            f"{member}: format {_short(metadata['format'])} is not {expected_format!r}"
        )
    version = metadata["version"]
    if isinstance(version, bool) or version not in READ_VERSIONS:
        raise ArchiveError(
            f"{member}: unsupported version {_short(version)} (this "
            f"tapegrad reads versions {list(READ_VERSIONS)})"
        )


# -- integrity --------------------------------------------------------------------------------
def tensor_sha256(array: np.ndarray) -> str:
    """SHA-256 (hex) of a tensor: its dtype, shape and bytes in C order.

    Examples:
        >>> tensor_sha256(np.zeros(2, np.float32)) == tensor_sha256(np.zeros(2, np.float32))
        True
        >>> tensor_sha256(np.zeros(2, np.float32)) == tensor_sha256(np.zeros(2, np.float64))
        False
    """
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{list(array.shape)}".encode())
    digest.update(array.reshape(-1).view(np.uint8) if array.size else b"")
    return digest.hexdigest()


def json_sha256(document: Any) -> str:
    """SHA-256 (hex) of a JSON document in canonical form (sorted keys, no spaces).

    Examples:
        >>> json_sha256({"a": 1, "b": [2.5]}) == json_sha256({"b": [2.5], "a": 1})
        True
    """
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_HEX = re.compile(r"^[0-9a-f]{64}$")


def _checksums(metadata: dict[str, Any], member: str) -> dict[str, Any] | None:
    """The ``checksums`` of a version 2+ header (None for version 1), checked for form."""
    if metadata["version"] == 1:
        return None
    checksums = metadata.get("checksums")
    where = f"{member} checksums"
    if not isinstance(checksums, dict) or set(checksums) != {"weights", "lambdas"}:
        raise ArchiveError(f"{where}: expected an object with 'weights' and 'lambdas'")
    weights, lambdas = checksums["weights"], checksums["lambdas"]
    if not isinstance(weights, dict) or not all(
        isinstance(v, str) and _HEX.match(v) for v in weights.values()
    ):
        raise ArchiveError(f"{where}.weights: expected {{tensor name: SHA-256 hex}}")
    if not isinstance(lambdas, list) or not all(
        isinstance(v, str) and _HEX.match(v) for v in lambdas
    ):
        raise ArchiveError(f"{where}.lambdas: expected a list of SHA-256 hex digests")
    return checksums


def _verify_tensors(arrays: dict[str, np.ndarray], expected: dict[str, str], source: str) -> None:
    """Refuse tensors whose SHA-256 differs from ``expected`` (or that it does not list)."""
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ArchiveError(
            f"{source}: the stored tensors do not match the checksum list: "
            f"missing {missing[:5]}, unlisted {extra[:5]}"
        )
    for key in sorted(arrays):
        if tensor_sha256(arrays[key]) != expected[key]:
            raise ArchiveError(
                f"{source}: tensor {key!r} does not match its SHA-256 checksum (the file was "
                "altered or corrupted); load with verify=False to skip the check"
            )


# -- safetensors ------------------------------------------------------------------------------
def _safetensors_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    try:
        return bytes(
            safetensors.numpy.save(
                {k: np.array(v, order="C") for k, v in arrays.items()}, metadata=metadata
            )
        )
    except Exception as err:  # safetensors raises its own (non-ValueError) error type
        raise ValueError(f"cannot store the weights as safetensors: {err}") from err


# Bytes per element of each safetensors dtype NumPy can hold.
_ITEMSIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "U16": 2,
    "I16": 2,
    "F16": 2,
    "U32": 4,
    "I32": 4,
    "F32": 4,
    "U64": 8,
    "I64": 8,
    "F64": 8,
}


def _safetensors_header(data: bytes, source: str) -> dict[str, Any]:
    """The JSON header of safetensors data (8-byte little-endian length, then JSON), every
    tensor's dtype, shape and byte range checked against the data before any is read."""
    if len(data) < 8:
        raise ArchiveError(f"{source}: truncated safetensors data ({len(data)} bytes)")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > min(len(data) - 8, 100 * _MiB):
        raise ArchiveError(
            f"{source}: corrupt safetensors header (its size field declares "
            f"{header_size} bytes; the data has {len(data) - 8})"
        )
    header = _parse_json(data[8 : 8 + header_size], source)
    if not isinstance(header, dict):
        raise ArchiveError(f"{source}: corrupt safetensors header (not an object)")
    body = len(data) - 8 - header_size
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise ArchiveError(f"{source}: __metadata__ must map names to strings")
            continue
        ranges.append(_tensor_range(name, entry, body, source))
    ranges.sort()
    position = 0
    for begin, end, name in ranges:
        if begin != position:
            raise ArchiveError(
                f"{source}: tensor {name!r} starts at byte {begin}, expected "
                f"{position} (tensors must be contiguous, not overlapping)"
            )
        position = end
    if position != body:
        raise ArchiveError(f"{source}: the tensors cover {position} of the {body} data bytes")
    return header


def _tensor_range(name: str, entry: Any, body: int, source: str) -> tuple[int, int, str]:
    where = f"{source}: tensor {name[:100]!r}"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ArchiveError(f"{where}: expected 'dtype', 'shape' and 'data_offsets'")
    itemsize = _ITEMSIZES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    if itemsize is None:
        raise ArchiveError(f"{where}: unsupported dtype {str(entry['dtype'])[:50]!r}")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if (
        not isinstance(shape, list)
        or len(shape) > 64
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise ArchiveError(f"{where}: bad shape {str(shape)[:100]}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= body
    ):
        raise ArchiveError(
            f"{where}: data_offsets {str(offsets)[:100]} lie outside the {body} data bytes"
        )
    if offsets[1] - offsets[0] != itemsize * math.prod(shape):
        raise ArchiveError(
            f"{where}: dtype {entry['dtype']} and shape {shape} need "
            f"{itemsize * math.prod(shape)} bytes; data_offsets give "
            f"{offsets[1] - offsets[0]}"
        )
    return offsets[0], offsets[1], name


def _safetensors_metadata(data: bytes) -> dict[str, Any]:
    metadata = _safetensors_header(data, "safetensors").get("__metadata__") or {}
    return metadata if isinstance(metadata, dict) else {}


def _load_safetensors(data: bytes, source: str) -> dict[str, np.ndarray]:
    _safetensors_header(data, source)
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as err:  # safetensors raises its own (non-ValueError) error type
        raise ArchiveError(f"{source}: corrupt safetensors data: {err}") from err
    return {k: np.asarray(v) for k, v in arrays.items()}


def _stored_elements(data: bytes, prefix: str = "layers/") -> int:
    """How many values the (checked) safetensors data stores under ``prefix``."""
    header = _safetensors_header(data, "weights.safetensors")
    return sum(
        math.prod(entry["shape"])
        for name, entry in header.items()
        if name != "__metadata__" and name.startswith(prefix)
    )


# -- small helpers ----------------------------------------------------------------------------
def _short(value: Any, limit: int = 100) -> str:
    """``repr(value)``, cut to ``limit`` characters (a file's value may be huge)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _expect_keys(value: Any, where: str, keys: set[str]) -> None:
    if not isinstance(value, dict):
        raise ArchiveError(f"{where}: expected an object, got {type(value).__name__}")
    if set(value) != keys:
        missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
        raise ArchiveError(f"{where}: missing keys {missing}, unexpected keys {extra[:10]}")


def _expect_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ArchiveError(f"{where}: expected a list, got {type(value).__name__}")
    return value
