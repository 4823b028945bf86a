package server

// Release is wsgikit's version; Version is what the server reports as
// SERVER_SOFTWARE.
const (
	Release = "0.1.0"
	Version = "wsgikit/" + Release
)
