"""The environment a function gets on Cloud Run, for child processes started as it would be:
the production adapters selected, their settings present (pointing nowhere real), the local
run's settings absent."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUECAST_")}
    return env | {
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": db_url,
        "CUECAST_STORAGE": "supabase",
        "SUPABASE_URL": "https://project.supabase.invalid",
        "SUPABASE_SERVICE_ROLE_KEY": "test-only-not-a-key",
        "CUECAST_PUBLISHER": "pubsub",
        "GOOGLE_CLOUD_PROJECT": "cuecast-test",
        "CUECAST_ANALYZER": "gemini",
        "CUECAST_SSML": "gemini",
        "GEMINI_API_KEY": "test-only-not-a-key",
        "CUECAST_TTS": "google",
        "CUECAST_TTS_ENDPOINT": "http://127.0.0.1:9",
        "WEBHOOK_SECRET": "test-only-not-a-secret",
    }
