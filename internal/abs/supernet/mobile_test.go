package supernet

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/space"
)

// TestMobileFLOPs checks that space.Mobile.FLOPs equals the multiply-accumulates of the built
// network, for both layouts at several widths and input sizes.
func TestMobileFLOPs(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 1))
	for _, c := range []struct {
		m     space.Mobile
		width float64
		side  int
	}{
		{space.ProxylessGPU(), 0.25, 28},
		{space.FairNAS(), 0.25, 28},
		{space.ProxylessGPU(), 0.5, 32},
		{space.FairNAS(), 1, 9},
	} {
		cfg := Mobile{Space: c.m, Width: c.width, InC: 1, H: c.side, W: c.side, Classes: 10}
		net, err := New(cfg, tensor.Float32, nn.KaimingNormal, 1)
		if err != nil {
			t.Fatal(err)
		}
		m := c.m
		m.InChannels, m.Classes = 1, 10
		x := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(2, 1, c.side, c.side))
		for range 4 {
			child := m.Sample(m.Full(), r)
			gr, err := net.Graph(child, x, nil, nn.BNTrain, nn.CloneStats(net.Stats))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := graphMACs(t, gr, 2), m.FLOPs(child, c.side, c.width); got != want {
				t.Errorf("%s width %g side %d child %v: graph has %d MACs, space counts %d", m.Name(), c.width, c.side, child, got, want)
			}
		}
	}
}

// tinyMobile is a ProxylessNAS-like layout small enough for finite differences: two stages, the
// second with a residual layer that may be identity.
func tinyMobile() space.Mobile {
	m := space.ProxylessGPU()
	m.StemOut, m.FirstOut, m.LastOut = 2, 2, 3
	m.Layers = []space.Layer{{Out: 2, Stride: 2}, {Out: 2, Stride: 1, Identity: true}, {Out: 3, Stride: 2}}
	return m
}

// TestGradMobile checks the gradient of the loss of a tiny MobileNet-like net against central
// differences, and that the gradients cover exactly the parameters the child uses.
func TestGradMobile(t *testing.T) {
	cfg := Mobile{Space: tinyMobile(), Width: 1, InC: 1, H: 8, W: 8, Classes: 3}
	for _, child := range [][]int{{1, 4, 2}, {5, space.MobileIdentity, 0}} {
		net, err := New(cfg, tensor.Float64, nn.KaimingNormal, 3)
		if err != nil {
			t.Fatal(err)
		}
		x := randDense(rand.New(rand.NewPCG(2, 4)), 3, 1, 8, 8)
		labels := []int{2, 0, 1}
		_, grads, err := net.Backward(child, x, labels, nn.CloneStats(net.Stats))
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		ops := cfg.Space.Ops()
		for name := range net.Params {
			if !strings.HasPrefix(name, "layer") {
				want = append(want, name)
				continue
			}
			l := int(name[5] - '0')
			if child[l] != space.MobileIdentity && strings.HasPrefix(name[7:], ops[child[l]].Name+".") {
				want = append(want, name)
			}
		}
		sort.Strings(want)
		if got := sortedKeys(grads); !slices.Equal(got, want) {
			t.Errorf("child %v: gradients for %v, want %v", child, got, want)
		}
		checkGradients(t, net, child, x, labels, grads, sortedKeys(grads), func(n int) []int { return []int{0, n / 2, n - 1} })
	}
}

// TestMobileAngleNames checks that the weights of both MobileNet-like nets are what angle.Mobile
// expects: Compute accepts them and its fast angle equals the naive concatenation.
func TestMobileAngleNames(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 2))
	for _, m := range []space.Mobile{space.ProxylessGPU(), space.FairNAS()} {
		cfg := Mobile{Space: m, Width: 0.25, InC: 1, H: 8, W: 8, Classes: 10}
		base, err := New(cfg, tensor.Float32, nn.KaimingNormal, 1)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := New(cfg, tensor.Float32, nn.KaimingNormal, 2)
		if err != nil {
			t.Fatal(err)
		}
		net := angle.Mobile(m)
		b0, b1 := base.Set(), cur.Set()
		st, err := angle.Compute(net, b0, b1)
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			c := m.Sample(m.Full(), r)
			fast, err := st.Product(c)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := angle.Naive(net, b0, b1, c)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(fast.Dot-slow.Dot) > 1e-9*slow.Base || math.Abs(fast.Base-slow.Base) > 1e-9*slow.Base || math.Abs(fast.Cur-slow.Cur) > 1e-9*slow.Cur {
				t.Errorf("%s child %v: fast %+v, naive %+v", m.Name(), c, fast, slow)
			}
		}
	}
}
