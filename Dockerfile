# syntax=docker/dockerfile:1
#
# ezapi container image: `make image` (or `docker build -t ezapi .`).
#
# Stage 1 builds a static binary with the Go version pinned in go.mod and the
# same -trimpath and version ldflags as `make build`; stage 2 is distroless
# static (CA certificates, tzdata, /etc/passwd with the nonroot user, no shell).
# tests/deploy builds the binary with the `go build` line below and runs it as
# uid 65532 in an empty directory, so keep the line on one logical RUN.
#
# No HEALTHCHECK: the image has no shell or curl to run one. Orchestrators
# probe over HTTP instead: GET /livez (liveness) and GET /readyz (readiness,
# 503 while PostgreSQL or Redis does not answer); see docs/operations.md.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILDTIME=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X github.com/ez-api/ez-api/internal/app.Version=${VERSION} -X github.com/ez-api/ez-api/internal/app.Commit=${COMMIT} -X github.com/ez-api/ez-api/internal/app.BuildTime=${BUILDTIME}" -o /out/ezapi ./cmd/ezapi

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ezapi /usr/local/bin/ezapi
# Listen on every interface, JSON logs, secrets required: the container is a
# production deployment unless EZ_MODE says otherwise.
ENV EZ_MODE=production
WORKDIR /home/nonroot
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ezapi"]
CMD ["serve"]
