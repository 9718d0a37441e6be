"""A throwaway PKI (CA, server and client certificates) for the TLS and SASL tests, made with ``cryptography``."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Pki:
    ca: Path
    other_ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool, ip: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(root: Path) -> Pki:
    """A self-signed CA, a server certificate for 127.0.0.1 and a client certificate it signed, and an unrelated CA."""
    root.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    ca_key, other_key, server_key, client_key = _key(), _key(), _key(), _key()
    (root / "ca.pem").write_bytes(
        _cert("flameback test CA", ca_key, "flameback test CA", ca_key, ca=True).public_bytes(pem)
    )
    (root / "other-ca.pem").write_bytes(_cert("other CA", other_key, "other CA", other_key, ca=True).public_bytes(pem))
    (root / "server.pem").write_bytes(
        _cert("127.0.0.1", server_key, "flameback test CA", ca_key, ca=False, ip=True).public_bytes(pem)
    )
    (root / "client.pem").write_bytes(
        _cert("flameback worker", client_key, "flameback test CA", ca_key, ca=False).public_bytes(pem)
    )
    return Pki(
        root / "ca.pem",
        root / "other-ca.pem",
        root / "server.pem",
        _write_key(server_key, root / "server.key"),
        root / "client.pem",
        _write_key(client_key, root / "client.key"),
    )
