# syntax=docker/dockerfile:1

# Build a static jetexport binary. The module is downloaded in its own layer,
# so a code change does not download the dependencies again.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/jetexport ./cmd/jetexport \
 && mkdir -p /out/data

# Run it on distroless: no shell or package manager, CA certificates and time
# zone data included (for webhook TLS and time zones), user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jetexport /usr/local/bin/jetexport
# The data directory of `serve`'s embedded NATS server, owned by nonroot so a
# named volume mounted on it starts writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# Inside a container the gateway must listen on every interface, and the
# signed URLs it hands out must name the address clients use (set
# JETEXPORT_PUBLIC_URL when that is not http://localhost:8080). These are
# only defaults: flags and -e JETEXPORT_... override them. The embedded NATS
# server of `serve` keeps listening on 127.0.0.1 only: it has no
# authentication.
ENV JETEXPORT_HTTP=0.0.0.0:8080 \
    JETEXPORT_PUBLIC_URL=http://localhost:8080 \
    JETEXPORT_DATA=/data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/jetexport"]
# Everything in one process, as `go run ./cmd/jetexport serve` does:
#   docker run -p 8080:8080 -v jetexport:/data jetexport serve --demo
CMD ["serve"]
