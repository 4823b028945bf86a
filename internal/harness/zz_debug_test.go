package harness

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestZZDebug(t *testing.T) {
	p, _ := Lookup(os.Getenv("DBG_PROFILE"), nil)
	app, _ := BuiltinApp(os.Getenv("DBG_APP"))
	t0 := time.Now()
	inst, err := Start(context.Background(), p, app, Options{Workers: 2, Threads: 2, LogDir: "/tmp/dbglogs"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ready %v status %d", time.Since(t0), inst.ReadyStatus)
	if os.Getenv("DBG_REQ") != "" {
		st, b, err := doRequest(inst.Addr, "GET", os.Getenv("DBG_REQ"), nil)
		t.Logf("req: %d %d %v", st, len(b), err)
	}
	t0 = time.Now()
	err = inst.Stop()
	t.Logf("stop %v %v", time.Since(t0), err)
	t.Log(inst.LogTail(30))
}
