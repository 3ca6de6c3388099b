# The `orderproc serve` image: one HTTP server process on the ledger named by ORDERPROC_DB
# (a postgresql:// URL, so that several containers share one ledger: see compose.yaml).
#   docker build -t orderproc .
#   docker run -e ORDERPROC_DB=postgresql://user:password@host:5432/orderproc -p 8000:8000 orderproc
# Without ORDERPROC_DB the server keeps a SQLite ledger inside the container (lost with it).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# the build context is an allow-list (.dockerignore): the package, its data files, pyproject, README
WORKDIR /build
COPY . .
RUN pip install --no-cache-dir . && rm -rf /build/*

RUN useradd --create-home --uid 10001 --user-group orderproc
USER orderproc
WORKDIR /home/orderproc

EXPOSE 8000
# no curl in the slim image: the standard library asks /healthz (the port is the CMD's --port)
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import json, sys, urllib.request; sys.exit(json.load(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)) != {'status': 'ok'})"]

# exec form: orderproc is PID 1 and gets the SIGTERM itself (it stops within SHUTDOWN_GRACE, 3 s)
STOPSIGNAL SIGTERM
ENTRYPOINT ["orderproc"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
