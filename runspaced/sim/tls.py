"""Self-signed serving certificates for the simulator's optional TLS, made with openssl."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServingCertificate", "make_serving_certificate"]


@dataclass(frozen=True, slots=True)
class ServingCertificate:
    """A certificate and key on disk, and the server-side SSL context using them."""

    cert_path: Path
    key_path: Path

    @property
    def cert_pem(self) -> bytes:
        """The certificate in PEM form (clients trust it as their CA)."""
        return self.cert_path.read_bytes()

    def server_context(self) -> ssl.SSLContext:
        """Return an SSL context that serves this certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_serving_certificate(directory: Path, host: str) -> ServingCertificate:
    """Create a self-signed P-256 certificate for `host`, localhost and 127.0.0.1.

    Valid for 365 days. Raises RuntimeError if the openssl command is missing or fails.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("TLS needs the openssl command, which is not on the PATH")
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "apiserver.crt", directory / "apiserver.key"
    names = {"DNS:localhost", "IP:127.0.0.1"}
    names.add(f"IP:{host}" if host.replace(".", "").isdigit() or ":" in host else f"DNS:{host}")
    command = [
        openssl, "req", "-x509", "-nodes", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", str(key_path), "-out", str(cert_path), "-days", "365",
        "-subj", "/CN=runspaced-sim",
        "-addext", "subjectAltName=" + ",".join(sorted(names)),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl failed to create the certificate: {result.stderr.strip()}")
    key_path.chmod(0o600)
    return ServingCertificate(cert_path, key_path)
