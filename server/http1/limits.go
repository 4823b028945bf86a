package http1

import (
	"errors"
	"strconv"
)

// Limits bound what a request head may hold (gunicorn's names in brackets).
// A zero head limit means "use the default", so Limits{} behaves like
// DefaultLimits(); MaxBodyBytes 0 means unlimited.
type Limits struct {
	MaxRequestLine  int   // [limit_request_line] default 8190; over → 414
	MaxHeaderFields int   // [limit_request_fields] default 100; over → 431
	MaxFieldSize    int   // [limit_request_field_size] default 8190 (one "name: value" line); over → 431
	MaxHeadBytes    int   // whole head; default 64 KiB; over → 431
	MaxBodyBytes    int64 // 0 = unlimited; a larger Content-Length, or chunked body growing past it → 413
}

// Default limit values (gunicorn's defaults for the first three).
const (
	DefaultMaxRequestLine  = 8190
	DefaultMaxHeaderFields = 100
	DefaultMaxFieldSize    = 8190
	DefaultMaxHeadBytes    = 64 << 10
)

// maxLeadingEmptyLines bounds the CRLFs skipped before a request-line
// (RFC 9112 §2.2 asks for at least one); more is not a client bug but an attack.
const maxLeadingEmptyLines = 16

// DefaultLimits returns gunicorn-compatible limits with an unlimited body.
func DefaultLimits() Limits {
	return Limits{
		MaxRequestLine:  DefaultMaxRequestLine,
		MaxHeaderFields: DefaultMaxHeaderFields,
		MaxFieldSize:    DefaultMaxFieldSize,
		MaxHeadBytes:    DefaultMaxHeadBytes,
	}
}

// normalized fills zero head limits with the defaults.
func (l Limits) normalized() Limits {
	if l.MaxRequestLine <= 0 {
		l.MaxRequestLine = DefaultMaxRequestLine
	}
	if l.MaxHeaderFields <= 0 {
		l.MaxHeaderFields = DefaultMaxHeaderFields
	}
	if l.MaxFieldSize <= 0 {
		l.MaxFieldSize = DefaultMaxFieldSize
	}
	if l.MaxHeadBytes <= 0 {
		l.MaxHeadBytes = DefaultMaxHeadBytes
	}
	if l.MaxBodyBytes < 0 {
		l.MaxBodyBytes = 0
	}
	return l
}

// Error is a request the server must refuse: Status is the response code (400, 413, 414, 431,
// 501 for an unknown transfer coding, 505 for a bad version); Reason is a short human message
// for the log. After an Error the connection must be closed.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return "http1: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// ErrIncomplete is returned by Parse when buf does not yet hold a full head and
// no error is detectable yet.
var ErrIncomplete = errors.New("http1: incomplete request head")

// ErrBodyNotConsumed is returned by ReadRequest when the previous request's
// body was not read to its end (see Body.Discard).
var ErrBodyNotConsumed = errors.New("http1: previous request body not consumed")

// ErrDiscardLimit is returned by Body.Discard when more than max body bytes
// remain; the caller must close the connection.
var ErrDiscardLimit = errors.New("http1: request body larger than the discard limit")

// ErrWouldBlock is what a non-blocking source returns (with no bytes) when
// it has nothing for now. ReadRequest and Body.Discard pass it on and keep
// their state: call them again when the source has more.
var ErrWouldBlock = errors.New("http1: source would block")

// Errors are package-level values so that refusing a request allocates nothing
// (a flood of bad requests must not feed the garbage collector). Callers must
// treat them as read-only.
func newErr(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }

var (
	errBareLF            = newErr(400, "bare LF line terminator")
	errBareCR            = newErr(400, "bare CR in head")
	errTooManyEmptyLines = newErr(400, "too many empty lines before the request-line")
	errRequestLine       = newErr(400, "malformed request-line")
	errMethod            = newErr(400, "invalid method token")
	errTarget            = newErr(400, "invalid request-target")
	errTargetForm        = newErr(400, "request-target form not allowed for this method")
	errPercent           = newErr(400, "malformed percent-encoding in path")
	errVersion           = newErr(400, "malformed HTTP version")
	errVersionNotSupp    = newErr(505, "HTTP version not supported")
	errObsFold           = newErr(400, "obs-fold or whitespace at the start of a field line")
	errFieldName         = newErr(400, "invalid field name (non-token byte or whitespace before colon)")
	errEmptyFieldName    = newErr(400, "empty field name")
	errNoColon           = newErr(400, "field line without colon")
	errFieldValue        = newErr(400, "invalid byte in field value")
	errHostMissing       = newErr(400, "HTTP/1.1 request without Host")
	errHostDup           = newErr(400, "more than one Host field")
	errHostInvalid       = newErr(400, "invalid Host value")
	errCL                = newErr(400, "invalid Content-Length")
	errCLDiffer          = newErr(400, "differing Content-Length values")
	errCLTE              = newErr(400, "both Content-Length and Transfer-Encoding")
	errTE                = newErr(400, "invalid Transfer-Encoding")
	errTENotLast         = newErr(400, "chunked is not the final transfer coding, or repeated")
	errTE10              = newErr(400, "Transfer-Encoding in an HTTP/1.0 request")
	errTEUnknown         = newErr(501, "unsupported transfer coding")
	errURITooLong        = newErr(414, "request-line too long")
	errFieldTooLong      = newErr(431, "field line too long")
	errTooManyFields     = newErr(431, "too many header fields")
	errHeadTooLarge      = newErr(431, "request head too large")
	errBodyTooLarge      = newErr(413, "request body too large")
	errChunkSize         = newErr(400, "invalid chunk size")
	errChunkExt          = newErr(400, "invalid chunk extension")
	errChunkLine         = newErr(400, "chunk-size line too long")
	errChunkCRLF         = newErr(400, "missing CRLF after chunk data")
	errChunkOverhead     = newErr(400, "chunked body with too much framing per data byte")
	errTrailer           = newErr(400, "invalid trailer field")
	errTrailerTooLarge   = newErr(431, "chunked trailer section too large")
)
