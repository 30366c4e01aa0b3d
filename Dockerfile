# m365ctl container image: a static (musl) binary on an empty base, running as a non-root user.
#
#   docker build -t m365ctl .                      # builds the binary from this checkout
#   docker run --rm -v "$PWD:/work" -w /work m365ctl plan -c .
#
# The release workflow builds the `prebuilt` target from the release's own Linux binaries
# (prebuilt/<arch>/m365ctl), so the image holds exactly the files listed in SHA256SUMS.

FROM rust:1.89-alpine AS build
# aws-lc (TLS and JWT signing) is C: compiled against musl here, so the binary is static.
RUN apk add --no-cache musl-dev build-base cmake perl ca-certificates
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && mkdir -p /out && cp target/release/m365ctl /out/m365ctl

# The TLS roots the binary needs to reach Microsoft (and nothing else from the build stage).
FROM alpine:3.22 AS certs
RUN apk add --no-cache ca-certificates

FROM scratch AS runtime
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/m365ctl /usr/local/bin/m365ctl
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/m365ctl"]

FROM scratch AS prebuilt
ARG TARGETARCH
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY prebuilt/${TARGETARCH}/m365ctl /usr/local/bin/m365ctl
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/m365ctl"]

# The default target: built from source.
FROM runtime
