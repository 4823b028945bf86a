// Package errorlog is the server's error log: gunicorn's line format (or
// JSON), gunicorn's level names, the --error-logfile file that USR1
// reopens, and the relay (Relay) through which the master writes what each
// worker prints — the engine's records (NewRelayed), Python's output and
// tracebacks — to that log, so only the master writes it.
package errorlog
