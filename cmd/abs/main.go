// Command abs is the command line of abs: it runs pipelines locally and lists, shows and verifies
// the artifacts of runs.
//
// Run abs -h for the commands and their flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"
)

const usage = `abs runs ABS pipelines on one machine and inspects the artifacts of their runs.

Usage:
  abs <command> [flags] [arguments]

Commands:
%s
URLs: file:///abs/path or a plain path for the local file store; s3://bucket/prefix for S3, with
ABS_S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set (ABS_S3_INSECURE=1 for plain HTTP).

Exit status: 0 success, 1 failure (including a failed verify), 2 usage error.
Run 'abs <command> -h' for a command's flags and examples.
`

// command is one subcommand of abs.
type command struct {
	name    string
	args    string // argument synopsis, e.g. "URL"
	summary string
	help    string // examples and details after the flags
	// setup defines the command's flags on fs and returns the function that runs it with the
	// positional arguments once fs is parsed.
	setup func(fs *flag.FlagSet) func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// errUsage marks an error in how abs was called; abs exits 2 for it.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if sig := stop(); sig != nil && code != 0 {
		code = 128 + int(sig.(syscall.Signal)) // the shell's status of a command a signal ended
	}
	os.Exit(code)
}

// run runs abs with args and returns the exit status: 0 on success, 1 on failure, 2 on a usage
// error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, mainUsage())
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "abs: unknown command %q\n\n%s", args[0], mainUsage())
		return 2
	}
	fs := flag.NewFlagSet("abs "+c.name, flag.ContinueOnError)
	runCmd := c.setup(fs)
	fs.Usage = func() {
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		synopsis := c.name + " " + c.args
		if hasFlags {
			synopsis = c.name + " [flags] " + c.args
		}
		fmt.Fprintf(fs.Output(), "Usage: abs %s\n\n%s.\n", synopsis, c.summary)
		if hasFlags {
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
		fmt.Fprintf(fs.Output(), "\n%s", c.help)
	}
	var parseOut strings.Builder // flag prints its errors and the usage here
	fs.SetOutput(&parseOut)
	pos, err := parse(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err != nil {
		io.WriteString(stderr, parseOut.String())
		return 2
	}
	if err := runCmd(ctx, pos, stdout); err != nil {
		fmt.Fprintf(stderr, "abs %s: %v\n", c.name, err)
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "Run 'abs %s -h' for help.\n", c.name)
			return 2
		}
		return 1
	}
	return 0
}

// parse parses flags that may come before or after the positional arguments, which it returns.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// wantArgs returns an errUsage error unless args holds exactly n arguments named by names.
func wantArgs(args []string, names ...string) error {
	if len(args) != len(names) {
		return fmt.Errorf("%w: want %s, got %d argument(s) %q", errUsage, strings.Join(names, " "), len(args), args)
	}
	return nil
}

func mainUsage() string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		c := commands[n]
		fmt.Fprintf(&b, "  %-18s %s\n", c.name+" "+c.args, c.summary)
	}
	return fmt.Sprintf(usage, b.String())
}
