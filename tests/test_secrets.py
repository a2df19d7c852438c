"""Credentials never reach stdout, stderr or --log-file, whatever the outcome.

The classic leak: an env file saved with CRLF gives KAGGLE_API_TOKEN a trailing '\\r'; requests then
refuses the header `Bearer <token>\\r` with an exception whose text quotes the header in full.
"""

from __future__ import annotations

import json

import pytest

from core.base.errors import safe_description
from core.kaggle.credentials import find_credentials
from jobs.cli import app
from tests.cli_output import one_error, records
from tests.kaggle_emulator import KEY, TOKEN, USERNAME


def output_of(result, log_file) -> str:
    return result.stdout + result.stderr + (log_file.read_text() if log_file.exists() else "")


@pytest.fixture
def log_file(isolated):
    return isolated / "logs" / "run.jsonl"


@pytest.mark.parametrize("padded", [TOKEN + "\r", TOKEN + "\r\n", " " + TOKEN + "\n"])
def test_token_with_stray_whitespace_works_and_never_shows(runner, emu, monkeypatch, log_file, padded):
    monkeypatch.setenv("KAGGLE_API_TOKEN", padded)
    got = runner.invoke(app, ["download", "--data-dir", "data/dr", "--log-file", str(log_file)])
    assert got.exit_code == 0, got.output
    warnings = [r["msg"] for r in records(got) if r["level"] == "warning"]
    assert any("KAGGLE_API_TOKEN" in w and "whitespace" in w for w in warnings), got.output
    assert TOKEN not in output_of(got, log_file)
    assert emu.calls("IntrospectToken")


def test_run_submit_with_a_crlf_token_keeps_it_out_of_every_output(runner, emu, monkeypatch, log_file,
                                                                   tiny_checkpoint):
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN + "\r")
    got = runner.invoke(app, ["run", "--checkpoint", str(tiny_checkpoint), "--submit", "--log-format", "json",
                              "--log-file", str(log_file)])
    assert got.exit_code == 0, got.output
    assert len(emu.submissions) == 1
    assert TOKEN not in output_of(got, log_file)


def test_rejected_crlf_token_is_exit_3_and_never_shows(runner, emu, monkeypatch, log_file):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_wrong_token_0123\r")
    got = runner.invoke(app, ["download", "--data-dir", "data/dr", "--log-file", str(log_file)])
    assert got.exit_code == 3, got.output
    one_error(got)
    assert "KGAT_wrong_token_0123" not in output_of(got, log_file)


def test_token_with_a_control_character_inside_is_one_line_that_hides_it(runner, emu, monkeypatch, log_file):
    # Stripping cannot fix a CR in the middle: requests refuses the header and quotes it.
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_half\rother_half")
    got = runner.invoke(app, ["download", "--data-dir", "data/dr", "--log-file", str(log_file)])
    assert got.exit_code == 3, got.output
    message = one_error(got)
    assert "KAGGLE_API_TOKEN" in message
    text = output_of(got, log_file)
    assert "KGAT_half" not in text and "other_half" not in text


def test_key_and_username_with_crlf_work(runner, emu, monkeypatch, log_file):
    monkeypatch.setenv("KAGGLE_USERNAME", USERNAME + "\r\n")
    monkeypatch.setenv("KAGGLE_KEY", KEY + "\r")
    got = runner.invoke(app, ["download", "--data-dir", "data/dr", "--log-file", str(log_file)])
    assert got.exit_code == 0, got.output
    warnings = " ".join(r["msg"] for r in records(got) if r["level"] == "warning")
    assert "KAGGLE_KEY" in warnings and "KAGGLE_USERNAME" in warnings
    assert KEY not in output_of(got, log_file)


def test_kaggle_json_key_with_newline_works(runner, emu, isolated, log_file):
    config = isolated.parent / "userhome" / ".kaggle"
    config.mkdir(parents=True)
    (config / "kaggle.json").write_text(json.dumps({"username": USERNAME, "key": KEY + "\n"}))
    (config / "kaggle.json").chmod(0o600)
    got = runner.invoke(app, ["download", "--data-dir", "data/dr", "--log-file", str(log_file)])
    assert got.exit_code == 0, got.output
    assert KEY not in output_of(got, log_file)


def test_clean_credentials_give_no_warning(monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    assert find_credentials().warnings == ()


def test_safe_description_keeps_the_type_and_drops_what_could_be_a_header():
    import requests

    leaky = requests.exceptions.InvalidHeader(f"Invalid return character in header value: 'Bearer {TOKEN}\\r'")
    text = safe_description(leaky)
    assert "InvalidHeader" in text and TOKEN not in text and "Bearer" not in text
    basic = ValueError("Authorization: Basic YWxpY2U6c2VjcmV0LWtleQ==")
    assert "YWxp" not in safe_description(basic) and "ValueError" in safe_description(basic)
    assert safe_description(ValueError("bad value 3")) == "ValueError: bad value 3"


def test_an_unexpected_error_on_a_rank_hides_what_could_be_a_header_as_one_process_does():
    from core.base.errors import internal_error
    from core.dist.world import _failure

    leaky = RuntimeError(f"Authorization: Bearer {TOKEN}")
    message, code = _failure(leaky)  # what every rank raises when one rank hit a bug
    assert TOKEN not in message and message.startswith("internal error: RuntimeError") and code == 1
    assert message == internal_error(leaky)  # the same line the CLI prints for a single process
