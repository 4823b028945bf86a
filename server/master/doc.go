// Package master is the `wsgikit serve` process: it validates the
// configuration, binds the listeners (TCP, unix sockets, inherited fds,
// systemd socket activation), starts the worker processes and keeps the
// right number of them serving. It is pure Go (CGO_ENABLED=0, in the
// wsgikit binary): it never imports Python and never links the engine.
//
// Its decisions are a state machine, the supervisor (supervisor.go): events
// in — a worker's status (workerproto), its exit, a timer tick, a reload,
// TTIN/TTOU — and actions out through a small process-control interface
// (procs; execProcs in procs.go starts real workers). That is where reload
// (new workers first; back to the old ones when the new code does not
// import), recycling (--max-requests, --reload-on-rss: replacement first),
// --timeout, heartbeats and the backoff between crash replacements live,
// tested without Python. A request over --timeout is told to its worker
// (workerproto.Notice), which answers it 504 and drains; a worker asked to
// stop is killed only if it is still there after --graceful-timeout. Run
// (master.go) turns signals, status pipes, exits and tickers into those
// events:
//
//	TERM      graceful stop: stop accepting, finish in-flight requests (--graceful-timeout)
//	INT, QUIT fast stop
//	HUP       graceful reload: new workers (re-importing the code) first, then the old ones drain
//	TTIN/TTOU one worker more / less
//	USR1      reopen log files (forwarded to workers)
//
// The master also serves the workers' counters to Prometheus (metrics.go),
// watches the sources for --reload (reload.go) and tells systemd its state.
package master
