"""PubSubPublisher through google-cloud-pubsub at an in-process gRPC Publisher server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest

from shared.adapters.pubsub import PubSubPublisher
from shared.errors import PermanentError, TransientError
from tests.adapters.servers import FakePubSub


@pytest.fixture
def publisher(
    fake_pubsub: FakePubSub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PubSubPublisher]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", fake_pubsub.host)
    publisher = PubSubPublisher("cuecast-test", timeout_s=5)
    yield publisher
    publisher.close()


def test_publishes_json_with_attributes(
    fake_pubsub: FakePubSub, publisher: PubSubPublisher
) -> None:
    publisher.publish("cuecast-ssml", [{"feedback_id": 1}, {"feedback_id": 2}], {"trace": "abc123"})
    publisher.publish("cuecast-start-analysis", [{"analysis_job_id": 7, "note": "é"}])

    topics = [topic for topic, _, _ in fake_pubsub.published]
    assert topics == ["projects/cuecast-test/topics/cuecast-ssml"] * 2 + [
        "projects/cuecast-test/topics/cuecast-start-analysis"
    ]
    decoded = [json.loads(data.decode("utf-8")) for _, data, _ in fake_pubsub.published]
    assert decoded == [{"feedback_id": 1}, {"feedback_id": 2}, {"analysis_job_id": 7, "note": "é"}]
    assert [attrs for _, _, attrs in fake_pubsub.published] == [{"trace": "abc123"}] * 2 + [{}]


def test_nothing_to_publish_makes_no_call(
    fake_pubsub: FakePubSub, publisher: PubSubPublisher
) -> None:
    publisher.publish("cuecast-audio", [])
    assert fake_pubsub.calls == 0


def test_one_client_per_instance_created_lazily(
    fake_pubsub: FakePubSub, publisher: PubSubPublisher
) -> None:
    assert publisher._client is None  # nothing is built before the first publish
    publisher.publish("cuecast-audio", [{"feedback_id": 1}])
    client = publisher._client
    publisher.publish("cuecast-audio", [{"feedback_id": 2}])
    assert publisher._client is client is not None


@pytest.mark.parametrize("code", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAVAILABLE])
def test_a_failed_publish_is_transient_and_names_the_topic(
    fake_pubsub: FakePubSub, monkeypatch: pytest.MonkeyPatch, code: grpc.StatusCode
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", fake_pubsub.host)
    publisher = PubSubPublisher("cuecast-test", timeout_s=1)  # bounds the SDK's retry
    fake_pubsub.fail_with = code
    with pytest.raises(TransientError, match="cuecast-ssml"):
        publisher.publish("cuecast-ssml", [{"feedback_id": 1}])
    assert fake_pubsub.calls >= 1
    publisher.close()


def test_a_topic_name_must_be_a_name() -> None:
    with pytest.raises(PermanentError):
        PubSubPublisher("cuecast-test").publish("projects/x/topics/y", [{"feedback_id": 1}])
