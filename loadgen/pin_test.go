package loadgen

import (
	"os/exec"
	"reflect"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParsePinning(t *testing.T) {
	tests := []struct {
		in             string
		server, client []int
		apart, ok      bool
	}{
		{"server=0 client=1", []int{0}, []int{1}, true, true},
		{"server=0;client=0", []int{0}, []int{0}, false, true},
		{"server=0-1", []int{0, 1}, nil, false, true},
		{"client=1", nil, []int{1}, false, true},
		{"server=1-0", nil, nil, false, false},
		{"server=x", nil, nil, false, false},
		{"cpu=0", nil, nil, false, false},
		{"server=4096", nil, nil, false, false},
	}
	for _, tc := range tests {
		p, err := ParsePinning(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if !tc.ok {
			continue
		}
		if !reflect.DeepEqual(p.Server, tc.server) || !reflect.DeepEqual(p.Client, tc.client) || p.Apart() != tc.apart {
			t.Errorf("%q: %+v apart=%v", tc.in, p, p.Apart())
		}
	}
}

func TestPinProcesses(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	last := runtime.NumCPU() - 1
	if err := PinProcesses([]int{cmd.Process.Pid}, []int{last}); err != nil {
		t.Fatal(err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(cmd.Process.Pid, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() != 1 || !set.IsSet(last) {
		t.Fatalf("affinity has %d CPUs, want only CPU %d", set.Count(), last)
	}
}
