// Package errorlog is the server's error log: gunicorn's line format (or
// JSON) for the master's and the workers' loggers, gunicorn's level names,
// and the --error-logfile file that is every worker's stderr and that USR1
// reopens.
package errorlog
