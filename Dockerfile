# ContextBay: the master (`serve`, the default) and the worker agent (`worker …`), one binary.
#
# Built from a locally built binary, without pulling anything: the base is `scratch`, and
# scripts/image-context puts the binary, the shared libraries `ldd` lists and the user's
# passwd/group entries into target/image-context/ first.
#
#   cargo build --release && scripts/image-context && docker build -t contextbay:latest .
#
# Runs as uid/gid 10001, never root; state in the /data volume (SQLite, generated secrets, the
# gRPC TLS identity). The root filesystem can be read-only (`--read-only --tmpfs /tmp`).
FROM scratch

COPY target/image-context/rootfs/ /
COPY --chown=10001:10001 target/image-context/owned/ /
COPY target/image-context/contextbay /usr/local/bin/contextbay

# MALLOC_ARENA_MAX=2 spares the master re-executing itself to set it (see src/main.rs).
ENV CB_SERVER__BIND=0.0.0.0 \
    MALLOC_ARENA_MAX=2 \
    CB_STORAGE__DATA_DIR=/data
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
# HTTP (REST, WebSocket, dashboard, /metrics) and gRPC for workers.
EXPOSE 8080 9090

# `contextbay healthcheck` asks GET /api/health on the local HTTP port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/contextbay", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/contextbay"]
CMD ["serve"]
