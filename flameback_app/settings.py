"""Flameback settings, read once from ``FLAMEBACK_*`` environment variables.

Only the entry points (the Faust app module, the Dash server, benchmarks) call
:func:`load_settings`; every other module receives the values it needs as
arguments, so tests can pass their own without touching the environment.
"""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flameback_app.core.topics import TopicNames
from flameback_app.core.validation import TickRules

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_BROKER_DEFAULT = "kafka://127.0.0.1:9092"


class Settings(BaseSettings):
    """Every operator-facing knob, with the defaults the README documents."""

    # hide_input_in_errors: a validation error must not print a password it was given
    model_config = SettingsConfigDict(env_prefix="FLAMEBACK_", extra="ignore", hide_input_in_errors=True, frozen=True)

    broker: str = Field(
        EMBEDDED_BROKER_DEFAULT,
        description="Kafka bootstrap URL(s), ';'-separated. The `broker` command listens here.",
    )
    embedded_broker: bool | None = Field(
        None,
        description="Apply the Tansu workarounds (docs/broker-traps.md). Default: true when the broker is on loopback.",
    )
    db_url: str = Field(f"sqlite:///{REPO_ROOT / 'data' / 'flameback.db'}")
    db_auto_upgrade: bool = Field(
        True, description="A worker upgrades an older database schema at start (else: exit 1)."
    )
    data_dir: Path = Field(REPO_ROOT / "data", description="RocksDB state lives in <data_dir>/state.")
    models_dir: Path = Field(REPO_ROOT / "models" / "artifacts")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    dash_host: str = "127.0.0.1"
    dash_port: int = 8050
    dash_refresh_s: float = 3.0
    worker_stale_s: float = Field(
        10.0, gt=0, description="The terminal shows a worker whose counters are older than this as stale."
    )
    app_id: str = "flameback"
    worker_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}",
        description="This worker's name in /health/, /counters/ and /metrics (default host:pid).",
    )
    partitions: int = Field(4, ge=1, description="Partitions of every topic the app creates.")
    tansu_bin: str | None = None
    batch_size: int = Field(500, ge=1, description="Max events per stream.take batch.")
    batch_within_s: float = Field(
        0.02, gt=0, description="Max wait to fill a batch: its fixed costs (inference, transactions) vs latency."
    )
    fetch_max_wait_ms: int = Field(25, ge=1, description="How long an empty fetch may idle (Tansu waits it out).")
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop", description="The worker's asyncio event loop: uvloop (cheaper per message) or the standard one."
    )
    broker_wait_s: float = Field(60.0, ge=0, description="How long every client waits for the broker at start.")
    db_wait_s: float = Field(60.0, ge=0, description="How long a worker waits at start for a database server.")
    health_db_failing_s: float = Field(
        5.0, ge=0, description="`/health/` says 503 once database writes have failed for this long."
    )
    health_fetch_stall_s: float = Field(
        30.0, gt=0, description="`/health/` says 503 when an assigned partition has not been fetched for this long."
    )
    shutdown_timeout_s: float = Field(
        8.0,
        gt=0,
        description="A stopping worker that has not finished by then exits anyway (nothing acknowledged is lost).",
    )
    periods_per_year: float = Field(
        252.0,
        description="Ticks per year of one symbol (tick spacing): annualises volatility_20 live, offline, in training.",
    )
    retrain_every_s: float = Field(0.0, ge=0, description="0 disables scheduled retraining.")
    champion_metric: Literal["accuracy", "brier", "log_loss"] = Field(
        "accuracy", description="What a retrained challenger must beat the live champion on."
    )
    champion_margin: float = Field(
        0.0, ge=0, description="A challenger goes live only if its paired 95 % interval lies above this margin."
    )
    challenge_block: float = Field(
        0.2, gt=0, lt=1, description="Latest share of the history's timestamps both models are scored on."
    )
    training_nice: int = Field(10, ge=0, le=19, description="Niceness of the background training process.")
    training_threads: int = Field(1, ge=1, description="Threads the background training may use (BLAS/OpenMP, trees).")
    calibration: Literal["sigmoid", "isotonic", "none"] = Field(
        "sigmoid", description="How `train` (and retraining) calibrates P(up), on the training side only."
    )
    abstain_below: float = Field(
        0.0, ge=0, lt=0.5, description="Live models say NEUTRAL (not scored) when |P(up) - 0.5| <= this; 0: never."
    )
    drift_sample_rows: int = Field(
        10_000,
        ge=0,
        description="Training rows kept beside each model version's manifest for the drift check; 0: none.",
    )
    drift_live_rows: int = Field(
        2_000, ge=1, description="Newest live rows (per symbol, and pooled) the drift check reads."
    )
    drift_min_rows: int = Field(
        500,
        ge=1,
        description="A symbol needs this many complete live rows before its drift is computed (fewer: noise).",
    )
    drift_psi_threshold: float = Field(0.2, gt=0, description="A feature's PSI above this is flagged as drifted.")
    drift_every_s: float = Field(300.0, ge=0, description="How often a worker computes drift; 0 disables the check.")
    retrain_on_drift: bool = Field(
        False,
        description="A pooled drift flag retrains the models (once per model version) through the usual training.",
    )
    trusted_model_types: str = Field(
        "",
        description="Comma-separated type names (module.Class) a saved model may hold beyond Flameback's own list.",
    )
    user_models: str = Field(
        "",
        description='Your own classifiers beside the four, as JSON: {"name": {"class": "pkg.Class", "params": {...}}}.',
    )

    # Alerts (flameback_app.worker.alerts): rules from a file and from the terminal, fired by the worker.
    alert_rules: Path | None = Field(
        None, description="TOML file of alert rules ([[rule]] tables); rules added in the terminal add to these."
    )
    alert_cooldown_s: float = Field(
        300.0, ge=0, description="After a rule fires for a symbol, it stays quiet this long (ticks' own time)."
    )
    alert_rules_refresh_s: float = Field(
        5.0, gt=0, description="How often the worker re-reads the rules added in the terminal."
    )
    alert_webhook_url: SecretStr | None = Field(
        None, description="POST every alert as JSON here (http/https; may hold a token: logged as host only)."
    )
    alert_webhook_attempts: int = Field(5, ge=1, description="Tries per alert, with exponential backoff between.")
    alert_webhook_queue: int = Field(
        1000, ge=1, description="Alerts waiting for the webhook; beyond it new ones are dropped (counted, logged)."
    )

    # What a tick may be (flameback_app.core.validation.TickRules) and where ticks come and go.
    epoch_unit: Literal["auto", "s", "ms", "us", "ns"] = Field(
        "auto",
        description="Unit of epoch-number timestamps; auto: by magnitude (<1e11 s, <1e14 ms, <1e17 µs, else ns).",
    )
    max_future_s: float = Field(
        300.0, ge=0, description="Ticks stamped further ahead of the wall clock are dead-lettered."
    )
    max_abs_price: float = Field(1e12, gt=0, description="Ticks with a larger |price| are dead-lettered.")
    max_symbols: int = Field(
        10_000, ge=1, description="Symbols one worker keeps state for; new ones beyond are dead-lettered."
    )
    ticks_topic: str = Field("futures-ticks", min_length=1, description="Where producers send ticks.")
    dead_letter_topic: str = Field("futures-ticks-dlq", min_length=1, description="Rejected payloads, with the reason.")
    features_topic: str = Field("real-features-ticks", min_length=1, description="Feature rows, one per applied tick.")
    market_data_dir: Path = Field(
        REPO_ROOT.parent / "shared" / "data",
        description="The market data files (never copied into the repo): tests and benchmarks use them where present.",
    )
    symbol_sheet: Path = Field(REPO_ROOT.parent / "shared" / "data" / "tick_data_symbol_list_futures.csv")

    # The embedded broker's storage (the `broker` command; flameback_app.broker.embedded.BrokerStorage).
    broker_storage: str = Field("memory://tansu/", description="memory://tansu/ (lost on stop) or s3://BUCKET/")
    broker_cluster_id: str | None = Field(None, description="Default: a new id per start (memory), 'flameback' (s3).")
    s3_endpoint: str | None = Field(None, description="S3-compatible endpoint URL; default: AWS S3.")
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    # How every Kafka client authenticates (flameback_app.kafka.kafka_client.KafkaClientConfig).
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_tls: bool = Field(False, description="TLS to the brokers (implied by a CA or client certificate file).")
    kafka_ca_file: Path | None = Field(
        None, description="CA bundle for the brokers' certificates (default: system CAs)."
    )
    kafka_cert_file: Path | None = Field(None, description="Client certificate (PEM) when the brokers ask for one.")
    kafka_key_file: Path | None = Field(None, description="Its private key (PEM), unless inside the certificate file.")
    kafka_key_password: SecretStr | None = None

    @field_validator("broker")
    @classmethod
    def _kafka_scheme(cls, value: str) -> str:
        for url in value.split(";"):
            if not url.strip().startswith("kafka://"):
                raise ValueError(f"FLAMEBACK_BROKER entries must look like kafka://host:port, got {url!r}")
            if "@" in url:
                raise ValueError(
                    "FLAMEBACK_BROKER must not hold credentials (they would be printed with the URL); "
                    "set FLAMEBACK_KAFKA_USERNAME and FLAMEBACK_KAFKA_PASSWORD"
                )
        return value

    @field_validator("periods_per_year")
    @classmethod
    def _positive_finite_spacing(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"FLAMEBACK_PERIODS_PER_YEAR must be a positive finite number of ticks per year "
                f"(252 for daily bars), got {value!r}"
            )
        return value

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and urlsplit(value.get_secret_value()).scheme not in ("http", "https"):
            raise ValueError("FLAMEBACK_ALERT_WEBHOOK_URL must be an http:// or https:// URL")
        return value

    @field_validator("user_models")
    @classmethod
    def _user_models_json(cls, value: str) -> str:
        """Only the JSON's shape is checked here; each entry is checked where it is used, so one bad entry
        leaves out that model (one line) instead of stopping the worker."""
        if not value.strip():
            return value
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"FLAMEBACK_USER_MODELS is not valid JSON ({exc})") from None
        if not isinstance(parsed, dict):
            raise ValueError(  # noqa: TRY004 - pydantic turns only ValueError into the one-line settings error
                'FLAMEBACK_USER_MODELS must be a JSON object: {"name": {"class": "pkg.Class", "params": {}}}'
            )
        return value

    @field_validator("broker_storage")
    @classmethod
    def _storage_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("memory", "s3") or not parts.netloc:
            raise ValueError(
                f"FLAMEBACK_BROKER_STORAGE must be memory://NAME/ or s3://BUCKET/, got {redact_url(value)!r}"
            )
        if "@" in parts.netloc or parts.query:
            raise ValueError(
                "FLAMEBACK_BROKER_STORAGE must not hold credentials; set FLAMEBACK_S3_ACCESS_KEY_ID and "
                "FLAMEBACK_S3_SECRET_ACCESS_KEY"
            )
        return value

    @model_validator(mode="after")
    def _sasl_needs_a_user(self) -> Settings:
        if self.kafka_sasl_mechanism and not (self.kafka_username and self.kafka_password):
            raise ValueError(
                f"FLAMEBACK_KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism} needs "
                "FLAMEBACK_KAFKA_USERNAME and FLAMEBACK_KAFKA_PASSWORD"
            )
        if (self.kafka_username or self.kafka_password) and not self.kafka_sasl_mechanism:
            raise ValueError(
                "FLAMEBACK_KAFKA_USERNAME/PASSWORD need FLAMEBACK_KAFKA_SASL_MECHANISM "
                "(SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN)"
            )
        if self.kafka_key_file and not self.kafka_cert_file:
            raise ValueError("FLAMEBACK_KAFKA_KEY_FILE needs FLAMEBACK_KAFKA_CERT_FILE")
        return self

    @property
    def broker_is_embedded(self) -> bool:
        """True when the Tansu workarounds apply (explicit setting, else a loopback broker)."""
        if self.embedded_broker is not None:
            return self.embedded_broker
        hosts = [hostport(url)[0] for url in self.broker.split(";")]
        return all(h in ("127.0.0.1", "localhost", "::1") for h in hosts)

    @property
    def extra_trusted_model_types(self) -> tuple[str, ...]:
        """FLAMEBACK_TRUSTED_MODEL_TYPES as names: what model files may hold beyond models.registry's list."""
        return tuple(name.strip() for name in self.trusted_model_types.split(",") if name.strip())

    @property
    def user_model_entries(self) -> dict[str, Any]:
        """FLAMEBACK_USER_MODELS parsed: name → entry (see models.user_models)."""
        return json.loads(self.user_models) if self.user_models.strip() else {}

    @property
    def model_trusted_types(self) -> tuple[str, ...]:
        """What a loaded model may hold beyond models.registry's list: FLAMEBACK_TRUSTED_MODEL_TYPES, and each
        user model's class and ``trusted`` names (the user named them, so their saved files must load)."""
        from models.user_models import trusted_types_of

        return (*self.extra_trusted_model_types, *trusted_types_of(self.user_model_entries))

    @property
    def tick_rules(self) -> TickRules:
        return TickRules(epoch_unit=self.epoch_unit, max_future_s=self.max_future_s, max_abs_price=self.max_abs_price)

    @property
    def topics(self) -> TopicNames:
        return TopicNames(ticks=self.ticks_topic, dead_letters=self.dead_letter_topic, features=self.features_topic)

    @property
    def market_file(self) -> Path:
        """The 2001–2019 futures file (39 symbols) that tests, benchmarks and `replay` examples use where present."""
        return self.market_data_dir / "seas_port_final_2001_2019.csv"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"

    @property
    def bootstrap_servers(self) -> list[str]:
        """``host:port`` strings for plain Kafka clients (aiokafka)."""
        return [f"{host}:{port}" for host, port in map(hostport, self.broker.split(";"))]


def hostport(url: str) -> tuple[str, int]:
    """Split ``kafka://host:port`` into ``(host, port)``; port defaults to 9092."""
    rest = url.strip().removeprefix("kafka://").rstrip("/")
    host, _, port = rest.rpartition(":")
    if not host:
        return rest, 9092
    return host, int(port)


def redact_url(url: str) -> str:
    """``url`` without user info, password or query string: safe to print or log."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host, query="", fragment="").geturl()


def load_settings() -> Settings:
    """Build the settings from the environment (entry points only).

    A bad value ends the process with exit code 1 and one line naming the variable
    (``SystemExit``), not pydantic's traceback: the operator mistyped an environment
    variable, and the fix is in that line.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise SystemExit(f"Error: {settings_error_line(exc)}") from None


def settings_error_line(exc: ValidationError) -> str:
    """Every problem of a settings ValidationError on one line, each named by its environment variable."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(message if not field or "FLAMEBACK_" in message else f"FLAMEBACK_{field.upper()}: {message}")
    return "; ".join(problems)
