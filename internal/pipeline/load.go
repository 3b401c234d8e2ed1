// Package pipeline loads Argo Workflows YAML, validates it with Argo's own validator, and runs it on
// one machine without Kubernetes (see Executor).
package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	"github.com/argoproj/argo-workflows/v3/workflow/templateresolution"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
)

// Load reads the Workflow in the YAML file at path, strictly (an unknown field is an error), and
// validates it with Argo's validator. The file must hold exactly one Workflow.
func Load(path string) (*wfv1.Workflow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read workflow: %w", err)
	}
	return Parse(b, path)
}

// Parse is Load on the bytes of a file; name is used in errors.
func Parse(b []byte, name string) (*wfv1.Workflow, error) {
	wfs, err := common.SplitWorkflowYAMLFile(b, true)
	if err != nil {
		return nil, fmt.Errorf("parse workflow %s: %w", name, err)
	}
	if len(wfs) != 1 {
		return nil, fmt.Errorf("parse workflow %s: found %d Workflow documents, want exactly 1", name, len(wfs))
	}
	wf := &wfs[0]
	if err := Validate(wf); err != nil {
		return nil, fmt.Errorf("validate workflow %s: %w", name, err)
	}
	return wf, nil
}

// Validate checks wf with Argo's offline validator (workflow/validate), as `argo lint` does for a
// Workflow that references no WorkflowTemplates: a workflow parameter may lack a value, which
// `argo submit` (and Executor.Run) then requires.
func Validate(wf *wfv1.Workflow) error {
	return validateWith(wf, validate.ValidateOpts{Lint: true})
}

func validateWith(wf *wfv1.Workflow, opts validate.ValidateOpts) error {
	return validate.ValidateWorkflow(noTemplates{}, &templateresolution.NullClusterWorkflowTemplateGetter{}, wf, nil, opts)
}

// noTemplates is the WorkflowTemplate getter of a cluster that has none.
type noTemplates struct{}

func (noTemplates) Get(name string) (*wfv1.WorkflowTemplate, error) {
	return nil, fmt.Errorf("workflow template %q: referenced templates are not supported; inline the template", name)
}

// supported lists the Workflow fields the local executor implements, as JSON paths ("[]" marks a
// list element, "*" any map key). noLocalEffect lists fields it accepts because they only matter on a
// cluster (scheduling, images, service accounts); they are reported once at start, never silently
// dropped. Every other field is an error naming it.
var supported = map[string]bool{
	"apiVersion": true, "kind": true,
	"metadata.name": true, "metadata.generateName": true, "metadata.namespace": true,
	"metadata.labels.*": true, "metadata.annotations.*": true,
	"spec.entrypoint":                                              true,
	"spec.arguments.parameters[].name":                             true,
	"spec.arguments.parameters[].value":                            true,
	"spec.arguments.parameters[].description":                      true,
	"spec.arguments.parameters[].enum[]":                           true,
	"spec.templates[].name":                                        true,
	"spec.templates[].inputs.parameters[].name":                    true,
	"spec.templates[].inputs.parameters[].value":                   true,
	"spec.templates[].inputs.parameters[].default":                 true,
	"spec.templates[].inputs.parameters[].description":             true,
	"spec.templates[].outputs.parameters[].name":                   true,
	"spec.templates[].outputs.parameters[].description":            true,
	"spec.templates[].outputs.parameters[].valueFrom.path":         true,
	"spec.templates[].outputs.parameters[].valueFrom.default":      true,
	"spec.templates[].outputs.parameters[].valueFrom.expression":   true,
	"spec.templates[].outputs.parameters[].valueFrom.parameter":    true,
	"spec.templates[].steps[][].name":                              true,
	"spec.templates[].steps[][].template":                          true,
	"spec.templates[].steps[][].when":                              true,
	"spec.templates[].steps[][].arguments.parameters[].name":       true,
	"spec.templates[].steps[][].arguments.parameters[].value":      true,
	"spec.templates[].dag.tasks[].name":                            true,
	"spec.templates[].dag.tasks[].template":                        true,
	"spec.templates[].dag.tasks[].when":                            true,
	"spec.templates[].dag.tasks[].dependencies[]":                  true,
	"spec.templates[].dag.tasks[].arguments.parameters[].name":     true,
	"spec.templates[].dag.tasks[].arguments.parameters[].value":    true,
	"spec.templates[].container.name":                              true,
	"spec.templates[].container.command[]":                         true,
	"spec.templates[].container.args[]":                            true,
	"spec.templates[].container.env[].name":                        true,
	"spec.templates[].container.env[].value":                       true,
	"spec.templates[].container.env[].valueFrom.secretKeyRef.name": true,
	"spec.templates[].container.env[].valueFrom.secretKeyRef.key":  true,
	"spec.templates[].retryStrategy.limit":                         true,
	"spec.templates[].retryStrategy.retryPolicy":                   true,
	"spec.templates[].retryStrategy.backoff.duration":              true,
	"spec.templates[].retryStrategy.backoff.factor":                true,
	"spec.templates[].retryStrategy.backoff.maxDuration":           true,
	"spec.templates[].retryStrategy.backoff.cap":                   true,
	"spec.templates[].retryStrategy.expression":                    true,
}

var noLocalEffect = []string{
	"spec.serviceAccountName",
	"spec.podGC.",
	"spec.ttlStrategy.",
	"spec.activeDeadlineSeconds",
	"spec.securityContext.",
	"spec.podSpecPatch",
	"spec.volumes[]",
	"spec.templates[].container.volumeMounts[]",
	"spec.templates[].container.env[].valueFrom.resourceFieldRef.",
	"spec.templates[].container.image",
	"spec.templates[].container.imagePullPolicy",
	"spec.templates[].container.resources.",
	"spec.templates[].container.securityContext.",
	"spec.templates[].podSpecPatch",
	"spec.templates[].nodeSelector.",
	"spec.templates[].tolerations[]",
	"spec.templates[].activeDeadlineSeconds",
	"spec.templates[].metadata.",
}

// checkFields returns the fields of wf the executor accepts without effect (for a log line), or an
// error naming the first field it does not support.
func checkFields(wf *wfv1.Workflow) (ignored []string, err error) {
	b, err := json.Marshal(wf)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	delete(doc, "status") // the controller's, never written by a user
	if m, ok := doc["metadata"].(map[string]any); ok {
		delete(m, "creationTimestamp")
	}
	seen := map[string]bool{}
	var bad []string
	var walk func(path, shown string, v any)
	walk = func(path, shown string, v any) {
		switch x := v.(type) {
		case nil:
			return
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := join(path, k)
				if supported[join(path, "*")] {
					p = join(path, "*")
				}
				walk(p, join(shown, k), x[k])
			}
			return
		case []any:
			for i, e := range x {
				walk(path+"[]", fmt.Sprintf("%s[%d]", shown, i), e)
			}
			return
		}
		if supported[path] {
			return
		}
		for _, p := range noLocalEffect {
			if path == p || (strings.HasSuffix(p, ".") || strings.HasSuffix(p, "[]")) && strings.HasPrefix(path, p) {
				if !seen[p] {
					seen[p] = true
					ignored = append(ignored, strings.TrimSuffix(p, "."))
				}
				return
			}
		}
		bad = append(bad, fmt.Sprintf("%s (%s)", shown, path))
	}
	walk("", "", doc)
	if len(bad) > 0 {
		return nil, fmt.Errorf("the local executor does not support field %s", strings.Join(bad, ", field "))
	}
	return ignored, nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
