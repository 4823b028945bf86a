package framework

import "testing"

// TestRefusalOf: a 4xx, a named 5xx, a close or an answer without a status
// line is the client's error; another 5xx is the server blaming itself.
func TestRefusalOf(t *testing.T) {
	closed := &Conn{state: StateFIN}
	open := &Conn{state: StateTimeout}
	for _, c := range []struct {
		name  string
		x     *Exchange
		named []int
		want  Refusal
	}{
		{"200", &Exchange{Conn: open, Resp: &Response{Status: 200}}, nil, Served},
		{"no answer, still open", &Exchange{Conn: open}, nil, Served},
		{"closed without an answer", &Exchange{Conn: closed}, nil, ClientError},
		{"400", &Exchange{Conn: open, Resp: &Response{Status: 400}}, nil, ClientError},
		{"414", &Exchange{Conn: open, Resp: &Response{Status: 414}}, nil, ClientError},
		{"500", &Exchange{Conn: open, Resp: &Response{Status: 500}}, nil, ServerError},
		{"501 not named", &Exchange{Conn: open, Resp: &Response{Status: 501}}, nil, ServerError},
		{"501 named", &Exchange{Conn: open, Resp: &Response{Status: 501}}, []int{501}, ClientError},
		{"505 named", &Exchange{Conn: closed, Resp: &Response{Status: 505}}, []int{501, 505}, ClientError},
		{"HTTP/0.9 error page", &Exchange{Conn: closed, Resp: &Response{Malformed: "bad status line", Body: []byte("<html>Error code: 400")}}, nil, ClientError},
		{"the app's answer under a garbage status line", &Exchange{Conn: closed, Resp: &Response{Malformed: "bad status line",
			Body: []byte("Content-Length: 20\r\n\r\n{\"environ\": {}}")}}, nil, Served},
	} {
		if got := RefusalOf(c.x, c.named...); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if o := ServerErrorOutcome(true); o.Verdict != FAIL || o.Name != string(ServerError) {
		t.Errorf("a MUST about the status: %+v", o)
	}
	if o := ServerErrorOutcome(false); o.Verdict != NONSTRICT {
		t.Errorf("otherwise: %+v", o)
	}
}
