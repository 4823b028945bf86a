package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain doubles as a tiny Go HTTP server when re-executed with
// LOADGEN_TEST_SERVER=1, so that benchmarks can measure the client's CPU
// alone (the server is then another process).
func TestMain(m *testing.M) {
	if v := os.Getenv("LOADGEN_TEST_SERVER"); v != "" {
		serveFixture(v == "fast")
		return
	}
	os.Exit(m.Run())
}

// fixtureHandler answers the routes the builtin scenarios use, in Go.
func fixtureHandler() http.Handler {
	mux := http.NewServeMux()
	hello := []byte("Hello, World!")
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "13")
		w.Write(hello)
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"message":"Hello, World!"}`)
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		if size == 0 {
			size = 1 << 20
		}
		chunk := make([]byte, 64<<10)
		for size > 0 {
			n := min(size, len(chunk))
			w.Write(chunk[:n])
			w.(http.Flusher).Flush()
			size -= n
		}
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(make([]byte, size))
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		io.WriteString(w, "slept")
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(code)
	})
	return mux
}

func serveFixture(fast bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	// Exit when the parent closes our stdin: never outlive the test.
	go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	if fast {
		serveFastFixture(ln)
		return
	}
	http.Serve(ln, fixtureHandler())
}

// fixturePID is the PID of the last fixture process started.
var fixturePID int

// startFixtureProcess runs the fixture server as a child process in its own
// process group and returns its base URL; it is killed by PID at cleanup.
func startFixtureProcess(tb testing.TB) string { return startFixture(tb, "1") }

// startFastFixtureProcess is startFixtureProcess with the bare hello/upload
// server of serveFastFixture.
func startFastFixtureProcess(tb testing.TB) string { return startFixture(tb, "fast") }

func startFixture(tb testing.TB, kind string) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOADGEN_TEST_SERVER="+kind, "GOMAXPROCS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start fixture: %v", err)
	}
	fixturePID = cmd.Process.Pid
	tb.Cleanup(func() {
		stdin.Close()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatalf("fixture address: %v", err)
	}
	return "http://" + strings.TrimSpace(line)
}

func fmtSscan(s string, n *int) (int, error) {
	v, err := strconv.Atoi(s)
	*n = v
	return 1, err
}

func killPID(pid int) { syscall.Kill(pid, syscall.SIGKILL) }
