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
	"sort"
	"strconv"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// OutputRootEnv names the environment variable through which the local executor tells a container
// where its filesystem root for output files is. A container writes an output parameter declared
// with `valueFrom.path: /tmp/outputs/x` to $ABS_OUTPUT_ROOT/tmp/outputs/x, and its termination log
// to $ABS_OUTPUT_ROOT/dev/termination-log; on a cluster the variable is unset and the paths are used
// as they are.
const OutputRootEnv = "ABS_OUTPUT_ROOT"

// maxDepth bounds template nesting, so a recursive template whose `when` never turns false stops.
const maxDepth = 200

// Executor runs a Workflow on this machine: steps, DAG and container templates, parameter
// substitution, `when`, recursion, output parameters from files and retries. Containers run as local
// processes, one at a time, in a deterministic order (a parallel group of steps, or the ready tasks of
// a DAG, run one after another in the order written, resp. sorted by name).
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

	wf      *wfv1.Workflow
	globals map[string]string
	rec     Record
}

// Record is what a run did, saved as record.json in the run directory.
type Record struct {
	Workflow   string            `json:"workflow"`
	Parameters map[string]string `json:"parameters"`
	Nodes      []Node            `json:"nodes"`
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
	Phase    string            `json:"phase"` // Succeeded or Failed
	Error    string            `json:"error,omitempty"`
}

// Output is an output parameter a container template declares: read from the file at Path.
type Output struct {
	Name    string  `json:"name"`
	Path    string  `json:"path"`
	Default *string `json:"default,omitempty"`
}

// Run runs wf from its entrypoint with the workflow parameters overridden by params. An unknown
// parameter name, an unsupported field, a failing node or an invalid `when` is an error.
func (e *Executor) Run(ctx context.Context, wf *wfv1.Workflow, params map[string]string) (*Record, error) {
	ignored, err := checkFields(wf)
	if err != nil {
		return nil, err
	}
	log := e.log()
	if len(ignored) > 0 {
		log.Info("fields with no effect on one machine", "fields", strings.Join(ignored, ", "))
	}
	e.wf = wf
	name := wf.Name
	if name == "" {
		name = wf.GenerateName + "local"
	}
	e.globals = map[string]string{"workflow.name": name, "workflow.namespace": wf.Namespace}
	known := map[string]bool{}
	for _, p := range wf.Spec.Arguments.Parameters {
		known[p.Name] = true
		if p.Value != nil {
			e.globals["workflow.parameters."+p.Name] = p.Value.String()
		}
	}
	for k, v := range params {
		if !known[k] {
			return nil, fmt.Errorf("parameter %q: the workflow has no such parameter (it has %s)", k, strings.Join(sortedKeys(known), ", "))
		}
		e.globals["workflow.parameters."+k] = v
	}
	for k := range known {
		if _, ok := e.globals["workflow.parameters."+k]; !ok {
			return nil, fmt.Errorf("parameter %q has no value: pass -p %s=VALUE", k, k)
		}
	}
	e.rec = Record{Workflow: name, Parameters: map[string]string{}}
	for k := range known {
		e.rec.Parameters[k] = e.globals["workflow.parameters."+k]
	}
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return nil, err
	}
	_, err = e.call(ctx, wf.Spec.Entrypoint, nil, "", 0)
	if werr := e.save(); werr != nil && err == nil {
		err = werr
	}
	return &e.rec, err
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

// call runs template name with the given arguments and returns its output parameters.
func (e *Executor) call(ctx context.Context, name string, args []wfv1.Parameter, node string, depth int) (map[string]string, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: templates nested deeper than %d (a recursion whose `when` never stops?)", node, maxDepth)
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
		return nil, e.steps(ctx, t, scope, node, depth)
	case t.DAG != nil:
		return nil, e.dag(ctx, t, scope, node, depth)
	}
	return nil, fmt.Errorf("%s: template %q: the local executor runs steps, dag and container templates only", node, name)
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
// and adds its outputs to scope as <kind>.<name>.outputs.parameters.<p>.
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
	n.Dir = filepath.Join("nodes", fmt.Sprintf("%03d-%s", len(e.rec.Nodes), sanitize(node)))
	limit, backoff, factor, maxBackoff, err := retries(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", node, err)
	}
	out, err := e.runNode(ctx, &n, limit, backoff, factor, maxBackoff)
	e.rec.Nodes = append(e.rec.Nodes, n)
	if serr := e.save(); serr != nil && err == nil {
		err = serr
	}
	return out, err
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

// runNode runs n, retrying a failed attempt up to limit times with the given backoff, and collects
// its output parameters.
func (e *Executor) runNode(ctx context.Context, n *Node, limit int, backoff time.Duration, factor float64, maxBackoff time.Duration) (map[string]string, error) {
	log := e.log()
	for attempt := 0; ; attempt++ {
		n.Attempts = attempt + 1
		log.Info("run", "node", n.Name, "attempt", n.Attempts, "command", strings.Join(n.Command, " "))
		out, err := e.exec(ctx, n)
		if err == nil {
			n.Phase, n.Outputs, n.Error = "Succeeded", out, ""
			return out, nil
		}
		n.Phase, n.Error = "Failed", err.Error()
		if attempt >= limit || ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		log.Warn("retry", "node", n.Name, "error", err, "after", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = time.Duration(float64(backoff) * factor)
		if maxBackoff > 0 && backoff > maxBackoff {
			backoff = maxBackoff
		}
	}
}

func retries(t *wfv1.Template) (limit int, backoff time.Duration, factor float64, max time.Duration, err error) {
	factor = 1
	rs := t.RetryStrategy
	if rs == nil {
		return 0, 0, 1, 0, nil
	}
	switch rs.RetryPolicy {
	case "", wfv1.RetryPolicyAlways, wfv1.RetryPolicyOnFailure, wfv1.RetryPolicyOnError:
	default:
		return 0, 0, 0, 0, fmt.Errorf("template %q: retryPolicy %q is not supported locally (use Always, OnFailure or OnError)", t.Name, rs.RetryPolicy)
	}
	if rs.Limit != nil {
		limit, err = strconv.Atoi(rs.Limit.String())
		if err != nil || limit < 0 {
			return 0, 0, 0, 0, fmt.Errorf("template %q: retryStrategy.limit %q: want a non-negative integer", t.Name, rs.Limit.String())
		}
	}
	if b := rs.Backoff; b != nil {
		if b.Duration != "" {
			if backoff, err = parseDuration(b.Duration); err != nil {
				return 0, 0, 0, 0, fmt.Errorf("template %q: retryStrategy.backoff.duration: %w", t.Name, err)
			}
		}
		if b.Factor != nil {
			factor, err = strconv.ParseFloat(b.Factor.String(), 64)
			if err != nil || factor < 1 {
				return 0, 0, 0, 0, fmt.Errorf("template %q: retryStrategy.backoff.factor %q: want a number >= 1", t.Name, b.Factor.String())
			}
		}
		if b.MaxDuration != "" {
			if max, err = parseDuration(b.MaxDuration); err != nil {
				return 0, 0, 0, 0, fmt.Errorf("template %q: retryStrategy.backoff.maxDuration: %w", t.Name, err)
			}
		}
	}
	return limit, backoff, factor, max, nil
}

// parseDuration reads an Argo duration: a Go duration ("10s") or a plain number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration like 10s", s)
	}
	return d, nil
}

// exec runs one attempt of n in a fresh node folder and reads its output parameters from it.
func (e *Executor) exec(ctx context.Context, n *Node) (map[string]string, error) {
	root := filepath.Join(e.Dir, n.Dir)
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, n.Command[0], n.Command[1:]...)
	env := e.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append([]string(nil), env...)
	for _, k := range sortedKeys(n.Env) {
		cmd.Env = append(cmd.Env, k+"="+n.Env[k])
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, OutputRootEnv+"="+abs, "ARGO_PROGRESS_FILE="+filepath.Join(abs, "progress"))
	cmd.Stdout, cmd.Stderr = e.Stdout, e.Stderr
	if err := cmd.Run(); err != nil {
		msg := err.Error()
		if b, rerr := os.ReadFile(filepath.Join(abs, "dev", "termination-log")); rerr == nil && len(b) > 0 {
			msg = strings.TrimSpace(string(b)) + " (" + msg + ")"
		}
		return nil, errors.New(msg)
	}
	out := map[string]string{}
	for _, p := range n.Declared {
		b, err := os.ReadFile(filepath.Join(abs, filepath.FromSlash(p.Path)))
		switch {
		case err == nil:
			out[p.Name] = strings.TrimSpace(string(b))
		case errors.Is(err, os.ErrNotExist) && p.Default != nil:
			out[p.Name] = *p.Default
		default:
			return nil, fmt.Errorf("output parameter %q: the container wrote no file %s", p.Name, p.Path)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
