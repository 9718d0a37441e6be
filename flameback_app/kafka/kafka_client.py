"""How every Kafka client of the project connects: one place, built from the settings.

The worker (Faust's ``broker`` and ``broker_credentials``), the feeds' producer, the
broker admin (topic creation, cluster id, readiness probe), the tests' harness and
the benchmarks all take their bootstrap list, SASL and TLS settings from
:func:`kafka_client_config`, so a cluster that needs credentials needs them set once.

Secrets: the password is a :class:`pydantic.SecretStr` until the moment a client is
made; :meth:`KafkaClientConfig.describe` (what logs and error messages print) never
includes it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr

from flameback_app.settings import Settings


class KafkaSettingsError(ValueError):
    """A TLS file the settings name cannot be used; the message says which and why."""


@dataclass(frozen=True)
class KafkaClientConfig:
    """Bootstrap list and security settings shared by every aiokafka and Faust client."""

    bootstrap: tuple[str, ...]
    sasl_mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def security_protocol(self) -> str:
        tls = self.ssl_context is not None
        if self.sasl_mechanism:
            return "SASL_SSL" if tls else "SASL_PLAINTEXT"
        return "SSL" if tls else "PLAINTEXT"

    def security_kwargs(self) -> dict[str, Any]:
        """aiokafka keyword arguments for authentication and encryption (no bootstrap list)."""
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.sasl_mechanism:
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password.get_secret_value() if self.password else None,
            )
        return kwargs

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client: ``AIOKafkaProducer(**config.kwargs(), ...)``."""
        return {"bootstrap_servers": list(self.bootstrap), **self.security_kwargs()}

    def describe(self) -> str:
        """The brokers and how we connect, for logs and errors: never the password."""
        how = self.security_protocol
        if self.sasl_mechanism:
            how += f", {self.sasl_mechanism} as {self.username!r}"
        return f"{','.join(self.bootstrap)} ({how})"


def kafka_client_config(settings: Settings) -> KafkaClientConfig:
    """The one place that turns ``FLAMEBACK_BROKER`` and ``FLAMEBACK_KAFKA_*`` into client settings."""
    tls = settings.kafka_tls or settings.kafka_ca_file is not None or settings.kafka_cert_file is not None
    return KafkaClientConfig(
        bootstrap=tuple(settings.bootstrap_servers),
        sasl_mechanism=settings.kafka_sasl_mechanism,
        username=settings.kafka_username,
        password=settings.kafka_password,
        ssl_context=tls_context(settings) if tls else None,
    )


def tls_context(settings: Settings) -> ssl.SSLContext:
    """A client TLS context: verify the brokers against the CA file (or the system CAs), present a cert if set."""
    for name, path in (
        ("FLAMEBACK_KAFKA_CA_FILE", settings.kafka_ca_file),
        ("FLAMEBACK_KAFKA_CERT_FILE", settings.kafka_cert_file),
        ("FLAMEBACK_KAFKA_KEY_FILE", settings.kafka_key_file),
    ):
        if path is not None and not Path(path).is_file():
            raise KafkaSettingsError(f"{name}={path} is not a readable file")
    key_password = settings.kafka_key_password.get_secret_value() if settings.kafka_key_password else None
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(settings.kafka_ca_file) if settings.kafka_ca_file else None,
            certfile=str(settings.kafka_cert_file) if settings.kafka_cert_file else None,
            keyfile=str(settings.kafka_key_file) if settings.kafka_key_file else None,
            password=key_password,
        )
    except ssl.SSLError as exc:
        raise KafkaSettingsError(
            f"cannot use the TLS files in FLAMEBACK_KAFKA_CA_FILE/CERT_FILE/KEY_FILE: {exc.reason or exc}"
        ) from None
    return context
