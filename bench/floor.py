"""The cold-start floor of each function (bench/coldstart.py): functions-framework and only the
SDK modules that function's adapters need, handling the same event with them directly.

Every entry point imports its SDKs on its first call (so their import counts in the first
event, as it would in any function) and does the calls cuecast's function makes, with nothing
of cuecast: the claim and the finish through the same database functions, the provider and
storage calls through the SDKs, the next doorbells through the Pub/Sub client. No settings
layer, no retries, no error mapping, no logging: a floor, not a function.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import flask
import functions_framework


def _db() -> Any:
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)


def _publish(topic: str, messages: list[dict[str, Any]]) -> None:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    path = publisher.topic_path(os.environ["GOOGLE_CLOUD_PROJECT"], topic)
    for future in [publisher.publish(path, json.dumps(m).encode()) for m in messages]:
        future.result(timeout=30)


def _storage() -> Any:
    from storage3 import SyncStorageClient

    key = os.environ["SUPABASE_SERVICE_ROLE_KEY"]
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    return SyncStorageClient(f"{os.environ['SUPABASE_URL']}/storage/v1", headers)


def _gemini() -> Any:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=os.environ.get("CUECAST_GEMINI_BASE_URL"))
    return genai.Client(api_key=os.environ["GEMINI_API_KEY"], http_options=options), types


def _id(event: Any, key: str) -> int:
    data = json.loads(base64.b64decode(event.data["message"]["data"]))
    return int(data[key])


@functions_framework.http
def webhook(request: flask.Request) -> flask.Response:
    if request.headers.get("X-Webhook-Secret") != os.environ["WEBHOOK_SECRET"]:
        return flask.Response(status=401)
    video = int(request.get_json()["videoRecordingId"])
    with _db() as conn:
        (job_id,) = conn.execute("select cuecast.ensure_analysis_job(%s)", (video,)).fetchone()
    _publish("cuecast-start-analysis", [{"analysis_job_id": job_id}])
    return flask.jsonify(analysis_job_id=job_id)


@functions_framework.cloud_event
def start_analysis(event: Any) -> None:
    job_id = _id(event, "analysis_job_id")
    with _db() as conn:
        claim = conn.execute(
            "select c.id, c.generation, c.attempts, v.storage_path"
            " from cuecast.claim_analysis(%s::bigint, 300, 5, null) as c"
            " join public.analysis_jobs j on j.id = c.id"
            " join public.video_recordings v on v.id = j.video_recording_id",
            (job_id,),
        ).fetchone()
        video = _storage().from_("raw").download(claim[3])
        client, types = _gemini()
        import io

        uploaded = client.files.upload(
            file=io.BytesIO(video), config=types.UploadFileConfig(mime_type="video/mp4")
        )
        response = client.models.generate_content(
            model="gemini-2.5-flash",
            contents=[uploaded, "feedback"],
            config=types.GenerateContentConfig(response_mime_type="application/json"),
        )
        client.files.delete(name=str(uploaded.name))
        items = json.loads(response.text)["items"]
        with conn.transaction():
            conn.execute("select cuecast.finish_analysis_jobs(%s, %s, %s)", claim[:3])
            ids = [
                conn.execute(
                    "insert into public.analysis_feedback (analysis_job_id, item_index,"
                    " timestamp_seconds, category, message, confidence, impact)"
                    " values (%s, %s, %s, %s, %s, %s, %s) returning id",
                    (job_id, n, i["timestamp_seconds"], i["category"], i["message"],
                     i["confidence"], i["impact"]),
                ).fetchone()[0]
                for n, i in enumerate(items)
            ]  # fmt: skip
    _publish("cuecast-ssml", [{"feedback_id": i} for i in ids])


@functions_framework.cloud_event
def ssml(event: Any) -> None:
    feedback_id = _id(event, "feedback_id")
    with _db() as conn:
        claim = conn.execute(
            "select id, generation, attempts, message from cuecast.claim_ssml(%s::bigint, 300, 5)",
            (feedback_id,),
        ).fetchone()
        client, _types = _gemini()
        text = client.models.generate_content(model="gemini-2.5-flash", contents=claim[3]).text
        conn.execute(
            "select cuecast.finish_ssml(%s, %s, %s, 'gemini', '1', %s, %s)",
            (*claim[:3], [0], [text]),
        )
    _publish("cuecast-audio", [{"feedback_id": feedback_id}])


@functions_framework.cloud_event
def audio(event: Any) -> None:
    import io

    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import texttospeech
    from mutagen.mp3 import MP3

    feedback_id = _id(event, "feedback_id")
    with _db() as conn:
        claim = conn.execute(
            "select id, generation, attempts, analysis_job_id, user_id, ssml"
            " from cuecast.claim_audio(%s::bigint, 300, 5)",
            (feedback_id,),
        ).fetchone()
        tts = texttospeech.TextToSpeechClient(
            transport="rest",
            client_options=ClientOptions(api_endpoint=os.environ["CUECAST_TTS_ENDPOINT"]),
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )
        speech = tts.synthesize_speech(
            input=texttospeech.SynthesisInput(ssml=claim[5][0]),
            voice=texttospeech.VoiceSelectionParams(language_code="en-US", name="en-US-Neural2-D"),
            audio_config=texttospeech.AudioConfig(audio_encoding=texttospeech.AudioEncoding.MP3),
        ).audio_content
        length = MP3(io.BytesIO(speech)).info.length  # type: ignore[no-untyped-call]
        path = f"{claim[4]}/{claim[3]}/{feedback_id}/{claim[1]}/0.mp3"
        _storage().from_("processed").upload(
            path, speech, {"content-type": "audio/mpeg", "upsert": "true"}
        )
        conn.execute(
            "select cuecast.finish_audio(%s, %s, %s, %s, %s, %s, 'mp3', 'google-tts', '1')",
            (*claim[:3], [0], [path], [round(length * 1000)]),
        )


@functions_framework.http
def reconcile(request: flask.Request) -> flask.Response:
    """What a sweep does per stage: reclaim, fail the exhausted, ring the lost, send a probe,
    read the gauges (four statements and a publish per stage, as cuecast's sweep)."""
    stages = {"analysis_jobs": "cuecast-start-analysis", "ssml_jobs": "cuecast-ssml",
              "audio_jobs": "cuecast-audio"}  # fmt: skip
    rung = 0
    with _db() as conn:
        for table, topic in stages.items():
            with conn.transaction():
                conn.execute(
                    f"update public.{table} set status = 'queued', lease_expires_at = null"
                    " where status = 'processing' and lease_expires_at < now()"
                )
                lost = conn.execute(
                    f"update public.{table} set published_at = now() where status = 'queued'"
                    " and published_at < now() - interval '60 seconds' returning id"
                ).fetchall()
                (probe,) = conn.execute(
                    "select cuecast.send_probe(%s)", (topic.removeprefix("cuecast-"),)
                ).fetchone()
            conn.execute(
                f"select count(*) filter (where status = 'queued'),"
                f" count(*) filter (where status = 'failed') from public.{table}"
            )
            _publish(topic, [{"probe": probe}])
            rung += len(lost)
    return flask.jsonify(republished=rung)
