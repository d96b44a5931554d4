"""Uploads streamed from local files: the body is read from disk in chunks while it is sent, so
memory stays small whatever the size. Used by ``upload_session_files_from_disk`` and
``upload_workspace_file``."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import AshLocalError

_RAW_CHUNK = 3 * 64 * 1024
"""Bytes read per step: a multiple of 3, so each chunk's base64 has no padding but the last."""


@dataclass
class DiskFile:
    """A local file to send: its path on the server side, its path here, its size in bytes."""

    path: str
    local_path: str
    size: int


def stat_disk_files(files: Mapping[str, str | os.PathLike[str]] | list[tuple[str, str | os.PathLike[str]]]) -> list[DiskFile]:
    """``{server path: local path}`` (or pairs) with their sizes. Raises AshLocalError ``local_io_error``."""
    items = files.items() if isinstance(files, Mapping) else files
    out: list[DiskFile] = []
    for path, local in items:
        local_path = os.fspath(local)
        try:
            st = os.stat(local_path)
        except OSError as e:
            raise AshLocalError("local_io_error", f"cannot read {local_path}: {e.strerror}", local_path) from e
        if not os.path.isfile(local_path):
            raise AshLocalError("local_io_error", f"{local_path} is not a regular file", local_path)
        out.append(DiskFile(path, local_path, st.st_size))
    return out


def _mib(n: int) -> str:
    return f"{n / 1048576:.0f} MiB" if n % 1048576 == 0 else f"{n / 1048576:.1f} MiB"


def check_file_limits(disk: list[DiskFile], limits: Mapping[str, Any] | None) -> None:
    """Refuses, before any byte is sent, files over the server's ``fileBytes`` / ``fileBatchBytes``
    (from ``GET /health`` ``uploadLimits``; nothing is checked when the server publishes none).
    Raises AshLocalError ``payload_too_large``."""
    if not limits:
        return
    per_file, batch = limits.get("fileBytes"), limits.get("fileBatchBytes")
    for f in disk:
        if per_file is not None and f.size > per_file:
            raise AshLocalError(
                "payload_too_large",
                f"{f.local_path} is {_mib(f.size)}, over the server's {_mib(per_file)} limit per file; nothing was sent",
                f.local_path,
            )
    total = sum(f.size for f in disk)
    if batch is not None and total > batch:
        raise AshLocalError(
            "payload_too_large",
            f"the files hold {_mib(total)}, over the server's {_mib(batch)} limit per upload; nothing was sent "
            "(upload them in smaller batches)",
        )


def check_bundle_limit(file: DiskFile, limits: Mapping[str, Any] | None) -> None:
    """Refuses a bundle over the server's ``bundleBytes`` before sending. Raises AshLocalError."""
    cap = (limits or {}).get("bundleBytes")
    if cap is not None and file.size > cap:
        raise AshLocalError(
            "payload_too_large",
            f"{file.local_path} is {_mib(file.size)}, over the server's {_mib(cap)} bundle limit; nothing was sent",
            file.local_path,
        )


class DiskBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A request body of literal bytes and local files (raw, or base64-encoded inside JSON), read
    in chunks as it is sent; ``length`` is known up front (``Content-Length``). Works for both the
    sync and the async client. A file that changed size meanwhile raises AshLocalError."""

    def __init__(self, parts: list[bytes | tuple[DiskFile, bool]]) -> None:
        self.parts = parts
        self.length = sum(
            len(p) if isinstance(p, bytes) else (4 * ((p[0].size + 2) // 3) if p[1] else p[0].size) for p in parts
        )

    @staticmethod
    def _encode(chunk: bytes, as_b64: bool) -> bytes:
        return base64.b64encode(chunk) if as_b64 else chunk

    @staticmethod
    def _short(f: DiskFile, got: int) -> AshLocalError:
        return AshLocalError(
            "local_io_error", f"{f.local_path} changed while it was sent ({got} of {f.size} bytes)", f.local_path
        )

    def __iter__(self) -> Iterator[bytes]:
        for p in self.parts:
            if isinstance(p, bytes):
                yield p
                continue
            f, as_b64 = p
            got = 0
            with open(f.local_path, "rb") as fh:
                while got < f.size:
                    chunk = fh.read(min(_RAW_CHUNK, f.size - got))
                    if not chunk:
                        raise self._short(f, got)
                    got += len(chunk)
                    yield self._encode(chunk, as_b64)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for p in self.parts:
            if isinstance(p, bytes):
                yield p
                continue
            f, as_b64 = p
            got = 0
            fh = await asyncio.to_thread(open, f.local_path, "rb")
            try:
                while got < f.size:
                    chunk = await asyncio.to_thread(fh.read, min(_RAW_CHUNK, f.size - got))
                    if not chunk:
                        raise self._short(f, got)
                    got += len(chunk)
                    yield self._encode(chunk, as_b64)
            finally:
                fh.close()


def json_files_body(disk: list[DiskFile], target_path: str | None) -> DiskBody:
    """``{"targetPath"?, "files": [{"path", "content": <base64>}]}`` streamed from disk."""
    head = b'{"targetPath":' + json.dumps(target_path).encode() + b"," if target_path else b"{"
    parts: list[bytes | tuple[DiskFile, bool]] = [head + b'"files":[']
    for i, f in enumerate(disk):
        parts.append((b"," if i else b"") + b'{"path":' + json.dumps(f.path).encode() + b',"content":"')
        parts.append((f, True))
        parts.append(b'"}')
    parts.append(b"]}")
    return DiskBody(parts)
