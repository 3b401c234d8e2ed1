package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sleeper starts a background sleep in its process group, records its pid in DIR/child, says
// "ready" into the fifo DIR/ready and waits. With handle=term it traps SIGTERM, writes DIR/term and
// exits 143; with handle=ignore it ignores SIGTERM (and so does its sleep).
const sleeper = `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: sleeper
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: dir
    - name: handle
  templates:
  - name: main
    retryStrategy:
      limit: "3"
      retryPolicy: Always
    container:
      image: alpine
      command: [sh, -c]
      args:
      - |
        d="{{workflow.parameters.dir}}"
        case {{workflow.parameters.handle}} in
        term) trap 'echo got TERM > "$d/term"; exit 143' TERM ;;
        ignore) trap '' TERM ;;
        esac
        sleep 1000 &
        echo $! > "$d/child"
        echo $$ > "$d/main"
        echo ready > "$d/ready"
        wait
`

// startSleeper runs the sleeper workflow in the background and returns once its container said it
// is ready; done receives Run's results.
func startSleeper(ctx context.Context, t *testing.T, e *Executor, handle string) (dir string, done chan runResult) {
	t.Helper()
	wf, err := Parse([]byte(sleeper), "sleeper.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "ready"), 0o600); err != nil {
		t.Fatal(err)
	}
	done = make(chan runResult, 1)
	go func() {
		rec, err := e.Run(ctx, wf, map[string]string{"dir": dir, "handle": handle})
		done <- runResult{rec, err}
	}()
	ready := make(chan error, 1)
	go func() { _, err := os.ReadFile(filepath.Join(dir, "ready")); ready <- err }() // blocks until the container writes
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case r := <-done:
		t.Fatalf("the run ended before its container was ready: %v", r.err)
	case <-time.After(time.Minute):
		t.Fatal("the container did not get ready within a minute")
	}
	return dir, done
}

type runResult struct {
	rec *Record
	err error
}

// TestInterrupt ends the executor's context while a container runs: the container's whole process
// group gets SIGTERM (the sleep in the background too), the executor waits for it (SIGKILL after
// the grace period when it ignores SIGTERM), does not retry it, and the record says the run was
// interrupted, with the cause.
func TestInterrupt(t *testing.T) {
	for _, tc := range []struct {
		handle, exitCode string
	}{{"term", "143"}, {"ignore", "137"}} {
		t.Run(tc.handle, func(t *testing.T) {
			e := newExec(t)
			e.StopGrace = 200 * time.Millisecond // only the ignoring container waits this long
			if tc.handle == "term" {
				e.StopGrace = time.Hour // it must end by SIGTERM alone
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			dir, done := startSleeper(ctx, t, e, tc.handle)
			cancel(errors.New("interrupted by signal terminated"))
			var r runResult
			select {
			case r = <-done:
			case <-time.After(time.Minute):
				t.Fatal("Run did not return within a minute of the interrupt")
			}
			if r.err == nil {
				t.Fatal("an interrupted run returned no error")
			}
			for _, f := range []string{"main", "child"} {
				if pid := readPid(t, filepath.Join(dir, f)); running(t, pid) {
					t.Errorf("the container's %s process %d still runs after Run returned", f, pid)
				}
			}
			_, err := os.Stat(filepath.Join(dir, "term"))
			if got := err == nil; got != (tc.handle == "term") {
				t.Errorf("the container's SIGTERM trap ran: %v", got)
			}
			saved, err := ReadRecord(e.Dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range []*Record{r.rec, saved} {
				if rec.Phase != phaseInterrupted || rec.Message != "interrupted by signal terminated" {
					t.Errorf("record phase %q message %q, want Interrupted by the cause", rec.Phase, rec.Message)
				}
				if len(rec.Nodes) != 1 {
					t.Fatalf("%d nodes recorded, want 1", len(rec.Nodes))
				}
				n := rec.Nodes[0]
				if n.Phase != phaseInterrupted || n.Attempts != 1 || n.ExitCode != tc.exitCode {
					t.Errorf("node phase %s, %d attempts, exit code %s; want Interrupted, 1, %s", n.Phase, n.Attempts, n.ExitCode, tc.exitCode)
				}
			}
		})
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// running reports whether process pid still runs: it exists and is not a zombie. A process sent
// SIGKILL ends within moments but not at once, so it waits up to ten seconds for it to end.
func running(t *testing.T, pid int) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, os.ErrNotExist) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the command name in parentheses: "pid (comm) S ...".
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
			return false
		}
		if time.Now().After(deadline) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeftoversKilled runs a container whose main process exits while a process it started in the
// background still runs and holds its output open: as in a container, that process is killed, and
// the node ends when its main process does.
func TestLeftoversKilled(t *testing.T) {
	wf, err := Parse([]byte(strings.Replace(sleeper, "        echo ready > \"$d/ready\"\n        wait\n", "        echo started\n", 1)), "leftover.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := newExec(t)
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), wf, map[string]string{"dir": dir, "handle": "none"})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the node did not end within a minute of its main process")
	}
	if pid := readPid(t, filepath.Join(dir, "child")); running(t, pid) {
		t.Errorf("the background process %d still runs", pid)
	}
	if got := e.Stdout.(*bytes.Buffer).String(); got != "started\n" {
		t.Errorf("stdout %q, want the container's output", got)
	}
}
