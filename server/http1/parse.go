package http1

import "bytes"

// Parse parses one request head from buf (no I/O). It returns the bytes consumed (the whole
// head including the blank line), or ErrIncomplete when buf does not yet hold a full head and
// no error is detectable yet, or an *Error. It enforces Limits (an incomplete head already
// over a limit is an error, so slow clients cannot make it buffer forever).
// Leading CRLFs before the request-line are skipped (RFC 9112 §2.2), at most 16 of them.
//
// Only complete lines are checked for syntax, so for any buf that Parse accepts,
// every proper prefix of the head yields ErrIncomplete: splitting a request at
// arbitrary points never changes the verdict.
//
// lim may be nil (DefaultLimits); zero head limits mean the defaults.
func Parse(buf []byte, req *Request, lim *Limits) (int, error) {
	var l Limits
	if lim != nil {
		l = lim.normalized()
	} else {
		l = DefaultLimits()
	}
	return parse(buf, req, &l)
}

// parse is Parse with normalized limits.
func parse(buf []byte, req *Request, l *Limits) (int, error) {
	req.Reset()
	pos := 0

	// Leading empty lines (RFC 9112 §2.2), CRLF only.
	for i := 0; ; i++ {
		if pos >= len(buf) {
			return 0, ErrIncomplete
		}
		c := buf[pos]
		if c == '\n' {
			return 0, errBareLF
		}
		if c != '\r' {
			break
		}
		if pos+1 >= len(buf) {
			return 0, ErrIncomplete
		}
		if buf[pos+1] != '\n' {
			return 0, errBareCR
		}
		if i >= maxLeadingEmptyLines {
			return 0, errTooManyEmptyLines
		}
		pos += 2
	}

	// Request-line.
	lf := bytes.IndexByte(buf[pos:], '\n')
	if lf < 0 {
		if len(buf)-pos > l.MaxRequestLine+1 { // +1: a CR may be waiting for its LF
			return 0, errURITooLong
		}
		if len(buf) > l.MaxHeadBytes {
			return 0, errHeadTooLarge
		}
		return 0, ErrIncomplete
	}
	if lf == 0 || buf[pos+lf-1] != '\r' {
		if lf > l.MaxRequestLine {
			return 0, errURITooLong
		}
		return 0, errBareLF
	}
	line := buf[pos : pos+lf-1]
	if len(line) > l.MaxRequestLine {
		return 0, errURITooLong
	}
	if err := parseRequestLine(line, req); err != nil {
		return 0, err
	}
	pos += lf + 1
	if pos > l.MaxHeadBytes {
		return 0, errHeadTooLarge
	}

	// Field lines.
	var (
		hosts      int
		clSeen     bool
		teSeen     bool
		teChunked  bool // the last coding seen so far is chunked
		teUnknown  bool
		keepAlive  bool
		closeConn  bool
		expect100  bool
		expectElse bool
	)
	for {
		lf := bytes.IndexByte(buf[pos:], '\n')
		if lf < 0 {
			if len(buf)-pos > l.MaxFieldSize+1 {
				return 0, errFieldTooLong
			}
			if len(buf) > l.MaxHeadBytes {
				return 0, errHeadTooLarge
			}
			return 0, ErrIncomplete
		}
		if lf == 0 || buf[pos+lf-1] != '\r' {
			if lf > l.MaxFieldSize {
				return 0, errFieldTooLong
			}
			return 0, errBareLF
		}
		line := buf[pos : pos+lf-1]
		pos += lf + 1
		if len(line) > l.MaxFieldSize {
			return 0, errFieldTooLong
		}
		if pos > l.MaxHeadBytes {
			return 0, errHeadTooLarge
		}
		if len(line) == 0 {
			break
		}
		if isOWS(line[0]) {
			// obs-fold, or whitespace between the request-line and the
			// first field (RFC 9112 §2.2, §5.2): refused, never joined.
			return 0, errObsFold
		}
		if len(req.Headers) >= l.MaxHeaderFields {
			return 0, errTooManyFields
		}
		name, value, err := splitField(line)
		if err != nil {
			return 0, err
		}
		req.Headers = append(req.Headers, Header{Name: name, Value: value})

		switch len(name) {
		case 4:
			if EqualFold(name, "host") {
				hosts++
				if hosts > 1 {
					return 0, errHostDup
				}
				if !validHost(value) {
					return 0, errHostInvalid
				}
				if !req.AbsoluteForm && req.Host == nil {
					req.Host = value[:len(value):len(value)]
				}
			}
		case 6:
			if EqualFold(name, "expect") {
				if EqualFold(value, "100-continue") {
					expect100 = true
				} else {
					expectElse = true
				}
			}
		case 10:
			if EqualFold(name, "connection") {
				for v := value; len(v) > 0; {
					var tok []byte
					tok, v = nextListElement(v)
					if EqualFold(tok, "close") {
						closeConn = true
					} else if EqualFold(tok, "keep-alive") {
						keepAlive = true
					}
				}
			}
		case 14:
			if EqualFold(name, "content-length") {
				n, ok := parseContentLength(value)
				if !ok {
					return 0, errCL
				}
				if clSeen && n != req.ContentLength {
					return 0, errCLDiffer
				}
				clSeen = true
				req.ContentLength = n
			}
		case 17:
			if EqualFold(name, "transfer-encoding") {
				teSeen = true
				if err := parseTE(value, &teChunked, &teUnknown); err != nil {
					return 0, err
				}
			}
		}
	}

	// Whole-head checks, in a fixed order so a verdict never depends on
	// field order.
	if req.Major == 1 && req.Minor == 1 && hosts == 0 {
		return 0, errHostMissing
	}
	if teSeen {
		switch {
		case req.Minor == 0:
			return 0, errTE10
		case clSeen:
			return 0, errCLTE
		case teUnknown:
			return 0, errTEUnknown
		case !teChunked:
			return 0, errTE
		}
		req.Chunked = true
		req.ContentLength = -1
	}
	if l.MaxBodyBytes > 0 && req.ContentLength > l.MaxBodyBytes {
		return 0, errBodyTooLarge
	}
	req.ConnectionClose = closeConn
	if req.Minor == 1 {
		req.KeepAlive = !closeConn
		req.Expect100 = expect100
	} else {
		req.KeepAlive = keepAlive && !closeConn
	}
	req.ExpectOther = expectElse
	return pos, nil
}

// splitField splits a field line (no CRLF, not starting with whitespace) into
// its name and OWS-trimmed value, validating both.
func splitField(line []byte) (name, value []byte, err error) {
	i := 0
	for i < len(line) && isTchar(line[i]) {
		i++
	}
	if i == len(line) {
		return nil, nil, errNoColon
	}
	if line[i] != ':' {
		return nil, nil, errFieldName
	}
	if i == 0 {
		return nil, nil, errEmptyFieldName
	}
	name = line[:i:i]
	v := line[i+1:]
	if !validFieldValue(v) {
		return nil, nil, errFieldValue
	}
	v = trimOWS(v)
	return name, v[:len(v):len(v)], nil
}

// parseRequestLine parses method SP request-target SP HTTP-version.
func parseRequestLine(line []byte, req *Request) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return errRequestLine
	}
	if sp1 == 0 {
		return errMethod
	}
	method := line[:sp1]
	for _, c := range method {
		if !isTchar(c) {
			return errMethod
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return errRequestLine // HTTP/0.9 or a missing part
	}
	target := rest[:sp2]
	version := rest[sp2+1:]
	if len(version) != 8 || string(version[:5]) != "HTTP/" || version[6] != '.' ||
		version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9' {
		return errVersion
	}
	if version[5] != '1' || (version[7] != '0' && version[7] != '1') {
		return errVersionNotSupp
	}
	req.Major, req.Minor = 1, int(version[7]-'0')
	if len(target) == 0 {
		return errRequestLine
	}
	if !validTarget(target) {
		return errTarget
	}
	req.Method = method[:len(method):len(method)]
	req.Target = target[:len(target):len(target)]
	isConnect := string(method) == "CONNECT"

	switch {
	case target[0] == '/':
		if isConnect {
			return errTargetForm
		}
		return splitPathQuery(target, req)
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return errTargetForm
		}
		req.Path = req.Target
		return nil
	case isConnect:
		// authority-form: uri-host ":" port, port required (RFC 9112 §3.2.3).
		c := bytes.LastIndexByte(target, ':')
		if c < 0 || c == len(target)-1 || !validHost(target) {
			return errTarget
		}
		req.Host = req.Target
		return nil
	default:
		return parseAbsolute(target, req)
	}
}

// splitPathQuery fills Path and Query from an origin-form (or the path part of
// an absolute-form) target, which starts with '/'; percent-encoding in the path must be well formed
// because the server decodes it for PATH_INFO. The query is passed on as is.
func splitPathQuery(t []byte, req *Request) error {
	q := bytes.IndexByte(t, '?')
	path := t
	if q >= 0 {
		path = t[:q:q]
		req.Query = t[q+1 : len(t) : len(t)]
	}
	for rest := path; ; {
		i := bytes.IndexByte(rest, '%')
		if i < 0 {
			break
		}
		if i+2 >= len(rest) || !isHex(rest[i+1]) || !isHex(rest[i+2]) {
			return errPercent
		}
		rest = rest[i+3:]
	}
	req.Path = path
	return nil
}

// parseAbsolute parses an absolute-form target (RFC 9112 §3.2.2); only the
// http and https schemes are accepted, with a non-empty host and no userinfo.
func parseAbsolute(t []byte, req *Request) error {
	colon := bytes.IndexByte(t, ':')
	if colon <= 0 {
		return errTarget
	}
	scheme := t[:colon]
	if !EqualFold(scheme, "http") && !EqualFold(scheme, "https") {
		return errTarget
	}
	rest := t[colon+1:]
	if len(rest) < 2 || rest[0] != '/' || rest[1] != '/' {
		return errTarget
	}
	rest = rest[2:]
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' {
			end = i
			break
		}
	}
	auth := rest[:end:end]
	if len(auth) == 0 || auth[0] == ':' || !validHost(auth) {
		return errTarget
	}
	req.AbsoluteForm = true
	req.Host = auth
	pq := rest[end:]
	if len(pq) == 0 || pq[0] == '?' {
		// No path: "/" (RFC 9112 §3.2.1), taken from the "//" after the
		// scheme so that Path, like every field, aliases the buffer.
		req.Path = t[colon+1 : colon+2 : colon+2]
		if len(pq) > 0 {
			req.Query = pq[1:len(pq):len(pq)]
		}
		return nil
	}
	return splitPathQuery(pq, req)
}

// validHost checks a Host value: uri-host [ ":" port ] (RFC 9110 §7.2), where
// uri-host is an IP-literal in brackets or a reg-name / IPv4address. An empty
// value is allowed (RFC 9112 §3.2). Userinfo ('@') is refused.
func validHost(h []byte) bool {
	if len(h) == 0 {
		return true
	}
	i := 0
	if h[0] == '[' {
		j := bytes.IndexByte(h, ']')
		if j < 2 {
			return false
		}
		for _, c := range h[1:j] {
			if !(isHex(c) || c == ':' || c == '.' || (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z') || c == '-' || c == '_' || c == '~' || c == '%') {
				return false
			}
		}
		i = j + 1
	} else {
		for i < len(h) && charClass[h[i]]&cHost != 0 {
			i++
		}
		if i == 0 && i < len(h) && h[i] == ':' {
			return false // port without host
		}
	}
	if i == len(h) {
		return true
	}
	if h[i] != ':' {
		return false
	}
	for _, c := range h[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseContentLength parses a Content-Length value: 1*DIGIT, or a list of
// identical such values (RFC 9110 §8.6 lets a recipient collapse those).
func parseContentLength(v []byte) (int64, bool) {
	var first int64 = -1
	for len(v) > 0 || first < 0 {
		i := 0
		var n int64
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			d := int64(v[i] - '0')
			if n > (1<<63-1-d)/10 {
				return 0, false
			}
			n = n*10 + d
			i++
		}
		if i == 0 {
			return 0, false
		}
		if first >= 0 && n != first {
			return 0, false
		}
		first = n
		v = v[i:]
		if len(v) == 0 {
			break
		}
		// OWS "," OWS then another element.
		j := 0
		for j < len(v) && isOWS(v[j]) {
			j++
		}
		if j == len(v) || v[j] != ',' {
			return 0, false
		}
		j++
		for j < len(v) && isOWS(v[j]) {
			j++
		}
		if j == len(v) {
			return 0, false
		}
		v = v[j:]
	}
	return first, true
}

// parseTE walks one Transfer-Encoding field value. Empty list elements and
// parameters are refused; "chunked" must be the last coding and appear once
// across all TE lines; any other coding is unsupported (501).
func parseTE(v []byte, chunkedLast, unknown *bool) error {
	if len(v) == 0 {
		return errTE
	}
	for {
		i := 0
		for i < len(v) && isTchar(v[i]) {
			i++
		}
		if i == 0 {
			return errTE
		}
		tok := v[:i]
		if *chunkedLast {
			return errTENotLast
		}
		if EqualFold(tok, "chunked") {
			*chunkedLast = true
		} else {
			*unknown = true
		}
		v = v[i:]
		j := 0
		for j < len(v) && isOWS(v[j]) {
			j++
		}
		if j == len(v) {
			return nil
		}
		if v[j] != ',' {
			return errTE
		}
		j++
		for j < len(v) && isOWS(v[j]) {
			j++
		}
		v = v[j:]
		if len(v) == 0 {
			return errTE
		}
	}
}

// nextListElement splits the first element off a comma-separated list and
// trims its OWS; empty elements come back empty (RFC 9110 §5.6.1: ignored).
func nextListElement(v []byte) (el, rest []byte) {
	c := bytes.IndexByte(v, ',')
	if c < 0 {
		return trimOWS(v), nil
	}
	return trimOWS(v[:c]), v[c+1:]
}
