package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// failing fails its first {{fails}} attempts in the way {{mode}} says: "exit N" exits with status N
// (a Failed node), "no-output" exits 0 without writing its output parameter (an Error node, as when
// a pod's wait container cannot save the outputs). RETRY is replaced by each case's retryStrategy.
const failing = `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: failing
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: marker
    - name: fails
      value: "9"
    - name: mode
  templates:
  - name: main
RETRY
    outputs:
      parameters:
      - name: ok
        valueFrom: {path: /tmp/outputs/ok}
    container:
      image: alpine
      command: [sh, -c]
      args:
      - |
        m="{{workflow.parameters.marker}}"
        n=$(cat "$m" 2>/dev/null || echo 0)
        echo $((n+1)) > "$m"
        if [ $n -lt {{workflow.parameters.fails}} ]; then
          case "{{workflow.parameters.mode}}" in
          no-output) exit 0 ;;
          exit*) exit ${{workflow.parameters.mode}} ;;
          esac
        fi
        mkdir -p "$ABS_OUTPUT_ROOT/tmp/outputs" && echo yes > "$ABS_OUTPUT_ROOT/tmp/outputs/ok"
`

// TestRetryPolicies runs a node that keeps failing under each retryStrategy and counts the
// attempts. The expected counts follow Argo v3.7.18's processNodeRetries: the policy decides
// between Failed and Error nodes (Always both, OnFailure Failed, OnError Error; without a policy
// OnFailure, or Always when an expression is given), then the limit, then the expression over
// lastRetry.
func TestRetryPolicies(t *testing.T) {
	const exitNot2 = `lastRetry.status == 'Error' || lastRetry.exitCode != '2'`
	for _, tc := range []struct {
		policy, expression, mode string
		attempts                 int
		phase, exitCode          string
	}{
		{"", "", "exit 3", 3, phaseFailed, "3"},
		{"", "", "no-output", 1, phaseError, "0"},
		{"Always", "", "exit 3", 3, phaseFailed, "3"},
		{"Always", "", "no-output", 3, phaseError, "0"},
		{"OnFailure", "", "exit 3", 3, phaseFailed, "3"},
		{"OnFailure", "", "no-output", 1, phaseError, "0"},
		{"OnError", "", "exit 3", 1, phaseFailed, "3"},
		{"OnError", "", "no-output", 3, phaseError, "0"},
		{"Always", exitNot2, "exit 2", 1, phaseFailed, "2"},
		{"Always", exitNot2, "exit 1", 3, phaseFailed, "1"},
		{"Always", exitNot2, "exit 137", 3, phaseFailed, "137"},
		{"Always", exitNot2, "no-output", 3, phaseError, "0"},
		{"", "lastRetry.status == 'Error'", "no-output", 3, phaseError, "0"}, // no policy + expression: Always
		{"", "asInt(retries) < 1", "exit 3", 2, phaseFailed, "3"},
		{"OnFailure", "lastRetry.status == 'Error'", "no-output", 1, phaseError, "0"}, // both must allow it
	} {
		name := fmt.Sprintf("%s/%s/%s", tc.policy, tc.expression, tc.mode)
		t.Run(name, func(t *testing.T) {
			rs := "    retryStrategy:\n      limit: \"2\"\n"
			if tc.policy != "" {
				rs += "      retryPolicy: " + tc.policy + "\n"
			}
			if tc.expression != "" {
				rs += "      expression: \"" + tc.expression + "\"\n"
			}
			wf, err := Parse([]byte(strings.Replace(failing, "RETRY\n", rs, 1)), name)
			if err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(t.TempDir(), "count")
			rec, err := newExec(t).Run(context.Background(), wf, map[string]string{"marker": marker, "mode": tc.mode})
			if err == nil {
				t.Fatal("a node failing every attempt succeeded")
			}
			n := rec.Nodes[0]
			if n.Attempts != tc.attempts || n.Phase != tc.phase || n.ExitCode != tc.exitCode {
				t.Errorf("%d attempts, phase %s, exit code %s (%s); want %d, %s, %s", n.Attempts, n.Phase, n.ExitCode, n.Error, tc.attempts, tc.phase, tc.exitCode)
			}
			if rec.Phase != phaseFailed {
				t.Errorf("record phase %s, want Failed", rec.Phase)
			}
		})
	}
}

func TestRetryRefused(t *testing.T) {
	for _, tc := range []struct{ strategy, want string }{
		{"    retryStrategy:\n      limit: \"2\"\n      retryPolicy: OnTransientError\n", `retryPolicy "OnTransientError" is not supported locally`},
		{"    retryStrategy:\n      retryPolicy: Always\n", "limit is missing"},
		{"    retryStrategy:\n      limit: \"2\"\n      backoff:\n        factor: \"2\"\n", "backoff.duration is missing"},
		{"    retryStrategy:\n      limit: \"2\"\n      backoff:\n        duration: 1s\n        factor: \"1.5\"\n", `backoff.factor "1.5": want an integer`},
	} {
		wf, err := Parse([]byte(strings.Replace(failing, "RETRY\n", tc.strategy, 1)), tc.want)
		if err == nil {
			_, err = newExec(t).Run(context.Background(), wf, map[string]string{"marker": filepath.Join(t.TempDir(), "m"), "mode": "exit 3"})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
}

// TestBackoff checks the waits between attempts against Argo's formula, duration·factor^(n-1)
// before retry n, bounded by cap, and the stop once a retry would start after maxDuration from the
// first attempt's start. No time passes: the attempts carry made-up times.
func TestBackoff(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Each attempt takes one second and the next starts when its wait is over.
	attempts := func(waits ...time.Duration) []attempt {
		var as []attempt
		start := t0
		for i := 0; i <= len(waits); i++ {
			as = append(as, attempt{phase: phaseFailed, exitCode: "1", started: start, finished: start.Add(time.Second)})
			if i < len(waits) {
				start = start.Add(time.Second + waits[i])
			}
		}
		return as
	}
	s := time.Second
	for _, tc := range []struct {
		name  string
		r     retry
		waits []time.Duration // the waits before retries 1, 2, …; the last one is refused when stop is set
		stop  string
	}{
		{"duration only", retry{limit: 5, policy: "Always", duration: 10 * s}, []time.Duration{10 * s, 10 * s, 10 * s}, ""},
		{"factor", retry{limit: 5, policy: "Always", duration: 10 * s, factor: 2}, []time.Duration{10 * s, 20 * s, 40 * s, 80 * s}, ""},
		{"cap", retry{limit: 5, policy: "Always", duration: 10 * s, factor: 2, cap: 25 * s}, []time.Duration{10 * s, 20 * s, 25 * s}, ""},
		{"limit", retry{limit: 2, policy: "Always", duration: 10 * s, factor: 2}, []time.Duration{10 * s, 20 * s, 40 * s}, "No more retries left"},
		// Attempt 1 runs 0–1 s, waits 10 s, attempt 2 runs 11–12 s; retry 2 would start at 32 s > 30 s.
		{"maxDuration", retry{limit: 5, policy: "Always", duration: 10 * s, factor: 2, maxDuration: 30 * s}, []time.Duration{10 * s, 20 * s}, "Backoff would exceed max duration limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, want := range tc.waits {
				tried := attempts(tc.waits[:i]...)
				now := tried[i].finished
				wait, ok, why, err := tc.r.next(tried, now)
				if err != nil {
					t.Fatal(err)
				}
				if i == len(tc.waits)-1 && tc.stop != "" {
					if ok || why != tc.stop {
						t.Errorf("after attempt %d: retry %v (%s), want a stop: %s", i+1, ok, why, tc.stop)
					}
					continue
				}
				if !ok || wait != want {
					t.Errorf("after attempt %d: wait %v ok %v (%s), want %v", i+1, wait, ok, why, want)
				}
			}
		})
	}
	// A maxDuration already over stops at once.
	r := retry{limit: 5, policy: "Always", duration: s, maxDuration: 5 * s}
	if _, ok, why, _ := r.next(attempts(), t0.Add(6*s)); ok || why != "Max duration limit exceeded" {
		t.Errorf("past maxDuration: retry %v (%s)", ok, why)
	}
}
