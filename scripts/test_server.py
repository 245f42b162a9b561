#!/usr/bin/env python3
"""Choose, start and stop the MongoDB server that Vellum's tests talk to.

    python scripts/test_server.py start   # prints ONLY the URI on stdout
    python scripts/test_server.py stop    # stops what `start` started
    python scripts/test_server.py kind    # prints uri | docker | embedded
    python scripts/test_server.py python313  # prints the path of a CPython 3.13
                                             # (the cached build; built if missing)
    python scripts/test_server.py mongoeco-python  # the embedded server's venv python
                                                   # (mongoeco importable; built if missing)

`start` picks, in order:
  1. uri       VELLUM_TEST_MONGODB_URI, if set (printed as is; nothing started);
  2. docker    real MongoDB 7 (single-node replica set rs0) from the repo's
               docker-compose.yml, if `docker info` answers;
  3. embedded  the mongoeco emulator (scripts/mongoeco_launcher.py) under a
               CPython 3.13 venv in the cache dir, built on first use by
               scripts/build-python313.sh (needs root + apt the first time).
VELLUM_TEST_SERVER=docker|embedded forces a kind (docker then never falls back).

It waits until the server answers `hello` over the wire (minimal OP_MSG client
below, stdlib only), then prints the URI. An embedded server of this checkout
that is still alive is reused. Diagnostics go to stderr.

Environment:
  VELLUM_CACHE_DIR                 cache root (default ~/.cache/vellum): holds
                                   cpython-3.13/, mongoeco-venv/, servers/
  VELLUM_PYTHON313                 use this python3.13 instead of building one
  VELLUM_TEST_SERVER_TIMEOUT       seconds to wait for hello (default 60)
Runs with any Python >= 3.10, stdlib only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
CACHE = Path(os.environ.get("VELLUM_CACHE_DIR") or Path.home() / ".cache" / "vellum")
CACHE = CACHE.expanduser().absolute()
PY313_PREFIX = CACHE / "cpython-3.13"
VENV = CACHE / "mongoeco-venv"
REQUIREMENTS = SCRIPTS / "mongoeco-requirements.txt"
LAUNCHER = SCRIPTS / "mongoeco_launcher.py"
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKER_PORT = 27017
# One state file, log and lock per checkout.
_CHECKOUT_ID = hashlib.sha1(str(REPO).encode()).hexdigest()[:12]
SERVERS = CACHE / "servers"
STATE = SERVERS / f"{_CHECKOUT_ID}.json"
LOG = SERVERS / f"{_CHECKOUT_ID}.log"
LOCK = SERVERS / f"{_CHECKOUT_ID}.lock"
BUILD_LOCK = CACHE / "build.lock"  # the interpreter and venv are shared by all checkouts
TIMEOUT = float(os.environ.get("VELLUM_TEST_SERVER_TIMEOUT", "60"))
HEARTBEAT_MS = 300_000  # how long the embedded server may be busy with one command


class Failure(Exception):
    pass


def log(message: str) -> None:
    print(f"test_server: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Minimal wire client: OP_MSG {hello: 1, $db: "admin"} and a small BSON reader.

OP_MSG = 2013


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\x00", pos)
    return data[pos:end].decode("utf-8", "replace"), end + 1


def _bson_decode(data: bytes, pos: int = 0) -> dict:
    """Decode the common BSON types; others are skipped or kept as bytes."""
    (length,) = struct.unpack_from("<i", data, pos)
    end, pos, out = pos + length - 1, pos + 4, {}
    while pos < end:
        kind = data[pos]
        name, pos = _cstring(data, pos + 1)
        if kind == 0x01:
            (value,) = struct.unpack_from("<d", data, pos)
            pos += 8
        elif kind in (0x02, 0x0D, 0x0E):  # string, code, symbol
            (n,) = struct.unpack_from("<i", data, pos)
            value = data[pos + 4 : pos + 3 + n].decode("utf-8", "replace")
            pos += 4 + n
        elif kind in (0x03, 0x04):  # document, array
            value = _bson_decode(data, pos)
            if kind == 0x04:
                value = list(value.values())
            pos += struct.unpack_from("<i", data, pos)[0]
        elif kind == 0x05:
            (n,) = struct.unpack_from("<i", data, pos)
            value = data[pos + 5 : pos + 5 + n]
            pos += 5 + n
        elif kind == 0x07:
            value = data[pos : pos + 12].hex()
            pos += 12
        elif kind == 0x08:
            value = data[pos] == 1
            pos += 1
        elif kind in (0x09, 0x11, 0x12):  # datetime, timestamp, int64
            (value,) = struct.unpack_from("<q", data, pos)
            pos += 8
        elif kind in (0x06, 0x0A, 0x7F, 0xFF):  # undefined, null, max/min key
            value = None
        elif kind == 0x0B:  # regex
            pattern, pos = _cstring(data, pos)
            flags, pos = _cstring(data, pos)
            value = (pattern, flags)
        elif kind == 0x10:
            (value,) = struct.unpack_from("<i", data, pos)
            pos += 4
        elif kind == 0x13:
            value = data[pos : pos + 16]
            pos += 16
        else:  # 0x0C DBPointer, 0x0F code with scope: never in a hello reply
            raise ValueError(f"unsupported BSON type 0x{kind:02x}")
        out[name] = value
    return out


def _bson_hello() -> bytes:
    body = (
        b"\x10hello\x00"
        + struct.pack("<i", 1)
        + b"\x02$db\x00"
        + struct.pack("<i", 6)
        + b"admin\x00"
    )
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def wire_hello(host: str, port: int, timeout: float = 3.0) -> dict:
    """Send an OP_MSG hello and return the reply document (raises OSError)."""
    section = b"\x00" + _bson_hello()
    message = struct.pack("<iiiiI", 16 + 4 + len(section), 1, 0, OP_MSG, 0) + section
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(message)

        def read(n: int) -> bytes:
            chunks = b""
            while len(chunks) < n:
                chunk = sock.recv(n - len(chunks))
                if not chunk:
                    raise ConnectionError("connection closed by the server")
                chunks += chunk
            return chunks

        length, _req, _resp, opcode = struct.unpack("<iiii", read(16))
        payload = read(length - 16)
    if opcode != OP_MSG or payload[4] != 0:
        raise ConnectionError(f"unexpected reply (opcode {opcode})")
    return _bson_decode(payload, 5)


def wait_for_hello(
    host: str,
    port: int,
    what: str,
    *,
    proc=None,
    need_primary: bool = True,
    timeout: float = TIMEOUT,
) -> dict:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        if proc is not None and proc.poll() is not None:
            raise Failure(
                f"{what} exited with code {proc.returncode} before answering; "
                f"see {LOG}:\n{_tail(LOG)}"
            )
        try:
            reply = wire_hello(host, port)
            if reply.get("ok") in (1, 1.0) and (not need_primary or reply.get("isWritablePrimary")):
                return reply
            last = f"hello answered but not a writable primary yet: {reply.get('errmsg', '')}"
        except (OSError, ValueError, struct.error, IndexError) as error:
            last = str(error) or type(error).__name__
        if time.monotonic() >= deadline:
            hint = f"; see {LOG}" if proc is not None else ""
            raise Failure(
                f"{what} did not answer within {timeout:.0f} s ({host}:{port}: {last}){hint}"
            )
        time.sleep(0.25)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------
# State (one JSON file per checkout) and locking.


def read_state() -> dict | None:
    try:
        return json.loads(STATE.read_text())
    except (OSError, ValueError):
        return None


def write_state(state: dict) -> None:
    SERVERS.mkdir(parents=True, exist_ok=True)
    tmp = STATE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(STATE)


def clear_state() -> None:
    with contextlib.suppress(FileNotFoundError):
        STATE.unlink()


@contextlib.contextmanager
def locked(path: Path = LOCK):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def embedded_alive(state: dict | None) -> bool:
    """The state's launcher process still runs (and is ours: pid reuse check)."""
    if not state or state.get("kind") != "embedded":
        return False
    pid = state.get("pid")
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, TypeError):
        return False
    return LAUNCHER.name.encode() in cmdline and str(state.get("port")).encode() in cmdline


# --------------------------------------------------------------------------
# Choosing.


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return (
            subprocess.run(
                ["docker", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose_kind() -> str:
    if os.environ.get("VELLUM_TEST_MONGODB_URI"):
        return "uri"
    forced = os.environ.get("VELLUM_TEST_SERVER", "").strip().lower()
    if forced in ("docker", "embedded"):
        return forced
    if forced:
        raise Failure(f"VELLUM_TEST_SERVER must be docker or embedded, not {forced!r}")
    return "docker" if docker_answers() else "embedded"


# --------------------------------------------------------------------------
# docker compose (real MongoDB 7).


def compose_cmd() -> list[str]:
    base = ["-f", str(COMPOSE_FILE)]
    if (
        subprocess.run(
            ["docker", "compose", "version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        == 0
    ):
        return ["docker", "compose", *base]
    if shutil.which("docker-compose"):
        return ["docker-compose", *base]
    raise Failure("docker answers but neither `docker compose` nor docker-compose is installed")


def start_docker() -> str:
    if not docker_answers():
        raise Failure("`docker info` does not answer (is the docker daemon running?)")
    compose = compose_cmd()
    running = subprocess.run(
        [*compose, "ps", "-q", "--status", "running", "mongo"], capture_output=True, text=True
    )
    already = running.returncode == 0 and bool(running.stdout.strip())
    if not already:
        log("starting MongoDB 7 with docker compose")
        done = subprocess.run([*compose, "up", "-d"], stdout=sys.stderr, stderr=sys.stderr)
        if done.returncode != 0:
            raise Failure(f"`docker compose up -d` failed with code {done.returncode}")
    previous = read_state() or {}
    started = not already or (
        previous.get("kind") == "docker" and bool(previous.get("started_compose"))
    )
    state = {
        "kind": "docker",
        "started_compose": started,
        "port": DOCKER_PORT,
        "uri": f"mongodb://127.0.0.1:{DOCKER_PORT}/?directConnection=true",
    }
    write_state(state)
    # The healthcheck runs rs.initiate(); wait until this member is primary.
    wait_for_hello("127.0.0.1", DOCKER_PORT, "MongoDB (docker compose)", timeout=max(TIMEOUT, 120))
    return state["uri"]


def stop_docker(state: dict) -> None:
    if state.get("started_compose"):
        log("docker compose down")
        subprocess.run([*compose_cmd(), "down"], stdout=sys.stderr, stderr=sys.stderr)
    else:
        log("docker compose was already running before `start`; leaving it up")


# --------------------------------------------------------------------------
# Embedded emulator.


def _python_works(python: Path) -> bool:
    if not python.exists():
        return False
    check = (
        "import sys, ssl, sqlite3, zlib, ctypes, uuid, venv\nassert sys.version_info[:2] == (3, 13)"
    )
    return (
        subprocess.run(
            [str(python), "-c", check], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        == 0
    )


def ensure_python313() -> Path:
    override = os.environ.get("VELLUM_PYTHON313")
    if override:
        if not _python_works(Path(override)):
            raise Failure(f"VELLUM_PYTHON313={override} is not a working Python 3.13")
        return Path(override)
    python = PY313_PREFIX / "bin" / "python3.13"
    if not _python_works(python):
        log(f"building CPython 3.13 into {PY313_PREFIX} (first run only, a few minutes)")
        started = time.monotonic()
        done = subprocess.run(
            ["bash", str(SCRIPTS / "build-python313.sh"), str(PY313_PREFIX)],
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        if done.returncode != 0 or not _python_works(python):
            raise Failure(f"scripts/build-python313.sh failed (code {done.returncode})")
        log(f"CPython 3.13 built in {time.monotonic() - started:.0f} s")
    return python


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    marker = VENV / ".vellum-requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    try:
        current = marker.read_text().strip()
    except OSError:
        current = ""
    if current == wanted and _python_works(python):
        return python
    interpreter = ensure_python313()
    log(f"creating {VENV} with {interpreter}")
    started = time.monotonic()
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()
    subprocess.run(
        [str(interpreter), "-m", "venv", "--clear", str(VENV)],
        check=True,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--only-binary",
            ":all:",
            "-r",
            str(REQUIREMENTS),
        ],
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    if done.returncode != 0:
        raise Failure(f"pip install -r {REQUIREMENTS} failed (code {done.returncode})")
    check = subprocess.run(
        [str(python), "-c", "import mongoeco.wire.proxy, bson"],
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    if check.returncode != 0:
        raise Failure("mongoeco does not import in the new venv")
    marker.write_text(wanted + "\n")
    log(f"venv ready in {time.monotonic() - started:.0f} s")
    return python


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_embedded() -> str:
    state = read_state()
    if embedded_alive(state):
        try:
            wait_for_hello("127.0.0.1", state["port"], "embedded server", timeout=5)
            log(f"reusing embedded server pid {state['pid']} on port {state['port']}")
            return state["uri"]
        except Failure as error:
            log(f"stale embedded server ({error}); stopping it")
            stop_embedded(state)
    with locked(BUILD_LOCK):
        python = ensure_venv()
    for attempt in range(3):
        port = _free_port()
        SERVERS.mkdir(parents=True, exist_ok=True)
        with open(LOG, "ab") as log_file:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log_file.write(f"--- {stamp} start on port {port}\n".encode())
            log_file.flush()
            proc = subprocess.Popen(
                [str(python), str(LAUNCHER), "--host", "127.0.0.1", "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                cwd=str(CACHE),
                close_fds=True,
                start_new_session=True,
            )
        # The emulator runs one command at a time on one event loop: a command over 100 000
        # documents (create_many, update_many...) keeps it from answering the driver's
        # heartbeat for longer than the default 10 s connect timeout, which the driver's
        # monitor also waits for a heartbeat, and the driver then abandons the command.
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true&connectTimeoutMS={HEARTBEAT_MS}"
        state = {
            "kind": "embedded",
            "pid": proc.pid,
            "port": port,
            "uri": uri,
            "log": str(LOG),
            "checkout": str(REPO),
        }
        write_state(state)
        try:
            wait_for_hello("127.0.0.1", port, "embedded server", proc=proc)
        except Failure:
            if proc.poll() is not None and attempt < 2 and "Address already in use" in _tail(LOG):
                log(f"port {port} was taken meanwhile; retrying")
                continue
            stop_embedded(state)
            raise
        log(f"embedded server (mongoeco) pid {proc.pid} on port {port}; log {LOG}")
        return uri
    raise Failure("could not start the embedded server")


def stop_embedded(state: dict) -> None:
    pid = state.get("pid")
    if embedded_alive(state):
        log(f"stopping embedded server pid {pid}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while embedded_alive(state) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if embedded_alive(state):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
    clear_state()


def _reap(pid: int) -> None:
    # Only our own child (start's error path) needs reaping; otherwise a no-op.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# --------------------------------------------------------------------------
# Commands.


def cmd_start() -> int:
    kind = choose_kind()
    if kind == "uri":
        print(os.environ["VELLUM_TEST_MONGODB_URI"], flush=True)
        return 0
    with locked():
        state = read_state()
        if kind == "docker" or (state and state.get("kind") == "docker"):
            try:
                uri = start_docker()
            except (Failure, OSError) as error:
                if os.environ.get("VELLUM_TEST_SERVER", "").lower() == "docker":
                    raise
                log(f"docker failed ({error}); falling back to the embedded emulator")
                clear_state()
                uri = start_embedded()
        else:
            uri = start_embedded()
    print(uri, flush=True)
    return 0


def cmd_stop() -> int:
    if os.environ.get("VELLUM_TEST_MONGODB_URI") and not read_state():
        log("VELLUM_TEST_MONGODB_URI is set: nothing to stop")
        return 0
    with locked():
        state = read_state()
        if not state:
            log("nothing to stop")
            return 0
        if state.get("kind") == "docker":
            stop_docker(state)
            clear_state()
        else:
            if not embedded_alive(state):
                log("embedded server already gone")
            stop_embedded(state)
    return 0


def cmd_kind() -> int:
    env_uri = os.environ.get("VELLUM_TEST_MONGODB_URI")
    state = read_state()
    alive = bool(state) and (state.get("kind") == "docker" or embedded_alive(state))
    if state and alive and (not env_uri or env_uri == state.get("uri")):
        # Also when the URI that `start` printed was exported as VELLUM_TEST_MONGODB_URI.
        print(state["kind"])
    elif env_uri:
        print("uri")
    else:
        kind = choose_kind()
        log(f"no server started yet; `start` would use: {kind}")
        print(kind)
    return 0


def cmd_python313() -> int:
    with locked(BUILD_LOCK):
        print(ensure_python313(), flush=True)
    return 0


def cmd_mongoeco_python() -> int:
    with locked(BUILD_LOCK):
        print(ensure_venv(), flush=True)
    return 0


def main(argv: list[str]) -> int:
    commands = {
        "start": cmd_start,
        "stop": cmd_stop,
        "kind": cmd_kind,
        "python313": cmd_python313,
        "mongoeco-python": cmd_mongoeco_python,
    }
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return commands[argv[0]]()
    except Failure as error:
        log(f"error: {error}")
        return 1
    except subprocess.CalledProcessError as error:
        log(f"error: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
