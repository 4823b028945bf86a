package workerproto

import (
	"os"
	"reflect"
	"syscall"
	"testing"
)

// TestPass: ExtraFiles[i] lands on descriptor 3+i, and FDs says so.
func TestPass(t *testing.T) {
	f := func(name string) *os.File { return os.NewFile(^uintptr(0), name) }
	ls := []*os.File{f("l0"), f("l1")}
	ctl, st, board := f("ctl"), f("status"), f("board")
	secret, err := os.CreateTemp(t.TempDir(), "tls") // a real one: Pass tells it from nil
	if err != nil {
		t.Fatal(err)
	}
	defer secret.Close()
	files, fds := Pass(ls, ctl, st, board, secret)
	want := FDs{Listen: []int{3, 4}, Control: 5, Status: 6, Board: 7, TLS: 8}
	if !reflect.DeepEqual(fds, want) {
		t.Fatalf("FDs %+v, want %+v", fds, want)
	}
	at := map[int]*os.File{3: ls[0], 4: ls[1], fds.Control: ctl, fds.Status: st, fds.Board: board, fds.TLS: secret}
	for fd, file := range at {
		if files[fd-3] != file {
			t.Errorf("descriptor %d is %s, want %s", fd, files[fd-3].Name(), file.Name())
		}
	}
	if files, fds := Pass(ls, ctl, st, board, nil); len(files) != 5 || fds.TLS != 0 {
		t.Errorf("without TLS: %d files, TLS fd %d", len(files), fds.TLS)
	}
}

// TestSecretFile: what the master puts in a secret file, a worker reads
// whole, wherever the shared offset stands.
func TestSecretFile(t *testing.T) {
	want := []byte("-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n")
	f, err := SecretFile("test", want)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadSecret(fd)
	if err != nil || string(got) != string(want) {
		t.Fatalf("read %q (%v), want %q", got, err, want)
	}
}
