package ipset

import "testing"

func TestSet(t *testing.T) {
	s, err := Parse("127.0.0.1, 10.0.0.0/8,::1")
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{"127.0.0.1": true, "10.2.3.4": true, "::1": true, "::ffff:10.0.0.1": true, "11.0.0.1": false, "junk": false} {
		if got := s.Contains([]byte(ip)); got != want {
			t.Errorf("%s: %v, want %v", ip, got, want)
		}
	}
	if _, err := Parse("10.0.0.0/33"); err == nil {
		t.Error("bad CIDR accepted")
	}
	all, _ := Parse("*")
	if !all.Contains([]byte("8.8.8.8")) {
		t.Error(`"*" does not match`)
	}
}
