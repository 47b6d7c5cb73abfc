"""Archive I/O: the zip's members, JSON, safetensors, atomic writes, size bounds.

Nothing here knows about layers: it turns bytes into checked members and back.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

import numpy as np
import safetensors.numpy

FORMAT = "tapegrad-model"
WEIGHTS_FORMAT = "tapegrad-weights"
VERSION = 1
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
def _atomic_write(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Write through ``write(file)`` to a temporary file, fsync, then replace ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.",
                                         suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
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
            info.compress_type = (zipfile.ZIP_STORED if name.endswith(".safetensors")
                                  else zipfile.ZIP_DEFLATED)
            archive.writestr(info, data)


def _read_archive(path: str) -> dict[str, bytes]:
    """The archive's members, validated: a zip, expected names only, bounded sizes."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path}: not a tapegrad model archive (not a valid zip file: "
                         f"{err})") from err
    except (EOFError, struct.error) as err:
        raise ValueError(f"{path}: truncated or corrupt zip file") from err
    members: dict[str, bytes] = {}
    with archive:
        infos = archive.infolist()
        for info in infos:
            name = info.filename
            if name not in MEMBER_LIMITS:
                raise ValueError(
                    f"{path}: unexpected member {name!r} (an archive holds only "
                    f"{sorted(MEMBER_LIMITS)})"
                )
            if name in members:
                raise ValueError(f"{path}: member {name!r} appears twice")
            if info.flag_bits & 0x1:
                raise ValueError(f"{path}: member {name!r} is encrypted")
            limit = MEMBER_LIMITS[name]
            if info.file_size > limit:
                raise ValueError(f"{path}: member {name!r} is {info.file_size} bytes, more "
                                 f"than the {limit} accepted")
            try:
                with archive.open(info) as stream:
                    data = stream.read(limit + 1)
            except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as err:
                raise ValueError(f"{path}: member {name!r} is corrupt: {err}") from err
            if len(data) > limit:
                raise ValueError(f"{path}: member {name!r} expands beyond {limit} bytes")
            members[name] = data
    for name in _REQUIRED:
        if name not in members:
            raise ValueError(f"{path}: member {name!r} is missing")
    return members


def _parse_json(data: bytes, member: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate keys")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates,
                          parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(f"{member}: not valid JSON ({err})") from err


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
        raise ValueError(f"{member}: expected an object with 'format' and 'version'")
    if metadata["format"] != expected_format:
        raise ValueError(f"{member}: format {metadata['format']!r} is not {expected_format!r}")
    if metadata["version"] != VERSION or isinstance(metadata["version"], bool):
        raise ValueError(f"{member}: unsupported version {metadata['version']!r} (this "
                         f"tapegrad reads version {VERSION})")


def _safetensors_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    try:
        return bytes(safetensors.numpy.save(
            {k: np.array(v, order="C") for k, v in arrays.items()}, metadata=metadata))
    except Exception as err:  # safetensors raises its own (non-ValueError) error type
        raise ValueError(f"cannot store the weights as safetensors: {err}") from err


def _safetensors_header(data: bytes, source: str) -> dict[str, Any]:
    """The JSON header of safetensors data (8-byte little-endian length, then JSON)."""
    if len(data) < 8:
        raise ValueError(f"{source}: truncated safetensors data")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > min(len(data) - 8, 100 * _MiB):
        raise ValueError(f"{source}: corrupt safetensors header (size {header_size})")
    header = _parse_json(data[8:8 + header_size], source)
    if not isinstance(header, dict):
        raise ValueError(f"{source}: corrupt safetensors header")
    return header


def _safetensors_metadata(data: bytes) -> dict[str, Any]:
    metadata = _safetensors_header(data, "safetensors").get("__metadata__") or {}
    return metadata if isinstance(metadata, dict) else {}


def _load_safetensors(data: bytes, source: str) -> dict[str, np.ndarray]:
    _safetensors_header(data, source)
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as err:  # safetensors raises its own (non-ValueError) error type
        raise ValueError(f"{source}: corrupt safetensors data: {err}") from err
    return {k: np.asarray(v) for k, v in arrays.items()}


# -- small helpers ----------------------------------------------------------------------------
def _expect_keys(value: Any, where: str, keys: set[str]) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    if set(value) != keys:
        missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
        raise ValueError(f"{where}: missing keys {missing}, unexpected keys {extra}")


def _expect_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
    return value

