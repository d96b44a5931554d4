"""Reading a local agent folder into upload entries."""

from __future__ import annotations

import base64
import fnmatch
import os
from pathlib import Path

from .errors import AshLocalError

_ALWAYS_SKIP = {".git", "node_modules", ".DS_Store", "__pycache__", ".venv"}


def _patterns(root: Path) -> list[tuple[str, bool, bool]]:
    """(pattern, negated, directory-only) lines of ``.gitignore`` then ``.ashignore``."""
    out: list[tuple[str, bool, bool]] = []
    for name in (".gitignore", ".ashignore"):
        try:
            text = (root / name).read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            if neg:
                line = line[1:]
            dir_only = line.endswith("/")
            out.append((line.strip("/") if line.startswith("/") else line.rstrip("/"), neg, dir_only))
    return out


def _ignored(rel: str, is_dir: bool, patterns: list[tuple[str, bool, bool]]) -> bool:
    ignored = False
    base = rel.rsplit("/", 1)[-1]
    for pat, neg, dir_only in patterns:
        if dir_only and not is_dir:
            continue
        anchored = "/" in pat
        hit = fnmatch.fnmatchcase(rel, pat) if anchored else fnmatch.fnmatchcase(base, pat)
        if hit:
            ignored = not neg
    return ignored


def read_agent_folder(folder: str | os.PathLike[str], max_bytes: int = 100 * 1024 * 1024) -> list[dict[str, str]]:
    """Every regular file under ``folder`` as ``{"path", "content"(base64)}`` entries.

    Skips ``.git``, ``node_modules``, ``__pycache__``, ``.venv``, ``.DS_Store``, ``.env`` files and
    what ``.gitignore`` / ``.ashignore`` exclude (plain glob lines, ``dir/`` and ``!`` supported).
    Symbolic links are followed only when they stay inside the folder.

    Raises:
        AshLocalError: ``not_a_directory``, ``payload_too_large`` (over ``max_bytes``) or
            ``local_io_error``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise AshLocalError("not_a_directory", f"not a directory: {folder}", str(folder))
    real_root = root.resolve()
    patterns = _patterns(root)
    entries: list[tuple[str, Path]] = []
    total = 0

    def walk(d: Path, rel: str, seen: set[Path]) -> None:
        nonlocal total
        try:
            children = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as err:
            raise AshLocalError("local_io_error", f"cannot read {d}: {err.strerror}", str(d)) from err
        for e in children:
            name = e.name
            if name in _ALWAYS_SKIP or name == ".env" or name.startswith(".env."):
                continue
            r = f"{rel}/{name}" if rel else name
            p = Path(e.path)
            real = p.resolve()
            if e.is_symlink() and not (real == real_root or real_root in real.parents):
                continue  # a link leading outside the folder (or nowhere) is never uploaded
            is_dir = real.is_dir()
            if _ignored(r, is_dir, patterns):
                continue
            if is_dir:
                if real in seen:
                    continue
                walk(p, r, seen | {real})
            elif real.is_file():
                total += real.stat().st_size
                if total > max_bytes:
                    raise AshLocalError(
                        "payload_too_large", f"the folder holds more than the {max_bytes}-byte limit", str(folder)
                    )
                entries.append((r, real))

    walk(root, "", {real_root})
    out: list[dict[str, str]] = []
    for rel, path in entries:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise AshLocalError("local_io_error", f"cannot read {path}: {e.strerror}", str(path)) from e
        out.append({"path": rel, "content": base64.b64encode(data).decode("ascii")})
    return out
