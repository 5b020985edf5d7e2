# eksaudit images, from one build of the plugin (libeksaudit.so) and the binary (eksaudit).
#
#   docker build --target forwarder -t eksaudit .          # the binary only, non-root
#   docker run --rm eksaudit replay                         # bundled samples, bundled rules
#   docker run --rm -v "$PWD/logs:/logs:ro" eksaudit replay /logs
#
#   docker build --target falco -t eksaudit-falco .         # Falco 0.44.1 + plugin + rules
#   docker run --rm eksaudit-falco                          # falco-config/kinesis.yaml
#   docker run --rm -v "$PWD/logs:/var/log/eks-audit:ro" eksaudit-falco \
#     /usr/bin/falco -c /etc/eksaudit/falco-config/falco.yaml --enable-source k8s_audit
#
# Kinesis and CloudWatch modes need the AWS sources (until they land the plugin answers
# "not supported yet"); mount your own copy of kinesis.yaml to name your stream.
#
# The build command below is the one .ci/run runs (it checks that they are the same), so
# what CI builds and tests is what goes into the images.

ARG RUST_IMAGE=rust:1.95-bookworm
# Falco 0.44.1, Debian flavour: it has a shell and falcoctl, which the falco stage uses.
# The plugin needs Falco 0.41 or newer (plugin API 3.11).
ARG FALCO_IMAGE=falcosecurity/falco:0.44.1-debian

# --- builder: the plugin and the binary -----------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
COPY tests ./tests
COPY rules ./rules
RUN cargo build --release --locked

# --- forwarder: the eksaudit binary alone, as an unprivileged user ---------------------
FROM debian:bookworm-slim AS forwarder
# ca-certificates: the AWS sources speak TLS. Not pinned to a Debian version string: it
# follows the base image's point releases, which a pin would break.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin eksaudit
COPY --from=builder /src/target/release/eksaudit /usr/local/bin/eksaudit
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/eksaudit"]
CMD ["--help"]

# --- falco: Falco with eksaudit in place of its k8saudit-eks plugin --------------------
FROM ${FALCO_IMAGE} AS falco
# No kernel driver: the image's entrypoint must not try to load one.
ENV SKIP_DRIVER_LOADER=1
# The json plugin (jevt.*/json.* fields, needed by Falco's upstream k8s audit rules).
RUN falcoctl artifact install json:0.7 --plugins-dir /usr/share/falco/plugins
COPY --from=builder /src/target/release/libeksaudit.so /usr/share/falco/plugins/libeksaudit.so
COPY rules/eksaudit_rules.yaml /etc/eksaudit/rules/eksaudit_rules.yaml
COPY falco-config /etc/eksaudit/falco-config
# The syscall source stays closed (no driver): only k8s_audit events are read.
CMD ["/usr/bin/falco", "-c", "/etc/eksaudit/falco-config/kinesis.yaml", "--enable-source", "k8s_audit"]
