package master

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// listener is a bound socket the master owns and hands to every worker.
type listener struct {
	Bind string   // as asked: "127.0.0.1:8000", "https://:8443", "unix:/run/app.sock", "fd://3", "systemd"
	Addr string   // what it is bound to
	File *os.File // the socket
	TLS  bool     // its clients speak TLS
	path string   // unix socket path to remove at exit
}

// listenOptions are the socket settings for binds.
type listenOptions struct {
	Backlog int         // listen(2) backlog; 0 = 2048 (gunicorn's default)
	Umask   os.FileMode // applied to unix socket files: mode = 0777 &^ Umask
	TLS     bool        // binds without a scheme speak TLS (--certfile, as in Gunicorn)
}

// listen binds every address in binds. When the process was started by
// systemd socket activation (LISTEN_PID/LISTEN_FDS), those sockets are used
// instead and binds is ignored, as in gunicorn.
func listen(binds []string, o listenOptions) ([]*listener, error) {
	if o.Backlog <= 0 {
		o.Backlog = 2048
	}
	if ls, err := systemdListeners(); err != nil || len(ls) > 0 {
		for _, l := range ls {
			l.TLS = o.TLS
		}
		return ls, err
	}
	var out []*listener
	for _, b := range binds {
		scheme, rest := splitScheme(b)
		l, err := listenOne(rest, o)
		if err != nil {
			closeListeners(out)
			return nil, err
		}
		l.Bind, l.TLS = b, scheme == "https" || scheme == "" && o.TLS
		out = append(out, l)
	}
	return out, nil
}

// closeListeners closes the sockets and removes unix socket files.
func closeListeners(ls []*listener) {
	for _, l := range ls {
		l.File.Close()
		if l.path != "" {
			os.Remove(l.path)
		}
	}
}

func listenOne(bind string, o listenOptions) (*listener, error) {
	switch {
	case strings.HasPrefix(bind, "unix:"):
		return listenUnix(bind, strings.TrimPrefix(bind, "unix:"), o)
	case strings.HasPrefix(bind, "fd://"):
		n, err := strconv.Atoi(strings.TrimPrefix(bind, "fd://"))
		if err != nil || n < 3 {
			return nil, fmt.Errorf("bind %s: want fd://N with an inherited listening socket, N >= 3", bind)
		}
		return fdListener(bind, n)
	}
	addr := bind
	if !strings.Contains(addr, ":") {
		addr += ":8000"
	}
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w (want HOST:PORT, [::1]:PORT, unix:PATH or fd://N, after http:// or https:// if need be)", bind, err)
	}
	family, sa := syscall.AF_INET, syscall.Sockaddr(nil)
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s4 := &syscall.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(s4.Addr[:], ip4)
		}
		sa = s4
	} else {
		family = syscall.AF_INET6
		s6 := &syscall.SockaddrInet6{Port: ta.Port}
		copy(s6.Addr[:], ta.IP.To16())
		sa = s6
	}
	fd, err := socket(family, func(fd int) error {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			return err
		}
		if family == syscall.AF_INET6 {
			syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1)
		}
		return syscall.Bind(fd, sa)
	}, o.Backlog)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", bind, err)
	}
	f := os.NewFile(uintptr(fd), bind)
	return &listener{Bind: bind, Addr: localAddr(f), File: f}, nil
}

func socket(family int, setup func(fd int) error, backlog int) (int, error) {
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := setup(fd); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func listenUnix(bind, path string, o listenOptions) (*listener, error) {
	if path == "" {
		return nil, fmt.Errorf("bind %s: want unix:/path/to/socket", bind)
	}
	// A socket file left by a dead server is removed; a live one is an error.
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("bind %s: %s exists and is not a socket", bind, path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("bind %s: another server is listening on %s", bind, path)
		}
		os.Remove(path)
	}
	old := syscall.Umask(int(o.Umask))
	fd, err := socket(syscall.AF_UNIX, func(fd int) error {
		return syscall.Bind(fd, &syscall.SockaddrUnix{Name: path})
	}, o.Backlog)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", bind, err)
	}
	return &listener{Bind: bind, Addr: "unix:" + path, File: os.NewFile(uintptr(fd), bind), path: path}, nil
}

func fdListener(bind string, n int) (*listener, error) {
	if t, err := syscall.GetsockoptInt(n, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || t != 1 {
		return nil, fmt.Errorf("bind %s: fd %d is not a listening socket", bind, n)
	}
	syscall.CloseOnExec(n)
	f := os.NewFile(uintptr(n), bind)
	return &listener{Bind: bind, Addr: localAddr(f), File: f}, nil
}

// systemdListeners returns the sockets passed by systemd socket activation.
func systemdListeners() ([]*listener, error) {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("systemd socket activation: bad LISTEN_FDS=%q", os.Getenv("LISTEN_FDS"))
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	var out []*listener
	for fd := 3; fd < 3+n; fd++ {
		l, err := fdListener("systemd", fd)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func localAddr(f *os.File) string {
	fl, err := net.FileListener(f) // dups the fd; closed below
	if err != nil {
		return f.Name()
	}
	defer fl.Close()
	if a, ok := fl.Addr().(*net.UnixAddr); ok {
		return "unix:" + a.Name
	}
	return fl.Addr().String()
}

// sdNotify sends a state line to systemd's notify socket when there is one
// (sd_notify(3): READY=1, RELOADING=1, STOPPING=1); it is a no-op otherwise.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
