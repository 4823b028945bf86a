package engine

// StaticApp answers every request with a fixed hello-world response without
// calling Python: the ceiling the engine reaches on its own, against which
// the Python path is measured (`wsgikit serve --static`, make bench-serve).
type StaticApp struct{}

var (
	staticHead = Head{Status: []byte("200 OK"), Code: 200, Headers: []byte("Content-Type: text/plain\r\n"), AppCL: -1}
	staticBody = []byte("Hello, World!")
)

// Serve implements App.
func (StaticApp) Serve(slot int, x *Exchange) {
	h := staticHead
	x.Complete(&h, staticBody)
}
