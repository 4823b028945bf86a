package workerproto

import (
	"os"
	"reflect"
	"testing"
)

// TestPass: ExtraFiles[i] lands on descriptor 3+i, and FDs says so.
func TestPass(t *testing.T) {
	f := func(name string) *os.File { return os.NewFile(^uintptr(0), name) }
	ls := []*os.File{f("l0"), f("l1")}
	ctl, st, board := f("ctl"), f("status"), f("board")
	files, fds := Pass(ls, ctl, st, board)
	want := FDs{Listen: []int{3, 4}, Control: 5, Status: 6, Board: 7}
	if !reflect.DeepEqual(fds, want) {
		t.Fatalf("FDs %+v, want %+v", fds, want)
	}
	at := map[int]*os.File{3: ls[0], 4: ls[1], fds.Control: ctl, fds.Status: st, fds.Board: board}
	for fd, file := range at {
		if files[fd-3] != file {
			t.Errorf("descriptor %d is %s, want %s", fd, files[fd-3].Name(), file.Name())
		}
	}
}
