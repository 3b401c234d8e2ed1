// Command report is the last step of every ABS pipeline: it writes the run's report (the page
// `abs report` makes, index.html with its PNG plots) into the run itself, under report/, and records
// it in the run's manifest, so that whoever browses the store finds the page beside the artifacts.
// It writes the Argo output parameter page, the page's URL.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/internal/report"
	"github.com/abs-nas/abs/internal/step"
)

func main() { step.Main("report", run) }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var c step.Common
	c.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: report -run URL [-outputs DIR]\n\nWrites the run's report into the run, under report/ (-seed and -config are accepted, as by every step, and unused).\n\n")
		fs.PrintDefaults()
	}
	if err := step.Parse(fs, args); err != nil {
		return err
	}
	if err := c.Check(); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return step.Usage(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	st, err := artifacts.Open(ctx, c.Run)
	if err != nil {
		return err
	}
	page, err := report.IntoRun(ctx, st)
	if err != nil {
		return err
	}
	slog.Info("report written into the run", "page", page)
	return c.WriteOutput("page", page)
}
