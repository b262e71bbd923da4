"""`cuecast migrate` through a transaction pooler, as through Supabase's (port 6543): a real
PgBouncer in transaction mode, where consecutive transactions of one client land on
different server connections while other clients are busy. Prepared statements and session
state do not survive that; cuecast's migrator uses neither."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from shared import migrate
from tests import preplan

INSTALL_HINT = (
    "pgbouncer is not installed: `apt-get install pgbouncer` (Debian; .ci/run and `make test`"
    " do it when they can) or `brew install pgbouncer`"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(server: dict[str, str], port: int, folder: Path) -> Path:
    host = server.get("host") or "127.0.0.1"
    (folder / "users.txt").write_text(f'"{preplan.HOSTED_ROLE}" ""\n"postgres" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={host} port={server.get('port') or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 3\nmax_client_conn = 50\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    return ini


@pytest.fixture(scope="module")
def pooler(pg_admin_url: str) -> Iterator[int]:
    """A PgBouncer in transaction mode in front of the tests' server; its port."""
    binary = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if binary is None:
        pytest.fail(INSTALL_HINT)
    folder = Path(tempfile.mkdtemp(prefix="cuecast-pgbouncer-"))
    folder.chmod(0o755)
    port = _free_port()
    ini = _config(conninfo_to_dict(pg_admin_url), port, folder)
    command = [binary, str(ini)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = "postgres" if _user_exists("postgres") else "nobody"
        os.chown(folder, pwd.getpwnam(user).pw_uid, -1)
        command = [binary, "-u", user, str(ini)]
    log = folder / "pgbouncer.out"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(port, process, log)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening within 10 s")


def _through(url: str, port: int) -> str:
    dbname = conninfo_to_dict(url)["dbname"]
    return f"postgresql://{preplan.HOSTED_ROLE}@127.0.0.1:{port}/{dbname}"


@contextmanager
def busy(url: str, clients: int = 2) -> Iterator[None]:
    """Other clients of the same pool, each running short transactions, so that one client's
    transactions keep landing on different server connections."""
    stop = threading.Event()

    def churn() -> None:
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            while not stop.is_set():
                with conn.transaction():
                    conn.execute("select pg_sleep(0.002)")

    threads = [threading.Thread(target=churn, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def test_the_pooler_really_pools_transactions(pooler, empty_hosted_db):
    """The harness is a real transaction pooler: a prepared statement made in one
    transaction is gone in a later one."""
    url = _through(empty_hosted_db, pooler)
    with (
        busy(url),
        psycopg.connect(url, autocommit=True, prepare_threshold=0) as conn,
        pytest.raises(psycopg.errors.InvalidSqlStatementName),
    ):
        for _ in range(200):
            conn.execute("select %s::int", (1,))


@pytest.mark.parametrize("start", ["empty project", "the app's database"])
def test_migrate_through_the_transaction_pooler(pooler, start, empty_hosted_db, preplan_db):
    url = _through(empty_hosted_db if start == "empty project" else preplan_db, pooler)
    with busy(url):
        applied = migrate.migrate(url)
        assert [m.version for m in applied] == [m.version for m in migrate.discover()]
        assert migrate.migrate(url) == []
