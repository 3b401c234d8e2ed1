package search_test

import (
	"os"
	"sync"
	"testing"

	"github.com/abs-nas/abs/internal/abs/nb201"
)

// sharedPath is where the shared NB201 ground truth lies relative to this package's directory: the
// repository root's sibling folder shared/ (see DESIGN.md, "Data at hand").
const sharedPath = "../../../../shared/data/nb201/nats_bench_tss_test_acc.csv"

var shared struct {
	once sync.Once
	tab  *nb201.Table
	err  error
}

// table returns the shared NB201 table, read once per test binary. Without the file it skips
// loudly, or fails when the CI variable is set.
func table(t testing.TB) *nb201.Table {
	t.Helper()
	shared.once.Do(func() {
		f, err := os.Open(sharedPath)
		if err != nil {
			shared.err = err
			return
		}
		defer f.Close()
		shared.tab, shared.err = nb201.Read(f)
	})
	if shared.err != nil {
		if os.IsNotExist(shared.err) && os.Getenv("CI") == "" {
			t.Skipf("SKIPPED: NB201 ground truth absent (%v); set CI to make this a failure", shared.err)
		}
		t.Fatalf("shared NB201 table: %v", shared.err)
	}
	return shared.tab
}
