"""Finding credentials before the client is imported; keys never end up in output or reprs."""

from __future__ import annotations

import json
import os

import pytest

from core.base.errors import ExitCode, JobError
from core.kaggle.credentials import find_credentials, require_credentials


@pytest.fixture
def kaggle_json(isolated):
    folder = isolated.parent / "userhome" / ".kaggle"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kaggle.json"
    path.write_text(json.dumps({"username": "bob", "key": "json-secret"}))
    os.chmod(path, 0o600)
    return path


def test_none_found_names_the_three_ways():
    assert find_credentials() is None
    with pytest.raises(JobError) as info:
        require_credentials()
    assert info.value.exit_code == ExitCode.AUTH
    for way in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME and KAGGLE_KEY", "kaggle.json"):
        assert way in info.value.message


def test_token_wins_then_env_key_then_file(monkeypatch, kaggle_json):
    assert find_credentials().source == str(kaggle_json)
    monkeypatch.setenv("KAGGLE_USERNAME", "bob")
    monkeypatch.setenv("KAGGLE_KEY", "env-secret")
    assert find_credentials().source == "KAGGLE_USERNAME/KAGGLE_KEY"
    monkeypatch.setenv("KAGGLE_API_TOKEN", "token-secret")
    creds = find_credentials()
    assert creds.source == "KAGGLE_API_TOKEN" and creds.kind == "token"
    assert "secret" not in repr(creds) and "secret" not in str(creds)


def test_username_without_key_is_not_enough(monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "bob")
    assert find_credentials() is None


def test_private_file_has_no_warning_shared_one_does(kaggle_json):
    assert find_credentials().warnings == ()
    os.chmod(kaggle_json, 0o644)
    (warning,) = find_credentials().warnings
    assert "readable by other users" in warning and "json-secret" not in warning


def test_broken_or_incomplete_kaggle_json_is_ignored(kaggle_json):
    kaggle_json.write_text("{not json")
    assert find_credentials() is None
    kaggle_json.write_text(json.dumps({"username": "bob"}))
    assert find_credentials() is None
