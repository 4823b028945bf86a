// Package engine is the HTTP/1.1 server that runs inside each worker
// process: it owns the client connections, parses requests (server/http1),
// builds the WSGI environ, hands each request to a Python thread through the
// App interface (the _wsgikit extension implements it; tests implement it in
// Go) and frames the responses. It never starts processes and never talks
// to the master but through the scoreboard (workerproto); the master does
// not link it.
//
// # The life of a connection
//
// One event loop (loop.go) owns every socket through its own epoll instance,
// outside Go's netpoller; loop.go says why.
//
//  1. Accept. The loop accepts on the inherited listeners (loopconns.go:
//     accept) and makes a conn (conn.go): a non-blocking fdConn (fdconn.go),
//     an http1.Reader, and the peer's address. A peer in --proxy-allow-from
//     must first send a PROXY header (proxy.go). The connection waits in the
//     epoll set (edge-triggered) with the header timeout as its deadline.
//     On a TLS listener, a goroutine first runs the handshake, waiting in
//     Go's netpoller within the same deadline, and hands the connection
//     back; from then on the loop reads and writes records without
//     blocking through crypto/tls over the same descriptor (tls.go).
//
//  2. Read. When its socket is readable, the loop pumps the connection
//     without blocking (conn.pump): the PROXY header, then the rest of a body
//     the previous request left unread (discarded), then the next request
//     head. An incomplete head parks it again; a bad one is answered with a
//     4xx and closes it; a complete one is queued for a Python thread.
//
//  3. Dispatch (dispatch.go). With one Python thread the loop runs the
//     request itself, so a request costs no thread switch. With more,
//     a runner goroutine per busy slot runs queued requests one after the
//     other and gives each connection back to the loop when it must wait.
//     Either way one slot runs one request at a time, and a slow client
//     never holds one: only parsed requests reach Python.
//
//  4. Run (conn.handle). The environ is built from the request and the
//     connection (environ.go; a trusted proxy's X-Forwarded-*/Forwarded
//     fields count, proxy.go), the slot is marked busy in the scoreboard
//     (what the master's --timeout reads), and App.Serve gets an Exchange.
//
//  5. Respond (exchange.go). The application ends the Exchange with
//     Complete (the whole body at once: one write), or Send… then Finish
//     (streamed: each block goes out before Send returns), or SendFile
//     (sendfile(2) for wsgi.file_wrapper; read+write over TLS), or Fail (a
//     500 if nothing was sent, else the connection is cut so the client
//     cannot take a truncated body as complete). Framing (Content-Length, chunked, close-delimited)
//     is decided when the head goes out. Writes from the Python thread that
//     find the socket full wait in poll(2) up to the I/O timeout; pipelined
//     responses are flushed together.
//
//  6. Next. After the response the request is counted (Stats, the access
//     log), and the connection either closes (Connection: close, an error,
//     a draining engine) or goes back to step 2: at once when the client
//     already pipelined its next request, else when epoll says bytes came.
//     A close while the client may still be sending lingers first
//     (linger.go): a half-close, then the client's bytes are dropped until
//     it closes, so no reset discards the responses on their way.
//     An idle keep-alive connection ends at its deadline; a head that
//     started but did not complete in time gets a 408.
//
//  7. Stop. Drain closes the listeners (the master's sockets stay open:
//     what waits in the accept queue goes to the other workers). Every
//     request already on its way is served, with "Connection: close": the
//     one in flight on each connection, and the next one on a kept-alive
//     connection. A connection waiting for a request closes only once it
//     has been quiet for drainQuiet (loopconns.go says why), so the engine
//     never closes a connection under a request the client is sending.
//     Shutdown waits for them until its context ends, then cuts what is
//     left (shutdown(2)); a request still in Python ends at its next write.
//
// Only the loop touches a connection, except while one of its requests is
// queued or running (conn.busy): then the runner holding it does, and the
// loop only notes that its socket had an edge.
//
// # A request over --timeout
//
// The master tells the worker, which calls TimeOut (timeout.go): the engine
// takes the exchange from the application between two of its calls
// (Exchange.mu) and answers 504 with "Connection: close" (a reset when the
// response began), without Python. The application keeps its thread until
// it returns; its calls do nothing from then on. The engine drains, with
// the spare slot in place of the stuck one; with one thread the loop's own
// goroutine is the stuck one, so a new goroutine takes the loop over and
// runners serve from then on. The engine stops once the rest is done,
// without waiting for the stuck request (Abandoned).
package engine
