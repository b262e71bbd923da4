"""The stage registry is the one place a stage's facts are declared: the migration that
writes each job table's claim and finish, the message codec, the settings and the function
graph agree with it."""

from __future__ import annotations

import re

from shared import messages
from shared.domain import Stage
from shared.migrate import MIGRATIONS_DIR
from shared.queries import raw
from shared.settings import Settings
from shared.stages import FUNCTIONS, STAGES, stage_of

TEMPLATE = MIGRATIONS_DIR / "20251201000001_stage_functions.sql"


def test_the_stage_functions_migration_lists_the_registry_s_tables():
    values = TEMPLATE.read_text().split("select * from (values", 1)[1].split(") as v(", 1)[0]
    rows = re.findall(r"\('([^']*)', '([^']*)', '([^']*)', '([^']*)'\)", values)
    declared = [(s.job_table, s.key, s.error_column, raw(s.ready).strip()) for s in STAGES.values()]
    assert rows == declared


def test_every_stage_has_its_worker_and_its_topic():
    settings = Settings()
    for stage, spec in STAGES.items():
        assert FUNCTIONS[spec.function].trigger is stage
        assert stage_of(spec.function) is stage
        assert settings.topic(stage) == getattr(settings, spec.topic_setting)
        assert messages.encode(stage, 7) == {spec.message_key: 7}
    assert [s.next for s in STAGES.values()] == [Stage.SSML, Stage.AUDIO, None]
    assert list(FUNCTIONS) == ["webhook", "start_analysis", "ssml", "audio", "reconcile"]
