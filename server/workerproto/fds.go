package workerproto

import "os"

// firstFD is where a child's inherited descriptors start: os/exec gives
// ExtraFiles[i] the descriptor 3+i.
const firstFD = 3

// FDs says where a worker finds the descriptors its master passed.
type FDs struct {
	Listen  []int `json:"listen_fds"` // the listening sockets
	Control int   `json:"control_fd"` // read end of a pipe the master holds: EOF means it is gone
	Status  int   `json:"status_fd"`  // write end of the status pipe (StatusWriter)
	Board   int   `json:"board_fd"`   // the scoreboard's shared memory (OpenScoreboard)
	TLS     int   `json:"tls_fd"`     // the TLS material (ReadSecret, tlsconf.Unmarshal); 0: none
}

// Pass lays out a worker's descriptors: the files to give exec.Cmd.ExtraFiles,
// and where each lands in the worker. Listeners come first, then control,
// status and board, then the TLS material when there is some (tls nil: none).
func Pass(listeners []*os.File, control, status, board, tls *os.File) ([]*os.File, FDs) {
	files := append(append([]*os.File{}, listeners...), control, status, board)
	var fds FDs
	for i := range listeners {
		fds.Listen = append(fds.Listen, firstFD+i)
	}
	n := firstFD + len(listeners)
	fds.Control, fds.Status, fds.Board = n, n+1, n+2
	if tls != nil {
		files = append(files, tls)
		fds.TLS = n + 3
	}
	return files, fds
}
