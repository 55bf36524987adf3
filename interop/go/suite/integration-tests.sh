#!/usr/bin/env bash
# amqp091-go's own integration test suite (integration_test.go and the other *_test.go files
# of the library, as Debian's golang-github-rabbitmq-amqp091-go-dev ships them), run
# unmodified against the broker at AMQP_URI: 116 tests that pass against RabbitMQ 3.10.8.
# Built in GOPATH mode offline, as the Go scenarios are.
set -euo pipefail
export GO111MODULE=off GOFLAGS= GOPROXY=off
export GOPATH=/usr/share/gocode
export GOCACHE="${INTEROP_DIR:?}/.cache/go-build"
export AMQP_URL="${AMQP_URI:?}"
exec go test -tags integration -count=1 -timeout 100s github.com/rabbitmq/amqp091-go
