// Package step is what every step binary under steps/ shares: the common flags (defined once, so
// every binary spells them alike), logging, progress reporting for Argo and terminals, Argo output
// parameters and the termination log.
package step

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// Common holds the flags every step takes.
type Common struct {
	Run     string // root URL of the run: file:///abs/path, a relative path or s3://bucket/prefix
	Seed    uint64 // seed of every random choice the step makes
	Config  string // settings as JSON text, or @file to read them from a file
	Force   bool   // redo the work even when outputs with matching provenance exist
	Outputs string // directory for Argo output parameters; empty writes none
}

// Register defines the common flags on fs.
func (c *Common) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Run, "run", "", "root `URL` of the run's artifacts: file:///abs/path, a relative path, or s3://bucket/prefix (required)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of every random choice; the same inputs and seed give the same bytes")
	fs.StringVar(&c.Config, "config", "{}", "settings as `JSON` text, or @file to read them from a file")
	fs.BoolVar(&c.Force, "force", false, "redo the work even when outputs with matching provenance exist")
	fs.StringVar(&c.Outputs, "outputs", "", "`dir`ectory to write Argo output parameters to (one file per parameter)")
}

// Check reports a missing or unusable common flag, as a usage error. In a Kubernetes pod
// (KUBERNETES_SERVICE_HOST set) the run must be in S3: a pod's own file system is lost with it.
func (c *Common) Check() error {
	if c.Run == "" {
		return Usage(errors.New("-run is required: the root URL of the run (e.g. runs/nb201 or s3://abs/runs/nb201)"))
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" && !strings.HasPrefix(c.Run, "s3://") {
		return Usage(fmt.Errorf("-run %s: in a Kubernetes pod the run must be an s3:// URL: files written to the pod's file system are lost when the pod ends", c.Run))
	}
	return nil
}

// DecodeConfig decodes the -config JSON into v, which holds the defaults on entry; unknown fields are
// an error naming them.
func (c *Common) DecodeConfig(v any) error {
	text := strings.TrimSpace(c.Config)
	src := "-config"
	if strings.HasPrefix(text, "@") {
		src = text[1:]
		b, err := os.ReadFile(src)
		if err != nil {
			return Usage(fmt.Errorf("read config: %w", err))
		}
		text = string(b)
	}
	if text == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Usage(fmt.Errorf("config %s: %w", src, err))
	}
	if dec.More() {
		return Usage(fmt.Errorf("config %s: text after the JSON object", src))
	}
	return nil
}

// OutputRootEnv is set by the local executor (internal/pipeline) to the folder that stands for the
// container's filesystem root: output parameters and the termination log are written under it.
const OutputRootEnv = "ABS_OUTPUT_ROOT"

func containerPath(p string) string {
	if root := os.Getenv(OutputRootEnv); root != "" {
		return filepath.Join(root, filepath.FromSlash(p))
	}
	return p
}

// WriteOutput writes the Argo output parameter name (a file in the -outputs directory). Without
// -outputs it does nothing.
func (c *Common) WriteOutput(name, value string) error {
	if c.Outputs == "" {
		return nil
	}
	dir := containerPath(c.Outputs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write output parameter %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("write output parameter %s: %w", name, err)
	}
	return nil
}

// Main runs a step binary: it configures slog (JSON unless stderr is a terminal), cancels the
// context on SIGINT/SIGTERM, calls run with the command-line arguments and, on failure, logs the
// error, writes it to the termination log (in a Kubernetes pod or under the local executor) and
// exits with status 1 (2 for a usage error).
func Main(name string, run func(ctx context.Context, args []string) error) {
	slog.SetDefault(slog.New(handler(os.Stderr)).With("step", name))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err == nil {
		return
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	slog.Error("failed", "error", err.Error())
	if os.Getenv(OutputRootEnv) != "" || os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		_ = os.WriteFile(containerPath("/dev/termination-log"), []byte(name+": "+err.Error()), 0o644)
	}
	if IsUsage(err) {
		os.Exit(2)
	}
	os.Exit(1)
}

// usageError marks a bad command line.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// Usage marks err as a usage error: a flag, the configuration or the run's store is unusable, so
// running the step again cannot succeed. Main exits with status 2 for it, which the local executor
// and the pipelines' retry strategy never retry. Usage(nil) is nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// IsUsage reports whether err is (or wraps) a usage error.
func IsUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// Parse parses args with fs; a bad command line is returned as a usage error (exit status 2).
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return nil
}

func handler(w io.Writer) slog.Handler {
	if isTerminal(w) {
		return slog.NewTextHandler(w, nil)
	}
	return slog.NewJSONHandler(w, nil)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
