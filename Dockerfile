# The darkroom worker image used by docker-compose.yml.
FROM python:3.11-slim
# rdkit's drawing links these X libraries (STACK_NOTES.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libxrender1 libxext6 libx11-6 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sdk sdk
COPY pipeline pipeline
COPY workers workers
RUN pip install --no-cache-dir ".[all]"
USER nobody
ENTRYPOINT ["darkroom"]
CMD ["worker"]
