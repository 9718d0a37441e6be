"""The one place that turns settings into Kafka client settings (no broker needed)."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from flameback_app.broker.embedded import broker_storage
from flameback_app.kafka.faust_handles import faust_credentials
from flameback_app.kafka.kafka_client import KafkaSettingsError, kafka_client_config
from flameback_app.settings import Settings
from tests.support.pki import make_pki

SECRET = "pw-unit-3b9f"


def test_plaintext_by_default() -> None:
    config = kafka_client_config(Settings(broker="kafka://a:1;kafka://b:2"))
    assert config.kwargs() == {"bootstrap_servers": ["a:1", "b:2"], "security_protocol": "PLAINTEXT"}
    assert faust_credentials(config) is None


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_sasl_settings_reach_aiokafka_and_faust(mechanism: str) -> None:
    config = kafka_client_config(Settings(kafka_sasl_mechanism=mechanism, kafka_username="u", kafka_password=SECRET))
    assert config.security_kwargs() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "u",
        "sasl_plain_password": SECRET,
    }
    credentials = faust_credentials(config)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == mechanism and credentials.password == SECRET
    assert SECRET not in config.describe() and SECRET not in repr(config) and SECRET not in repr(credentials)


def test_tls_with_ca_and_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = kafka_client_config(
        Settings(
            kafka_sasl_mechanism="PLAIN",
            kafka_username="u",
            kafka_password=SECRET,
            kafka_ca_file=pki.ca,
            kafka_cert_file=pki.client_cert,
            kafka_key_file=pki.client_key,
        )
    )
    kwargs = config.security_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL"
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "flameback test CA"),),)]
    assert faust_credentials(config).protocol.value == "SASL_SSL"


def test_tls_only_uses_ssl_credentials(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = kafka_client_config(Settings(kafka_ca_file=pki.ca))
    assert config.security_protocol == "SSL"
    assert isinstance(faust_credentials(config), faust.SSLCredentials)
    assert kafka_client_config(Settings(kafka_tls=True)).security_protocol == "SSL"  # system CAs


def test_bad_settings_are_clear_and_print_no_secret(tmp_path: Path) -> None:
    with pytest.raises(KafkaSettingsError, match="FLAMEBACK_KAFKA_CA_FILE=.* is not a readable file"):
        kafka_client_config(Settings(kafka_ca_file=tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(KafkaSettingsError, match="cannot use the TLS files"):
        kafka_client_config(Settings(kafka_ca_file=tmp_path / "junk.pem"))
    for bad in (
        {"kafka_sasl_mechanism": "PLAIN", "kafka_password": SECRET},  # no user
        {"kafka_username": "u", "kafka_password": SECRET},  # no mechanism
        {"broker": f"kafka://u:{SECRET}@h:1"},
        {"broker_storage": f"s3://key:{SECRET}@bucket/"},
        {"kafka_sasl_mechanism": "GSSAPI", "kafka_username": "u", "kafka_password": SECRET},
    ):
        with pytest.raises(ValidationError) as caught:
            Settings(**bad)
        assert SECRET not in str(caught.value)


def test_broker_storage_from_settings() -> None:
    memory = broker_storage(Settings())
    assert not memory.durable and memory.cluster_id is None
    assert memory.start_cluster_id() != memory.start_cluster_id()  # a fresh, empty cluster per start
    s3 = broker_storage(
        Settings(
            broker_storage="s3://tansu/",
            s3_endpoint="http://127.0.0.1:9000",
            s3_access_key_id="AK",
            s3_secret_access_key=SECRET,
        )
    )
    assert s3.durable and s3.start_cluster_id() == s3.start_cluster_id() == "flameback"
    assert s3.env["AWS_SECRET_ACCESS_KEY"] == SECRET and s3.env["AWS_ALLOW_HTTP"] == "true"
    assert SECRET not in s3.describe() and SECRET not in repr(s3)
    named = broker_storage(Settings(broker_storage="s3://tansu/", broker_cluster_id="prod-1"))
    assert named.start_cluster_id() == "prod-1" and "AWS_ENDPOINT" not in named.env
