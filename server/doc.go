// Package server is wsgikit's reference WSGI server. This package holds its
// version and the end-to-end tests that run the built binary against real
// interpreters (serve_test.go, process_test.go, promises_test.go); the
// server itself is in the packages below it:
//
//   - master: the `wsgikit serve` process, pure Go; binds the sockets and
//     supervises the workers.
//   - workerproto: the contract between master and worker: the worker's
//     configuration, inherited descriptors, status messages, exit codes,
//     the shared scoreboard, and boot.py, the worker's Python entry point.
//   - worker: the _wsgikit CPython extension (the only cgo), which a worker
//     imports to run the engine.
//   - engine: the HTTP/1.1 server inside a worker: connections, the event
//     loop, environ, responses.
//   - http1: the strict HTTP/1.1 request parser and response helpers.
//   - accesslog, errorlog, ipset: the access log, the error log, and sets of
//     trusted peers; the engine uses them, the master validates their flags.
//
// The master links neither the engine nor cgo: `go list -deps ./cmd/wsgikit`
// shows no server/engine.
package server
