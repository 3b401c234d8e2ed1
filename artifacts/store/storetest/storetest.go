// Package storetest is the conformance suite that every store.Store backend passes.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/store"
)

// Run runs the conformance suite against the stores newStore returns. Each call of newStore must
// return an empty store that no other call shares, and its URLs must open with artifacts.Open and
// artifacts.OpenObject in the test's environment.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Streaming", testStreaming},
		{"Overwrite", testOverwrite},
		{"Stat", testStat},
		{"List", testList},
		{"Delete", testDelete},
		{"Missing", testMissing},
		{"BadKeys", testBadKeys},
		{"ReaderError", testReaderError},
		{"ConcurrentPut", testConcurrentPut},
		{"Cancel", testCancel},
		{"URL", testURL},
		{"Create", testCreate},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// payload returns n deterministic pseudo-random bytes from seed.
// Payload returns n pseudo-random bytes, the same for the same seed.
func Payload(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, st store.Store, key string, data []byte) {
	t.Helper()
	if err := st.Put(t.Context(), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// Get reads the whole object at key, failing the test on any error.
func Get(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

func checkBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func checkNotExist(t *testing.T, st store.Store, key string) {
	t.Helper()
	if rc, err := st.Get(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get(%q) error = %v, want fs.ErrNotExist", key, err)
	}
	if _, err := st.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%q) error = %v, want fs.ErrNotExist", key, err)
	}
}

func testRoundTrip(t *testing.T, st store.Store) {
	// 6 MiB + 123 crosses a 5 MiB boundary (the S3 minimum multipart part size) with an odd tail.
	for i, n := range []int{0, 1, 1000, 6<<20 + 123} {
		key := fmt.Sprintf("rt/obj-%d.bin", n)
		want := Payload(uint64(i), n)
		put(t, st, key, want)
		checkBytes(t, key, Get(t, st, key), want)
		info, err := st.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat(%q): %v", key, err)
		}
		if info.Key != key || info.Size != int64(n) {
			t.Errorf("Stat(%q) = {Key %q, Size %d}, want {Key %q, Size %d}", key, info.Key, info.Size, key, n)
		}
	}
}

// chunkReader hands out data in small chunks and hides any io.WriterTo/Seeker, so a backend cannot
// learn the length up front and must stream.
type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func testStreaming(t *testing.T, st store.Store) {
	want := Payload(7, 5<<20+4321)
	if err := st.Put(t.Context(), "stream/x", &chunkReader{data: want, chunk: 999}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	rc, err := st.Get(t.Context(), "stream/x")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	// Read back in small pieces too.
	var got bytes.Buffer
	buf := make([]byte, 777)
	for {
		n, err := rc.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
	checkBytes(t, "stream/x", got.Bytes(), want)
}

func testOverwrite(t *testing.T, st store.Store) {
	put(t, st, "ow/k", Payload(1, 5000))
	want := Payload(2, 300)
	put(t, st, "ow/k", want)
	checkBytes(t, "ow/k after overwrite", Get(t, st, "ow/k"), want)
	info, err := st.Stat(t.Context(), "ow/k")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 300 {
		t.Errorf("Stat size after overwrite = %d, want 300", info.Size)
	}
	if infos, err := st.List(t.Context(), "ow/"); err != nil || len(infos) != 1 {
		t.Errorf("List(ow/) = %v, %v; want exactly one object", infos, err)
	}
}

func testStat(t *testing.T, st store.Store) {
	before := time.Now()
	put(t, st, "stat/a/b.txt", []byte("hello"))
	info, err := st.Stat(t.Context(), "stat/a/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "stat/a/b.txt" || info.Size != 5 {
		t.Errorf("Stat = %+v, want Key stat/a/b.txt, Size 5", info)
	}
	// Servers keep whole seconds; allow clock skew of a minute between test and server.
	if d := info.ModTime.Sub(before); d < -time.Minute || d > time.Minute {
		t.Errorf("ModTime %v is %v from the time of Put %v", info.ModTime, d, before)
	}
}

func testList(t *testing.T, st store.Store) {
	keys := []string{
		"runs/r1/x", "runs/r1/y/z", "runs/r10/x", "runs/r2", "runs.txt", "other/a", "runs/r1/y/z2",
	}
	for i, k := range keys {
		put(t, st, k, Payload(uint64(i), i+1))
	}
	size := map[string]int64{}
	for i, k := range keys {
		size[k] = int64(i + 1)
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"other/a", "runs.txt", "runs/r1/x", "runs/r1/y/z", "runs/r1/y/z2", "runs/r10/x", "runs/r2"}},
		{"runs/", []string{"runs/r1/x", "runs/r1/y/z", "runs/r1/y/z2", "runs/r10/x", "runs/r2"}},
		{"runs", []string{"runs.txt", "runs/r1/x", "runs/r1/y/z", "runs/r1/y/z2", "runs/r10/x", "runs/r2"}},
		{"runs/r1", []string{"runs/r1/x", "runs/r1/y/z", "runs/r1/y/z2", "runs/r10/x"}},
		{"runs/r1/", []string{"runs/r1/x", "runs/r1/y/z", "runs/r1/y/z2"}},
		{"runs/r1/y/z", []string{"runs/r1/y/z", "runs/r1/y/z2"}},
		{"runs/r1/x/", nil},
		{"runs/r3", nil},
		{"nope/", nil},
	} {
		infos, err := st.List(t.Context(), tc.prefix)
		if err != nil {
			t.Errorf("List(%q): %v", tc.prefix, err)
			continue
		}
		var got []string
		for _, in := range infos {
			got = append(got, in.Key)
			if in.Size != size[in.Key] {
				t.Errorf("List(%q): %s has size %d, want %d", tc.prefix, in.Key, in.Size, size[in.Key])
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

func testDelete(t *testing.T, st store.Store) {
	put(t, st, "del/a", []byte("a"))
	put(t, st, "del/ab", []byte("ab"))
	put(t, st, "del/a2/c", []byte("c"))
	if err := st.Delete(t.Context(), "del/a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkNotExist(t, st, "del/a")
	checkBytes(t, "del/ab", Get(t, st, "del/ab"), []byte("ab"))
	checkBytes(t, "del/a2/c", Get(t, st, "del/a2/c"), []byte("c"))
	if err := st.Delete(t.Context(), "del/a"); err != nil {
		t.Errorf("Delete of a deleted object: %v, want nil", err)
	}
	if err := st.Delete(t.Context(), "del/never/was"); err != nil {
		t.Errorf("Delete of a missing object: %v, want nil", err)
	}
	infos, err := st.List(t.Context(), "del/")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Key != "del/a2/c" || infos[1].Key != "del/ab" {
		t.Errorf("List after Delete = %+v, want del/a2/c and del/ab", infos)
	}
}

func testMissing(t *testing.T, st store.Store) {
	checkNotExist(t, st, "missing/k")
	put(t, st, "missing/dir/k", []byte("x"))
	// A key that is only a prefix of other keys is not an object.
	checkNotExist(t, st, "missing/dir")
	infos, err := st.List(t.Context(), "missing/none/")
	if err != nil || len(infos) != 0 {
		t.Errorf("List of an empty prefix = %v, %v; want no objects and no error", infos, err)
	}
}

func testBadKeys(t *testing.T, st store.Store) {
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "../up", "a/../../up", "a//b", "a/", "./a", `a\b`} {
		check := func(op string, err error) {
			t.Helper()
			if err == nil {
				t.Errorf("%s(%q): no error, want an invalid-key error", op, key)
				return
			}
			if errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s(%q) = %v, want an invalid-key error, not fs.ErrNotExist", op, key, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
				t.Errorf("%s(%q) = %q, want the error to name the key", op, key, err)
			}
		}
		check("Put", st.Put(ctx, key, strings.NewReader("x")))
		rc, err := st.Get(ctx, key)
		if err == nil {
			rc.Close()
		}
		check("Get", err)
		_, err = st.Stat(ctx, key)
		check("Stat", err)
		check("Delete", st.Delete(ctx, key))
	}
	for _, prefix := range []string{"/abs", "../", "a/../"} {
		if _, err := st.List(ctx, prefix); err == nil {
			t.Errorf("List(%q): no error, want an invalid-prefix error", prefix)
		}
	}
	if infos, err := st.List(ctx, ""); err != nil || len(infos) != 0 {
		t.Errorf("after bad keys, List(\"\") = %v, %v; want an empty store", infos, err)
	}
}

var errBoom = errors.New("boom: reader failed")

// failingReader yields n bytes of data, then fails with errBoom.
type failingReader struct {
	data []byte
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errBoom
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func testReaderError(t *testing.T, st store.Store) {
	// A small object (one request) and a large one (several parts on S3).
	for _, n := range []int{10, 6 << 20} {
		key := fmt.Sprintf("rerr/new-%d", n)
		err := st.Put(t.Context(), key, &failingReader{data: Payload(3, n)})
		if !errors.Is(err, errBoom) {
			t.Errorf("Put with a failing reader = %v, want it to wrap %v", err, errBoom)
		}
		checkNotExist(t, st, key)

		key = fmt.Sprintf("rerr/old-%d", n)
		old := Payload(4, 1234)
		put(t, st, key, old)
		if err := st.Put(t.Context(), key, &failingReader{data: Payload(5, n)}); !errors.Is(err, errBoom) {
			t.Errorf("overwriting Put with a failing reader = %v, want it to wrap %v", err, errBoom)
		}
		checkBytes(t, key+" after failed overwrite", Get(t, st, key), old)
	}
	infos, err := st.List(t.Context(), "rerr/")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 {
		t.Errorf("List after failed puts = %+v, want only the two old objects", infos)
	}
}

func testConcurrentPut(t *testing.T, st store.Store) {
	const writers = 6
	const size = 300 << 10
	versions := make([][]byte, writers+1)
	for i := range versions {
		versions[i] = Payload(uint64(100+i), size+i) // distinct sizes and bytes
	}
	put(t, st, "conc/k", versions[writers])
	isVersion := func(b []byte) bool {
		for _, v := range versions {
			if bytes.Equal(b, v) {
				return true
			}
		}
		return false
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.Put(t.Context(), "conc/k", &chunkReader{data: versions[i], chunk: 4096})
		}()
	}
	// Readers racing with the writers see one complete version, never a mixture or a part.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	readErrs := make(chan error, 1)
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			rc, err := st.Get(t.Context(), "conc/k")
			if err != nil {
				readErrs <- fmt.Errorf("Get during concurrent puts: %w", err)
				return
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				readErrs <- fmt.Errorf("read during concurrent puts: %w", err)
				return
			}
			if !isVersion(b) {
				readErrs <- fmt.Errorf("read %d bytes during concurrent puts that are no complete version", len(b))
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Put: %v", err)
		}
	}
	select {
	case err := <-readErrs:
		t.Error(err)
	default:
	}
	got := Get(t, st, "conc/k")
	if !isVersion(got) || bytes.Equal(got, versions[writers]) {
		t.Errorf("after concurrent puts got %d bytes, want exactly one writer's complete version", len(got))
	}
	if infos, err := st.List(t.Context(), "conc/"); err != nil || len(infos) != 1 {
		t.Errorf("List after concurrent puts = %v, %v; want one object", infos, err)
	}
}

// cancelReader yields data and calls cancel once it has handed out after bytes; it keeps yielding
// afterwards, so only the context can stop the Put.
type cancelReader struct {
	data   []byte
	after  int
	read   int
	cancel context.CancelFunc
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 64<<10)
	copy(p, r.data[:n])
	r.data = r.data[n:]
	r.read += n
	if r.read >= r.after {
		r.cancel()
	}
	return n, nil
}

func testCancel(t *testing.T, st store.Store) {
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.Put(done, "cancel/pre", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context = %v, want context.Canceled", err)
	}
	checkNotExist(t, st, "cancel/pre")
	put(t, st, "cancel/k", []byte("old"))
	if rc, err := st.Get(done, "cancel/k"); !errors.Is(err, context.Canceled) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := st.Stat(done, "cancel/k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := st.List(done, "cancel/"); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context = %v, want context.Canceled", err)
	}
	if err := st.Delete(done, "cancel/k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a canceled context = %v, want context.Canceled", err)
	}
	// Cancel mid-stream, both within the first 5 MiB and after it.
	for _, after := range []int{100 << 10, 6 << 20} {
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancelReader{data: Payload(9, 8<<20), after: after, cancel: cancel}
		if err := st.Put(ctx, "cancel/k", r); !errors.Is(err, context.Canceled) {
			t.Errorf("Put canceled after %d bytes = %v, want context.Canceled", after, err)
		}
		cancel()
		checkBytes(t, "cancel/k after canceled overwrite", Get(t, st, "cancel/k"), []byte("old"))
	}
}

func testURL(t *testing.T, st store.Store) {
	want := []byte("url round trip")
	put(t, st, "url/dir/obj.bin", want)
	u := st.URL("url/dir/obj.bin")

	st2, key, err := artifacts.OpenObject(t.Context(), u)
	if err != nil {
		t.Fatalf("OpenObject(%q): %v", u, err)
	}
	if got := st2.URL(key); got != u {
		t.Errorf("OpenObject(%q) gives URL %q", u, got)
	}
	checkBytes(t, "via OpenObject", Get(t, st2, key), want)

	// The store at the object's directory holds the object under its base name.
	dirURL := strings.TrimSuffix(u, "/obj.bin")
	st3, err := artifacts.Open(t.Context(), dirURL)
	if err != nil {
		t.Fatalf("Open(%q): %v", dirURL, err)
	}
	if got := st3.URL("obj.bin"); got != u {
		t.Errorf("Open(%q).URL(obj.bin) = %q, want %q", dirURL, got, u)
	}
	checkBytes(t, "via Open", Get(t, st3, "obj.bin"), want)
}

// Benchmark measures Put and Get of small (4 KiB) and large (16 MiB) objects in st, reporting
// throughput (go test -bench reports MB/s from b.SetBytes).
func Benchmark(b *testing.B, st store.Store) {
	for _, n := range []int{4 << 10, 16 << 20} {
		data := Payload(42, n)
		key := fmt.Sprintf("bench/%d", n)
		b.Run(fmt.Sprintf("Put/%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if err := st.Put(b.Context(), key, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Get/%dKiB", n>>10), func(b *testing.B) {
			if err := st.Put(b.Context(), key, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n))
			for b.Loop() {
				rc, err := st.Get(b.Context(), key)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

// testCreate checks that Create writes a new object, refuses an existing one with fs.ErrExist
// (leaving it as it was), and that of concurrent Creates of one key exactly one succeeds.
func testCreate(t *testing.T, st store.Store) {
	ctx := t.Context()
	if err := st.Create(ctx, "lock", strings.NewReader("first")); err != nil {
		t.Fatalf("Create of a new key: %v", err)
	}
	if err := st.Create(ctx, "lock", strings.NewReader("second")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create of an existing key = %v, want fs.ErrExist", err)
	}
	checkBytes(t, "lock after a refused Create", Get(t, st, "lock"), []byte("first"))
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- st.Create(ctx, "race/lock", strings.NewReader(fmt.Sprint(i))) }()
	}
	won := 0
	for range n {
		err := <-errs
		if err == nil {
			won++
		} else if !errors.Is(err, fs.ErrExist) {
			t.Errorf("concurrent Create: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent Creates succeeded, want 1", won, n)
	}
	check := func(err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), `"../x"`) {
			t.Errorf("Create(../x) = %v, want an invalid-key error naming it", err)
		}
	}
	check(st.Create(ctx, "../x", strings.NewReader("x")))
}
