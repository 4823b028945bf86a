//go:build wsgikit_ext

package main

/*
#include <stdlib.h>
#include "wsgi.h"
*/
import "C"

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/wsgikit/wsgikit/server/accesslog"
	"github.com/wsgikit/wsgikit/server/engine"
	"github.com/wsgikit/wsgikit/server/errorlog"
	"github.com/wsgikit/wsgikit/server/workerproto"
)

func main() {} // required by c-shared; never runs

// pyApp implements engine.App over the C layer.
type pyApp struct{}

// current holds the exchange each Python thread is serving, for callbacks.
var current []*engine.Exchange

func (pyApp) Serve(slot int, x *engine.Exchange) {
	current[slot] = x
	env := &x.Env
	var buf *C.char
	if len(env.Buf) > 0 {
		buf = (*C.char)(unsafe.Pointer(&env.Buf[0]))
	}
	var ents *C.wk_env_entry
	if len(env.Entries) > 0 {
		ents = (*C.wk_env_entry)(unsafe.Pointer(&env.Entries[0]))
	}
	kind := C.wk_call(C.int(slot), buf, ents, C.int(len(env.Entries)))
	s := slotOf(slot)
	switch kind {
	case C.WK_COMPLETE:
		h := headOf(s)
		x.Complete(&h, cbytes(s.out, s.out_len))
	case C.WK_STREAMED:
		x.Finish()
	case C.WK_ERROR:
		x.Fail()
	case C.WK_GONE:
		x.Fail()
	}
	current[slot] = nil
}

func slotOf(slot int) *C.wk_slot {
	return (*C.wk_slot)(unsafe.Add(unsafe.Pointer(C.wk_slots), uintptr(slot)*unsafe.Sizeof(C.wk_slot{})))
}

func cbytes(p *C.char, n C.Py_ssize_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

func headOf(s *C.wk_slot) engine.Head {
	return engine.Head{
		Status:    cbytes(s.status, s.status_len),
		Code:      int(s.code),
		Headers:   cbytes(s.hdr, s.hdr_len),
		AppCL:     int64(s.app_cl),
		HasDate:   s.has_date != 0,
		HasServer: s.has_server != 0,
	}
}

// wkSend transmits one block from the app (GIL released). It returns 0 when
// sent, 1 when the client is gone, 2 when the Content-Length is reached.
//
//export wkSend
func wkSend(slot C.int, p unsafe.Pointer, n C.size_t, total C.longlong) C.int {
	x := current[slot]
	h := headOf(slotOf(int(slot)))
	err := x.Send(&h, unsafe.Slice((*byte)(p), int(n)), int64(total))
	switch err {
	case nil:
		return 0
	case engine.ErrBodyComplete:
		return 2
	default:
		return 1
	}
}

// wkSendFile sends n bytes of the file fd from off with sendfile(2): 0 when
// sent, 1 when the client is gone.
//
//export wkSendFile
func wkSendFile(slot C.int, fd C.int, off, n C.longlong) C.int {
	x := current[slot]
	h := headOf(slotOf(int(slot)))
	if err := x.SendFile(&h, int(fd), int64(off), int64(n)); err != nil {
		return 1
	}
	return 0
}

// wkRead reads the request body for wsgi.input: bytes read, 0 at the end,
// -1 on error.
//
//export wkRead
func wkRead(slot C.int, p unsafe.Pointer, n C.size_t, line C.int) C.longlong {
	x := current[slot]
	if n == 0 {
		return 0
	}
	b := unsafe.Slice((*byte)(p), int(n))
	var got int
	var err error
	if line != 0 {
		got, err = x.ReadLine(b)
	} else {
		got, err = x.ReadBody(b)
	}
	if got > 0 {
		return C.longlong(got)
	}
	if err == io.EOF || err == nil {
		return 0
	}
	return -1
}

// logger is the worker's error log, records on stderr that the master
// writes to the error log (errorlog.Relay); app exceptions come here from C.
var logger = errorlog.NewRelayed(os.Stderr, slog.LevelInfo)

// wkLogError logs an application error with its request line and traceback;
// app is set for the application's own exceptions. One that follows a
// failed request body is the client's error (answered 4xx by
// Exchange.Fail), logged at debug like every rejected request.
//
//export wkLogError
func wkLogError(slot, app C.int, why, line, tb *C.char) {
	level, msg := slog.LevelError, C.GoString(why)
	if x := current[slot]; app != 0 && x != nil && x.ClientError() != nil {
		level, msg = slog.LevelDebug, msg+" after its request body failed ("+x.ClientError().Error()+")"
	}
	if !logger.Enabled(context.Background(), level) {
		return
	}
	args := []any{}
	if l := C.GoString(line); l != "" {
		args = append(args, "request", l)
	}
	if t := C.GoString(tb); t != "" {
		args = append(args, "traceback", t)
	}
	logger.Log(context.Background(), level, msg, args...)
}

// wkSpareSlots is how many request slots C makes beyond the threads.
//
//export wkSpareSlots
func wkSpareSlots() C.int { return workerproto.Spare }

//export wkEnvKeyCount
func wkEnvKeyCount() C.int { return C.int(len(engine.EnvKeys)) }

//export wkEnvKey
func wkEnvKey(i C.int, buf *C.char, n C.int) C.int {
	k := engine.EnvKeys[i]
	if len(k)+1 > int(n) {
		return -1
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	copy(b, k)
	b[len(k)] = 0
	return C.int(len(k))
}

// wkServe runs the engine on the inherited listeners until a stop signal,
// the master's pipe closing, or a fatal accept error. It returns the exit
// code (workerproto's).
//
//export wkServe
func wkServe(cfgp *C.char, cfglen C.int) C.int {
	cfg, err := workerproto.ParseConfig(C.GoBytes(unsafe.Pointer(cfgp), cfglen))
	if err != nil {
		logger.Error(err.Error())
		return workerproto.ExitConfig
	}
	level, _ := errorlog.ParseLevel(cfg.LogLevel)
	logger = errorlog.NewRelayed(os.Stderr, level)
	// At least two Ps, even on one CPU: while the event loop's thread is in
	// Python (a cgo call), an idle P tells sysmon there is no need to take
	// the loop's P away and hand it to another thread (server/engine/loop.go).
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	if path := os.Getenv("WSGIKIT_CPUPROFILE"); path != "" {
		// Development aid: a Go CPU profile of this worker until it stops.
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	ec := engine.ConfigFor(&cfg)
	ec.Logger = logger
	if ec.TLS, err = engine.TLSFor(&cfg); err != nil {
		logger.Error(err.Error())
		return workerproto.ExitConfig
	}
	if cfg.AccessLog != "" {
		al, err := accesslog.Open(cfg.AccessLog, cfg.AccessLogFormat, cfg.LogJSON)
		if err != nil {
			logger.Error(err.Error())
			return workerproto.ExitConfig
		}
		defer al.Flush()
		ec.AccessLog = al
	}
	if cfg.Board > 0 {
		b, err := workerproto.OpenScoreboard(cfg.Board, ec.Threads)
		if err != nil {
			logger.Error(err.Error())
			return workerproto.ExitConfig
		}
		ec.Board = b
	}
	var app engine.App = pyApp{}
	if cfg.Static {
		app = engine.StaticApp{}
	}
	current = make([]*engine.Exchange, ec.Threads+workerproto.Spare)
	eng := engine.New(ec, app)

	// Python signal handlers cannot run while the main thread is inside Go,
	// so Go owns the stop signals while serving and gives them back after.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1)
	defer signal.Reset(syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1)
	stop := make(chan time.Duration, 2)
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGUSR1: // the master reopens the error log it writes
				if ec.AccessLog != nil {
					if err := ec.AccessLog.Reopen(); err != nil {
						logger.Error(err.Error())
					}
				}
			case syscall.SIGTERM:
				stop <- ec.GracefulTimeout
			default:
				stop <- 0
			}
		}
	}()
	if cfg.Control > 0 {
		// The master's notices; it holds the write end: EOF means it is
		// gone, and a worker must never outlive its master.
		go func() {
			nr := workerproto.NewNoticeReader(os.NewFile(uintptr(cfg.Control), "control"))
			for {
				n, err := nr.Next()
				if err != nil {
					break
				}
				if !timeouts.add() {
					continue // exiting
				}
				go func() {
					defer timeouts.wg.Done()
					timedOut(eng, n)
				}()
			}
			select {
			case stop <- ec.GracefulTimeout:
			default:
			}
		}()
	}
	// The engine owns the inherited listeners from here (its loop accepts
	// on them outside Go's netpoller).
	served := make(chan error, 1)
	go func() { served <- eng.ServeFDs(cfg.Listen) }()
	if cfg.Status > 0 {
		go heartbeat(os.NewFile(uintptr(cfg.Status), "status"), eng, time.Duration(cfg.Heartbeat))
	}
	rc := workerproto.ExitOK
	grace := ec.GracefulTimeout
	select {
	case grace = <-stop:
		logger.Info(fmt.Sprintf("stopping: in-flight requests get %v", grace))
	case err := <-served:
		if err != nil { // else it drained by itself, after a timeout
			logger.Error(fmt.Sprintf("serve: %v", err))
			rc = workerproto.ExitFailed
		}
	}
	eng.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), max(grace, time.Millisecond))
	if err := eng.Shutdown(ctx); err != nil {
		logger.Warn(err.Error())
	}
	cancel()
	timeouts.wait() // their log lines, with the stacks, before the exit
	if n := eng.Abandoned(); n > 0 {
		logger.Warn(fmt.Sprintf("exiting with %d timed-out request(s) still in Python", n))
		rc = workerproto.ExitAbandoned
	}
	return C.int(rc)
}

// timeouts are the notices being handled (timedOut): the exit waits for
// their log lines.
var timeouts pending

// pending counts goroutines an exit waits for. Unlike a bare WaitGroup, it
// takes none once the wait began (a WaitGroup must not grow from zero while
// waited for).
type pending struct {
	mu      sync.Mutex
	exiting bool
	wg      sync.WaitGroup
}

// add counts one more, unless the wait began.
func (p *pending) add() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exiting {
		return false
	}
	p.wg.Add(1)
	return true
}

func (p *pending) wait() {
	p.mu.Lock()
	p.exiting = true
	p.mu.Unlock()
	p.wg.Wait()
}

// timedOut handles the master's notice that a request ran over --timeout:
// the engine answers it (504, or a reset when its response had begun)
// without the GIL, and the worker drains; the log names the request and
// shows where its thread is stuck.
func timedOut(eng *engine.Engine, n workerproto.Notice) {
	line, answered, ok := eng.TimeOut(n.Slot, n.Start)
	if !ok {
		return // it ended meanwhile
	}
	how := "answered 504"
	if !answered {
		how = "its response had begun: the connection was reset"
	}
	logger.Error("request ran over --timeout: "+how+"; the worker drains and exits", "request", line, "stack", pyStack(n.Slot))
}

// pyStack is the Python stack of the thread running slot's request. It
// waits a few seconds at most for the GIL (a C extension may hold it).
func pyStack(slot int) string {
	got := make(chan string, 1)
	go func() {
		p := C.wk_stack(C.int(slot))
		if p == nil {
			got <- "(unavailable)"
			return
		}
		defer C.free(unsafe.Pointer(p))
		got <- C.GoString(p)
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(3 * time.Second):
		return "(unavailable: the GIL stayed held)"
	}
}

// heartbeat tells the master the worker is ready, then that it is alive
// (counters are in the shared scoreboard); a write error means the master is gone.
func heartbeat(f *os.File, eng *engine.Engine, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	w := workerproto.NewStatusWriter(f)
	if w.Send(workerproto.Ready) != nil {
		return
	}
	tick := time.NewTicker(every)
	limit := eng.LimitReached
	for {
		select {
		case <-tick.C:
			if w.Send(workerproto.Beat) != nil {
				return
			}
		case <-limit:
			limit = nil
			if w.Send(workerproto.Recycle) != nil {
				return
			}
		}
	}
}
