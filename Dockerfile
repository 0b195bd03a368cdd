# The server image: the browser bundle is committed (static/dist), so the
# build needs only Go.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/server ./cmd/server

FROM alpine:3.22
# An unprivileged user: the process needs no root (it listens on 8080).
RUN adduser -D -H -u 10001 tickstream
COPY --from=build /out/server /usr/local/bin/server
USER tickstream
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD wget -qO- http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/server"]
