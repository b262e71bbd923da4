"""Object path rules for buckets `raw` and `processed`.

An object path is a relative, `/`-separated name such as `<user_id>/clip.mp4`. Every adapter
validates a path before it touches storage, so a hostile path (traversal, a URL, control
characters) is a permanent error and never reaches the filesystem or the network.

Layout:
- raw videos: `raw/<user_id>/<anything>` (the app uploads them; the first folder is the owner).
- audio: `processed/<user_id>/<analysis_job_id>/<feedback_id>/<generation>/<segment>.<ext>`.
  Paths are deterministic, so a re-run overwrites; the generation folder keeps a newer run of
  an item from colliding with a stale one, and `feedback_prefix` is the folder that holds
  every generation of one item.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from urllib.parse import unquote

from shared.errors import UnsafePath

MAX_PATH_BYTES = 1024

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_EXTENSION = re.compile(r"^[a-z0-9]{1,8}$")


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF


def validate_object_path(path: str) -> str:
    """Return `path` unchanged when it is a safe relative object path; else raise UnsafePath."""
    if not isinstance(path, str) or not path.strip():
        raise UnsafePath("object path is empty")
    if any(_is_control(char) for char in path):
        raise UnsafePath("object path contains control characters")
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise UnsafePath(f"object path is longer than {MAX_PATH_BYTES} bytes")
    if path.startswith("/"):
        raise UnsafePath("object path is absolute")
    if "\\" in path:
        raise UnsafePath("object path contains a backslash")
    if _SCHEME.match(path):
        raise UnsafePath("object path looks like a URL or a drive")
    for segment in path.split("/"):
        if not segment:
            raise UnsafePath("object path has an empty segment")
        for form in _seen_as(segment):
            if form in (".", ".."):
                raise UnsafePath("object path has a '.' or '..' segment")
            if form != segment and ("/" in form or "\\" in form or any(map(_is_control, form))):
                raise UnsafePath("object path hides a separator or control character")
    return path


def _seen_as(segment: str) -> list[str]:
    """The segment as a layer that decodes percent-escapes (once or again) or normalises
    Unicode (NFKC: fullwidth dots and slashes, the two-dot leader) might read it."""
    forms = [segment]
    for _ in range(3):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms + [unicodedata.normalize("NFKC", form) for form in forms]


def _canonical_user(user_id: str) -> str:
    try:
        return str(uuid.UUID(str(user_id)))
    except ValueError as exc:
        raise UnsafePath("user id is not a uuid") from exc


def require_owner(path: str, user_id: str) -> str:
    """Validate a raw-video path and check it lies inside the user's own folder."""
    validate_object_path(path)
    owner, _, rest = path.partition("/")
    if not rest or owner != _canonical_user(user_id):
        raise UnsafePath("object path is not inside the owner's folder")
    return path


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnsafePath(f"{name} must be a non-negative integer")
    return value


def _item_folder(user_id: str, analysis_job_id: int, feedback_id: int) -> str:
    """`user/job/item` from checked parts (the caller validates the path it builds on it)."""
    user = _canonical_user(user_id)
    job = _positive_int("analysis_job_id", analysis_job_id)
    item = _positive_int("feedback_id", feedback_id)
    return f"{user}/{job}/{item}"


def feedback_prefix(user_id: str, analysis_job_id: int, feedback_id: int) -> str:
    """The folder holding every generation of one feedback item's audio."""
    return validate_object_path(_item_folder(user_id, analysis_job_id, feedback_id))


def generation_folder(user_id: str, analysis_job_id: int, feedback_id: int, generation: int) -> str:
    """The folder of one generation of an item's audio: what a failed run of it removes."""
    prefix = _item_folder(user_id, analysis_job_id, feedback_id)
    return validate_object_path(f"{prefix}/{_positive_int('generation', generation)}")


def audio_object_path(
    user_id: str,
    analysis_job_id: int,
    feedback_id: int,
    generation: int,
    segment_index: int,
    ext: str,
) -> str:
    """The deterministic path of one audio segment (bucket `processed`)."""
    prefix = _item_folder(user_id, analysis_job_id, feedback_id)
    gen = _positive_int("generation", generation)
    index = _positive_int("segment_index", segment_index)
    if not _EXTENSION.match(ext):
        raise UnsafePath("audio extension must be 1-8 lowercase letters or digits")
    return validate_object_path(f"{prefix}/{gen}/{index}.{ext}")
