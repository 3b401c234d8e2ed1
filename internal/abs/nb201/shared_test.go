package nb201

import (
	"os"
	"sync"
	"testing"
)

// SharedPath is where the shared ground truth lies relative to this package's directory: the
// repository root's sibling folder shared/ (see DESIGN.md, "Data at hand").
const SharedPath = "../../../../shared/data/nb201/nats_bench_tss_test_acc.csv"

var shared struct {
	once sync.Once
	tab  *Table
	err  error
}

// Shared returns the shared table, read once per test binary. Without the file it skips loudly,
// or fails when the CI variable is set.
func Shared(t testing.TB) *Table {
	t.Helper()
	shared.once.Do(func() {
		f, err := os.Open(SharedPath)
		if err != nil {
			shared.err = err
			return
		}
		defer f.Close()
		shared.tab, shared.err = Read(f)
	})
	if shared.err != nil {
		if os.IsNotExist(shared.err) && os.Getenv("CI") == "" {
			t.Skipf("SKIPPED: NB201 ground truth absent (%v); set CI to make this a failure", shared.err)
		}
		t.Fatalf("shared NB201 table: %v", shared.err)
	}
	return shared.tab
}
