package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func lookPath(name string) (string, error) { return exec.LookPath(name) }

func newExec(t *testing.T) *Executor {
	t.Helper()
	return &Executor{Resolve: lookPath, Dir: t.TempDir(), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Log: quiet}
}

// countdown is a recursive steps template: each level writes n+1 and whether to go on, like the
// shrink loop of the ABS pipelines.
const countdown = `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: countdown-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: stop
      value: "3"
  templates:
  - name: main
    steps:
    - - name: loop
        template: loop
        arguments:
          parameters:
          - name: i
            value: "0"
    - - name: last
        template: echo
        arguments:
          parameters:
          - name: msg
            value: "done after {{workflow.parameters.stop}}"
  - name: loop
    inputs:
      parameters:
      - name: i
    steps:
    - - name: inc
        template: inc
        arguments:
          parameters:
          - name: i
            value: "{{inputs.parameters.i}}"
    - - name: next
        template: loop
        when: "{{steps.inc.outputs.parameters.more}} == true"
        arguments:
          parameters:
          - name: i
            value: "{{steps.inc.outputs.parameters.next}}"
  - name: inc
    inputs:
      parameters:
      - name: i
    outputs:
      parameters:
      - name: next
        valueFrom:
          path: /tmp/outputs/next
      - name: more
        valueFrom:
          path: /tmp/outputs/more
    container:
      image: alpine
      command: [sh, -c]
      args:
      - |
        set -e
        mkdir -p "$ABS_OUTPUT_ROOT/tmp/outputs"
        n=$(( {{inputs.parameters.i}} + 1 ))
        echo $n > "$ABS_OUTPUT_ROOT/tmp/outputs/next"
        if [ $n -lt {{workflow.parameters.stop}} ]; then echo true; else echo false; fi > "$ABS_OUTPUT_ROOT/tmp/outputs/more"
  - name: echo
    inputs:
      parameters:
      - name: msg
    container:
      image: alpine
      command: [sh, -c, 'echo "$0"', "{{inputs.parameters.msg}}"]
`

func TestRecursionWhenOutputs(t *testing.T) {
	wf, err := Parse([]byte(countdown), "countdown.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, stop := range []string{"1", "3", "5"} {
		e := newExec(t)
		rec, err := e.Run(context.Background(), wf, map[string]string{"stop": stop})
		if err != nil {
			t.Fatalf("stop=%s: %v", stop, err)
		}
		var names []string
		for _, n := range rec.Nodes {
			names = append(names, n.Name)
		}
		want := []string{"loop/inc"}
		prefix := "loop"
		for i := 1; i < int(stop[0]-'0'); i++ {
			prefix += "/next"
			want = append(want, prefix+"/inc")
		}
		want = append(want, "last")
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("stop=%s: nodes %v, want %v", stop, names, want)
		}
		lastInc := rec.Nodes[len(rec.Nodes)-2]
		if lastInc.Outputs["next"] != stop || lastInc.Outputs["more"] != "false" {
			t.Errorf("stop=%s: last inc outputs %v, want next=%s more=false", stop, lastInc.Outputs, stop)
		}
		if got := e.Stdout.(*bytes.Buffer).String(); got != "done after "+stop+"\n" {
			t.Errorf("stop=%s: stdout %q", stop, got)
		}
	}
}

const dagWF = `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: diamond
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: d
        template: cat
        dependencies: [b, c]
        arguments:
          parameters:
          - name: v
            value: "{{tasks.b.outputs.parameters.v}}+{{tasks.c.outputs.parameters.v}}"
      - name: c
        template: cat
        dependencies: [a]
        arguments:
          parameters:
          - name: v
            value: "c({{tasks.a.outputs.parameters.v}})"
      - name: b
        template: cat
        dependencies: [a]
        arguments:
          parameters:
          - name: v
            value: "b({{tasks.a.outputs.parameters.v}})"
      - name: a
        template: cat
        arguments:
          parameters:
          - name: v
            value: a
  - name: cat
    inputs:
      parameters:
      - name: v
    outputs:
      parameters:
      - name: v
        valueFrom:
          path: /out/v
    container:
      image: alpine
      command: [sh, -c, 'mkdir -p "$ABS_OUTPUT_ROOT/out" && printf %s "$0" > "$ABS_OUTPUT_ROOT/out/v"', "{{inputs.parameters.v}}"]
`

func TestDAG(t *testing.T) {
	wf, err := Parse([]byte(dagWF), "dag.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := newExec(t)
	rec, err := e.Run(context.Background(), wf, nil)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, n := range rec.Nodes {
		order = append(order, n.Name)
	}
	if got, want := strings.Join(order, " "), "a b c d"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	if got, want := rec.Nodes[3].Outputs["v"], "b(a)+c(a)"; got != want {
		t.Errorf("d output %q, want %q", got, want)
	}
}

const flaky = `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: flaky
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: marker
      value: ""
    - name: fails
      value: "1"
  templates:
  - name: main
    retryStrategy:
      limit: "2"
      backoff:
        duration: "10ms"
        factor: "2"
    container:
      image: alpine
      command: [sh, -c]
      args:
      - |
        m={{workflow.parameters.marker}}
        n=$(cat "$m" 2>/dev/null || echo 0)
        echo $((n+1)) > "$m"
        if [ $n -lt {{workflow.parameters.fails}} ]; then
          echo "attempt $n failed on purpose" > "$ABS_OUTPUT_ROOT/dev/termination-log"
          exit 3
        fi
`

func TestRetries(t *testing.T) {
	wf, err := Parse([]byte(flaky), "flaky.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fails    string
		attempts int
		ok       bool
	}{{"0", 1, true}, {"1", 2, true}, {"2", 3, true}, {"3", 3, false}} {
		marker := filepath.Join(t.TempDir(), "count")
		e := newExec(t)
		rec, err := e.Run(context.Background(), wf, map[string]string{"marker": marker, "fails": tc.fails})
		if (err == nil) != tc.ok {
			t.Errorf("fails=%s: err %v, want success %v", tc.fails, err, tc.ok)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "attempt 2 failed on purpose")) {
			t.Errorf("fails=%s: error %v should carry the termination log", tc.fails, err)
		}
		if got := rec.Nodes[0].Attempts; got != tc.attempts {
			t.Errorf("fails=%s: %d attempts, want %d", tc.fails, got, tc.attempts)
		}
	}
}

func TestRerun(t *testing.T) {
	wf, err := Parse([]byte(flaky), "flaky.yaml")
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "count")
	e := newExec(t)
	if _, err := e.Run(context.Background(), wf, map[string]string{"marker": marker, "fails": "0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Rerun(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "main") {
		t.Errorf("rerun of a missing node: %v, want an error listing the nodes", err)
	}
	n, err := (&Executor{Resolve: lookPath, Dir: e.Dir, Log: quiet}).Rerun(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if n.Phase != "Succeeded" {
		t.Errorf("phase %s", n.Phase)
	}
	b, _ := os.ReadFile(marker)
	if strings.TrimSpace(string(b)) != "2" {
		t.Errorf("marker %q: the rerun should have run the command a second time with its recorded arguments", b)
	}
}

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		params     map[string]string
		want       string
	}{
		{"unknown parameter", countdown, map[string]string{"stpo": "2"}, `parameter "stpo": the workflow has no such parameter (it has stop)`},
		{"unsupported field", strings.Replace(countdown, "      image: alpine\n      command: [sh, -c]\n", "      image: alpine\n      workingDir: /tmp\n      command: [sh, -c]\n", 1), nil, "field spec.templates[2].container.workingDir"},
		{"script template", strings.Replace(countdown, "  - name: echo\n", "  - name: py\n    script:\n      image: python\n      source: print(1)\n  - name: echo\n", 1), nil, "spec.templates[3].script.image"},
		{"bad when", strings.Replace(countdown, "== true", "=== true", 1), nil, "when"},
		{"missing binary", strings.Replace(countdown, "command: [sh, -c]", "command: [no-such-step-binary]", 1), nil, "no-such-step-binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf, err := Parse([]byte(tc.yaml), tc.name)
			if err == nil {
				_, err = newExec(t).Run(context.Background(), wf, tc.params)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestWhen(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"true == true", true}, {"false == true", false}, {"true", true}, {"!false", true},
		{"3 > 2", true}, {"10 > 9", true}, {"2.5 <= 2", false}, {"1e3 == 1000", true},
		{"abc == abc", true}, {"'a b' != 'a b'", false}, {`"x" == x`, true},
		{"1 < 2 && 2 < 3", true}, {"1 > 2 || 2 < 3", true}, {"!(1 < 2) || false", false},
		{"(true || false) && false", false}, {"true || false && false", true},
	} {
		got, err := evalWhen(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("evalWhen(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "1 <", "a < b", "1 + 2", "(true", "'open", "3"} {
		if _, err := evalWhen(bad); err == nil {
			t.Errorf("evalWhen(%q): no error", bad)
		}
	}
}

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"a": "1", "inputs.parameters.x": "y"}
	got, err := substitute("{{a}}-{{ inputs.parameters.x }}-{{a}}", vars)
	if err != nil || got != "1-y-1" {
		t.Errorf("got %q, %v", got, err)
	}
	for _, bad := range []string{"{{b}}", "{{a", "{{=1+1}}"} {
		if _, err := substitute(bad, vars); err == nil {
			t.Errorf("substitute(%q): no error", bad)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRecursionDepthLimit runs the countdown recursion to Argo's limit: its deepest container runs
// at depth stop+2 (main 1, loop 2, inc 3, next/loop 3, …), and Argo fails a template at depth 100.
func TestRecursionDepthLimit(t *testing.T) {
	wf, err := Parse([]byte(countdown), "countdown.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := newExec(t).Run(context.Background(), wf, map[string]string{"stop": "97"})
	if err != nil {
		t.Fatalf("stop=97 (deepest depth 99): %v", err)
	}
	if got := len(rec.Nodes); got != 98 {
		t.Errorf("stop=97: %d containers ran, want 97 inc and 1 echo", got)
	}
	_, err = newExec(t).Run(context.Background(), wf, map[string]string{"stop": "98"})
	if err == nil || !strings.Contains(err.Error(), "Maximum recursion depth exceeded") {
		t.Errorf("stop=98 (depth 100): got %v, want Argo's recursion depth error", err)
	}
}

// outputsWF writes the file /tmp/outputs/v with the bytes of its parameter (printf %b).
const outputsWF = `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: outputs
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: content
      value: ""
  templates:
  - name: main
    outputs:
      parameters:
      - name: v
        valueFrom: {path: /tmp/outputs/v}
      - name: missing
        valueFrom: {path: /tmp/outputs/none, default: "dflt\n"}
    container:
      image: alpine
      command: [sh, -c, 'mkdir -p "$ABS_OUTPUT_ROOT/tmp/outputs" && printf %b "$0" > "$ABS_OUTPUT_ROOT/tmp/outputs/v"', "{{workflow.parameters.content}}"]
`

// TestOutputTrimming checks that an output parameter loses one trailing newline and nothing else,
// as Argo's executor does (strings.TrimSuffix(output, "\n") in workflow/executor/executor.go), the
// default included.
func TestOutputTrimming(t *testing.T) {
	wf, err := Parse([]byte(outputsWF), "outputs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ content, want string }{
		{`a`, "a"}, {`a\n`, "a"}, {`a\n\n`, "a\n"}, {` b \n`, " b "}, {`c\r\n`, "c\r"}, {`\n`, ""}, {`\t x`, "\t x"},
	} {
		rec, err := newExec(t).Run(context.Background(), wf, map[string]string{"content": tc.content})
		if err != nil {
			t.Fatalf("%q: %v", tc.content, err)
		}
		out := rec.Nodes[0].Outputs
		if out["v"] != tc.want || out["missing"] != "dflt" {
			t.Errorf("file %q: outputs v=%q missing=%q, want v=%q missing=%q", tc.content, out["v"], out["missing"], tc.want, "dflt")
		}
	}
}

// lastOfLoop is the countdown whose recursive template passes its last value out, the way the ABS
// pipelines pass the final shrinking stage to the search step: by an expression that takes the
// nested call's output when it ran and its own value when the nested call was skipped.
var lastOfLoop = strings.NewReplacer(
	`            value: "done after {{workflow.parameters.stop}}"`,
	`            value: "last {{steps.loop.outputs.parameters.last}} status {{steps.loop.status}}"`,
	`  - name: loop
    inputs:
      parameters:
      - name: i
`, `  - name: loop
    inputs:
      parameters:
      - name: i
    outputs:
      parameters:
      - name: last
        valueFrom:
          expression: "steps.next.status == 'Skipped' ? steps.inc.outputs.parameters.next : steps.next.outputs.parameters.last"
      - name: via-parameter
        valueFrom:
          parameter: "{{steps.inc.outputs.parameters.next}}"
      - name: fallback
        valueFrom:
          expression: "steps.nope.outputs.parameters.x"
          default: none
`).Replace(countdown)

func TestStepsOutputs(t *testing.T) {
	wf, err := Parse([]byte(lastOfLoop), "last.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, stop := range []string{"1", "4"} {
		e := newExec(t)
		if _, err := e.Run(context.Background(), wf, map[string]string{"stop": stop}); err != nil {
			t.Fatalf("stop=%s: %v", stop, err)
		}
		if got, want := e.Stdout.(*bytes.Buffer).String(), "last "+stop+" status Succeeded\n"; got != want {
			t.Errorf("stop=%s: stdout %q, want %q", stop, got, want)
		}
	}
	scope := map[string]string{"steps.inc.outputs.parameters.next": "7", "steps.next.status": "Skipped", "workflow.parameters.stop": "9"}
	out, err := outputsOf(&wf.Spec.Templates[1], scope, "loop")
	if err != nil {
		t.Fatal(err)
	}
	if out["last"] != "7" || out["via-parameter"] != "7" || out["fallback"] != "none" {
		t.Errorf("outputs %v, want last=7 via-parameter=7 fallback=none", out)
	}
}

func TestParameterChecks(t *testing.T) {
	enum := strings.Replace(countdown, `      value: "3"`, "      value: \"3\"\n      enum: [\"1\", \"3\"]", 1)
	wf, err := Parse([]byte(enum), "enum.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newExec(t).Run(context.Background(), wf, map[string]string{"stop": "1"}); err != nil {
		t.Errorf("a value of the enum: %v", err)
	}
	_, err = newExec(t).Run(context.Background(), wf, map[string]string{"stop": "2"})
	if want := `parameter "stop": "2" is not one of 1, 3`; err == nil || err.Error() != want {
		t.Errorf("a value outside the enum: got %v, want %q", err, want)
	}
	required, err := Parse([]byte(strings.Replace(countdown, "      value: \"3\"\n", "", 1)), "required.yaml")
	if err != nil {
		t.Fatalf("a parameter without a value must pass validation (argo lint allows it): %v", err)
	}
	_, err = newExec(t).Run(context.Background(), required, nil)
	if want := `parameter "stop" has no value: pass -p stop=VALUE`; err == nil || err.Error() != want {
		t.Errorf("no value: got %v, want %q", err, want)
	}
}
