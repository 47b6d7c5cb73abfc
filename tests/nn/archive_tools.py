"""Helpers for tests of hostile archives: zip fields, members, JSON edits, bombs, children.

A child process runs loads under a memory limit (RLIMIT_AS) and a timeout, so that a
load that tries to allocate too much, crashes or hangs fails the test instead of taking
the test run down.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from typing import Any

import numpy as np

from tapegrad.nn import saving

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Offsets of the size fields in the zip headers (APPNOTE 4.3.7 and 4.3.12).
LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"
LOCAL_FIELDS = {
    "version": 4,
    "method": 8,
    "crc": 14,
    "compress_size": 18,
    "file_size": 22,
    "name_length": 26,
}
CENTRAL_FIELDS = {
    "create_version": 4,
    "extract_version": 6,
    "method": 10,
    "crc": 16,
    "compress_size": 20,
    "file_size": 24,
    "name_length": 28,
    "header_offset": 42,
}
_FIELD_SIZES = {
    "version": 2,
    "create_version": 2,
    "extract_version": 2,
    "method": 2,
    "name_length": 2,
}


def members(path: str | os.PathLike[str]) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(members_: dict[str, bytes]) -> bytes:
    """The archive of these members, written the way `save_model` writes them."""
    buffer = io.BytesIO()
    saving._write_members(buffer, members_)
    return buffer.getvalue()


def edit_json(data: bytes, member: str, edit: Any) -> bytes:
    """The archive ``data`` with ``edit(document)`` applied to one JSON member."""
    found = members(io.BytesIO(data))
    document = json.loads(found[member])
    edit(document)
    found[member] = json.dumps(document).encode()
    return rezip(found)


def headers(data: bytes, signature: bytes) -> list[int]:
    """Offsets of every header with ``signature`` (local or central) in ``data``."""
    found, start = [], 0
    while (position := data.find(signature, start)) != -1:
        found.append(position)
        start = position + 4
    return found


def set_field(data: bytes, offset: int, fields: dict[str, int], field: str, value: int) -> bytes:
    """``data`` with one little-endian header field (at header ``offset``) set."""
    size = _FIELD_SIZES.get(field, 4)
    position = offset + fields[field]
    return data[:position] + value.to_bytes(size, "little") + data[position + size :]


def get_field(data: bytes, offset: int, fields: dict[str, int], field: str) -> int:
    size = _FIELD_SIZES.get(field, 4)
    position = offset + fields[field]
    return int.from_bytes(data[position : position + size], "little")


def central_entry(data: bytes, name: str) -> int:
    """The offset of the central-directory header of member ``name``."""
    for offset in headers(data, CENTRAL_HEADER):
        length = get_field(data, offset, CENTRAL_FIELDS, "name_length")
        if data[offset + 46 : offset + 46 + length] == name.encode():
            return offset
    raise KeyError(name)


def deflate_bomb(members_: dict[str, bytes], member: str, size: int) -> bytes:
    """An archive whose ``member`` is ``size`` zero bytes, deflated (1 KiB per MiB).

    Built from one flushed deflate block of 1 MiB of zeros repeated, so that a bomb of
    gigabytes costs a second, not the time to compress gigabytes."""
    chunk_size = 1 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk_size)) + compressor.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, chunk_size)
    tail_compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = tail_compressor.compress(bytes(rest)) + tail_compressor.flush()
    crc = 0
    zeros = bytes(chunk_size)
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(bytes(rest), crc)
    payload = block * count + tail
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members_.items():
            if name != member:
                archive.writestr(name, data)
    entries = buffer.getvalue()
    # Rebuild by hand: the other members, then the bomb, then a fresh central directory.
    with zipfile.ZipFile(io.BytesIO(entries)) as archive:
        infos = archive.infolist()
    end = entries.find(CENTRAL_HEADER)
    body = bytearray(entries[:end])
    central = bytearray(entries[end : entries.rfind(b"PK\x05\x06")])
    offset = len(body)
    name = member.encode()
    body += (
        struct.pack(
            "<4sHHHHHIIIHH", LOCAL_HEADER, 20, 0, 8, 0, 0x21, crc, len(payload), size, len(name), 0
        )
        + name
        + payload
    )
    central += (
        struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            CENTRAL_HEADER,
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(payload),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        + name
    )
    count_entries = len(infos) + 1
    end_record = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, count_entries, count_entries, len(central), len(body), 0
    )
    return bytes(body + central + end_record)


def run_child(
    code: str, memory_mib: int = 1024, timeout: float = 120.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter limited to ``memory_mib`` of address space."""
    prelude = textwrap.dedent(f"""
        import resource
        limit = {memory_mib} << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    """)
    environment = {
        **os.environ,
        "PYTHONPATH": REPO,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "NUMBA_DISABLE_JIT": "0",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=REPO,
    )


def weights_of(data: bytes) -> dict[str, np.ndarray]:
    return saving._load_safetensors(members(io.BytesIO(data))["weights.safetensors"], "w")
