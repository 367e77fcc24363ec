"""Tests of darkroom.pipeline.settings: reading and validating settings from an env mapping."""

from __future__ import annotations

import pytest

from darkroom.pipeline.errors import ConfigError
from darkroom.pipeline.settings import DEFAULT_STORAGE_URL, Limits, Settings


def test_an_empty_env_gives_the_embedded_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.storage_url == DEFAULT_STORAGE_URL
    assert settings.broker_url is None
    assert settings.embedded is True
    assert settings.limits == Limits()
    assert settings.strict is False
    assert settings.visibility_timeout > settings.task_time_limit


def test_from_env_reads_the_mapping_given_and_not_the_process_environment(
    clean_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DARKROOM_STORAGE_URL", "s3://from-process/env")
    settings = Settings.from_env({"DARKROOM_STORAGE_URL": "file:///tmp/elsewhere"})
    assert settings.storage_url == "file:///tmp/elsewhere"


def test_from_env_without_a_mapping_reads_the_process_environment(
    clean_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DARKROOM_BROKER_URL", "redis://127.0.0.1:6379/0")
    settings = Settings.from_env()
    assert settings.broker_url == "redis://127.0.0.1:6379/0"
    assert settings.embedded is False


def test_every_variable_is_read_into_its_setting() -> None:
    env = {
        "DARKROOM_STORAGE_URL": " s3://bucket/prefix ",
        "DARKROOM_BROKER_URL": "redis://host:6379/1",
        "DARKROOM_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "AKID",
        "AWS_SECRET_ACCESS_KEY": "SECRET",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "DARKROOM_MAX_PIXELS": "1_000_000",
        "DARKROOM_MAX_PAYLOAD_BYTES": "4096",
        "DARKROOM_MAX_ITEMS_PER_KEY": "7",
        "DARKROOM_SEND_BUFFER_BYTES": "1024",
        "DARKROOM_EMBEDDED_WORKERS": "3",
        "DARKROOM_VISIBILITY_TIMEOUT": "900",
        "DARKROOM_TASK_TIME_LIMIT": "120",
        "DARKROOM_STRICT": "yes",
    }
    settings = Settings.from_env(env)
    assert settings.storage_url == "s3://bucket/prefix"
    assert settings.broker_url == "redis://host:6379/1"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"
    assert (settings.s3_access_key, settings.s3_secret_key) == ("AKID", "SECRET")
    assert settings.s3_region == "eu-west-3"
    assert settings.limits == Limits(max_pixels=1_000_000, max_payload_bytes=4096, max_items_per_key=7)
    assert settings.send_buffer_bytes == 1024
    assert settings.embedded_workers == 3
    assert (settings.visibility_timeout, settings.task_time_limit) == (900, 120)
    assert settings.strict is True


def test_the_generic_aws_endpoint_and_region_are_used_when_darkroom_sets_none() -> None:
    settings = Settings.from_env({"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_REGION": "ap-south-1"})
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.s3_region == "ap-south-1"
    both = Settings.from_env({"AWS_ENDPOINT_URL": "http://a:1", "DARKROOM_S3_ENDPOINT_URL": "http://b:2"})
    assert both.s3_endpoint_url == "http://b:2"


def test_secrets_do_not_appear_in_the_repr() -> None:
    settings = Settings.from_env({"AWS_ACCESS_KEY_ID": "AKID-visible", "AWS_SECRET_ACCESS_KEY": "hunter2"})
    assert "hunter2" not in repr(settings)
    assert "AKID-visible" not in repr(settings)


def test_overrides_win_over_the_environment_and_none_means_not_given() -> None:
    env = {"DARKROOM_STORAGE_URL": "file:///from/env", "DARKROOM_BROKER_URL": "redis://h:1/0"}
    settings = Settings.from_env(env, storage_url="file:///from/init", broker_url=None)
    assert settings.storage_url == "file:///from/init"
    assert settings.broker_url == "redis://h:1/0"


@pytest.mark.parametrize(
    "var",
    [
        "DARKROOM_MAX_PIXELS",
        "DARKROOM_MAX_PAYLOAD_BYTES",
        "DARKROOM_MAX_ITEMS_PER_KEY",
        "DARKROOM_SEND_BUFFER_BYTES",
        "DARKROOM_EMBEDDED_WORKERS",
        "DARKROOM_VISIBILITY_TIMEOUT",
        "DARKROOM_TASK_TIME_LIMIT",
    ],
)
def test_a_malformed_number_is_a_config_error_naming_the_variable_and_what_is_accepted(var: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({var: "12MB"})
    assert str(info.value) == f"{var}='12MB' is not a whole number; accepted: a positive integer"


@pytest.mark.parametrize("raw", ["0", "-5"])
def test_a_number_that_is_not_positive_is_a_config_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"^DARKROOM_MAX_PIXELS='{raw}' must be positive"):
        Settings.from_env({"DARKROOM_MAX_PIXELS": raw})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), ("on", True), ("0", False), ("off", False), ("No", False), (" ", False)],
)
def test_flags_accept_the_usual_spellings(raw: str, expected: bool) -> None:
    assert Settings.from_env({"DARKROOM_STRICT": raw}).strict is expected


def test_a_malformed_flag_is_a_config_error_listing_the_accepted_spellings() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DARKROOM_STRICT": "maybe"})
    assert str(info.value) == (
        "DARKROOM_STRICT='maybe' is not a flag; accepted: 1/0, true/false, yes/no, on/off"
    )


@pytest.mark.parametrize("url", ["ftp://host/data", "/var/darkroom", "darkroom-data"])
def test_a_storage_url_of_another_scheme_is_a_config_error_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DARKROOM_STORAGE_URL": url})
    assert str(info.value) == (
        f"DARKROOM_STORAGE_URL={url!r} is not a storage URL; accepted: file://PATH or s3://BUCKET[/PREFIX]"
    )


def test_a_storage_url_given_as_an_override_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="DARKROOM_STORAGE_URL='gs://b' is not a storage URL"):
        Settings.from_env({}, storage_url="gs://b")


def test_a_broker_address_without_a_scheme_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DARKROOM_BROKER_URL": "localhost:6379"})
    assert str(info.value) == (
        "DARKROOM_BROKER_URL='localhost:6379' is not a broker URL; "
        "accepted: redis://HOST:PORT/DB (or any Celery broker URL)"
    )


@pytest.mark.parametrize(("visibility", "limit"), [("600", "600"), ("300", "600")])
def test_the_visibility_timeout_must_exceed_the_task_time_limit(visibility: str, limit: str) -> None:
    env = {"DARKROOM_VISIBILITY_TIMEOUT": visibility, "DARKROOM_TASK_TIME_LIMIT": limit}
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert message.startswith(
        f"DARKROOM_VISIBILITY_TIMEOUT={visibility} must exceed DARKROOM_TASK_TIME_LIMIT={limit}"
    )
    assert "second worker" in message


def test_a_visibility_timeout_one_second_above_the_time_limit_is_accepted() -> None:
    settings = Settings.from_env({"DARKROOM_VISIBILITY_TIMEOUT": "601", "DARKROOM_TASK_TIME_LIMIT": "600"})
    assert settings.visibility_timeout == 601


def test_a_relative_file_url_is_resolved_to_an_absolute_path(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"DARKROOM_STORAGE_URL": "file://./data"})
    assert settings.resolved_storage_url() == f"file://{tmp_path.resolve()}/data"
    s3 = Settings.from_env({"DARKROOM_STORAGE_URL": "s3://bucket/p"})
    assert s3.resolved_storage_url() == "s3://bucket/p"
