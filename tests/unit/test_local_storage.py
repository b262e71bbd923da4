from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from shared.adapters.local_storage import LocalStorage
from shared.errors import ObjectNotFound, PermanentError, UnsafePath
from shared.ports import PROCESSED_BUCKET, RAW_BUCKET, Storage

USER = "6f1c2a9e-3b4d-4c5e-8f70-1a2b3c4d5e6f"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")) if root.exists() else []


def test_is_a_storage(storage: LocalStorage) -> None:
    port: Storage = storage
    assert port is storage


def test_upload_then_read_back(storage: LocalStorage) -> None:
    storage.upload(RAW_BUCKET, f"{USER}/clip.mp4", b"video bytes", "video/mp4")
    assert (storage.root / RAW_BUCKET / USER / "clip.mp4").read_bytes() == b"video bytes"
    with storage.open_read(RAW_BUCKET, f"{USER}/clip.mp4") as stream:
        assert stream.read() == b"video bytes"


def test_open_read_is_a_seekable_read_only_file(storage: LocalStorage) -> None:
    storage.upload(RAW_BUCKET, "a/b.bin", bytes(range(256)) * 4, "application/octet-stream")
    with storage.open_read(RAW_BUCKET, "a/b.bin") as stream:
        assert stream.seekable()
        assert not stream.writable()
        assert stream.seek(0, io.SEEK_END) == 1024
        stream.seek(255)
        assert stream.read(2) == b"\xff\x00"
        with pytest.raises(io.UnsupportedOperation):
            stream.write(b"x")
    assert stream.closed


def test_upload_overwrites_and_leaves_no_temporary_files(storage: LocalStorage) -> None:
    storage.upload(PROCESSED_BUCKET, "u/1/2/0/0.wav", b"first", "audio/wav")
    storage.upload(PROCESSED_BUCKET, "u/1/2/0/0.wav", b"second, longer", "audio/wav")
    with storage.open_read(PROCESSED_BUCKET, "u/1/2/0/0.wav") as stream:
        assert stream.read() == b"second, longer"
    assert list((storage.root / ".tmp").iterdir()) == []
    assert storage.list(PROCESSED_BUCKET, "") == ["u/1/2/0/0.wav"]


def test_concurrent_uploads_never_leave_a_mixed_object(storage: LocalStorage) -> None:
    versions = [bytes([n]) * 200_000 for n in range(8)]
    threads = [
        threading.Thread(target=storage.upload, args=(RAW_BUCKET, "x/y.bin", data, "x/y"))
        for data in versions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with storage.open_read(RAW_BUCKET, "x/y.bin") as stream:
        assert stream.read() in versions


def test_missing_object_is_a_permanent_error(storage: LocalStorage) -> None:
    with pytest.raises(ObjectNotFound):
        storage.open_read(RAW_BUCKET, "nobody/nothing.mp4")
    storage.upload(RAW_BUCKET, "folder/file", b"x", "text/plain")
    with pytest.raises(PermanentError):
        storage.open_read(RAW_BUCKET, "folder")  # a folder is not an object
    with pytest.raises(PermanentError):
        storage.open_read(RAW_BUCKET, "folder/file/below")


def test_upload_below_an_existing_object_is_a_permanent_error(storage: LocalStorage) -> None:
    storage.upload(RAW_BUCKET, "a/b", b"x", "text/plain")
    with pytest.raises(PermanentError):
        storage.upload(RAW_BUCKET, "a/b/c", b"y", "text/plain")
    with pytest.raises(PermanentError):
        storage.upload(RAW_BUCKET, "a", b"y", "text/plain")
    assert list((storage.root / ".tmp").iterdir()) == []


def test_delete_ignores_missing_and_prunes_empty_folders(storage: LocalStorage) -> None:
    storage.upload(PROCESSED_BUCKET, "u/1/2/0/0.wav", b"a", "audio/wav")
    storage.upload(PROCESSED_BUCKET, "u/1/2/0/1.wav", b"b", "audio/wav")
    storage.upload(PROCESSED_BUCKET, "u/1/3/0/0.wav", b"c", "audio/wav")
    storage.delete(PROCESSED_BUCKET, ["u/1/2/0/0.wav", "u/1/2/0/1.wav", "u/9/never.wav"])
    storage.delete(PROCESSED_BUCKET, [])
    assert storage.list(PROCESSED_BUCKET, "") == ["u/1/3/0/0.wav"]
    assert not (storage.root / PROCESSED_BUCKET / "u" / "1" / "2").exists()
    assert (storage.root / PROCESSED_BUCKET).is_dir()


def test_list_is_recursive_sorted_and_prefix_is_a_folder(storage: LocalStorage) -> None:
    for path in ["u/1/2/1/0.wav", "u/1/2/0/1.wav", "u/1/2/0/0.wav", "u/1/20/0/0.wav", "v/x"]:
        storage.upload(PROCESSED_BUCKET, path, b".", "audio/wav")
    assert storage.list(PROCESSED_BUCKET, "u/1/2") == [
        "u/1/2/0/0.wav",
        "u/1/2/0/1.wav",
        "u/1/2/1/0.wav",
    ]
    assert storage.list(PROCESSED_BUCKET, "u/1/2/") == storage.list(PROCESSED_BUCKET, "u/1/2")
    assert storage.list(PROCESSED_BUCKET, "")[-1] == "v/x"
    assert storage.list(PROCESSED_BUCKET, "nobody") == []
    assert storage.list(RAW_BUCKET, "") == []


@pytest.mark.parametrize(
    "path", ["../outside", "/etc/passwd", "a/../../x", "a//b", "file:///etc/passwd", "a\x00b"]
)
def test_hostile_paths_never_touch_the_filesystem(storage: LocalStorage, path: str) -> None:
    before = tree(storage.root.parent)
    with pytest.raises(UnsafePath):
        storage.upload(RAW_BUCKET, path, b"x", "text/plain")
    with pytest.raises(UnsafePath):
        storage.open_read(RAW_BUCKET, path)
    with pytest.raises(UnsafePath):
        storage.delete(RAW_BUCKET, ["fine/path", path])
    with pytest.raises(UnsafePath):
        storage.list(RAW_BUCKET, path)
    assert tree(storage.root.parent) == before


@pytest.mark.parametrize("bucket", ["", "..", ".tmp", "Raw", "raw/x", "a" * 64, "../raw"])
def test_hostile_bucket_names_are_rejected(storage: LocalStorage, bucket: str) -> None:
    with pytest.raises(UnsafePath):
        storage.upload(bucket, "a/b", b"x", "text/plain")


def test_a_planted_symlink_cannot_lead_outside_the_bucket(
    storage: LocalStorage, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    bucket = storage.root / RAW_BUCKET
    bucket.mkdir(parents=True)
    os.symlink(outside, bucket / "link")
    with pytest.raises(UnsafePath):
        storage.open_read(RAW_BUCKET, "link/secret.txt")
    with pytest.raises(UnsafePath):
        storage.upload(RAW_BUCKET, "link/new.txt", b"x", "text/plain")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert storage.list(RAW_BUCKET, "") == []
