# syntax=docker/dockerfile:1
# Build: the official Swift image on Debian 12 (6.2 or later: swift-prometheus and
# swift-service-lifecycle need it); the Swift runtime is linked statically.
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends zlib1g-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product ternd \
    && swift build -c release --static-swift-stdlib --product tern \
    && install -D -m 0755 .build/release/ternd /out/ternd \
    && install -D -m 0755 .build/release/tern /out/tern

# Run: slim Debian 12 with only the runtime libraries the binaries need
# (scripts/check-container-runtime.sh checks this list against the binaries).
FROM debian:bookworm-slim
# RUNTIME-PACKAGES: libc6 libgcc-s1 libstdc++6 zlib1g libssl3
RUN apt-get update && apt-get install -y --no-install-recommends libc6 libgcc-s1 libstdc++6 zlib1g libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tern \
    && useradd --system --uid 10001 --gid tern --home-dir /var/lib/tern --shell /usr/sbin/nologin tern \
    && install -d -o tern -g tern -m 0750 /var/lib/tern
COPY --from=build /out/ternd /out/tern /usr/local/bin/
COPY Config/ternd.conf /etc/tern/ternd.conf
USER tern
# Configuration by TERN_<KEY> variables (dots as underscores), e.g. -e TERN_NUM_PARTITIONS=6.
ENV TERN_LOG_DIRS=/var/lib/tern \
    TERN_LISTENERS=PLAINTEXT://0.0.0.0:9092 \
    TERN_ADMIN_LISTENERS=0.0.0.0:9644
VOLUME /var/lib/tern
# 9092: the broker protocol; 9644: admin HTTP (/metrics, /health/live, /health/ready, /v1/cluster).
EXPOSE 9092 9644
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["tern", "--bootstrap", "127.0.0.1:9092", "cluster", "health", "--timeout-ms", "4000"]
STOPSIGNAL SIGTERM
# The descriptor limit is set at run time, not here: docker run --ulimit nofile=1048576:1048576
# (ternd raises its soft limit to the hard one and logs both; segment files use at most
# log.max.open.files of it, by default half).
ENTRYPOINT ["ternd", "--config", "/etc/tern/ternd.conf"]
