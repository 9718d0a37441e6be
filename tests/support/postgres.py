"""A throwaway PostgreSQL server for tests and benchmarks: Debian's binaries, a temp dir, loopback only.

``initdb`` refuses to run as root, so when the tests run as root the server runs as
the ``postgres`` system user that Debian's ``postgresql`` package creates (in a
directory made for it under /tmp: pytest's own tmp dirs are 0700 root). It listens
on 127.0.0.1 on a free port and on a unix socket in its own directory, accepts
password (SCRAM) logins over TCP, and is stopped and removed by :meth:`stop`.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Self

import psycopg
from psycopg import sql

PG_USER = "postgres"
BINARIES = Path("/usr/lib/postgresql")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here (or no unprivileged user to run them as)."""


def find_bindir() -> Path:
    """The newest Debian PostgreSQL ``bin`` directory (``/usr/lib/postgresql/<major>/bin``)."""
    candidates = sorted(
        (p for p in BINARIES.glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailable(
            f"no PostgreSQL server in {BINARIES} (apt-get install postgresql; scripts/setup.sh --test installs it)"
        )
    return candidates[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temp dir. ``durable=False`` (tests) turns fsync off: faster, same SQL."""

    def __init__(self, durable: bool = True, timezone: str = "UTC") -> None:
        self.bindir = find_bindir()
        self.durable = durable
        self.timezone = timezone
        self.password = secrets.token_urlsafe(16)
        self.port = 0
        self.root: Path | None = None
        self._run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(PG_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root and there is no {PG_USER!r} user to run initdb as "
                    "(Debian's postgresql package creates it)"
                ) from None
            self._run_as = PG_USER

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "run"

    def start(self) -> Self:
        self.root = Path(tempfile.mkdtemp(prefix="flameback-pg-"))
        (self.root / "run").mkdir()
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._run_as:
            user = pwd.getpwnam(self._run_as)
            for path in (self.root, self.root / "run", pwfile):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._pg(
            "initdb",
            "-D",
            str(self.root / "data"),
            "-U",
            PG_USER,
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        )
        pwfile.unlink()
        for attempt in range(3):  # the port is free when chosen; another process may take it before we bind
            self.port = _free_port()
            try:
                self._pg(
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.root / "data"),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    self._server_options(),
                )
                return self
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
        return self

    def _server_options(self) -> str:
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.socket_dir}",
            f"-c timezone={self.timezone}",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _pg(self, program: str, *args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [str(self.bindir / program), *args],
                check=True,
                capture_output=True,
                text=True,
                cwd=self.root,
                user=self._run_as,
                timeout=120,
            )
        except subprocess.CalledProcessError as exc:
            log = self.root / "server.log" if self.root else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{program} failed ({exc.returncode}): {exc.stderr.strip()} {tail}") from exc

    def admin(self) -> psycopg.Connection:
        """A superuser connection over the unix socket (autocommit: CREATE/DROP DATABASE need it)."""
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=PG_USER, dbname="postgres", autocommit=True
        )

    def url(self, database: str) -> str:
        """What a worker gets: TCP on loopback with the password, through psycopg 3."""
        return f"postgresql+psycopg://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def halt(self) -> None:
        """Stop the server and keep its data: an outage (``resume`` brings it back on the same port)."""
        assert self.root is not None
        self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.root / "data"))

    def resume(self) -> None:
        assert self.root is not None
        self._pg(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.root / "data"),
            "-l",
            str(self.root / "server.log"),
            "-o",
            self._server_options(),
        )

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.root / "data"))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
