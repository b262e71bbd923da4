"""A function's process imports the SDKs its own adapters use and no other (issue 17: each
one costs its cold start tens to hundreds of milliseconds; bench/README.md, "Cold starts").

Each child starts the function as Cloud Run does (functions-framework loading main.py for
one entry point, on the production adapters' settings), builds what its first event builds
(its stage), and prints which of the heavy SDKs it has imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.cloud_run import production_env

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {
    "pydantic": "pydantic",
    "genai": "google.genai",
    "texttospeech": "google.cloud.texttospeech",
    "pubsub": "google.cloud.pubsub_v1",
    "storage3": "storage3",
}
CHILD = """
import json, sys
import functions_framework
from shared.bootstrap import get_app
from shared.stages import FUNCTIONS
target, heavy = sys.argv[1], json.loads(sys.argv[2])
functions_framework.create_app(target, "main.py")
spec = FUNCTIONS[target]
if spec.trigger is not None:
    get_app(target).stage(spec.trigger)
print(json.dumps(sorted(k for k, m in heavy.items() if m in sys.modules)))
"""
EXPECTED = {
    # storage3 brings pydantic with it; google-genai too
    "start_analysis": ["genai", "pubsub", "pydantic", "storage3"],
    "ssml": ["genai", "pubsub", "pydantic"],
    "audio": ["pydantic", "storage3", "texttospeech"],  # the last stage publishes nothing
    "webhook": [],  # it builds its publisher on its first call
    "reconcile": [],  # its publisher likewise; storage only when a sweep fails an audio job
}


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_a_function_imports_only_its_own_sdks(function, db_url):
    env = production_env(db_url)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, function, json.dumps(HEAVY)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == EXPECTED[function]
