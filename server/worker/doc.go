//go:build wsgikit_ext

// Command worker is the _wsgikit CPython extension (built with
// -buildmode=c-shared): the only cgo in wsgikit. boot.py (server/workerproto)
// imports it and calls serve(app, config); the engine (server/engine) then
// serves on the inherited listeners and runs the app on a pool of Python
// threads, one cgo call per request (wsgi.c holds the Python side: environ,
// start_response, wsgi.input, wsgi.file_wrapper). It reports to the master
// on the status pipe, has the engine answer a request the master says ran
// over --timeout (logged with its thread's Python stack), and stops on TERM,
// INT, QUIT or when the master's control pipe closes.
package main
