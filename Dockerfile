# The govcat CLI, run against the Postgres of docker-compose.yml.
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY catalog ./catalog
COPY ingest ./ingest
COPY policies ./policies
COPY processing ./processing
COPY reports ./reports
COPY samples ./samples
RUN pip install --no-cache-dir .
ENV GOVCAT_HOME=/data
VOLUME ["/data"]
ENTRYPOINT ["govcat"]
CMD ["--help"]
