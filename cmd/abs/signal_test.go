package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/abs-nas/abs/internal/pipeline"
)

// TestHelperAbs is not a test of its own: TestRunSignals runs the test binary through it as the
// abs command, with abs's arguments after "--".
func TestHelperAbs(t *testing.T) {
	if os.Getenv("ABS_TEST_HELPER") != "1" {
		t.Skip("runs only as the abs process of TestRunSignals")
	}
	i := slices.Index(os.Args, "--")
	os.Args = append([]string{"abs"}, os.Args[i+1:]...)
	main()
}

// TestRunSignals sends SIGTERM and SIGINT to a running 'abs run': abs must stop the running step
// (which gets SIGTERM), wait for it, write record.json saying the run was interrupted, and exit
// 128 + the signal's number.
func TestRunSignals(t *testing.T) {
	bin := t.TempDir()
	if err := os.Symlink("/bin/sh", filepath.Join(bin, "sh")); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir, runDir := t.TempDir(), filepath.Join(t.TempDir(), "run")
			if err := syscall.Mkfifo(filepath.Join(dir, "ready"), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAbs$", "--", "run", "testdata/interruptible.yaml", "-bin", bin, "-dir", runDir, "-p", "dir="+dir)
			cmd.Env = append(os.Environ(), "ABS_TEST_HELPER=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			ready := make(chan error, 1)
			go func() { _, err := os.ReadFile(filepath.Join(dir, "ready")); ready <- err }() // blocks until the step writes
			select {
			case err := <-ready:
				if err != nil {
					t.Fatal(err)
				}
			case err := <-exited:
				t.Fatalf("abs ended before its step was ready: %v", err)
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				t.Fatal("the step did not get ready within a minute")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-exited:
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				t.Fatalf("abs did not exit within a minute of %v", sig)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 128+int(sig) {
				t.Errorf("abs ended with %v, want exit status %d", err, 128+int(sig))
			}
			if _, err := os.Stat(filepath.Join(dir, "term")); err != nil {
				t.Errorf("the step did not get SIGTERM: %v", err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "main"))
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			// abs waited for its child, so the step's process is gone, not merely orphaned.
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("the step's process %d is still there after abs exited (kill -0: %v)", pid, err)
			}
			rec, err := pipeline.ReadRecord(runDir)
			if err != nil {
				t.Fatal(err)
			}
			if want := "interrupted by signal " + os.Signal(sig).String(); rec.Phase != "Interrupted" || rec.Message != want {
				t.Errorf("record.json: phase %q, message %q; want Interrupted, %q", rec.Phase, rec.Message, want)
			}
			if len(rec.Nodes) != 1 || rec.Nodes[0].Phase != "Interrupted" {
				t.Errorf("record.json nodes %+v, want the one step Interrupted", rec.Nodes)
			}
		})
	}
}
