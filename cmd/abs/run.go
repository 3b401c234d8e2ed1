package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/abs-nas/abs/internal/pipeline"
)

func init() {
	register(&command{
		name:    "run",
		args:    "WORKFLOW.yaml",
		summary: "Run an Argo Workflow on this machine, without Kubernetes",
		help: `run validates the Workflow with Argo's own validator, then runs it with the local executor:
steps, DAG and container templates, parameter substitution, when, recursion, output parameters and
retries. A container's command names a step binary, taken from -bin (built by 'go tool task build').
Fields that only matter on a cluster (images, resources, podSpecPatch, service accounts) are listed
once and have no effect; any other field the executor does not implement is an error. Environment
variables from Secrets are taken from this machine's environment under the same names.

SIGINT or SIGTERM stops the running step's process group (SIGTERM, SIGKILL after 30 s), waits for
it and records the run as interrupted; abs then exits 130 resp. 143.

The executor keeps a record of every step it ran (command, arguments, outputs) in -dir, so one step
can be run again with 'abs rerun'.

Examples:
  abs run pipelines/abs-nb201.yaml -p store=runs/nb201-seed1
  abs run pipelines/abs-nb201.yaml -p store=runs/nb201-seed2 -p seed=2 -p epochs-first=3
  abs run pipelines/abs-nb201.yaml -p store=s3://abs/runs/nb201-1
`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			params := paramFlag{}
			fs.Var(params, "p", "workflow parameter `name=value` (repeatable)")
			bin := fs.String("bin", "", "`dir`ectory of the step binaries (default: the directory of this abs binary)")
			dir := fs.String("dir", "", "local `dir`ectory for the executor's record and the steps' output files (default runs/local/NAME-TIME)")
			return func(ctx context.Context, args []string, stdout io.Writer) error {
				if err := wantArgs(args, "WORKFLOW.yaml"); err != nil {
					return err
				}
				return runWorkflow(ctx, args[0], params, *bin, *dir, stdout)
			}
		},
	})
	register(&command{
		name:    "rerun",
		args:    "NODE",
		summary: "Run one step of a local run again, with the arguments it ran with",
		help: `NODE is a step's path as 'abs run' printed it (e.g. shrink/prune or shrink/next/train), or an
unambiguous suffix of it. The step reuses its artifacts' provenance: with the same inputs and seed it
skips work whose outputs are up to date; add -force to its arguments in the record to redo it.

Examples:
  abs rerun -dir runs/local/abs-nb201-20261127-101500 shrink/prune
`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			bin := fs.String("bin", "", "`dir`ectory of the step binaries (default: the directory of this abs binary)")
			dir := fs.String("dir", "", "the run's local `dir`ectory, as 'abs run' printed it (required)")
			return func(ctx context.Context, args []string, stdout io.Writer) error {
				if err := wantArgs(args, "NODE"); err != nil {
					return err
				}
				if *dir == "" {
					return fmt.Errorf("%w: -dir is required", errUsage)
				}
				e, err := executor(*bin, *dir)
				if err != nil {
					return err
				}
				n, err := e.Rerun(ctx, args[0])
				if n != nil {
					printNodes(stdout, []pipeline.Node{*n})
				}
				return err
			}
		},
	})
}

// paramFlag collects repeated -p name=value flags.
type paramFlag map[string]string

func (p paramFlag) String() string { return "" }

func (p paramFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	p[k] = v
	return nil
}

func executor(bin, dir string) (*pipeline.Executor, error) {
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		bin = filepath.Dir(self)
	}
	return &pipeline.Executor{
		Dir:    dir,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Log:    slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Resolve: func(command string) (string, error) {
			p := filepath.Join(bin, filepath.Base(command))
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("step binary %s not found in %s (build the steps with 'go tool task build' or pass -bin)", filepath.Base(command), bin)
			}
			return p, nil
		},
	}, nil
}

func runWorkflow(ctx context.Context, file string, params map[string]string, bin, dir string, stdout io.Writer) error {
	wf, err := pipeline.Load(file)
	if err != nil {
		return err
	}
	if dir == "" {
		name := wf.Name
		if name == "" {
			name = strings.TrimSuffix(wf.GenerateName, "-")
		}
		dir = filepath.Join("runs", "local", name+"-"+time.Now().UTC().Format("20060102-150405"))
	}
	e, err := executor(bin, dir)
	if err != nil {
		return err
	}
	rec, err := e.Run(ctx, wf, params)
	if rec != nil {
		fmt.Fprintf(stdout, "\nsteps run (record in %s):\n", dir)
		printNodes(stdout, rec.Nodes)
		if rec.Phase == "Interrupted" {
			fmt.Fprintf(stdout, "\nthe run was %s; its last step was stopped\n", rec.Message)
		}
		if store, ok := rec.Parameters["store"]; ok && err == nil {
			fmt.Fprintf(stdout, "\nartifacts: %s\n  inspect: abs ls %s\n  check:   abs verify %s\n", store, store, store)
		}
	}
	return err
}

func printNodes(w io.Writer, nodes []pipeline.Node) {
	for _, n := range nodes {
		var outs []string
		for _, k := range sortedKeys(n.Outputs) {
			outs = append(outs, k+"="+n.Outputs[k])
		}
		line := fmt.Sprintf("  %-24s %-9s", n.Name, n.Phase)
		if n.Attempts > 1 {
			line += fmt.Sprintf(" (%d attempts)", n.Attempts)
		}
		if len(outs) > 0 {
			line += " " + strings.Join(outs, " ")
		}
		if n.Error != "" {
			line += " error: " + n.Error
		}
		fmt.Fprintln(w, line)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// signalContext returns a context that SIGINT or SIGTERM cancels, with the cause "interrupted by
// signal NAME", so that 'abs run' stops the running step (its process group: SIGTERM, then SIGKILL
// after the grace period), waits for it and records the run as interrupted, instead of dying at
// once and leaving the step running. Later signals are absorbed while abs finishes. stop releases
// the signals and returns the one that arrived, if any.
func signalContext() (ctx context.Context, stop func() os.Signal) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	got := make(chan os.Signal, 1)
	quit := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			got <- s
			cancel(fmt.Errorf("interrupted by signal %v", s))
		case <-quit:
		}
	}()
	return ctx, func() os.Signal {
		close(quit)
		select {
		case s := <-got:
			signal.Stop(sigs)
			return s
		default:
			signal.Stop(sigs)
			return nil
		}
	}
}
