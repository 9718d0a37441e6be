"""Flameback settings, read once from ``FLAMEBACK_*`` environment variables.

Only the entry points (the Faust app module, the Dash server, benchmarks) call
:func:`load_settings`; every other module receives the values it needs as
arguments, so tests can pass their own without touching the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_BROKER_DEFAULT = "kafka://127.0.0.1:9092"


class Settings(BaseSettings):
    """Every operator-facing knob, with the defaults the README documents."""

    model_config = SettingsConfigDict(env_prefix="FLAMEBACK_", extra="ignore")

    broker: str = Field(
        EMBEDDED_BROKER_DEFAULT,
        description="Kafka bootstrap URL(s), ';'-separated. The `broker` command listens here.",
    )
    embedded_broker: bool | None = Field(
        None,
        description="Apply the Tansu workarounds (DESIGN §8). Default: true when the broker is on loopback.",
    )
    db_url: str = Field(f"sqlite:///{REPO_ROOT / 'data' / 'flameback.db'}")
    data_dir: Path = Field(REPO_ROOT / "data", description="RocksDB state lives in <data_dir>/state.")
    models_dir: Path = Field(REPO_ROOT / "models" / "artifacts")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    dash_host: str = "127.0.0.1"
    dash_port: int = 8050
    dash_refresh_s: float = 3.0
    app_id: str = "flameback"
    partitions: int = Field(4, ge=1, description="Partitions of every topic the app creates.")
    tansu_bin: str | None = None
    batch_size: int = Field(500, ge=1, description="Max events per stream.take batch.")
    batch_within_s: float = Field(0.02, gt=0, description="Max wait to fill a batch (latency at live rates).")
    fetch_max_wait_ms: int = Field(25, ge=1, description="How long an empty fetch may idle (Tansu waits it out).")
    broker_wait_s: float = Field(60.0, ge=0, description="How long every client waits for the broker at start.")
    shutdown_timeout_s: float = Field(
        8.0, gt=0, description="A stopping worker that has not finished by then exits anyway (nothing acknowledged is lost)."
    )
    retrain_every_s: float = Field(0.0, ge=0, description="0 disables scheduled retraining.")
    symbol_sheet: Path = Field(REPO_ROOT.parent / "shared" / "data" / "tick_data_symbol_list_futures.csv")

    @field_validator("broker")
    @classmethod
    def _kafka_scheme(cls, value: str) -> str:
        for url in value.split(";"):
            if not url.strip().startswith("kafka://"):
                raise ValueError(f"FLAMEBACK_BROKER entries must look like kafka://host:port, got {url!r}")
        return value

    @property
    def broker_is_embedded(self) -> bool:
        """True when the Tansu workarounds apply (explicit setting, else a loopback broker)."""
        if self.embedded_broker is not None:
            return self.embedded_broker
        hosts = [hostport(url)[0] for url in self.broker.split(";")]
        return all(h in ("127.0.0.1", "localhost", "::1") for h in hosts)

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


def load_settings() -> Settings:
    """Build the settings from the environment (entry points only)."""
    return Settings()
