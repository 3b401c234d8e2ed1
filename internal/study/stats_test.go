package study

import (
	"math"
	"slices"
	"testing"

	"github.com/abs-nas/abs/internal/abs/rank"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestMeanSD(t *testing.T) {
	// 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum 32, sample variance 32/7.
	m, sd := MeanSD([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if !near(m, 5) || !near(sd, math.Sqrt(32.0/7)) {
		t.Errorf("MeanSD = %v, %v; want 5, %v", m, sd, math.Sqrt(32.0/7))
	}
	if m, sd := MeanSD([]float64{0.3}); m != 0.3 || sd != 0 {
		t.Errorf("MeanSD of one value = %v, %v; want 0.3, 0", m, sd)
	}
	if m, sd := MeanSD(nil); !math.IsNaN(m) || !math.IsNaN(sd) {
		t.Errorf("MeanSD(nil) = %v, %v; want NaN, NaN", m, sd)
	}
}

func TestAverageRanks(t *testing.T) {
	got := AverageRanks([]float64{0.5, 0.1, 0.5, 0.9, 0.1})
	// sorted: 0.1 (i1, i4) ranks 1,2 → 1.5; 0.5 (i0, i2) ranks 3,4 → 3.5; 0.9 rank 5.
	want := []float64{3.5, 1.5, 3.5, 5, 1.5}
	if !slices.Equal(got, want) {
		t.Errorf("AverageRanks = %v, want %v", got, want)
	}
}

func TestCombined(t *testing.T) {
	// a ranks 1,2,3,4; b ranks 4,1,2,3 (b's scale is far larger and must not dominate).
	a := []float64{0.1, 0.2, 0.3, 0.4}
	b := []float64{1000, 10, 20, 30}
	got := Combined(a, b)
	want := []float64{5, 3, 5, 7}
	if !slices.Equal(got, want) {
		t.Errorf("Combined = %v, want %v", got, want)
	}
	// Combined with itself orders like the metric: τ against the metric is 1.
	if tau := rank.KendallTau(Combined(a, a), a); !near(tau, 1) {
		t.Errorf("τ(Combined(a, a), a) = %v, want 1", tau)
	}
}

func TestSeparate(t *testing.T) {
	// 50 % on 100 images: se = 100·√(0.25/100) = 5 points; 90 %: 100·√(0.09/100) = 3 points.
	if se := BinomialSE(50, 100); !near(se, 5) {
		t.Errorf("BinomialSE(50, 100) = %v, want 5", se)
	}
	s := Separate([]float64{50, 60, 90}, 100)
	// pairs: 50–60 differ by 10, threshold 2·√(25+24)=14 → not resolved; 50–90: 40 > 2·√(25+9) ≈ 11.7
	// → resolved; 60–90: 30 > 2·√(24+9) ≈ 11.5 → resolved.
	if s.Pairs != 3 || s.Resolved != 2 {
		t.Errorf("Separate: %d of %d pairs resolved, want 2 of 3", s.Resolved, s.Pairs)
	}
	if s.Min != 50 || s.Max != 90 {
		t.Errorf("Separate: min %v max %v, want 50 and 90", s.Min, s.Max)
	}
	wantSE := (5 + 100*math.Sqrt(0.24/100) + 3) / 3
	if !near(s.MeanSE, wantSE) {
		t.Errorf("Separate: mean se %v, want %v", s.MeanSE, wantSE)
	}
}
