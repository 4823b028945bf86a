package workerproto

// A worker's exit codes. Any other code, or a signal, is a crash the master
// answers with a replacement.
const (
	ExitOK     = 0
	ExitFailed = 1 // the engine stopped on an error (it is logged)
	ExitConfig = 2 // the worker could not use its Config (e.g. the access log does not open)
	ExitImport = 3 // the application could not be imported: restarting cannot help
	ExitNoExt  = 4 // no _wsgikit build for the interpreter: restarting cannot help
	// ExitAbandoned: the worker stopped while a request that ran over
	// --timeout still held a thread; it exits without finalizing Python.
	ExitAbandoned = 5
)

// Permanent reports whether a worker that exited with code cannot be helped
// by a restart.
func Permanent(code int) bool { return code == ExitImport || code == ExitNoExt }
