package framework

import (
	"bytes"
	"fmt"
)

// EnvCheck makes a spec that sends req to the env behaviour and grades the
// dump. check gets a nil env when the server did not answer with a dump
// (e.g. it rejected the request), with the exchange for details.
func EnvCheck(s *Spec, req Req, check func(t *T, env Env, x *Exchange) Result) *Spec {
	s.Run = func(t *T) Result {
		d, x := t.Env(req)
		if d == nil {
			return check(t, nil, x)
		}
		return check(t, d.Environ, x)
	}
	return s
}

// Refusal is how an exchange ended, seen as the answer to a request the
// server ought to refuse.
type Refusal string

// Refusals.
const (
	// Served: a final response below 400, or no answer while the
	// connection stays open.
	Served Refusal = "served"
	// ClientError: a 4xx, a 5xx the cited sentence names (501 for a
	// transfer coding not understood, 505 for an unsupported version), a
	// close without a response, or an HTTP/0.9-style error page without a
	// status line (wsgiref's to a version it cannot read).
	ClientError Refusal = "client-error"
	// ServerError: any other 5xx. The server blamed itself for the
	// client's error, which misleads clients (a retry), proxies (an
	// upstream marked down) and alerts.
	ServerError Refusal = "server-error"
)

// RefusalOf classifies how x ended; named are the 5xx statuses the spec's
// sentence names as a refusal.
func RefusalOf(x *Exchange, named ...int) Refusal {
	switch {
	case x.Resp == nil && x.Closed():
		return ClientError
	case x.Resp == nil:
		return Served
	case x.Resp.Status == 0 && x.Resp.Malformed != "":
		// No status line: a server's HTTP/0.9-style error page, unless what
		// follows is the probe app's environ dump (uWSGI answers a request-line
		// it misparsed with the app's answer under a garbage status line).
		if bytes.Contains(x.Resp.Body, []byte(`{"environ": `)) {
			return Served
		}
		return ClientError
	case x.Resp.Status < 400:
		return Served
	case x.Resp.Status < 500:
		return ClientError
	}
	for _, n := range named {
		if x.Resp.Status == n {
			return ClientError
		}
	}
	return ServerError
}

// ServerErrorOutcome is the outcome of a refusal made with a 5xx: FAIL where
// the spec's sentence is a MUST about the status code ("MUST respond with a
// 400"), NON-STRICT otherwise (the request was refused, but the server
// blamed itself).
func ServerErrorOutcome(statusMust bool) Outcome {
	const desc = "refused with a 5xx: the server blamed itself for the client's error"
	if statusMust {
		return Fail(string(ServerError), desc)
	}
	return NonStrict(string(ServerError), desc)
}

// Quote shows bytes for details.
func Quote(s string) string { return fmt.Sprintf("%q", s) }
