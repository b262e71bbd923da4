"""The stages' own logic through the runner, with the job store faked in memory: what each
stage does with what its claim hands it, what it writes, and what it rings after. The same
protocol on Postgres is tested in tests/db and tests/pipeline."""

from __future__ import annotations

import pytest

from shared.adapters.ssml_builder import SsmlBuilder
from shared.domain import Analysis, FeedbackItem, SsmlScript, Voice
from shared.errors import Disposition, PermanentError, RetryLater, TransientError
from shared.queue import (
    AnalysisContext,
    AnalysisWrites,
    AudioContext,
    AudioWrites,
    QueuePolicy,
    Saved,
    SsmlContext,
    SsmlWrites,
)
from shared.services.analysis import AnalysisStage
from shared.services.audio import AudioStage
from shared.services.runner import Outcome, run
from shared.services.ssml import SsmlStage
from tests.unit.fakes import (
    CannedAnalyzer,
    DictStorage,
    FakeJobs,
    RecordingPublisher,
    SilentSynthesizer,
)

POLICY = QueuePolicy(max_attempts=3)
USER = "00000000-0000-0000-0000-0000000000a1"


def _ssml(voice: Voice) -> tuple[SsmlStage, RecordingPublisher]:
    publisher = RecordingPublisher()
    return SsmlStage(
        writer=SsmlBuilder(), publisher=publisher, default_voice=voice, topic="t-a"
    ), publisher


def test_ssml_writes_the_segments_then_rings_the_audio_doorbell(voice):
    jobs = FakeJobs(SsmlContext("Keep your elbows in. Then breathe.", "posture", None))
    stage, publisher = _ssml(voice)
    assert run(jobs, stage, 5, POLICY) is Outcome.COMPLETED
    (writes,) = jobs.finished
    assert isinstance(writes, SsmlWrites)
    assert [s.index for s in writes.script.segments] == list(range(len(writes.script.segments)))
    assert "elbows" in writes.script.segments[0].ssml
    assert publisher.sent == [("t-a", {"feedback_id": 5})]


def test_a_blank_message_fails_the_job_and_rings_nothing(voice):
    jobs = FakeJobs(SsmlContext("   ", "posture", None))
    stage, publisher = _ssml(voice)
    assert run(jobs, stage, 5, POLICY) is Outcome.FAILED
    ((error, decided),) = jobs.failures
    assert isinstance(error, PermanentError) and decided is Disposition.FAILED
    assert "blank message" in str(error)
    assert jobs.finished == [] and publisher.sent == []


class FlakyWriter:
    def write(self, message: str, *, category: str, voice: Voice) -> SsmlScript:
        raise TransientError("429 from the model")


def test_a_transient_failure_with_attempts_left_asks_for_redelivery(voice):
    jobs = FakeJobs(SsmlContext("Smile.", "tone", None), attempts=2)
    publisher = RecordingPublisher()
    stage = SsmlStage(writer=FlakyWriter(), publisher=publisher, default_voice=voice, topic="t")
    with pytest.raises(RetryLater, match="attempt 2"):
        run(jobs, stage, 5, POLICY)
    assert [d for _, d in jobs.failures] == [Disposition.RETRY]
    jobs = FakeJobs(SsmlContext("Smile.", "tone", None), attempts=3)  # the last attempt
    assert run(jobs, stage, 5, POLICY) is Outcome.FAILED


def test_a_superseded_finish_drops_the_result(voice):
    jobs = FakeJobs(SsmlContext("Smile.", "tone", None), saved=None)
    stage, publisher = _ssml(voice)
    assert run(jobs, stage, 5, POLICY) is Outcome.STALE
    assert len(jobs.finished) == 1 and publisher.sent == []


def test_nothing_to_claim(voice):
    jobs = FakeJobs(SsmlContext("Smile.", "tone", None))
    stage, _ = _ssml(voice)
    assert run(jobs, stage, 5, POLICY) is Outcome.COMPLETED
    assert run(jobs, stage, 5, POLICY) is Outcome.NOTHING_TO_DO


def test_audio_speaks_every_segment_to_a_path_of_its_generation(voice):
    context = AudioContext(9, USER, None, [0, 1], ["<speak>a</speak>", "<speak>b</speak>"])
    storage, synthesizer = DictStorage(), SilentSynthesizer()
    stage = AudioStage(storage=storage, synthesizer=synthesizer, default_voice=voice)
    jobs = FakeJobs(context)
    assert run(jobs, stage, 5, POLICY) is Outcome.COMPLETED
    (writes,) = jobs.finished
    assert isinstance(writes, AudioWrites)
    assert writes.paths == [f"{USER}/9/5/1/0.wav", f"{USER}/9/5/1/1.wav"]
    assert sorted(p for _, p in storage.objects) == writes.paths
    assert synthesizer.spoken == ["<speak>a</speak>", "<speak>b</speak>"]
    assert [s.audio for s in writes.speeches] == [b"", b""]  # let go once uploaded


def test_audio_without_segments_fails_with_the_reason(voice):
    jobs = FakeJobs(AudioContext(9, USER, None, [], []))
    stage = AudioStage(storage=DictStorage(), synthesizer=SilentSynthesizer(), default_voice=voice)
    assert run(jobs, stage, 5, POLICY) is Outcome.FAILED
    assert "has no SSML segments" in str(jobs.failures[0][0])


def _analysis(*items: FeedbackItem) -> Analysis:
    return Analysis(duration_seconds=10.0, items=items, provider="canned", model="m")


def _analysis_stage(voice: Voice, analysis: Analysis) -> tuple[AnalysisStage, RecordingPublisher]:
    storage = DictStorage({("raw", f"{USER}/v.mp4"): b"video bytes"})
    publisher = RecordingPublisher()
    stage = AnalysisStage(
        storage=storage,
        analyzer=CannedAnalyzer(analysis),
        publisher=publisher,
        default_voice=voice,
        topic="t-ssml",
    )
    return stage, publisher


def test_analysis_stores_the_valid_items_and_rings_each_queued_one(voice):
    good = FeedbackItem(2.0, "posture", "Elbows in.", 0.9, 0.5)
    late = FeedbackItem(99.0, "posture", "After the end.", 0.9, 0.5)
    stage, publisher = _analysis_stage(voice, _analysis(good, late))
    jobs = FakeJobs(AnalysisContext(USER, f"{USER}/v.mp4", "mp4", voice.as_dict()))
    jobs.saved = Saved(queued=[41], removed=[])
    assert run(jobs, stage, 7, POLICY) is Outcome.COMPLETED
    (writes,) = jobs.finished
    assert isinstance(writes, AnalysisWrites)
    assert writes.items == [good]
    assert writes.results["items"] == 1 and writes.results["dropped"] == 1
    assert publisher.sent == [("t-ssml", {"feedback_id": 41})]


def test_analysis_of_a_video_that_is_gone_or_not_the_owner_s_fails(voice):
    item = FeedbackItem(2.0, "posture", "Elbows in.", 0.9, 0.5)
    stage, _ = _analysis_stage(voice, _analysis(item))
    gone = FakeJobs(AnalysisContext(None, None, None, None))
    assert run(gone, stage, 7, POLICY) is Outcome.FAILED
    assert "has no video" in str(gone.failures[0][0])
    other = FakeJobs(AnalysisContext(USER, "someone-else/v.mp4", "mp4", None))
    assert run(other, stage, 7, POLICY) is Outcome.FAILED
    assert isinstance(other.failures[0][0], PermanentError)
