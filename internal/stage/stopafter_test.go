package stage

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store/file"
)

// TestStopAfter checks train-supernet -stop-after: -epochs 3 -stop-after 2 trains the first two
// epochs of the 3-epoch run (its metrics rows, learning rates included, are the first two of the
// uninterrupted run's, and differ from a 2-epoch run's schedule), and -stop-after 3 writes the
// same supernet as no -stop-after.
func TestStopAfter(t *testing.T) {
	ctx := context.Background()
	const conf = `{"width":4,"cells":1,"train":128,"valid":64,"base_epoch":1}`
	train := func(args ...string) ([]schema.Epoch, []schema.Weight) {
		t.Helper()
		run := filepath.Join(t.TempDir(), "run")
		if err := TrainSupernet(ctx, append([]string{"-run", run, "-config", conf}, args...)); err != nil {
			t.Fatalf("train-supernet %v: %v", args, err)
		}
		st, err := file.New(run)
		if err != nil {
			t.Fatal(err)
		}
		epochs, _, err := schema.Metrics.Get(ctx, st, metricsKey(0))
		if err != nil {
			t.Fatal(err)
		}
		weights, _, err := schema.Weights.Get(ctx, st, supernetKey(0))
		if err != nil {
			t.Fatal(err)
		}
		return epochs, weights
	}
	full, fullW := train("-epochs", "3")
	part, partW := train("-epochs", "3", "-stop-after", "2")
	short, _ := train("-epochs", "2")
	_, allW := train("-epochs", "3", "-stop-after", "3")
	if len(full) != 3 || len(part) != 2 {
		t.Fatalf("%d and %d metrics rows, want 3 and 2", len(full), len(part))
	}
	if !reflect.DeepEqual(part, full[:2]) {
		t.Errorf("-stop-after 2 epochs\n%+v\nwant the first two of the 3-epoch run\n%+v", part, full[:2])
	}
	if part[1].LR == short[1].LR {
		t.Errorf("-stop-after 2 has the 2-epoch run's learning rate %g at epoch 1, want the 3-epoch schedule's", short[1].LR)
	}
	if reflect.DeepEqual(partW, fullW) {
		t.Error("-stop-after 2 wrote the supernet of all 3 epochs")
	}
	if !reflect.DeepEqual(allW, fullW) {
		t.Error("-stop-after 3 with -epochs 3 wrote another supernet than no -stop-after")
	}
}
