"""A real Synapse homeserver for tests: found (or installed) in its own venv, configured
once per session in a temporary directory, started on a free loopback port and stopped
by its PID.

Synapse is a test-only dependency and never enters the bot's venv. Its interpreter is
``$FOLKMOOT_SYNAPSE_PYTHON`` if set, else ``<repo>/.venv-synapse/bin/python``, which is
created with ``pip install matrix-synapse`` when it is missing (about 30 s, once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SYNAPSE_VENV = REPO / ".venv-synapse"
SERVER_NAME = "localhost"

INSTALL_TIMEOUT = 900.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class SynapseUnavailable(RuntimeError):
    """Synapse could not be installed or started; the message says why."""


@dataclass
class Synapse:
    """A running homeserver: where to reach it and how to register users on it."""

    url: str
    port: int
    server_name: str
    shared_secret: str
    directory: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def log_tail(self, lines: int = 40) -> str:
        return _log_tail(self.directory, lines)

    def stop(self) -> None:
        """SIGTERM by PID; SIGKILL if it has not exited after ``STOP_TIMEOUT``."""
        _stop(self.process)


# ---------------------------------------------------------------- finding Synapse


def synapse_python() -> Path:
    """The interpreter of a venv where ``import synapse`` works, installing it if needed."""
    configured = os.environ.get("FOLKMOOT_SYNAPSE_PYTHON")
    if configured:
        python = Path(configured)
        if not _has_synapse(python):
            raise SynapseUnavailable(
                f"FOLKMOOT_SYNAPSE_PYTHON={configured} cannot import synapse; "
                f"install it there with `{configured} -m pip install matrix-synapse`"
            )
        return python
    python = SYNAPSE_VENV / "bin" / "python"
    if _has_synapse(python):
        return python
    _install(SYNAPSE_VENV)
    if not _has_synapse(python):
        raise SynapseUnavailable(f"{SYNAPSE_VENV} was installed but cannot import synapse")
    return python


def _has_synapse(python: Path) -> bool:
    if not python.exists():
        return False
    # Found, not imported (importing takes ~2 s): a broken install fails at the start,
    # with Synapse's own message.
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u, sys; sys.exit(not u.find_spec('synapse'))",
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return probe.returncode == 0


def _install(venv: Path) -> None:
    """``python3 -m venv <venv> && <venv>/bin/pip install matrix-synapse``, idempotent."""
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "matrix-synapse",
        ],
    ]
    if (venv / "bin" / "pip").exists():
        steps = steps[1:]
    for step in steps:
        try:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as timeout:
            raise SynapseUnavailable(
                f"installing Synapse timed out after {INSTALL_TIMEOUT:.0f} s: {' '.join(step)}"
            ) from timeout
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()[-30:]
            raise SynapseUnavailable(
                f"installing Synapse failed ({' '.join(step)} exited {done.returncode}):\n"
                + "\n".join(output)
            )


# ---------------------------------------------------------------- configuring and starting

_LOG_CONFIG = """\
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: {log}
    encoding: utf8
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
"""

_UNLIMITED = {"per_second": 10000, "burst_count": 100000}
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
    "rc_room_creation": _UNLIMITED,
    "rc_admin_redaction": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
}


def _overrides(directory: Path, port: int, shared_secret: str) -> dict[str, Any]:
    return {
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "log_config": str(directory / "log.config.yaml"),
        "registration_shared_secret": shared_secret,
        "enable_registration": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "report_stats": False,
        "enable_metrics": False,
        "bcrypt_rounds": 4,
        **_RATE_LIMITS,
    }


def start_synapse(directory: Path, *, python: Path | None = None) -> Synapse:
    """Generate a config in ``directory``, start Synapse and wait until it answers."""
    python = python or synapse_python()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "homeserver.yaml"
    generated = subprocess.run(
        [
            *(str(python), "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME),
            *("--config-path", str(config), "--data-directory", str(directory)),
            *("--generate-config", "--report-stats=no"),
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if generated.returncode != 0:
        raise SynapseUnavailable(
            f"Synapse could not generate its config (exit {generated.returncode}; if its venv "
            f"is broken, delete {python.parent.parent} to have it installed again):\n"
            + (generated.stdout + generated.stderr)[-3000:]
        )
    (directory / "log.config.yaml").write_text(
        _LOG_CONFIG.format(log=json.dumps(str(directory / "homeserver.log")))
    )
    shared_secret = secrets.token_hex(16)
    # A port taken between our probe and Synapse's bind makes it exit at once: try again.
    failure = ""
    for _attempt in range(3):
        port = _free_port()
        # JSON is YAML: Synapse reads the overrides file as YAML.
        overrides = directory / "overrides.yaml"
        overrides.write_text(json.dumps(_overrides(directory, port, shared_secret), indent=1))
        with (directory / "stdout.log").open("ab") as out:
            process = subprocess.Popen(
                [
                    str(python),
                    "-m",
                    "synapse.app.homeserver",
                    "-c",
                    str(config),
                    "-c",
                    str(overrides),
                ],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        synapse = Synapse(
            url=f"http://127.0.0.1:{port}",
            port=port,
            server_name=SERVER_NAME,
            shared_secret=shared_secret,
            directory=directory,
            process=process,
        )
        failure = _wait_until_ready(synapse, START_TIMEOUT)
        if not failure:
            return synapse
        _stop(process)
        if "exited" not in failure:
            break
    raise SynapseUnavailable(f"{failure}\n--- Synapse's log ---\n{_log_tail(directory)}")


def _wait_until_ready(synapse: Synapse, timeout: float) -> str:
    """Poll ``/_matrix/client/versions`` until 200; return "" or why it is not ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = synapse.process.poll()
        if code is not None:
            return f"Synapse exited with code {code} before answering on {synapse.url}"
        try:
            with urllib.request.urlopen(f"{synapse.url}/_matrix/client/versions", timeout=2):
                return ""
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)  # a process start: there is no event to await
    return f"Synapse did not answer on {synapse.url} within {timeout:.0f} s"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def _log_tail(directory: Path, lines: int = 40) -> str:
    parts = []
    for name in ("stdout.log", "homeserver.log"):
        path = directory / name
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"[{name}]\n" + "\n".join(text))
    return "\n".join(parts) or "(no log written)"


# ---------------------------------------------------------------- users


def register(
    synapse: Synapse, localpart: str, password: str | None = None, *, admin: bool = False
) -> tuple[str, str]:
    """Register ``localpart`` through the shared-secret admin API; ``(user_id, password)``.

    Tests share one homeserver: give each test's users a unique prefix (the ``members``
    fixture does). Blocking, ~60 ms; from async code ``asyncio.to_thread`` it if a
    running sync must not stall.
    """
    password = password or secrets.token_urlsafe(12)
    endpoint = f"{synapse.url}/_synapse/admin/v1/register"
    with urllib.request.urlopen(endpoint, timeout=10) as response:
        nonce = json.load(response)["nonce"]
    message = b"\0".join(
        [nonce.encode(), localpart.encode(), password.encode(), b"admin" if admin else b"notadmin"]
    )
    mac = hmac.new(synapse.shared_secret.encode(), message, hashlib.sha1).hexdigest()
    body = {
        "nonce": nonce,
        "username": localpart,
        "password": password,
        "admin": admin,
        "mac": mac,
    }
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            user_id = str(json.load(response)["user_id"])
    except urllib.error.HTTPError as error:
        answer = error.read().decode(errors="replace")
        raise RuntimeError(f"registering {localpart!r} failed: {error.code} {answer}") from error
    return user_id, password
