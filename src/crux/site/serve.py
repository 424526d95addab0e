"""``crux serve``: Datasette 0.65 on the published snapshot, read-only and immutable."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

from ..errors import CruxError, MissingExtra
from .export import metadata_path, write_metadata


def datasette_command(snapshot: Path, *, host: str, port: int) -> list[str]:
    meta = metadata_path(snapshot)
    if not meta.exists():
        write_metadata(snapshot)
    return [sys.executable, "-m", "datasette", "serve", "-i", str(snapshot), "-m", str(meta),
            "--host", host, "--port", str(port), "--setting", "sql_time_limit_ms", "3000"]


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise CruxError(f"cannot listen on {host}:{port} ({e.strerror}); "
                            "choose another with --port") from None


def serve(snapshot: Path, *, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Run Datasette until Ctrl-C."""
    if importlib.util.find_spec("datasette") is None:
        raise MissingExtra("Serving the site", "site", "datasette")
    if not snapshot.exists():
        raise CruxError(f"{snapshot}: no published snapshot; run: crux publish")
    _check_port(host, port)
    cmd = datasette_command(snapshot, host=host, port=port)
    print(f"Serving {snapshot.name} at http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    proc = subprocess.Popen(cmd)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return
    if code:
        raise CruxError(f"Datasette exited with status {code}")
