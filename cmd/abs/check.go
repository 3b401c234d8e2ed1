package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/abs-nas/abs/internal/stage"
)

// checkWorkflow refuses, before any step runs, workflow parameters that some step would refuse:
// a value outside a parameter's enum, and every step's arguments as far as the workflow
// parameters decide them, checked by the step's own parsers (stage.Check: flags, configuration,
// the store). A flag whose value is only known during the run (an earlier step's output, a
// template input) is left to the step. The error is a usage error listing every problem.
func checkWorkflow(ctx context.Context, wf *wfv1.Workflow, params map[string]string) error {
	vals := map[string]string{}
	var errs []error
	for _, p := range wf.Spec.Arguments.Parameters {
		v, ok := params[p.Name]
		if !ok && p.Value != nil {
			v, ok = p.Value.String(), true
		}
		vals["{{workflow.parameters."+p.Name+"}}"] = v
		if ok && len(p.Enum) > 0 && !slices.ContainsFunc(p.Enum, func(e wfv1.AnyString) bool { return e.String() == v }) {
			errs = append(errs, fmt.Errorf("-p %s=%s: want one of %v", p.Name, v, p.Enum))
		}
	}
	var pairs []string
	for k, v := range vals {
		pairs = append(pairs, k, v)
	}
	sub := strings.NewReplacer(pairs...)
	seen := map[string]bool{}
	for _, t := range wf.Spec.Templates {
		if t.Container == nil || len(t.Container.Command) == 0 {
			continue
		}
		var args []string
		for i := 0; i < len(t.Container.Args); i++ {
			a := sub.Replace(t.Container.Args[i])
			if strings.HasPrefix(a, "-") && i+1 < len(t.Container.Args) {
				v := sub.Replace(t.Container.Args[i+1])
				i++
				if strings.Contains(v, "{{") {
					continue // known only during the run
				}
				args = append(args, a, v)
				continue
			}
			args = append(args, a)
		}
		cmd := path.Base(t.Container.Command[0])
		if err := stage.Check(ctx, cmd, args); err != nil && !seen[err.Error()] {
			seen[err.Error()] = true // steps share the store and the config: say it once
			errs = append(errs, fmt.Errorf("%s: %w", cmd, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: refused before any step ran: %w", errUsage, errors.Join(errs...))
	}
	return nil
}
