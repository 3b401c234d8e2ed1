package pipeline

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPipelinesValidate checks every committed pipeline with Argo's own validator in strict mode
// and with the local executor's field check.
func TestPipelinesValidate(t *testing.T) {
	files, err := filepath.Glob("../../pipelines/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no pipelines found: %v", err)
	}
	for _, f := range files {
		wf, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if _, err := checkFields(wf); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	t.Logf("validated %d pipelines", len(files))
}

// TestValidateCatchesMistakes shows that deliberate mistakes in a real pipeline are caught.
func TestValidateCatchesMistakes(t *testing.T) {
	good := readFile(t, "../../pipelines/abs-nb201.yaml")
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown field (strict)", "    retryStrategy:\n", "    retryStrategi:\n", "retryStrategi"},
		{"missing template", "template: sample-children", "template: sample-childs", "sample-childs"},
		{"undefined output", "steps.prune.outputs.parameters.continue", "steps.prune.outputs.parameters.go-on", "go-on"},
		{"undefined input", "{{inputs.parameters.stage}}", "{{inputs.parameters.stag}}", "inputs.parameters.stag"},
		{"unknown workflow parameter", "{{workflow.parameters.seed}}", "{{workflow.parameters.sed}}", "workflow.parameters.sed"},
		{"missing entrypoint", "entrypoint: abs", "entrypoint: abz", "abz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("pipeline lacks %q", tc.old)
			}
			_, err := Parse([]byte(strings.Replace(good, tc.old, tc.new, 1)), tc.name)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
