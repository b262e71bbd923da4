"""Acting as Supabase's API roles: `set role` plus `request.jwt.claims`, as PostgREST does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

Conn = psycopg.Connection[tuple[object, ...]]


@contextmanager
def acting_as(conn: Conn, role: str, user_id: uuid.UUID | str | None = None) -> Iterator[Conn]:
    """Run the block in one transaction as `role` (anon, authenticated, service_role)."""
    claims: dict[str, str] = {"role": role}
    if user_id is not None:
        claims["sub"] = str(user_id)
    with conn.transaction():
        conn.execute(psycopg.sql.SQL("set local role {}").format(psycopg.sql.Identifier(role)))
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        yield conn


def create_user(conn: Conn, email: str | None = None) -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute(
        "insert into auth.users (id, email) values (%s, %s)",
        (user_id, email or f"{user_id.hex[:8]}@example.test"),
    )
    return user_id


def insert_video(
    conn: Conn, user_id: uuid.UUID, *, upload_status: str = "pending", name: str = "clip.mp4"
) -> int:
    """Insert a video row as its owner (the app's own write), returning its id."""
    with acting_as(conn, "authenticated", user_id):
        row = conn.execute(
            "insert into public.video_recordings"
            " (user_id, filename, storage_path, format, file_size, upload_status)"
            " values (%s, %s, %s, 'mp4', 1000, %s) returning id",
            (user_id, name, f"{user_id}/{name}", upload_status),
        ).fetchone()
    assert row is not None
    return int(row[0])  # type: ignore[call-overload]


def complete_upload(conn: Conn, user_id: uuid.UUID, video_id: int) -> None:
    with acting_as(conn, "authenticated", user_id):
        conn.execute(
            "update public.video_recordings set upload_status = 'completed' where id = %s",
            (video_id,),
        )


def set_webhook_secrets(conn: Conn, url: str | None, secret: str | None) -> None:
    conn.execute("delete from vault.secrets where name like 'cuecast_webhook_%'")
    if url is not None:
        conn.execute("select vault.create_secret(%s, 'cuecast_webhook_url')", (url,))
    if secret is not None:
        conn.execute("select vault.create_secret(%s, 'cuecast_webhook_secret')", (secret,))
