package loadgen

import (
	"math"
	"testing"
)

func TestSummarizeKnownCIs(t *testing.T) {
	// The median CI from order statistics: for n=6 only [x(1), x(6)] reaches
	// 95% (1-2/2^6 = 0.96875; [x(2), x(5)] has 0.78125); for n=10 it is
	// [x(2), x(9)] at 1-2·11/1024 = 0.978515625; n=5 cannot reach 95%.
	tests := []struct {
		name     string
		values   []float64
		median   float64
		lo, hi   float64
		conf     float64
		infinite bool
	}{
		{"n6", []float64{6, 1, 5, 2, 4, 3}, 3.5, 1, 6, 0.96875, false},
		{"n10", []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 55, 20, 90, 0.978515625, false},
		{"n5", []float64{1, 2, 3, 4, 5}, 3, 0, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := append([]float64(nil), tc.values...)
			s := Summarize(tc.values)
			for i := range orig {
				if orig[i] != tc.values[i] {
					t.Fatal("Summarize reordered its input")
				}
			}
			if s.Median != tc.median {
				t.Errorf("median %v, want %v", s.Median, tc.median)
			}
			if tc.infinite {
				// [x(1), x(5)] has only 1-2/2^5 = 0.9375: an end goes to infinity.
				if !math.IsInf(s.Lo, -1) && !math.IsInf(s.Hi, 1) {
					t.Errorf("CI [%v, %v], want an infinite end", s.Lo, s.Hi)
				}
				ci, finite := s.CI(tc.values)
				if finite || ci != [2]float64{1, 5} {
					t.Errorf("JSON CI %v finite=%v, want the sample range", ci, finite)
				}
				if s.PctRange() != "±∞" {
					t.Errorf("PctRange %q", s.PctRange())
				}
				return
			}
			if s.Lo != tc.lo || s.Hi != tc.hi {
				t.Errorf("CI [%v, %v], want [%v, %v]", s.Lo, s.Hi, tc.lo, tc.hi)
			}
			if math.Abs(s.Confidence-tc.conf) > 1e-12 {
				t.Errorf("confidence %v, want %v", s.Confidence, tc.conf)
			}
		})
	}
}

func TestCompareKnownU(t *testing.T) {
	// Exact two-sided p of the U test: for fully separated samples of n and
	// m, p = 2 / C(n+m, n).
	tests := []struct {
		name   string
		a, b   []float64
		u, p   float64
		sig    bool
		delta  string
		oldNew [2]float64
	}{
		{"separated 5+5", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 0, 2.0 / 252, true, "+100.00%", [2]float64{3, 6}},
		{"reversed 5+5", []float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 25, 2.0 / 252, true, "-50.00%", [2]float64{6, 3}},
		// n=3 per side cannot reach α=0.05: the smallest p is 2/20 = 0.1.
		{"separated 3+3", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0.1, false, "~", [2]float64{2, 5}},
		// Interleaved a={1,3,5,7}, b={2,4,6,8}: pairs with a>b are 3>2, 5>2,
		// 5>4, 7>2, 7>4, 7>6, so U = 6 of 16. Under H0 the 70 arrangements
		// give U = 0..6 with counts 1,1,2,3,5,5,7 (24 in all), so the exact
		// two-sided p = 2·24/70.
		{"interleaved 4+4", []float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}, 6, 48.0 / 70, false, "~", [2]float64{4, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Compare(tc.a, tc.b)
			if r.U != tc.u {
				t.Errorf("U = %v, want %v", r.U, tc.u)
			}
			if math.Abs(r.P-tc.p) > 1e-9 {
				t.Errorf("p = %v, want %v", r.P, tc.p)
			}
			if r.Significant != tc.sig {
				t.Errorf("significant = %v, want %v", r.Significant, tc.sig)
			}
			if d := r.Delta(tc.oldNew[0], tc.oldNew[1]); d != tc.delta {
				t.Errorf("delta %q, want %q", d, tc.delta)
			}
		})
	}
}

func TestCompareEmpty(t *testing.T) {
	r := Compare(nil, []float64{1, 2})
	if r.Significant || r.P != 1 {
		t.Fatalf("empty sample compared as %+v", r)
	}
}
