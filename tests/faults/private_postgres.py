"""A private PostgreSQL server (initdb into a temporary directory, pg_ctl on a free port) that a test may
stop and start; never the machine's shared one."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from evals.load import free_port

BIN = Path(os.environ.get("SUPPORT_ROUTER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
OWNER = "postgres"
"""initdb refuses to run as root: as root, the cluster belongs to this system user instead."""


class PrivatePostgres:
    """initdb once, then `start`/`stop` as often as the test likes; `remove` deletes everything."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sr-private-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.root, OWNER)
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *command: str) -> None:
        as_owner = ["runuser", "-u", OWNER, "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*as_owner, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
