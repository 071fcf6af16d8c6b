# The storage-jobs worker image: `docker build -t storage-jobs .`
FROM python:3.11-slim

COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /bin/uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PYTHONUNBUFFERED=1 \
    PATH="/app/.venv/bin:$PATH"

WORKDIR /app

# Dependencies first (cached until the lock file changes), then the project itself; the `fast`
# extra is uvloop, which the worker runs on when it is installed.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --extra fast --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --extra fast

RUN useradd --system --uid 10001 --no-create-home storagejobs
USER 10001

# The worker is PID 1 and handles SIGTERM itself: it stops taking jobs, gives running ones
# STORAGE_JOBS_SHUTDOWN_GRACE seconds, and re-queues the rest. Give the runtime grace + 5 s.
STOPSIGNAL SIGTERM
CMD ["storage-jobs", "worker"]
