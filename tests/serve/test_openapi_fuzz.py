"""Schemathesis against the server's own OpenAPI spec: every answer to generated requests (status,
content type, body) must be one the spec documents, and none may be a 5xx."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")  # a pinned dev dependency

import torch  # noqa: E402
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from fakelens.faces import FaceConfig  # noqa: E402
from fakelens.models import create_model  # noqa: E402
from fakelens.models.detector import Detector, Preprocess  # noqa: E402
from fakelens.serve import ServeSettings, create_app  # noqa: E402

# Built at collection (schemathesis parametrizes from it); the tiny untrained CNN costs milliseconds.
_TMP = Path(tempfile.gettempdir()) / f"fakelens-fuzz-{os.getpid()}"  # made by the first upload
torch.manual_seed(0)
_DETECTOR = Detector(create_model("tiny-cnn"), Preprocess(64), FaceConfig(), threshold=0.5, name="tiny")
_APP = create_app(ServeSettings(max_upload_mb=2, request_timeout_s=20, tmp_dir=_TMP / "uploads"), _DETECTOR)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@pytest.fixture(scope="module", autouse=True)
def _uploads_removed():
    yield
    left = list((_TMP / "uploads").glob("*")) if (_TMP / "uploads").exists() else []
    shutil.rmtree(_TMP, ignore_errors=True)
    assert not left, f"uploads left behind: {left}"


@schema.parametrize()
@hypothesis_settings(max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_spec(case):
    # Schema-valid bytes are rarely a picture: refusing them with the documented 415 is correct.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
