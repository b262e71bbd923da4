"""Storage on a local directory, with Supabase Storage's bucket/path layout.

`<root>/<bucket>/<path>`: every path is validated (shared.paths) and resolved, and the result
must stay inside its bucket's folder, so neither `..` nor a planted symlink escapes the root.
Uploads are atomic (a temporary file in `<root>/.tmp`, then os.replace), so a reader sees the
old object or the new one, never half of one, and an upload overwrites.

`list(bucket, prefix)` treats the prefix as a folder, as Supabase's `list` does.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO

from shared.errors import ObjectNotFound, PermanentError, UnsafePath
from shared.paths import validate_object_path

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class LocalStorage:
    """The `Storage` port on a directory (local runs and tests)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _bucket_dir(self, bucket: str) -> Path:
        if not _BUCKET.match(bucket):
            raise UnsafePath("bucket name must be lowercase letters, digits, '-' or '_'")
        return self.root / bucket

    def _object_path(self, bucket: str, path: str) -> Path:
        bucket_dir = self._bucket_dir(bucket)
        target = (bucket_dir / validate_object_path(path)).resolve()
        if not target.is_relative_to(bucket_dir.resolve()) or target == bucket_dir.resolve():
            raise UnsafePath("object path escapes its bucket")
        return target

    def open_read(self, bucket: str, path: str) -> AbstractContextManager[BinaryIO]:
        target = self._object_path(bucket, path)
        try:
            stream = target.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(f"object not found: {bucket}/{path}") from exc
        return _closing(stream)

    def upload(self, bucket: str, path: str, data: bytes, content_type: str) -> None:
        target = self._object_path(bucket, path)
        staging = self.root / ".tmp"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise PermanentError(f"a parent of {bucket}/{path} is an object") from exc
        if target.is_dir():
            raise PermanentError(f"{bucket}/{path} is a folder")
        fd, temp_name = tempfile.mkstemp(dir=staging, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise

    def delete(self, bucket: str, paths: Sequence[str]) -> None:
        targets = [self._object_path(bucket, path) for path in paths]  # validate all first
        bucket_dir = self._bucket_dir(bucket).resolve()
        for target in targets:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
                target.unlink()
            _prune_empty_parents(target.parent, bucket_dir)

    def list(self, bucket: str, prefix: str) -> list[str]:
        bucket_dir = self._bucket_dir(bucket).resolve()
        folder = prefix.rstrip("/")
        start = self._object_path(bucket, folder) if folder else bucket_dir
        if not start.is_dir():
            return []
        found: list[str] = []
        for dirpath, _dirs, files in os.walk(start, followlinks=False):
            for name in files:
                file = Path(dirpath) / name
                if file.is_file() and not file.is_symlink():
                    found.append(file.relative_to(bucket_dir).as_posix())
        return sorted(found)


@contextmanager
def _closing(stream: BinaryIO) -> Iterator[BinaryIO]:
    with stream:
        yield stream


def _prune_empty_parents(folder: Path, stop: Path) -> None:
    """Remove empty folders left by a delete, up to (not including) the bucket folder."""
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
