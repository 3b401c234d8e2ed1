package family

import (
	"encoding/json"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/shrink"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/supernet"
)

var fashion = Image{C: 1, H: 28, W: 28, Classes: 10}

// TestPresets checks that every preset builds a net for 28×28 Fashion-MNIST images and that its
// family's space is the one of its name.
func TestPresets(t *testing.T) {
	if got := strings.Join(PresetNames(), " "); got != "darts-small fairnas-small nb201-small proxyless-small" {
		t.Errorf("presets %s", got)
	}
	for _, name := range PresetNames() {
		f, n, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(f.Name) != f.Space.Name() {
			t.Errorf("preset %s: family %s holds space %s", name, f.Name, f.Space.Name())
		}
		spec, err := f.Spec(n, fashion)
		if err != nil {
			t.Errorf("preset %s: %v", name, err)
			continue
		}
		net, err := supernet.New(spec, tensor.Float32, nn.KaimingNormal, 1)
		if err != nil {
			t.Errorf("preset %s: %v", name, err)
			continue
		}
		if s := net.Shape(); s != (supernet.Shape{InC: 1, H: 28, W: 28, Classes: 10}) {
			t.Errorf("preset %s: net shape %+v", name, s)
		}
	}
	if _, _, err := Preset("spos-small"); err == nil || !strings.Contains(err.Error(), "darts-small, fairnas-small, nb201-small, proxyless-small") {
		t.Errorf("unknown preset: %v, want an error listing the presets", err)
	}
}

// TestLookup checks that every name finds its family, whose space spells the same name, and that
// an unknown name, in code or in JSON, is an error listing the valid ones.
func TestLookup(t *testing.T) {
	for _, n := range Names() {
		f, err := Lookup(n)
		if err != nil || f.Name != n || f.Space.Name() != string(n) {
			t.Errorf("Lookup(%s) = %v, %v", n, f, err)
		}
	}
	const want = `space "spos": want one of nb201, darts, proxyless-gpu, fairnas`
	if _, err := Lookup("spos"); err == nil || err.Error() != want {
		t.Errorf("Lookup(spos): %v, want %s", err, want)
	}
	var v struct {
		Space    Name        `json:"space"`
		Sampling Sampling    `json:"sampling"`
		Init     Init        `json:"init"`
		Idle     IdleUpdates `json:"idle"`
	}
	if err := json.Unmarshal([]byte(`{"space":"darts","sampling":"fair","init":"xavier","idle":"on"}`), &v); err != nil || v.Space != DARTS || v.Sampling != Fair || v.Init != "xavier" || v.Idle != IdleOn {
		t.Errorf("decode: %+v, %v", v, err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"space":"DARTS"}`, `space "DARTS": want one of`},
		{`{"sampling":"unifrom"}`, `sampling "unifrom": want one of authors, per-cell, whole-net, uniform, fair`},
		{`{"init":"he"}`, `init "he": want one of authors, kaiming, xavier, orthogonal, pytorch, darts, mobile`},
		{`{"idle":"yes"}`, `idle_updates "yes": want one of authors, on, off`},
	} {
		if err := json.Unmarshal([]byte(tc.in), &v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decode %s: %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

// TestAuthorsRules checks what "authors" resolves to for each space, as the ABS authors' code
// does (internal/stage/config.go's Config documents the same).
func TestAuthorsRules(t *testing.T) {
	for _, tc := range []struct {
		name     Name
		init     nn.Init
		sampling Sampling
		idle     bool
		drop     shrink.Policy
	}{
		{NB201, nn.PyTorch, PerCell, true, shrink.FixedCount},
		{DARTS, nn.DARTS, WholeNet, false, shrink.OnePerEdge},
		{ProxylessGPU, nn.Mobile, WholeNet, false, shrink.FixedCount},
		{FairNAS, nn.Mobile, WholeNet, false, shrink.FixedCount},
	} {
		f, _ := Lookup(tc.name)
		if f.DropPolicy != tc.drop {
			t.Errorf("%s: drop policy %s, want %s", tc.name, f.DropPolicy, tc.drop)
		}
		if f.Tabular != (tc.name == NB201) {
			t.Errorf("%s: tabular %v, want true for nb201 alone (the NB201 table)", tc.name, f.Tabular)
		}
		i, err := f.InitOf(InitAuthors)
		s, serr := f.SamplingOf(SamplingAuthors)
		if err != nil || serr != nil || i != tc.init || s != tc.sampling || f.IdleOf(IdleAuthors) != tc.idle {
			t.Errorf("%s: authors = %v, %v, idle %v (%v, %v); want %v, %v, %v", tc.name, i, s, f.IdleOf(IdleAuthors), err, serr, tc.init, tc.sampling, tc.idle)
		}
		if i, _ := f.InitOf("xavier"); i != nn.XavierUniform {
			t.Errorf("%s: init xavier = %v", tc.name, i)
		}
		if s, _ := f.SamplingOf(Uniform); s != WholeNet {
			t.Errorf("%s: uniform = %v, want whole-net", tc.name, s)
		}
		if f.IdleOf(IdleOn) != true || f.IdleOf(IdleOff) != false {
			t.Errorf("%s: idle on/off not obeyed", tc.name)
		}
		_, err = f.SamplingOf(PerCell)
		if (err == nil) != (tc.name == NB201) {
			t.Errorf("%s: per-cell: %v, want an error for every space but nb201", tc.name, err)
		}
	}
}

// TestSpecMatchesAngleAndFLOPs checks, for every family at its preset size, that the angle
// description finds in a freshly built supernet exactly the weights of each op it lists: every
// searchable unit's ops have weights under their prefix (or none, for weight-free ops), and that
// FLOPs tell children apart. (That FLOPs match the built graph is each space's own test.)
func TestSpecMatchesAngleAndFLOPs(t *testing.T) {
	for _, f := range All() {
		for name, n := range f.Presets {
			spec, err := f.Spec(n, fashion)
			if err != nil {
				t.Fatal(err)
			}
			net, err := supernet.New(spec, tensor.Float32, nn.KaimingNormal, 1)
			if err != nil {
				t.Fatal(err)
			}
			an := f.Angle(n)
			if len(an.Ops) != len(f.Space.Ops()) {
				t.Errorf("%s: angle lists %d ops, space %d", name, len(an.Ops), len(f.Space.Ops()))
			}
			names := map[string]bool{}
			for k := range net.Weights() {
				names[k] = true
			}
			for _, u := range an.Units {
				for _, e := range u.Graph.Edges {
					prefix := e.Name + "."
					if u.Prefix != "" {
						prefix = u.Prefix + "." + prefix
					}
					found := false
					for k := range names {
						if strings.HasPrefix(k, prefix) {
							found = true
							break
						}
					}
					if !found {
						t.Errorf("%s: no weights under %s", name, prefix)
					}
				}
			}
			// FLOPs are positive and tell children apart: 20 drawn children have more than one count.
			flops := f.FLOPs(n, fashion)
			u, err := space.NewUniform(f.Space, f.Space.Full(), 1)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int64]bool{}
			for range 20 {
				c := u.Next()
				if v := flops(c); v <= 0 {
					t.Errorf("%s: FLOPs of %v = %d", name, c, v)
				} else {
					seen[v] = true
				}
			}
			if len(seen) < 2 {
				t.Errorf("%s: 20 children all have FLOPs %v", name, seen)
			}
		}
	}
}
