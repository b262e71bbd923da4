from __future__ import annotations

import pytest

from shared.errors import PermanentError, UnsafePath
from shared.paths import (
    MAX_PATH_BYTES,
    audio_object_path,
    feedback_prefix,
    require_owner,
    validate_object_path,
)

USER = "6f1c2a9e-3b4d-4c5e-8f70-1a2b3c4d5e6f"
OTHER = "0b7e8d2c-1111-4222-8333-944455556666"

HOSTILE = [
    "",
    "   ",
    "/etc/passwd",
    "//server/share",
    "../secret",
    "a/../b",
    "a/..",
    "./a",
    "a/./b",
    ".",
    "..",
    "a//b",
    "a/",
    "a\\b",
    "..\\..\\windows",
    "C:\\boot.ini",
    "c:/x",
    "s3://bucket/key",
    "http://example.com/x",
    "https:/x",
    "file:///etc/passwd",
    "file:x",
    "data:text/plain,hi",
    "javascript:alert(1)",
    "a\x00b",
    "a\nb",
    "a\rb",
    "a\tb",
    "a\x1bb",
    "a\x7fb",
    "a\x85b",
    "a/\ud800",
    "%2e%2e/x",
    "a/%2E%2E/b",
    "a/%2e/b",
    "a/..%2fb",  # one segment that decodes to a traversal
    "a/%2e%2e%2f%2e%2e%2fb",
    "%252e%252e/x",  # double-encoded
    "a/%252e%252e%252fb",
    "a/%5c..%5cb",  # encoded backslashes
    "a/%00b",  # an encoded NUL
    "a/%0ab",
    "a/\uff0e\uff0e/b",  # fullwidth full stops: '..' after NFKC
    "a/\u2025/b",  # two-dot leader: '..' after NFKC
    "a/\uff0f..\uff0fb",  # fullwidth solidus: '/../' after NFKC
    "x" * (MAX_PATH_BYTES + 1),
    "é" * (MAX_PATH_BYTES // 2 + 1),  # 1026 bytes in UTF-8, 513 characters
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_rejected(path: str) -> None:
    with pytest.raises(UnsafePath):
        validate_object_path(path)


def test_unsafe_path_is_permanent() -> None:
    assert issubclass(UnsafePath, PermanentError)
    assert len(HOSTILE) >= 15


@pytest.mark.parametrize(
    "path",
    [
        "a",
        f"{USER}/clip.mp4",
        f"{USER}/2025/09/take 1 (final).mov",
        "ünïcødé/ファイル.mp4",
        "a/.hidden",
        "a/..b/c..",
        "a/%41",
        "a/50%25 off.mp4",
        "a/%ff.mp4",  # not UTF-8 once decoded: a strange name, not a traversal
        "ａ/ｃｌｉｐ.mp4",  # fullwidth letters are only letters
        "x" * MAX_PATH_BYTES,
    ],
)
def test_ordinary_paths_pass_unchanged(path: str) -> None:
    assert validate_object_path(path) == path


def test_require_owner_accepts_the_owners_folder() -> None:
    path = f"{USER}/clip.mp4"
    assert require_owner(path, USER) == path
    assert require_owner(path, USER.upper()) == path  # the uuid is compared canonically


@pytest.mark.parametrize(
    "path",
    [
        f"{OTHER}/clip.mp4",
        f"{USER}",
        f"{USER.upper()}/clip.mp4",
        f"{USER}x/clip.mp4",
        f"x{USER}/clip.mp4",
        f"{USER}/../{OTHER}/clip.mp4",
        f"/{USER}/clip.mp4",
        f"clips/{USER}/clip.mp4",
    ],
)
def test_require_owner_rejects_other_folders(path: str) -> None:
    with pytest.raises(UnsafePath):
        require_owner(path, USER)


def test_require_owner_rejects_a_user_id_that_is_not_a_uuid() -> None:
    with pytest.raises(UnsafePath):
        require_owner("anyone/clip.mp4", "anyone")


def test_audio_object_path_is_deterministic_and_under_the_feedback_prefix() -> None:
    path = audio_object_path(USER, 12, 345, 2, 0, "mp3")
    assert path == f"{USER}/12/345/2/0.mp3"
    assert path == audio_object_path(USER.upper(), 12, 345, 2, 0, "mp3")
    assert path.startswith(feedback_prefix(USER, 12, 345) + "/")
    assert audio_object_path(USER, 12, 345, 3, 0, "mp3") != path  # new generation, new folder
    assert validate_object_path(path) == path


@pytest.mark.parametrize(
    "parts",
    [
        ("not-a-uuid", 1, 1, 1, 0, "wav"),
        (USER, -1, 1, 1, 0, "wav"),
        (USER, 1, -1, 1, 0, "wav"),
        (USER, 1, 1, -1, 0, "wav"),
        (USER, 1, 1, 1, -1, "wav"),
        (USER, True, 1, 1, 0, "wav"),
        (USER, 1, 1, 1, 0, ""),
        (USER, 1, 1, 1, 0, "MP3"),
        (USER, 1, 1, 1, 0, "mp3/../x"),
        (USER, 1, 1, 1, 0, "toolongext"),
    ],
)
def test_audio_object_path_rejects_bad_parts(parts: tuple[str, int, int, int, int, str]) -> None:
    with pytest.raises(UnsafePath):
        audio_object_path(*parts)
