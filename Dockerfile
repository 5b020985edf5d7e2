# eksaudit: the standalone binary and the Falco plugin (libeksaudit.so) in one image.
#
#   docker build -t eksaudit .
#   docker run --rm eksaudit replay                      # bundled sample events, bundled rules
#   docker run --rm -v "$PWD/logs:/logs" eksaudit replay /logs
#
# The plugin is at /usr/share/falco/plugins/libeksaudit.so: copy it into a Falco image,
# or mount it (see falco-config/falco.yaml).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY tests ./tests
COPY rules ./rules
RUN cargo build --release --locked --lib --bin eksaudit

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/eksaudit /usr/local/bin/eksaudit
COPY --from=build /src/target/release/libeksaudit.so /usr/share/falco/plugins/libeksaudit.so
COPY rules /etc/eksaudit/rules
COPY falco-config /etc/eksaudit/falco-config
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/eksaudit"]
CMD ["--help"]
