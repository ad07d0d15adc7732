"""A private dovecot for the tests: own configuration, port, users and mail under a temp dir.

Any user name logs in with the server's one password (static passdb/userdb; a passwd-file is
re-read at most once a second, too slow for a user per test), so a new name is a new mailbox.

Dovecot refuses to store mail as uid 0, so as root (CI) mail belongs to `nobody` and dovecot's
own `dovecot`/`dovenull` users run its helpers (created if the package did not); as an ordinary
user everything runs as that user. With `openssl` available the server also speaks TLS (an
implicit-TLS port, and STARTTLS on the plain one) with a throwaway self-signed certificate.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = shutil.which("dovecot") or next(
    (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.path.exists(p)), None
)
DH_FILE = Path("/usr/share/dovecot/dh.pem")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ensure_system_user(name: str) -> None:
    """Dovecot's helper users (the Debian package creates them; a bare image may not)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
        )


@dataclass
class MailOwner:
    uid: int
    gid: int
    internal_user: str | None = None  # set when not running as root
    internal_group: str | None = None


def mail_owner() -> MailOwner:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return MailOwner(me.pw_uid, me.pw_gid, me.pw_name, grp.getgrgid(me.pw_gid).gr_name)
    for name in ("dovecot", "dovenull"):
        _ensure_system_user(name)
    nobody = pwd.getpwnam("nobody")
    return MailOwner(nobody.pw_uid, nobody.pw_gid)


def _make_certificate(folder: Path) -> tuple[Path, Path] | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Dovecot:
    root: Path
    owner: MailOwner
    port: int = field(default_factory=free_port)
    tls_port: int | None = None
    cert_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    password: str = field(default_factory=lambda: uuid.uuid4().hex)  # every user's password

    @property
    def mail_root(self) -> Path:
        return self.root / "mail"

    def configure(self) -> None:
        self.mail_root.mkdir()
        os.chown(self.mail_root, self.owner.uid, self.owner.gid)
        tls = _make_certificate(self.root)
        if tls is not None:
            self.cert_file = tls[0]
            self.tls_port = free_port()
        (self.root / "dovecot.conf").write_text(self._config(tls))

    def _config(self, tls: tuple[Path, Path] | None) -> str:
        r = self.root
        lines = [
            "protocols = imap",
            "listen = 127.0.0.1",
            f"base_dir = {r}/run",
            f"state_dir = {r}/state",
            f"log_path = {r}/dovecot.log",
            "auth_mechanisms = plain login",
            "disable_plaintext_auth = no",
            "auth_failure_delay = 0",
            f"mail_location = maildir:{self.mail_root}/%u",
            "first_valid_uid = 1",
            "mailbox_idle_check_interval = 1 secs",
            "verbose_proctitle = yes",
            "namespace inbox {\n  inbox = yes\n  separator = /\n}",
            # no growing delays for the wrong-password tests (anvil's brute-force penalty)
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}",
            f"passdb {{\n  driver = static\n  args = password={self.password}\n}}",
            "userdb {\n  driver = static\n"
            f"  args = uid={self.owner.uid} gid={self.owner.gid} home={self.mail_root}/%u\n}}",
            "service imap-login {\n"
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}\n"
            f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.tls_port or 0}\n"
            "  }\n}",
        ]
        if tls is None:
            lines.append("ssl = no")
        else:
            lines += ["ssl = yes", f"ssl_cert = <{tls[0]}", f"ssl_key = <{tls[1]}"]
            if DH_FILE.exists():
                lines.append(f"ssl_dh = <{DH_FILE}")
        if self.owner.internal_user:
            lines += [
                f"default_internal_user = {self.owner.internal_user}",
                f"default_internal_group = {self.owner.internal_group}",
                f"default_login_user = {self.owner.internal_user}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        assert DOVECOT is not None
        log = open(self.root / "stdout.log", "wb")  # noqa: SIM115  (kept open while it runs)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot did not start:\n{self.logs()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe,
            ):
                if probe.recv(64).startswith(b"* OK"):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"dovecot did not answer on port {self.port}:\n{self.logs()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None

    def logs(self) -> str:
        parts = []
        for name in ("stdout.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    # --- users ------------------------------------------------------------------------------

    def remove_user(self, username: str) -> None:
        """Delete the user's mail (any new user name is a new, empty mailbox)."""
        shutil.rmtree(self.mail_root / username, ignore_errors=True)

    def imap_pids(self, username: str) -> list[int]:
        """The imap processes serving `username` (verbose_proctitle shows the user)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                if title.startswith(b"dovecot/imap ") and f"[{username} ".encode() in title:
                    pids.append(int(entry.name))
        return pids


def start_dovecot() -> Dovecot:
    root = Path(tempfile.mkdtemp(prefix="contentmind-dovecot-"))
    root.chmod(0o755)  # dovecot's unprivileged helpers must reach their sockets and the mail
    server = Dovecot(root=root, owner=mail_owner())
    try:
        server.configure()
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def stop_dovecot(server: Dovecot) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


# --- a plain IMAP client for the tests (stdlib, blocking: call it in a thread) ----------------


@dataclass
class MailboxClient:
    port: int
    username: str
    password: str

    def _session(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.username, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX", flags: str | None = None) -> None:
        client = self._session()
        try:
            status, data = client.append(_q(folder), flags, None, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def messages(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID → flags of every message in the folder."""
        client = self._session()
        try:
            status, _ = client.select(_q(folder), readonly=True)
            if status != "OK":
                return {}
            status, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
            out: dict[int, set[str]] = {}
            for item in data:
                if not isinstance(item, bytes):
                    continue
                parsed = imaplib.ParseFlags(item)
                uid = int(item.split(b"UID ", 1)[1].split()[0].strip(b")"))
                out[uid] = {flag.decode() for flag in parsed}
            return out
        finally:
            client.logout()

    def folders(self) -> list[str]:
        client = self._session()
        try:
            _, data = client.list()
            lines = [line.decode() for line in data if isinstance(line, bytes)]
            return [line.rsplit(' "/" ', 1)[1].strip('"') for line in lines]
        finally:
            client.logout()

    def create(self, folder: str) -> None:
        client = self._session()
        try:
            client.create(_q(folder))
        finally:
            client.logout()

    def delete(self, folder: str) -> None:
        client = self._session()
        try:
            status, data = client.delete(_q(folder))
            assert status == "OK", data
        finally:
            client.logout()


def _q(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
