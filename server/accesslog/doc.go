// Package accesslog writes the access log: one line per request in
// gunicorn's --access-logformat atoms (or a JSON object with readable keys
// for them: remote_addr, request_line, status...), buffered, to a file that USR1 reopens. The engine formats a line per
// request from a Record of it; the master only validates the format.
package accesslog
