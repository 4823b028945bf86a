package framework

import "fmt"

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

// Rejected reports whether an exchange ended in a refusal: a 4xx/5xx final
// response or a close without any response.
func Rejected(x *Exchange) bool {
	if x.Resp == nil {
		return x.Closed()
	}
	return x.Resp.Status >= 400
}

// Quote shows bytes for details.
func Quote(s string) string { return fmt.Sprintf("%q", s) }
