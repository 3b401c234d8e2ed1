package stage

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/space"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{{"64", "64"}, {"0", "0"}, {"1e6", "1000000"}, {"2.5e3", "2500"}, {"123456789012345678901234567890", "123456789012345678901234567890"}} {
		got, err := parseSize(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("parseSize(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5", "ten", "1e-3"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q): no error", bad)
		}
	}
}

func TestRankRows(t *testing.T) {
	rows := []schema.OpScore{{Score: 0.2}, {Score: math.NaN()}, {Score: 0.5}, {Score: 0.2}, {Score: -1}}
	rankRows(rows)
	want := []int32{2, 5, 1, 3, 4} // ties keep row order; NaN (no samples) last
	for i, r := range rows {
		if r.Rank != want[i] {
			t.Errorf("row %d (score %v): rank %d, want %d", i, r.Score, r.Rank, want[i])
		}
	}
}

func TestSpaceRowsRoundTrip(t *testing.T) {
	sp := space.NB201{}
	s := space.Shrunk{Allowed: [][]int{{0, 3}, {1}, {1, 2, 3, 4}, {3}, {0, 1, 2, 3, 4}, {4}}}
	rows := spaceRows(sp, s)
	if len(rows) != 30 {
		t.Fatalf("%d rows, want 30 (every edge and op)", len(rows))
	}
	got, err := shrunkOf(sp, rows)
	if err != nil {
		t.Fatal(err)
	}
	for p := range s.Allowed {
		if len(got.Allowed[p]) != len(s.Allowed[p]) {
			t.Fatalf("edge %d: %v, want %v", p, got.Allowed[p], s.Allowed[p])
		}
	}
	bad := func(edit func([]schema.SpaceOp) []schema.SpaceOp, want string) {
		t.Helper()
		r := edit(append([]schema.SpaceOp(nil), rows...))
		if _, err := shrunkOf(sp, r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error mentioning %q", err, want)
		}
	}
	bad(func(r []schema.SpaceOp) []schema.SpaceOp { return append(r, r[0]) }, "listed twice")
	bad(func(r []schema.SpaceOp) []schema.SpaceOp { r[6].Alive = false; return r }, "edge 1 has no alive op") // edge 1 keeps only skip_connect (row 5+1)
	bad(func(r []schema.SpaceOp) []schema.SpaceOp { r[0].Op = "conv_9x9"; return r }, "conv_9x9")
	bad(func(r []schema.SpaceOp) []schema.SpaceOp { r[0].Edge = 6; return r }, "edge 6 out of range")
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := DefaultConfig()
	c.Metric, c.Width, c.Init, c.Search = "loss", 0, "he", "grid"
	err := c.Validate()
	for _, want := range []string{`metric "loss": want one of angle, accuracy, random`, "width = 0: want > 0", `init "he": want one of authors, kaiming, xavier, orthogonal, pytorch, darts, mobile`, `search "grid": want one of exhaustive, random, evolution`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to mention %q", err, want)
		}
	}
}

func TestDeriveSeeds(t *testing.T) {
	a, b, c := derive(1, "train-supernet", 0), derive(1, "train-supernet", 1), derive(2, "train-supernet", 0)
	if a == b || a == c || b == c {
		t.Errorf("derived seeds collide: %d %d %d", a, b, c)
	}
	if a != derive(1, "train-supernet", 0) {
		t.Errorf("derive is not deterministic")
	}
}

func TestVersionOf(t *testing.T) {
	for _, tc := range []struct {
		settings []debug.BuildSetting
		main     string
		want     string
	}{
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}, "(devel)", "abc"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}, "(devel)", "abc+dirty"},
		{nil, "v1.2.3", "v1.2.3"},
		{nil, "(devel)", "devel"},
	} {
		bi := &debug.BuildInfo{Settings: tc.settings, Main: debug.Module{Version: tc.main}}
		if got := versionOf(bi); got != tc.want {
			t.Errorf("versionOf(%v, %s) = %q, want %q", tc.settings, tc.main, got, tc.want)
		}
	}
}
