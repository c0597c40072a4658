"""The web app: the library, a video's page and search, on a JSON API (FastAPI, served by
uvicorn). :func:`~videosense.web.app.create_app` builds it over injected clients and a search
index; ``videosense up`` serves it beside the embedded stack and ``python -m videosense.web``
alone (docker compose, ECS). See ``docs/architecture.md`` ("The web app")."""
