// Package workerproto is the contract between the master (server/master, pure
// Go) and a worker (a Python interpreter running boot.py, then the engine
// through the _wsgikit extension): everything both sides must agree on, in
// one place.
//
//   - How a worker is started: Command runs the interpreter on boot.py with
//     the worker's Config as JSON in the WSGIKIT_WORKER environment variable.
//   - Which descriptors it inherits (FDs, laid out by Pass): the listeners,
//     a control pipe whose EOF means the master is gone, the status pipe,
//     the scoreboard.
//   - What it says on the status pipe: typed Status messages, one JSON
//     object per line, written by StatusWriter and read by StatusReader.
//   - What the master tells it on the control pipe: Notices, one JSON
//     object per line (NoticeWriter, NoticeReader): a request ran over
//     --timeout.
//   - What its exit code means (ExitImport, ExitNoExt: restarting cannot help).
//   - The scoreboard: shared memory holding each request slot's current
//     request (the threads' and the Spare's) and the worker's counters
//     (Stats), which the master reads to enforce --timeout and to export
//     metrics, even after the worker died.
//
// boot.py is the Python half; boot_test.go checks it against the constants
// and the Config fields here.
package workerproto
