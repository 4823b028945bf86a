package http1

import "testing"

// TestSWARValidators compares the word-at-a-time validators with the table,
// for every byte value at every position of words and tails.
func TestSWARValidators(t *testing.T) {
	for c := 0; c < 256; c++ {
		for _, n := range []int{1, 7, 8, 9, 16, 17} {
			for pos := 0; pos < n; pos++ {
				b := make([]byte, n)
				for i := range b {
					b[i] = 'a'
				}
				b[pos] = byte(c)
				wantV := charClass[c]&cFieldChar != 0
				if got := validFieldValue(b); got != wantV {
					t.Fatalf("validFieldValue(%q) = %v, want %v", b, got, wantV)
				}
				wantT := charClass[c]&cTarget != 0
				if got := validTarget(b); got != wantT {
					t.Fatalf("validTarget(%q) = %v, want %v", b, got, wantT)
				}
			}
		}
	}
}

func FuzzValidators(f *testing.F) {
	f.Add([]byte("GET /a#b \x7f\x80\x00\t"))
	f.Fuzz(func(t *testing.T, b []byte) {
		wantV, wantT := true, true
		for _, c := range b {
			wantV = wantV && charClass[c]&cFieldChar != 0
			wantT = wantT && charClass[c]&cTarget != 0
		}
		if validFieldValue(b) != wantV || validTarget(b) != wantT {
			t.Fatalf("%q: value %v/%v target %v/%v", b, validFieldValue(b), wantV, validTarget(b), wantT)
		}
	})
}
