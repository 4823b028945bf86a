package harness

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestParseTCPTable(t *testing.T) {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	for _, tc := range []struct {
		name string
		text string
		want []tcpSocket
	}{
		{"empty", "", nil},
		{"header only", header, nil},
		{"listen and established", header +
			"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n" +
			"   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 23456 1 0000000000000000 20 4 30 10 -1\n",
			[]tcpSocket{{8080, 0, "0A", "12345"}, {8080, 50000, "01", "23456"}}},
		{"tcp6", header +
			"   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0 100 0 0 10 0\n",
			[]tcpSocket{{8080, 0, "0A", "777"}}},
		{"short and bad lines skipped", header + "   0: garbage\n   1: 0100007F:ZZZZ 00000000:0000 0A 0 0 0 0 0 9 1\n", nil},
	} {
		if got := parseTCPTable([]byte(tc.text)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestWithArgs(t *testing.T) {
	p, err := Lookup("gunicorn-gthread", nil)
	if err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(p.Command)
	q := p.WithArgs("--max-requests", "100")
	if !slices.Equal(p.Command, before) {
		t.Errorf("the original's command changed: %v", p.Command)
	}
	if want := append(slices.Clone(before), "--max-requests", "100"); !slices.Equal(q.Command, want) {
		t.Errorf("WithArgs: %v, want %v", q.Command, want)
	}
	n, err := Lookup(NginxPrefix+"gunicorn-gthread", nil)
	if err != nil {
		t.Fatal(err)
	}
	nq := n.WithArgs("--timeout", "3")
	if !slices.Equal(nq.Command, n.Command) || nq.inner.Command[len(nq.inner.Command)-1] != "3" || n.inner.Command[len(n.inner.Command)-1] == "3" {
		t.Errorf("behind nginx, the flags go to the proxied server only: %v / %v", nq.Command, nq.inner.Command)
	}
}

// forkingServer is a master that forks one worker serving keep-alive HTTP
// on the listening socket, then waits for it.
const forkingServer = `{python} -c 'import os, sys, http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("{host}", {port}), H)
if os.fork() == 0:
    srv.serve_forever()
srv.socket.close()
os.wait()' {app}`

// TestWorkersConnsSignal: the forked child is the worker, it holds the
// client's connection, and a PID outside the instance is never signalled.
func TestWorkersConnsSignal(t *testing.T) {
	t.Parallel()
	inst, err := Start(context.Background(), cmdProfile(t, forkingServer), helloApp(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	workers := inst.Workers()
	if len(workers) != 1 || workers[0] == inst.MainPID() {
		t.Fatalf("Workers() = %v (main %d), want the one forked child", workers, inst.MainPID())
	}
	conn, err := net.Dial("tcp", inst.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, _ := http.NewRequest("GET", inst.URL()+"/", nil)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The connection is accepted (the answer came), so it has its owner now.
	owner, err := inst.ConnOwner(conn.LocalAddr())
	if err != nil || owner != workers[0] {
		t.Errorf("ConnOwner = %d, %v; want the worker %d", owner, err, workers[0])
	}
	if n, err := inst.Conns(workers[0]); err != nil || n != 1 {
		t.Errorf("Conns(worker) = %d, %v; want 1", n, err)
	}
	if _, err := inst.ConnOwner(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); !errors.Is(err, ErrNoOwner) {
		t.Errorf("ConnOwner of a connection nobody has: %v, want ErrNoOwner", err)
	}
	if err := inst.Signal(os.Getpid(), syscall.SIGTERM); err == nil {
		t.Fatal("Signal to the test process itself was not refused")
	}
	if err := inst.Signal(workers[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); len(inst.Workers()) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the killed worker is still listed: %v", inst.Workers())
		}
	}
}
