package stage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/space"
)

// TestAccuracyOfDisconnectedChildren: sampled scoring draws disconnected NB201 children (no path
// from input to output); with metric accuracy sample-children gives them chance accuracy (10 % on
// Fashion-MNIST's 10 classes), with and without Re-BN, and evaluates the connected ones.
func TestAccuracyOfDisconnectedChildren(t *testing.T) {
	if _, err := os.Stat(data.FashionMNISTDir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing and CI is set: %v", data.FashionMNISTDir, err)
		}
		t.Skipf("SKIPPED: %s missing: %v", data.FashionMNISTDir, err)
	}
	const config = `{"base_epoch":0,"train":128,"valid":32,"width":4,"batch":32,"exact_limit":0,"children_per_op":2,"metric":"accuracy","rebn_batches":1}`
	run := filepath.Join(t.TempDir(), "run")
	for _, s := range []struct {
		step string
		args []string
	}{{"train-supernet", []string{"-epochs", "1"}}, {"sample-children", nil}} {
		if err := Steps[s.step](context.Background(), append([]string{"-run", run, "-seed", "1", "-config", config}, s.args...)); err != nil {
			t.Fatalf("%s: %v", s.step, err)
		}
	}
	path := filepath.Join(run, "stage-0/children.parquet")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := schema.Children.Read(b, path)
	if err != nil {
		t.Fatal(err)
	}
	sp := space.NB201{}
	var disconnected, connected int
	for _, r := range rows {
		c, err := childOf(sp, r.Ops)
		if err != nil {
			t.Fatal(err)
		}
		if r.ValidAcc == nil || r.ReBNAcc == nil {
			t.Fatalf("child %d %v: accuracies %v, %v, want both", r.ID, r.Ops, r.ValidAcc, r.ReBNAcc)
		}
		if sp.Connected(c) {
			connected++
			continue
		}
		disconnected++
		if *r.ValidAcc != 10 || *r.ReBNAcc != 10 {
			t.Errorf("disconnected child %d %v: accuracies %v and %v, want 10 (chance) and 10", r.ID, r.Ops, *r.ValidAcc, *r.ReBNAcc)
		}
	}
	if disconnected == 0 || connected == 0 {
		t.Errorf("%d disconnected and %d connected children drawn, want some of each (the test needs both)", disconnected, connected)
	}
}
