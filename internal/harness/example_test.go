package harness_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/wsgikit/wsgikit/internal/harness"
)

// Start a server from a profile with one of wsgikit's apps, talk to it,
// read what it used, and stop it.
func ExampleStart() {
	p, err := harness.Lookup("wsgiref", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	app, err := harness.BuiltinApp("hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	inst, err := harness.Start(context.Background(), p, app, harness.Options{})
	if err != nil {
		fmt.Println(err) // names the package to install, or shows the log tail
		return
	}
	defer inst.Stop()

	resp, err := http.Get(inst.URL() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	u := inst.Usage() // the whole process tree, since Start
	fmt.Println(u.Procs >= 1, u.PeakRSSMB > 0)

	if err := inst.Stop(); err != nil { // error if any process survived
		fmt.Println(err)
	}
	// Output:
	// 200 Hello, World!
	// true true
}
