package step

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteOutputUnderRoot(t *testing.T) {
	root := t.TempDir()
	t.Setenv(OutputRootEnv, root)
	c := Common{Outputs: "/tmp/outputs"}
	if err := c.WriteOutput("size", "42"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "tmp", "outputs", "size"))
	if err != nil || string(b) != "42" {
		t.Errorf("got %q, %v; want 42", b, err)
	}
	if err := (&Common{}).WriteOutput("x", "1"); err != nil {
		t.Errorf("without -outputs: %v", err)
	}
}

func TestDecodeConfig(t *testing.T) {
	type cfg struct {
		Width  int     `json:"width"`
		Subset int     `json:"subset"`
		LR     float64 `json:"lr"`
	}
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"lr": 0.5}`), 0o644)
	for _, tc := range []struct {
		in      string
		want    cfg
		wantErr string
	}{
		{"{}", cfg{8, 100, 0.1}, ""},
		{"", cfg{8, 100, 0.1}, ""},
		{`{"width": 16}`, cfg{16, 100, 0.1}, ""},
		{"@" + file, cfg{8, 100, 0.5}, ""},
		{`{"widht": 16}`, cfg{}, `unknown field "widht"`},
		{`{"width": "x"}`, cfg{}, "width"},
		{"@/no/such/file", cfg{}, "/no/such/file"},
	} {
		got := cfg{8, 100, 0.1}
		err := (&Common{Config: tc.in}).DecodeConfig(&got)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want it to mention %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestProgressFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "progress")
	t.Setenv("ARGO_PROGRESS_FILE", f)
	p := NewProgress("train", 5)
	read := func() string { b, _ := os.ReadFile(f); return string(b) }
	if got := read(); got != "0/5\n" {
		t.Errorf("start: %q", got)
	}
	p.Add(5)
	if got := read(); got != "5/5\n" {
		t.Errorf("end: %q", got)
	}
}

// TestMainFailure runs a failing step in a child process: it must exit non-zero and write its
// reason to the termination log.
func TestMainFailure(t *testing.T) {
	if os.Getenv("STEP_TEST_CHILD") != "" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{os.Args[0]}, os.Args[i+1:]...)
				break
			}
		}
		Main("demo", func(ctx context.Context, args []string) error {
			fs := flag.NewFlagSet("demo", flag.ContinueOnError)
			var c Common
			c.Register(fs)
			if err := Parse(fs, args); err != nil {
				return err
			}
			return errors.New("read scores runs/x/scores.parquet: file does not exist")
		})
		return
	}
	for _, tc := range []struct {
		args []string
		code int
		log  string
	}{
		{[]string{"-run", "x"}, 1, "demo: read scores runs/x/scores.parquet: file does not exist"},
		{[]string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
	} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "dev"), 0o755)
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestMainFailure$", "--"}, tc.args...)...)
		cmd.Env = append(os.Environ(), "STEP_TEST_CHILD=1", OutputRootEnv+"="+root)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != tc.code {
			t.Errorf("%v: err %v, want exit status %d; output %s", tc.args, err, tc.code, out)
		}
		b, _ := os.ReadFile(filepath.Join(root, "dev", "termination-log"))
		if !strings.Contains(string(b), tc.log) {
			t.Errorf("%v: termination log %q, want %q", tc.args, b, tc.log)
		}
	}
}
