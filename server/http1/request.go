package http1

// Header is one field as received: Name keeps its case; Value has OWS trimmed.
type Header struct{ Name, Value []byte }

// Request is one parsed request head. Its byte slices alias the Reader's buffer and
// stay valid until the next ReadRequest or the first Body read, whichever comes first.
type Request struct {
	Method        []byte
	Target        []byte   // request-target exactly as sent
	Path          []byte   // path part, still percent-encoded ("*" for asterisk-form; "/" when an absolute-form URI has none; empty for authority-form)
	Query         []byte   // after '?', without it; nil when there is no '?'
	Major, Minor  int      // 1.0 or 1.1
	Headers       []Header // all fields, in order (reused: no allocation in steady state)
	Host          []byte   // the Host field value (or the authority of an absolute-form or authority-form target)
	ContentLength int64    // -1 when absent (and always -1 when Chunked)
	Chunked       bool
	KeepAlive     bool // persistence after this request per RFC 9112 §9.3 (version + Connection tokens)
	Expect100     bool // Expect: 100-continue (case-insensitive); only for HTTP/1.1 (no 1xx to 1.0 clients)
	AbsoluteForm  bool

	// ExpectOther is set when an Expect field holds something other than
	// 100-continue; the server MAY answer 417 (RFC 9110 §10.1.1).
	ExpectOther bool
	// ConnectionClose is set when a Connection field lists "close".
	ConnectionClose bool
}

// Reset clears r for reuse, keeping the Headers backing array.
func (r *Request) Reset() {
	h := r.Headers[:0]
	*r = Request{Headers: h, ContentLength: -1}
}

// Header returns the value of the first field named name (ASCII case-insensitive;
// name must be lower case), or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.Headers {
		if EqualFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// HasBody reports whether a body follows the head (chunked or Content-Length > 0).
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }
