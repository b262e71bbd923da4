"""SupabaseStorage through the supabase client (storage3) and httpx at a local Storage API."""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.adapters.supabase_storage import SupabaseStorage
from shared.errors import (
    ConfigurationError,
    ObjectNotFound,
    PermanentError,
    TransientError,
    UnsafePath,
)
from tests.adapters.servers import FakeSupabaseStorage, generated_bytes


@pytest.fixture
def storage(fake_supabase: FakeSupabaseStorage, service_key: str) -> Iterator[SupabaseStorage]:
    storage = SupabaseStorage(fake_supabase.url, service_key, timeout=10)
    yield storage
    storage.close()


def assert_service_role(headers: dict[str, str], key: str) -> None:
    assert headers["authorization"] == f"Bearer {key}"
    assert headers["apikey"] == key


def test_upload_upserts_with_the_content_type(
    fake_supabase: FakeSupabaseStorage, storage: SupabaseStorage, service_key: str
) -> None:
    path = "0b6c3f4e-1111-4a4a-8888-222233334444/7/9/1/0.mp3"
    storage.upload("processed", path, b"first", "audio/mpeg")
    storage.upload("processed", path, b"second", "audio/mpeg")  # overwrites: upsert

    stored = fake_supabase.objects[("processed", path)]
    assert (stored.data, stored.content_type) == (b"second", "audio/mpeg")
    uploads = [r for r in fake_supabase.requests if r[0] == "POST"]
    assert [r[1] for r in uploads] == [f"/storage/v1/object/processed/{path}"] * 2
    for _, _, headers in uploads:
        assert_service_role(headers, service_key)
        assert headers["x-upsert"] == "true"


def test_open_read_is_a_seekable_ranged_stream(
    fake_supabase: FakeSupabaseStorage, storage: SupabaseStorage, service_key: str
) -> None:
    data = bytes(range(256)) * 40
    fake_supabase.put("raw", "user/clip one.mp4", data)
    with storage.open_read("raw", "user/clip one.mp4") as video:
        assert video.seekable() and video.readable() and not video.writable()
        assert video.seek(0, io.SEEK_END) == len(data)
        assert video.seek(0) == 0
        assert video.read(100) == data[:100]
        video.seek(5000)
        assert video.tell() == 5000
        assert video.read(10) == data[5000:5010]
        video.seek(-10, io.SEEK_END)
        assert video.read() == data[-10:]
        assert video.read(5) == b""
    gets = [r for r in fake_supabase.requests if r[0] == "GET"]
    assert gets[0][1] == "/storage/v1/object/raw/user/clip%20one.mp4"
    for _, _, headers in gets:
        assert_service_role(headers, service_key)
        assert re.fullmatch(r"bytes=\d+-", headers["range"])


def test_an_empty_object_reads_as_empty(
    fake_supabase: FakeSupabaseStorage, storage: SupabaseStorage
) -> None:
    fake_supabase.put("raw", "user/empty.mp4", b"")
    with storage.open_read("raw", "user/empty.mp4") as video:
        assert video.read() == b""


@pytest.mark.parametrize("http_status", [404, 400])  # 400: older Storage, "statusCode": "404"
def test_a_missing_object_is_permanent(
    fake_supabase: FakeSupabaseStorage, service_key: str, http_status: int
) -> None:
    fake_supabase.not_found_status = http_status
    storage = SupabaseStorage(fake_supabase.url, service_key)
    with pytest.raises(ObjectNotFound):
        storage.open_read("raw", "user/missing.mp4")
    assert issubclass(ObjectNotFound, PermanentError)
    storage.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, TransientError), (500, TransientError), (429, TransientError), (403, PermanentError)],
)
def test_error_mapping(
    fake_supabase: FakeSupabaseStorage,
    storage: SupabaseStorage,
    service_key: str,
    status: int,
    error: type[Exception],
) -> None:
    fake_supabase.put("raw", "user/clip.mp4", b"x")
    body = {"statusCode": str(status), "error": "Injected", "message": "injected"}
    fake_supabase.fail_next.extend([(status, body)] * 4)
    with pytest.raises(error) as read_error:
        storage.open_read("raw", "user/clip.mp4")
    with pytest.raises(error) as upload_error:
        storage.upload("raw", "user/clip.mp4", b"y", "video/mp4")
    with pytest.raises(error):
        storage.delete("raw", ["user/clip.mp4"])
    with pytest.raises(error):
        storage.list("raw", "user")
    for raised in (read_error.value, upload_error.value):
        assert service_key not in str(raised)


def test_a_wrong_key_is_permanent_and_never_shown(
    fake_supabase: FakeSupabaseStorage, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-" + fake_supabase.service_key
    storage = SupabaseStorage(fake_supabase.url, wrong)
    fake_supabase.put("raw", "user/clip.mp4", b"x")
    for call in (
        lambda: storage.open_read("raw", "user/clip.mp4"),
        lambda: storage.upload("raw", "user/clip.mp4", b"x", "video/mp4"),
    ):
        with pytest.raises(PermanentError) as raised:
            call()
        chain = f"{raised.value!r} {raised.value.__cause__!r} {raised.value.__context__!r}"
        assert wrong not in chain
    assert wrong not in caplog.text
    storage.close()


def test_an_unreachable_server_is_transient(service_key: str) -> None:
    with FakeSupabaseStorage(service_key) as gone:
        url = gone.url
    storage = SupabaseStorage(url, service_key, timeout=2)
    with pytest.raises(TransientError):
        storage.open_read("raw", "user/clip.mp4")
    with pytest.raises(TransientError):
        storage.upload("raw", "user/clip.mp4", b"x", "video/mp4")
    storage.close()


def test_delete_removes_and_ignores_missing(
    fake_supabase: FakeSupabaseStorage, storage: SupabaseStorage, service_key: str
) -> None:
    fake_supabase.put("processed", "u/1/2/0/0.mp3", b"a")
    fake_supabase.put("processed", "u/1/2/0/1.mp3", b"b")
    storage.delete("processed", ["u/1/2/0/0.mp3", "u/1/2/0/9.mp3"])
    storage.delete("processed", [])
    assert list(fake_supabase.objects) == [("processed", "u/1/2/0/1.mp3")]
    (delete,) = [r for r in fake_supabase.requests if r[0] == "DELETE"]
    assert delete[1] == "/storage/v1/object/processed"
    assert_service_role(delete[2], service_key)


def test_list_is_recursive_sorted_and_paged(
    fake_supabase: FakeSupabaseStorage, storage: SupabaseStorage
) -> None:
    expected = [f"u/1/many/{n:04d}.mp3" for n in range(1001)] + ["u/1/a.mp3", "u/1/b/c/d.mp3"]
    for path in [*expected, "u/2/other.mp3", "v/1/x.mp3"]:
        fake_supabase.put("processed", path, b"")
    fake_supabase.put("raw", "u/1/raw.mp4", b"")
    assert storage.list("processed", "u/1") == sorted(expected)
    assert storage.list("processed", "u/1/") == sorted(expected)
    assert storage.list("processed", "nobody") == []
    assert len(storage.list("processed", "")) == len(expected) + 2


HOSTILE = ["../etc/passwd", "/abs/path", "a//b", "http://x.test/a", "a/../b", "a\\b", "%2e%2e/x"]


@pytest.mark.parametrize("path", [*HOSTILE, "a\x00b", ""])
def test_hostile_paths_are_rejected_before_any_request(
    fake_supabase: FakeSupabaseStorage, storage: SupabaseStorage, path: str
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: storage.open_read("raw", path),
        lambda: storage.upload("raw", path, b"x", "video/mp4"),
        lambda: storage.delete("raw", ["ok/path.mp4", path]),
    ]
    if path:
        calls.append(lambda: storage.list("raw", path))
    for call in calls:
        with pytest.raises(UnsafePath):
            call()
    for bucket in ("../raw", "RAW", "raw/x", ""):
        with pytest.raises(UnsafePath):
            storage.open_read(bucket, "user/clip.mp4")
    assert fake_supabase.requests == []


def _peak_rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


def test_a_1gb_download_streams_with_flat_memory(
    fake_supabase: FakeSupabaseStorage, storage: SupabaseStorage
) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("peak RSS is read from /proc (Linux)")
    size = 1 << 30
    fake_supabase.put_generated("raw", "user/huge.mp4", size)
    with contextlib.suppress(OSError):  # where allowed, reset the peak (VmHWM) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    before = _peak_rss_kib()
    started = time.monotonic()
    read = 0
    with storage.open_read("raw", "user/huge.mp4") as video:
        assert video.seek(0, io.SEEK_END) == size
        video.seek(0)
        while chunk := video.read(8 << 20):  # the Gemini upload's read size
            if read % (64 << 20) == 0:
                assert chunk[:4096] == generated_bytes(read, 4096)
            read += len(chunk)
    elapsed = time.monotonic() - started
    growth_mib = (_peak_rss_kib() - before) / 1024
    print(f"1 GiB streamed in {elapsed:.1f}s; peak RSS growth {growth_mib:.1f} MiB")
    assert read == size
    assert growth_mib < 64
    gets = [r for r in fake_supabase.requests if r[0] == "GET"]
    assert len(gets) == 1  # one Range request streamed the whole object


@pytest.mark.parametrize(("url", "key"), [("", "k"), ("http://127.0.0.1:9", ""), ("ftp://x", "k")])
def test_missing_settings_fail_at_start(url: str, key: str) -> None:
    with pytest.raises(ConfigurationError):
        SupabaseStorage(url, key)
