package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/internal/report"
)

func init() {
	register(&command{
		name:    "report",
		args:    "RUN_URL",
		summary: "Write an HTML report with PNG plots of a run, into the run's report/ or into -o",
		help: `The report is one page, index.html, with the plots beside it; it needs no server and no
network. It shows per stage the space size, the dropped operators, the operator scores as an edge ×
op heat map and the supernet's training loss; the benchmark-mode comparisons when the run has them;
every search candidate's fitness against its FLOPs; the retrained model; the configuration and the
provenance of every artifact. Without -o it is written under report/ in the run itself (in any
store) and recorded in the run's manifest.

Examples:
  abs report runs/demo                 # runs/demo/report/index.html
  abs report -o /tmp/r s3://abs/runs/r1
`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			out := fs.String("o", "", "write the report into `DIR` (a path or URL) instead of the run's report/")
			return func(ctx context.Context, args []string, stdout io.Writer) error {
				if err := wantArgs(args, "RUN_URL"); err != nil {
					return err
				}
				return writeReport(ctx, args[0], *out, stdout)
			}
		},
	})
}

func writeReport(ctx context.Context, runURL, outURL string, stdout io.Writer) error {
	run, err := artifacts.Open(ctx, runURL)
	if err != nil {
		return err
	}
	if outURL == "" {
		page, err := report.IntoRun(ctx, run)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, page)
		return err
	}
	out, err := artifacts.Open(ctx, outURL)
	if err != nil {
		return err
	}
	if _, err := report.Write(ctx, run, out, ""); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, out.URL(report.Page))
	return err
}
