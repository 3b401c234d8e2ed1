package file_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/artifacts/store/file"
	"github.com/abs-nas/abs/artifacts/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := file.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestKilledWriter kills a process in the middle of a Put and checks that the old object is intact,
// that the partial data exists only as a temporary file, and that List does not report it.
func TestKilledWriter(t *testing.T) {
	if dir := os.Getenv("ABS_FILE_TEST_WRITER_DIR"); dir != "" {
		writerProcess(dir)
		return
	}
	dir := t.TempDir()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := []byte("old version")
	if err := st.Put(t.Context(), "k/obj", bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriter$")
	cmd.Env = append(os.Environ(), "ABS_FILE_TEST_WRITER_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The writer prints a line once it has handed 1 MiB to Put and is blocked for more.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "written\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("writer said %q, %v; want \"written\"", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	rc, err := st.Get(t.Context(), "k/obj")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, old) {
		t.Errorf("after killed writer got %q, %v; want %q", got, err, old)
	}
	tmps, err := filepath.Glob(filepath.Join(dir, "k", ".abs-tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmps) != 1 {
		t.Fatalf("temporary files %q, want exactly one left by the killed writer", tmps)
	}
	if fi, err := os.Stat(tmps[0]); err != nil || fi.Size() != 1<<20 {
		t.Errorf("temporary file: %v, %v; want 1 MiB written", fi, err)
	}
	infos, err := st.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "k/obj" {
		t.Errorf("List = %+v, want only k/obj", infos)
	}
}

// writerProcess runs in the child of TestKilledWriter: it puts 1 MiB into k/obj, announces it and
// blocks until killed.
func writerProcess(dir string) {
	st, err := file.New(dir)
	if err != nil {
		panic(err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, 1<<20))
		// The pipe write returns only once Put has consumed the data; wait for it to reach the file.
		for {
			tmps, _ := filepath.Glob(filepath.Join(dir, "k", ".abs-tmp-*"))
			if len(tmps) == 1 {
				if fi, err := os.Stat(tmps[0]); err == nil && fi.Size() == 1<<20 {
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		fmt.Println("written")
		select {} // block forever: the parent kills us
	}()
	st.Put(context.Background(), "k/obj", pr)
}

func TestReservedKey(t *testing.T) {
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := "a/.abs-tmp-1"
	if err := st.Put(t.Context(), key, strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), strconv.Quote(key)) {
		t.Errorf("Put(%q) = %v, want an error naming the key", key, err)
	}
}

func TestURL(t *testing.T) {
	st, err := file.New("/data/runs dir")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.URL("r1/scores.parquet"), "file:///data/runs%20dir/r1/scores.parquet"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

func BenchmarkStore(b *testing.B) {
	st, err := file.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	storetest.Benchmark(b, st)
}

// TestOrphanedTemporaryFiles leaves the temporary file of a killed writer (a process that is
// gone) and one of a live writer (this process) in a folder: Orphans lists the first only, and the
// next write to the folder removes it and keeps the live one.
func TestOrphanedTemporaryFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "stage-0/a", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "stage-0", fmt.Sprintf(".abs-tmp-%d-123", gone.Process.Pid))
	live := filepath.Join(dir, "stage-0", fmt.Sprintf(".abs-tmp-%d-456", os.Getpid()))
	for _, p := range []string{dead, live} {
		if err := os.WriteFile(p, []byte("part"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Orphans(ctx)
	if err != nil || len(got) != 1 || got[0] != dead {
		t.Errorf("Orphans = %v, %v; want [%s]", got, err, dead)
	}
	if err := st.Put(ctx, "stage-0/b", strings.NewReader("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed writer's temporary file is still there after a write: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live writer's temporary file was removed: %v", err)
	}
}
