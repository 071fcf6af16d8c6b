"""``storage-jobs dashboard``: serve the web dashboard."""

from __future__ import annotations

import ipaddress
import socket

import click

from ..logs import configure_logging
from ._redis_session import load_settings

__all__ = ["dashboard", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
def dashboard(host: str, port: int) -> None:
    """Serve the web dashboard (queues, jobs, migrations, dead letters, workers).

    Set STORAGE_JOBS_DASHBOARD_TOKEN to require a login; without one the dashboard only
    listens on a loopback address. STORAGE_JOBS_DASHBOARD_ACTIONS=true enables replay and drop.
    It answers to loopback names, --host and STORAGE_JOBS_DASHBOARD_HOSTS only.
    """
    settings = load_settings()
    token = settings.dashboard_token
    if not is_loopback(host) and (token is None or not token.get_secret_value()):
        raise click.UsageError(
            f"refusing to listen on {host} without STORAGE_JOBS_DASHBOARD_TOKEN "
            "(anyone reaching it could read the queue); set a token or use 127.0.0.1"
        )
    configure_logging(settings)
    if not _is_wildcard(host):  # its own address is a name it is served under
        hosts = [*settings.dashboard_hosts, host]
        settings = settings.model_copy(update={"dashboard_hosts": hosts})
    elif not settings.dashboard_hosts:
        click.echo(
            "dashboard: answering only to loopback names; set STORAGE_JOBS_DASHBOARD_HOSTS "
            "to the names it is reached under"
        )
    # Imported here: only this command serves HTTP.
    import uvicorn

    from ..dashboard import create_app

    click.echo(f"dashboard: http://{host}:{port}/ (queue {settings.queue_name})")
    # Forwarded headers are the app's to judge (STORAGE_JOBS_DASHBOARD_TRUSTED_PROXIES).
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
