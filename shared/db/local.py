"""The local runtime's own statements, on the Supabase surface of sql/local_supabase.sql: what
the demo does as the app (a user, the webhook's Vault secrets, a video row written and
flipped to completed as that user, as PostgREST would), and the local webhook step's take of
what the `net.http_post` stand-in recorded."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row

from shared.pool import Conn
from shared.queries import raw


@dataclass(frozen=True)
class Upload:
    user_id: uuid.UUID
    filename: str
    path: str
    format: str
    size: int
    seconds: int | None  # whole seconds, as the app records them


def set_secret(conn: Conn, name: str, secret: str) -> None:
    conn.execute(raw("local_set_secret"), {"name": name, "secret": secret})


def create_user(conn: Conn, user_id: uuid.UUID, email: str) -> None:
    conn.execute(raw("local_create_user"), {"id": user_id, "email": email})


def upload_as_user(conn: Conn, upload: Upload) -> int:
    """The app's own writes, as the signed-in user: the video row, then (in a transaction of
    its own, as the app does when the upload finishes) the flip to completed. The video id."""
    claims = json.dumps({"role": "authenticated", "sub": str(upload.user_id)})
    params = {
        "user_id": upload.user_id,
        "filename": upload.filename,
        "path": upload.path,
        "format": upload.format,
        "size": upload.size,
        "seconds": upload.seconds,
    }
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(raw("local_act_as"), {"claims": claims})
        row = cursor.execute(raw("local_insert_video"), params).fetchone()
    assert row is not None
    with conn.transaction():
        conn.execute(raw("local_act_as"), {"claims": claims})
        conn.execute(raw("local_complete_upload"), {"id": row["id"]})
    return int(row["id"])


def job_for_video(conn: Conn, video_id: int) -> int | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(raw("job_for_video"), {"video_id": video_id}).fetchone()
    return int(row["id"]) if row else None


def take_webhook_requests(conn: Conn) -> list[tuple[dict[str, str], Any]]:
    """Every request the `net.http_post` stand-in recorded, oldest first, removed: (headers,
    JSON body)."""
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(raw("local_take_webhook_requests")).fetchall()
    return [(dict(r["headers"] or {}), r["body"]) for r in rows]
