"""``python -m videosense.web``: the web app alone (docker compose, ECS), on the AWS endpoint
and search index the environment names; SIGTERM stops it."""

from __future__ import annotations

import asyncio

import uvicorn

from videosense.web.hosting import web_app
from videosense.web.server import bind
from videosense.web.settings import WebSettings
from videosense_shared.aws import AwsClients
from videosense_shared.logs import configure_logging, get_logger

log = get_logger("videosense.web")


async def main() -> None:
    """Serve until SIGTERM or SIGINT (uvicorn's own handling: in-flight requests finish)."""
    settings = WebSettings()
    configure_logging(settings.common.log_level, settings.common.log_format)
    async with AwsClients(settings.common.region) as aws, web_app(aws, settings) as app:
        sock = bind(settings.host, settings.port)
        log.info("web app listening", address=f"{settings.host}:{sock.getsockname()[1]}")
        config = uvicorn.Config(app, log_level="warning", lifespan="off", proxy_headers=True)
        await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(main())
