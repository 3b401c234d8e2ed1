package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argoenv "github.com/argoproj/argo-workflows/v3/util/expr/env"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	"github.com/expr-lang/expr"
)

// OutputRootEnv names the environment variable through which the local executor tells a container
// where its filesystem root for output files is. A container writes an output parameter declared
// with `valueFrom.path: /tmp/outputs/x` to $ABS_OUTPUT_ROOT/tmp/outputs/x, and its termination log
// to $ABS_OUTPUT_ROOT/dev/termination-log; on a cluster the variable is unset and the paths are used
// as they are.
const OutputRootEnv = "ABS_OUTPUT_ROOT"

// maxDepth bounds template nesting as Argo's controller does (maxAllowedStackDepth in
// workflow/controller/controller.go, v3.7.18): the entrypoint is at depth 1, each step or task one
// deeper, and a template at depth 100 or more fails, so a recursion whose `when` never turns false
// stops.
const maxDepth = 100

// DefaultStopGrace is how long a container stopped by the executor (abs run got SIGINT or SIGTERM)
// has between SIGTERM and SIGKILL: the kubelet's default terminationGracePeriodSeconds.
const DefaultStopGrace = 30 * time.Second

// Executor runs a Workflow on this machine: steps, DAG and container templates, parameter
// substitution, `when`, recursion, output parameters (from files, and of steps and DAG templates
// from expressions or parameters) and retries. Containers run as local processes, one at a time, in
// a deterministic order (a parallel group of steps, or the ready tasks of a DAG, run one after
// another in the order written, resp. sorted by name).
//
// Where Argo v3.7.18 defines the behaviour the executor follows it: the recursion limit, the
// retryStrategy (policy, limit, backoff, expression on lastRetry), the trimming of one trailing
// newline from an output parameter file. Each container runs in its own process group, which is
// stopped like a pod's container when the context ends (SIGTERM, then SIGKILL after StopGrace) and
// killed when its main process exits.
type Executor struct {
	// Resolve maps a container's command[0] (e.g. "train-supernet") to a local executable.
	Resolve func(command string) (string, error)
	// Dir is the local run directory: a folder per container node (its output files, progress
	// file and termination log) and record.json, which lets one node be rerun (Rerun).
	Dir string
	// Env is the base environment of every container; nil means os.Environ().
	Env []string
	// Stdout and Stderr receive the containers' output; nil discards it.
	Stdout, Stderr io.Writer
	// Log receives progress lines; nil means slog.Default().
	Log *slog.Logger
	// StopGrace is the time a container has between SIGTERM and SIGKILL when the context ends;
	// zero means DefaultStopGrace.
	StopGrace time.Duration

	wf      *wfv1.Workflow
	globals map[string]string
	rec     Record
}

// Record is what a run did, saved as record.json in the run directory.
type Record struct {
	Workflow   string            `json:"workflow"`
	Parameters map[string]string `json:"parameters"`
	// Phase is Running while the run goes on, then Succeeded, Failed, or Interrupted when the
	// executor's context ended first (Message says why, e.g. "interrupted by signal terminated").
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	Nodes   []Node `json:"nodes"`
}

// Node is one container run.
type Node struct {
	Name     string            `json:"name"`     // path of step/task names from the entrypoint, e.g. "shrink/next/prune"
	Template string            `json:"template"` // the container template
	Dir      string            `json:"dir"`      // the node's folder under the run directory
	Command  []string          `json:"command"`  // resolved command and arguments
	Env      map[string]string `json:"env"`      // the container's own variables (secrets are named, not stored)
	Secrets  []string          `json:"secrets,omitempty"`
	Declared []Output          `json:"declared,omitempty"` // the template's output parameters
	Outputs  map[string]string `json:"outputs,omitempty"`  // their values after the last attempt
	Attempts int               `json:"attempts"`
	// Phase is that of the last attempt: Succeeded, Failed (the container exited non-zero), Error
	// (it could not run, or its outputs could not be read) or Interrupted (stopped by the executor).
	Phase    string `json:"phase"`
	ExitCode string `json:"exitCode,omitempty"` // of the last attempt; "-1" when it did not exit
	Error    string `json:"error,omitempty"`
}

// Output is an output parameter a container template declares: read from the file at Path.
type Output struct {
	Name    string  `json:"name"`
	Path    string  `json:"path"`
	Default *string `json:"default,omitempty"`
}

// Run runs wf from its entrypoint with the workflow parameters overridden by params. An unknown
// parameter name, a parameter without a value or outside its enum, an unsupported field, a failing
// node or an invalid `when` is an error. When ctx ends, the running container is stopped and the
// record says the run was interrupted, with ctx's cause.
func (e *Executor) Run(ctx context.Context, wf *wfv1.Workflow, params map[string]string) (*Record, error) {
	ignored, err := checkFields(wf)
	if err != nil {
		return nil, err
	}
	log := e.log()
	if len(ignored) > 0 {
		log.Info("fields with no effect on one machine", "fields", strings.Join(ignored, ", "))
	}
	wf, err = withParameters(wf, params)
	if err != nil {
		return nil, err
	}
	e.wf = wf
	name := wf.Name
	if name == "" {
		name = wf.GenerateName + "local"
	}
	e.globals = map[string]string{"workflow.name": name, "workflow.namespace": wf.Namespace}
	e.rec = Record{Workflow: name, Parameters: map[string]string{}, Phase: phaseRunning}
	for _, p := range wf.Spec.Arguments.Parameters {
		e.globals["workflow.parameters."+p.Name] = p.Value.String()
		e.rec.Parameters[p.Name] = p.Value.String()
	}
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := e.save(); err != nil {
		return nil, err
	}
	_, err = e.call(ctx, wf.Spec.Entrypoint, nil, "", 1)
	e.finish(ctx, err)
	if werr := e.save(); werr != nil && err == nil {
		err = werr
	}
	return &e.rec, err
}

// withParameters returns a copy of wf with the workflow parameters overridden by params, checked
// as `argo submit` checks them (Argo's validator: every parameter has a value, within its enum).
func withParameters(wf *wfv1.Workflow, params map[string]string) (*wfv1.Workflow, error) {
	wf = wf.DeepCopy()
	known := map[string]bool{}
	for _, p := range wf.Spec.Arguments.Parameters {
		known[p.Name] = true
	}
	for k := range params {
		if !known[k] {
			return nil, fmt.Errorf("parameter %q: the workflow has no such parameter (it has %s)", k, strings.Join(sortedKeys(known), ", "))
		}
	}
	for i := range wf.Spec.Arguments.Parameters {
		p := &wf.Spec.Arguments.Parameters[i]
		if v, ok := params[p.Name]; ok {
			p.Value = wfv1.AnyStringPtr(v)
		}
		if p.Value == nil {
			return nil, fmt.Errorf("parameter %q has no value: pass -p %s=VALUE", p.Name, p.Name)
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, *p.Value) {
			var enum []string
			for _, v := range p.Enum {
				enum = append(enum, v.String())
			}
			return nil, fmt.Errorf("parameter %q: %q is not one of %s", p.Name, p.Value.String(), strings.Join(enum, ", "))
		}
	}
	if err := validateWith(wf, validate.ValidateOpts{Submit: true}); err != nil {
		return nil, fmt.Errorf("validate workflow with its parameters: %w", err)
	}
	return wf, nil
}

// finish sets the record's phase from the run's outcome.
func (e *Executor) finish(ctx context.Context, err error) {
	switch {
	case ctx.Err() != nil:
		e.rec.Phase, e.rec.Message = phaseInterrupted, context.Cause(ctx).Error()
	case err != nil:
		e.rec.Phase, e.rec.Message = phaseFailed, err.Error()
	default:
		e.rec.Phase, e.rec.Message = phaseSucceeded, ""
	}
}

func (e *Executor) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

func (e *Executor) save() error {
	b, err := json.MarshalIndent(e.rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.Dir, "record.json"), append(b, '\n'), 0o644)
}

func (e *Executor) template(name string) (*wfv1.Template, error) {
	for i := range e.wf.Spec.Templates {
		if e.wf.Spec.Templates[i].Name == name {
			return &e.wf.Spec.Templates[i], nil
		}
	}
	return nil, fmt.Errorf("template %q not found", name)
}

// call runs template name at the given depth (the entrypoint's is 1) with the given arguments and
// returns its output parameters.
func (e *Executor) call(ctx context.Context, name string, args []wfv1.Parameter, node string, depth int) (map[string]string, error) {
	if depth >= maxDepth {
		return nil, fmt.Errorf("%s: Maximum recursion depth exceeded: template %q would run at depth %d, Argo's limit is %d (a recursion whose `when` never stops?)", node, name, depth, maxDepth)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := e.template(name)
	if err != nil {
		return nil, err
	}
	scope := map[string]string{}
	for k, v := range e.globals {
		scope[k] = v
	}
	given := map[string]string{}
	for _, a := range args {
		if a.Value != nil {
			given[a.Name] = a.Value.String()
		}
	}
	for _, p := range t.Inputs.Parameters {
		v, ok := given[p.Name]
		switch {
		case ok:
		case p.Value != nil:
			v = p.Value.String()
		case p.Default != nil:
			v = p.Default.String()
		default:
			return nil, fmt.Errorf("%s: template %q input parameter %q has no value", node, name, p.Name)
		}
		scope["inputs.parameters."+p.Name] = v
	}
	switch {
	case t.Container != nil:
		return e.container(ctx, t, scope, node)
	case len(t.Steps) > 0:
		if err := e.steps(ctx, t, scope, node, depth); err != nil {
			return nil, err
		}
	case t.DAG != nil:
		if err := e.dag(ctx, t, scope, node, depth); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: template %q: the local executor runs steps, dag and container templates only", node, name)
	}
	return outputsOf(t, scope, node)
}

// outputsOf resolves the output parameters of a steps or DAG template from the scope its children
// left, as Argo's getTemplateOutputsFromScope does: valueFrom.expression is evaluated by Argo's
// expression engine over the template's local variables (inputs, steps.*, tasks.*; not the
// workflow's globals), valueFrom.parameter is substituted, and valueFrom.default is used when
// either fails.
func outputsOf(t *wfv1.Template, scope map[string]string, node string) (map[string]string, error) {
	if len(t.Outputs.Parameters) == 0 {
		return nil, nil
	}
	local := map[string]any{}
	for k, v := range scope {
		if !strings.HasPrefix(k, "workflow.") {
			local[k] = v
		}
	}
	out := map[string]string{}
	for _, p := range t.Outputs.Parameters {
		vf := p.ValueFrom
		var v string
		var err error
		switch {
		case vf == nil || vf.Path != "":
			return nil, fmt.Errorf("%s: template %q output parameter %q: a steps or dag template's output needs valueFrom.expression or valueFrom.parameter", node, t.Name, p.Name)
		case vf.Expression != "":
			v, err = evalExpression(vf.Expression, local)
		default:
			v, err = substitute(vf.Parameter, scope)
		}
		if err != nil {
			if vf.Default == nil {
				return nil, fmt.Errorf("%s: output parameter %q: %w", node, p.Name, err)
			}
			v = vf.Default.String()
		}
		out[p.Name] = v
	}
	return out, nil
}

// evalExpression evaluates an Argo expression (expr-lang, with Argo's functions and its expansion
// of dotted names into maps) and formats its value as Argo does.
func evalExpression(s string, vars map[string]any) (string, error) {
	env := argoenv.GetFuncMap(vars)
	program, err := expr.Compile(s, expr.Env(env))
	if err != nil {
		return "", fmt.Errorf("expression %q: %w", s, err)
	}
	v, err := expr.Run(program, env)
	if err != nil {
		return "", fmt.Errorf("expression %q: %w", s, err)
	}
	if v == nil {
		return "", fmt.Errorf("expression %q has no value", s)
	}
	return fmt.Sprint(v), nil
}

func (e *Executor) steps(ctx context.Context, t *wfv1.Template, scope map[string]string, node string, depth int) error {
	for _, group := range t.Steps {
		for _, s := range group.Steps {
			if err := e.child(ctx, s.Name, s.Template, s.When, s.Arguments.Parameters, "steps", scope, node, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Executor) dag(ctx context.Context, t *wfv1.Template, scope map[string]string, node string, depth int) error {
	done := map[string]bool{}
	tasks := append([]wfv1.DAGTask(nil), t.DAG.Tasks...)
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].Name < tasks[j].Name })
	for len(done) < len(tasks) {
		progressed := false
		for _, task := range tasks {
			if done[task.Name] || !allDone(task.Dependencies, done) {
				continue
			}
			if err := e.child(ctx, task.Name, task.Template, task.When, task.Arguments.Parameters, "tasks", scope, node, depth); err != nil {
				return err
			}
			done[task.Name] = true
			progressed = true
		}
		if !progressed {
			return fmt.Errorf("%s: dag template %q has a dependency cycle or a dependency on a missing task", node, t.Name)
		}
	}
	return nil
}

func allDone(deps []string, done map[string]bool) bool {
	for _, d := range deps {
		if !done[d] {
			return false
		}
	}
	return true
}

// child runs one step or task: substitutes its arguments and `when` in scope, calls its template
// and adds its status (Succeeded or Skipped) and outputs to scope as <kind>.<name>.status and
// <kind>.<name>.outputs.parameters.<p>.
func (e *Executor) child(ctx context.Context, name, tmpl, when string, args []wfv1.Parameter, kind string, scope map[string]string, node string, depth int) error {
	path := name
	if node != "" {
		path = node + "/" + name
	}
	if when != "" {
		w, err := substitute(when, scope)
		if err != nil {
			return fmt.Errorf("%s: when: %w", path, err)
		}
		ok, err := evalWhen(w)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if !ok {
			e.log().Info("skipped", "node", path, "when", w)
			scope[kind+"."+name+".status"] = "Skipped"
			return nil
		}
	}
	resolved := make([]wfv1.Parameter, len(args))
	for i, a := range args {
		resolved[i] = wfv1.Parameter{Name: a.Name}
		if a.Value != nil {
			v, err := substitute(a.Value.String(), scope)
			if err != nil {
				return fmt.Errorf("%s: argument %q: %w", path, a.Name, err)
			}
			resolved[i].Value = wfv1.AnyStringPtr(v)
		}
	}
	out, err := e.call(ctx, tmpl, resolved, path, depth+1)
	if err != nil {
		return err
	}
	scope[kind+"."+name+".status"] = phaseSucceeded
	for k, v := range out {
		scope[kind+"."+name+".outputs.parameters."+k] = v
	}
	return nil
}

func (e *Executor) container(ctx context.Context, t *wfv1.Template, scope map[string]string, node string) (map[string]string, error) {
	c := t.Container
	if node == "" { // the entrypoint itself is a container
		node = t.Name
	}
	if len(c.Command) == 0 {
		return nil, fmt.Errorf("%s: container template %q has no command", node, t.Name)
	}
	sub := func(what string, s string) (string, error) {
		v, err := substitute(s, scope)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", node, what, err)
		}
		return v, nil
	}
	bin, err := e.Resolve(c.Command[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", node, err)
	}
	n := Node{Name: node, Template: t.Name, Env: map[string]string{}, Command: []string{bin}}
	for i, a := range append(append([]string(nil), c.Command[1:]...), c.Args...) {
		v, err := sub(fmt.Sprintf("argument %d", i+1), a)
		if err != nil {
			return nil, err
		}
		n.Command = append(n.Command, v)
	}
	for _, ev := range c.Env {
		if ev.ValueFrom != nil && ev.ValueFrom.ResourceFieldRef != nil {
			continue // a pod's resources: this machine sets none
		}
		if ev.ValueFrom != nil {
			// A secret's keys are taken from this machine's environment under the variable's own name.
			n.Secrets = append(n.Secrets, ev.Name)
			continue
		}
		v, err := sub("env "+ev.Name, ev.Value)
		if err != nil {
			return nil, err
		}
		n.Env[ev.Name] = v
	}
	for _, p := range t.Outputs.Parameters {
		if p.ValueFrom == nil || p.ValueFrom.Path == "" {
			return nil, fmt.Errorf("%s: output parameter %q: only valueFrom.path is supported locally", node, p.Name)
		}
		o := Output{Name: p.Name, Path: p.ValueFrom.Path}
		if p.ValueFrom.Default != nil {
			d := p.ValueFrom.Default.String()
			o.Default = &d
		}
		n.Declared = append(n.Declared, o)
	}
	n.Dir = filepath.Join("nodes", fmt.Sprintf("%03d-%s", len(e.rec.Nodes), dirName(node)))
	r, err := retryOf(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", node, err)
	}
	out, err := e.runNode(ctx, &n, r)
	e.rec.Nodes = append(e.rec.Nodes, n)
	if serr := e.save(); serr != nil && err == nil {
		err = serr
	}
	return out, err
}

// dirName is node's path as a file name: its end, within the 255 bytes a file name may have
// (the number in front keeps it unique), for a deep recursion's long paths.
func dirName(node string) string {
	const max = 200
	s := sanitize(node)
	if len(s) > max {
		s = s[len(s)-max:]
	}
	return s
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' {
			return '.'
		}
		if r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// runNode runs n, retrying a failed attempt as r says, and collects its output parameters.
func (e *Executor) runNode(ctx context.Context, n *Node, r retry) (map[string]string, error) {
	log := e.log()
	var tried []attempt
	for {
		n.Attempts = len(tried) + 1
		log.Info("run", "node", n.Name, "attempt", n.Attempts, "command", strings.Join(n.Command, " "))
		out, a := e.exec(ctx, n)
		n.Phase, n.ExitCode, n.Error = a.phase, a.exitCode, a.message
		if a.phase == phaseSucceeded {
			n.Outputs = out
			return out, nil
		}
		if ctx.Err() != nil {
			n.Phase = phaseInterrupted
			n.Error = fmt.Sprintf("%s (%s)", context.Cause(ctx), a.message)
			return nil, fmt.Errorf("%s: %s", n.Name, n.Error)
		}
		tried = append(tried, a)
		wait, ok, why, err := r.next(tried, time.Now())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		if !ok {
			if r.policy != "" {
				log.Info("not retried", "node", n.Name, "phase", a.phase, "exit_code", a.exitCode, "reason", why)
			}
			return nil, fmt.Errorf("%s: %s", n.Name, a.message)
		}
		log.Warn("retry", "node", n.Name, "phase", a.phase, "exit_code", a.exitCode, "error", a.message, "after", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			n.Phase, n.Error = phaseInterrupted, fmt.Sprintf("%s (waiting to retry after: %s)", context.Cause(ctx), a.message)
			return nil, fmt.Errorf("%s: %s", n.Name, n.Error)
		}
	}
}

// exec runs one attempt of n in a fresh node folder and reads its output parameters from it.
func (e *Executor) exec(ctx context.Context, n *Node) (map[string]string, attempt) {
	a := attempt{phase: phaseError, exitCode: "-1", started: time.Now()}
	fail := func(err error) (map[string]string, attempt) {
		a.message, a.finished = err.Error(), time.Now()
		return nil, a
	}
	root := filepath.Join(e.Dir, n.Dir)
	if err := os.RemoveAll(root); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		return fail(err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(n.Command[0], n.Command[1:]...)
	env := e.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append([]string(nil), env...)
	for _, k := range sortedKeys(n.Env) {
		cmd.Env = append(cmd.Env, k+"="+n.Env[k])
	}
	cmd.Env = append(cmd.Env, OutputRootEnv+"="+abs, "ARGO_PROGRESS_FILE="+filepath.Join(abs, "progress"))
	if err := e.runGroup(ctx, cmd); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fail(err) // it did not start: Error, as a pod whose container cannot start
		}
		a.phase, a.exitCode = phaseFailed, strconv.Itoa(exitCode(exit))
		msg := err.Error()
		if b, rerr := os.ReadFile(filepath.Join(abs, "dev", "termination-log")); rerr == nil && len(b) > 0 {
			msg = strings.TrimSpace(string(b)) + " (" + msg + ")"
		}
		return fail(errors.New(msg))
	}
	a.exitCode = "0"
	out := map[string]string{}
	for _, p := range n.Declared {
		b, err := os.ReadFile(filepath.Join(abs, filepath.FromSlash(p.Path)))
		switch {
		case err == nil:
			out[p.Name] = string(b)
		case errors.Is(err, os.ErrNotExist) && p.Default != nil:
			out[p.Name] = *p.Default
		default:
			// On a cluster the wait container fails to save the outputs, and the node is an Error.
			return fail(fmt.Errorf("output parameter %q: the container wrote no file %s", p.Name, p.Path))
		}
		// Argo's executor trims one trailing newline, and nothing else (workflow/executor/executor.go).
		out[p.Name] = strings.TrimSuffix(out[p.Name], "\n")
	}
	a.phase, a.finished = phaseSucceeded, time.Now()
	return out, a
}

// exitCode is the exit status the kubelet reports for a container whose main process ended as
// exit says: its status, or 128+N when signal N killed it.
func exitCode(exit *exec.ExitError) int {
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return exit.ExitCode()
}

// runGroup runs cmd, with e.Stdout and e.Stderr, in a process group of its own, as a container's
// processes share one, and returns cmd.Wait's error. When cmd's main process exits, what it left
// running in the group is killed, as in a container whose main process ended, and its output is
// drained. When ctx ends first, the group is stopped as the kubelet stops a container: SIGTERM, and
// SIGKILL after the stop grace if the main process is still running.
func (e *Executor) runGroup(ctx context.Context, cmd *exec.Cmd) error {
	// The output goes through files, not exec's pipes, so that Wait returns when the main process
	// exits even if a process it left holds the output open.
	var outs []*output
	for _, o := range []struct {
		w   io.Writer
		dst *io.Writer
	}{{e.Stdout, &cmd.Stdout}, {e.Stderr, &cmd.Stderr}} {
		out, err := newOutput(o.w)
		if err != nil {
			return err
		}
		defer out.drain()
		outs = append(outs, out)
		if out.file != nil {
			*o.dst = out.file
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	for _, out := range outs {
		out.started()
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer syscall.Kill(-pgid, syscall.SIGKILL) // the rest of the group, if any (before the drains)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	grace := e.StopGrace
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	e.log().Warn("stopping the running container", "pid", pgid, "cause", context.Cause(ctx), "grace", grace)
	syscall.Kill(-pgid, syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	}
	e.log().Warn("killing the container after its grace period", "pid", pgid)
	syscall.Kill(-pgid, syscall.SIGKILL)
	return <-done
}

// output is where a container writes one of its streams: nothing (w nil), w itself when it is a
// file, or else the write end of a pipe copied to w.
type output struct {
	file   *os.File // what the container gets; nil for nothing
	pipe   bool     // file is the write end of a pipe that copy drains
	copied chan struct{}
}

func newOutput(w io.Writer) (*output, error) {
	switch f := w.(type) {
	case nil:
		return &output{}, nil
	case *os.File:
		return &output{file: f}, nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	o := &output{file: pw, pipe: true, copied: make(chan struct{})}
	go func() {
		io.Copy(w, r)
		r.Close()
		close(o.copied)
	}()
	return o, nil
}

// started closes this process's copy of the pipe's write end once the container holds its own.
func (o *output) started() {
	if o.pipe {
		o.file.Close()
	}
}

// drain waits until everything the container wrote has been copied: until every process of its
// group, which the caller killed, has let go of the pipe.
func (o *output) drain() {
	if o.pipe {
		o.file.Close() // in case the container never started
		<-o.copied
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
