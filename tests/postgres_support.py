"""A real PostgreSQL server for the tests and benchmarks: Debian's binaries, a temporary cluster on loopback.

``PostgresServer.start()`` runs ``initdb`` in a temporary folder and ``postgres`` on a free port of
127.0.0.1 (as the ``postgres`` user when we are root: the server refuses root). The cluster trusts
its superuser on the socket only; the test user ``mm`` logs in over TCP with a real password
(scram-sha-256), so the tests have a password to hide and a wrong one is refused.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

USER, PASSWORD = "mm", "s3cret-Pg-pw"


def find_bindir() -> str | None:
    """The folder of ``initdb`` and ``postgres``: on PATH, from ``pg_config``, or Debian's ``/usr/lib/postgresql/N/bin``."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return os.path.dirname(os.path.realpath(on_path))
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder; ``url(db)`` is a store URL for one of its databases."""

    def __init__(self, bindir: str, durable: bool = False):
        self.bindir, self.durable = bindir, durable
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="mm-postgres-")
        self.process: subprocess.Popen | None = None
        self._owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    @classmethod
    def start(cls, durable: bool = False) -> PostgresServer:
        """A running server, or RuntimeError saying why none could be started."""
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb): apt-get install postgresql")
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' user to run the server as: apt-get install postgresql creates it") from None
        server = cls(bindir, durable)
        try:
            server._run()
        except BaseException:
            server.stop()
            raise
        return server

    def _as_owner(self) -> dict:
        return {"user": self._owner.pw_uid, "group": self._owner.pw_gid} if self._owner else {}

    def _run(self) -> None:
        data, sockets = os.path.join(self.folder, "data"), os.path.join(self.folder, "sockets")
        os.makedirs(sockets)
        if self._owner:
            for path in (self.folder, sockets):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        subprocess.run(
            [os.path.join(self.bindir, "initdb"), "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, cwd=self.folder, **self._as_owner(),
        )  # fmt: skip
        settings = ["-c", "listen_addresses=127.0.0.1", "-p", str(self.port), "-k", sockets, "-c", "max_connections=200"]
        if not self.durable:  # a throw-away cluster: no fsync (a crash of the machine would lose it, which is fine)
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.log = os.path.join(self.folder, "server.log")
        with open(self.log, "w") as log:
            if self._owner:
                os.chown(self.log, self._owner.pw_uid, self._owner.pw_gid)
            self.process = subprocess.Popen([os.path.join(self.bindir, "postgres"), "-D", data, *settings], stdout=log, stderr=subprocess.STDOUT, cwd=self.folder, **self._as_owner())
        self.sockets = sockets
        deadline = time.monotonic() + 60
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the PostgreSQL server did not start:\n{open(self.log).read()[-2000:]}")
            time.sleep(0.1)
        self.admin(f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{PASSWORD}'")

    def _accepts(self) -> bool:
        import psycopg

        try:
            psycopg.connect(host=self.sockets, port=self.port, user="postgres", dbname="postgres", connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def admin(self, *statements: str) -> None:
        """Run ``statements`` as the superuser (autocommit: CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(host=self.sockets, port=self.port, user="postgres", dbname="postgres", autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def url(self, database: str, password: str = PASSWORD) -> str:
        return f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str = "template0") -> str:
        """A fresh empty database (or a copy of ``template``) owned by the test user; returns its name."""
        name = "mm_" + uuid.uuid4().hex[:16]
        self.admin(f"CREATE DATABASE {name} OWNER {USER} TEMPLATE {template}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: clients still connected are disconnected
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def copy_sqlite_store(sqlite_file, url: str) -> None:
    """Rebuild the SQLite store ``sqlite_file`` (tables, indexes, rows) in the empty PostgreSQL database at ``url``.

    So a store of an earlier schema, as the mlops_magic of its time would have created it there,
    can be migrated on PostgreSQL: its tables come from reflecting the SQLite file, its rows are
    copied, and each serial column's sequence is moved past the copied ids."""
    from sqlalchemy import MetaData, create_engine, func, select, text

    source, target = create_engine(f"sqlite:///{sqlite_file}"), create_engine(url)
    tables = MetaData()
    tables.reflect(source)
    try:
        with source.connect() as reader, target.begin() as writer:
            tables.create_all(writer)
            for table in tables.sorted_tables:
                rows = [dict(row._mapping) for row in reader.execute(select(table))]
                if rows:
                    writer.execute(table.insert(), rows)
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (column.autoincrement == "auto" and len(table.primary_key.columns) == 1 and column.type.python_type is int):
                        highest = writer.execute(select(func.max(column))).scalar()
                        if highest is not None:
                            writer.execute(text("SELECT setval(pg_get_serial_sequence(:t, :c), :n)"), {"t": table.name, "c": column.name, "n": highest})
    finally:
        source.dispose()
        target.dispose()
