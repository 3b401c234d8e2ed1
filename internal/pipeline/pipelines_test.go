package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
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
		{"unknown field (strict)", "    retryStrategy: &retry\n", "    retryStrategi: &retry\n", "retryStrategi"},
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

// The pipelines' image runs as this numeric user (k8s/Dockerfile).
const imageUID = 65532

// TestPipelinesOnACluster checks every pipeline for the traps a first run on a real cluster would
// hit (see trapProblems), and that the three pipelines share one set of templates.
func TestPipelinesOnACluster(t *testing.T) {
	files, err := filepath.Glob("../../pipelines/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no pipelines found: %v", err)
	}
	var first []byte
	for _, f := range files {
		wf, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range trapProblems(wf) {
			t.Errorf("%s: %s", f, p)
		}
		b, err := json.Marshal(wf.Spec.Templates)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Errorf("%s: its templates differ from %s's; the pipelines differ in their parameters only", f, files[0])
		}
	}
}

// TestTrapsAreCaught breaks one fix at a time in a real pipeline and checks that trapProblems
// reports it.
func TestTrapsAreCaught(t *testing.T) {
	good := readFile(t, "../../pipelines/abs-nb201.yaml")
	for _, tc := range []struct{ name, old, new, want string }{
		{"latest image", "value: abs:0.1.0", "value: abs:latest", "image"},
		{"untagged image", "value: abs:0.1.0", "value: abs", "image"},
		{"relative store", "    - name: store\n", "    - name: store\n      value: runs/nb201\n", "store"},
		{"pull policy", "      imagePullPolicy: IfNotPresent\n      command: [prune]", "      imagePullPolicy: Always\n      command: [prune]", "imagePullPolicy"},
		{"cifar10", "keeps the defaults.\n      value: \"{}\"", "keeps the defaults.\n      value: '{\"dataset\":\"cifar10\"}'", "cifar10"},
		{"root", "        runAsUser: 65532\n        runAsGroup: 65532\n        allowPrivilegeEscalation", "        runAsUser: 0\n        runAsGroup: 65532\n        allowPrivilegeEscalation", "runAsUser"},
		{"escalation", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"capabilities", "capabilities: {drop: [ALL]}", "capabilities: {drop: [NET_RAW]}", "capabilities"},
		{"seccomp", "        seccompProfile: {type: RuntimeDefault}\n      volumeMounts", "        seccompProfile: {type: Unconfined}\n      volumeMounts", "seccomp"},
		{"writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"no /tmp", "      volumeMounts: &tmp\n      - {name: tmp, mountPath: /tmp}\n", "      volumeMounts: &tmp []\n", "/tmp/outputs"},
		{"pod user", "  securityContext:\n    runAsNonRoot: true\n    runAsUser: 65532", "  securityContext:\n    runAsNonRoot: true\n    runAsUser: 1000", "spec.securityContext"},
		{"no memory limit", `,"limits":{"memory":"{{workflow.parameters.memory-limit}}"}`, "", "memory limit"},
		{"no requests", `"requests":{"cpu":"{{workflow.parameters.cpu}}","memory":"{{workflow.parameters.memory}}"},`, "", "requests"},
		{"no GOMEMLIMIT", "resource: limits.memory", "resource: limits.cpu", "GOMEMLIMIT"},
		{"retries usage errors", "lastRetry.status == 'Error' || lastRetry.exitCode != '2'", "true", "exit 2"},
		{"no retry of evictions", "retryPolicy: Always", "retryPolicy: OnFailure", "Error"},
		{"no deadline", "  activeDeadlineSeconds: 604800\n", "", "activeDeadlineSeconds"},
		{"no podGC", "  podGC:\n    strategy: OnPodSuccess\n", "", "podGC"},
		{"no ttl", "  ttlStrategy:\n    secondsAfterSuccess: 86400\n    secondsAfterFailure: 604800\n", "", "ttlStrategy"},
		{"search guesses the stage", "[search]\n      args: [-run, \"{{workflow.parameters.store}}\", -stage, \"{{inputs.parameters.stage}}\",", "[search]\n      args: [-run, \"{{workflow.parameters.store}}\",", "-stage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("pipeline lacks %q", tc.old)
			}
			wf, err := Parse([]byte(strings.Replace(good, tc.old, tc.new, 1)), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(trapProblems(wf), "\n"); !strings.Contains(got, tc.want) {
				t.Errorf("problems = %q, want one mentioning %q", got, tc.want)
			}
		})
	}
}

// trapProblems lists what in wf would fail or misbehave on a real cluster, the traps of issue 12:
// an image that is pulled every time or not pinned; a store that can default to a pod's own
// filesystem; a pod or step that may run as root, escalate, keep capabilities or write its root
// filesystem; a step without resource requests and a memory limit; a retry strategy that retries
// usage errors or not what the cluster does to pods; no deadline, pod GC or TTL; a search step that
// is not told the last stage; a data set the image does not hold.
func trapProblems(wf *wfv1.Workflow) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	params := map[string]string{}
	for _, p := range wf.Spec.Arguments.Parameters {
		if p.Value != nil {
			params["workflow.parameters."+p.Name] = p.Value.String()
		}
		switch p.Name {
		case "store":
			if p.Value != nil {
				bad("parameter store has the default %q: a run's store must be given (s3:// in a pod)", p.Value.String())
			}
		case "image":
			image := p.Value.String()
			_, tag, ok := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
			if !ok || tag == "" || tag == "latest" {
				bad("parameter image defaults to %q: want a pinned tag other than latest (Kubernetes pulls :latest on every start)", image)
			}
		case "config":
			// The data set is a config field; the image holds Fashion-MNIST only.
			var conf struct {
				Dataset string `json:"dataset"`
			}
			if err := json.Unmarshal([]byte(p.Value.String()), &conf); err != nil {
				bad("parameter config defaults to %q: not a JSON object: %v", p.Value.String(), err)
			} else if conf.Dataset != "" && conf.Dataset != "fashion-mnist" {
				bad("parameter config sets dataset %s, which the image does not hold", conf.Dataset)
			}
		}
	}
	s := wf.Spec
	if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds <= 0 {
		bad("no spec.activeDeadlineSeconds")
	}
	if s.PodGC == nil || s.PodGC.Strategy == "" {
		bad("no spec.podGC strategy")
	}
	if s.TTLStrategy == nil || s.TTLStrategy.SecondsAfterSuccess == nil || s.TTLStrategy.SecondsAfterFailure == nil {
		bad("no spec.ttlStrategy after success and after failure")
	}
	if pod := s.SecurityContext; pod == nil || !isTrue(pod.RunAsNonRoot) || !is(pod.RunAsUser, imageUID) || !is(pod.RunAsGroup, imageUID) ||
		pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad("spec.securityContext must set runAsNonRoot, runAsUser and runAsGroup %d and the RuntimeDefault seccomp profile", imageUID)
	}
	emptyDirs := map[string]bool{}
	for _, v := range s.Volumes {
		if v.EmptyDir != nil {
			emptyDirs[v.Name] = true
		}
	}
	for i := range s.Templates {
		t := &s.Templates[i]
		c := t.Container
		if c == nil {
			continue
		}
		where := "template " + t.Name
		if c.Image != "{{workflow.parameters.image}}" || c.ImagePullPolicy != corev1.PullIfNotPresent {
			bad("%s: image %q, imagePullPolicy %q; want the image parameter with IfNotPresent", where, c.Image, c.ImagePullPolicy)
		}
		sc := c.SecurityContext
		switch {
		case sc == nil:
			bad("%s: no securityContext", where)
		default:
			if !isTrue(sc.RunAsNonRoot) || !is(sc.RunAsUser, imageUID) || !is(sc.RunAsGroup, imageUID) {
				bad("%s: securityContext must set runAsNonRoot and runAsUser, runAsGroup %d", where, imageUID)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				bad("%s: securityContext must set allowPrivilegeEscalation false", where)
			}
			if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
				bad("%s: securityContext capabilities must drop ALL and add none", where)
			}
			if !isTrue(sc.ReadOnlyRootFilesystem) {
				bad("%s: securityContext must set readOnlyRootFilesystem (the steps write /tmp/outputs only)", where)
			}
			if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				bad("%s: securityContext must use the RuntimeDefault seccomp profile", where)
			}
		}
		for _, p := range t.Outputs.Parameters {
			if p.ValueFrom == nil || !writable(c.VolumeMounts, emptyDirs, p.ValueFrom.Path) {
				bad("%s: output parameter %s: its file %s is on no emptyDir mount, and the root filesystem is read-only", where, p.Name, p.ValueFrom.Path)
			}
		}
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
			return e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
				e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" && e.ValueFrom.ResourceFieldRef.ContainerName == "main"
		}) {
			bad("%s: no GOMEMLIMIT from the main container's limits.memory: Go's heap would outgrow the memory limit", where)
		}
		for _, p := range resourceProblems(s.PodSpecPatch, t, params) {
			bad("%s: %s", where, p)
		}
		for _, p := range retryProblems(t) {
			bad("%s: %s", where, p)
		}
		if c.Command[0] == "search" {
			i := slices.Index(c.Args, "-stage")
			if i < 0 || c.Args[i+1] != "{{inputs.parameters.stage}}" {
				bad("%s: search is not given -stage {{inputs.parameters.stage}}: it must search the last stage of this run, not guess it from the store", where)
			}
		}
	}
	for _, st := range s.Templates[0].Steps {
		for _, step := range st.Steps {
			if step.Template != "search" {
				continue
			}
			if len(step.Arguments.Parameters) != 1 || step.Arguments.Parameters[0].Value.String() != "{{steps.shrink.outputs.parameters.last-stage}}" {
				bad("step search: its stage is not the shrink recursion's last-stage output")
			}
		}
	}
	return ps
}

func isTrue(b *bool) bool          { return b != nil && *b }
func is(n *int64, want int64) bool { return n != nil && *n == want }

// writable reports whether path lies on one of mounts whose volume is an emptyDir.
func writable(mounts []corev1.VolumeMount, emptyDirs map[string]bool, path string) bool {
	for _, m := range mounts {
		if emptyDirs[m.Name] && strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

// resourceProblems applies the workflow's and t's podSpecPatch, with the parameters' defaults, to
// a pod whose main container has no resources, as Argo's controller does (strategic merge patch,
// workflow first), and checks the container's cpu and memory requests and memory limit.
func resourceProblems(wfPatch string, t *wfv1.Template, params map[string]string) []string {
	spec, err := json.Marshal(corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}})
	if err != nil {
		return []string{err.Error()}
	}
	for _, patch := range []string{wfPatch, t.PodSpecPatch} {
		if patch == "" {
			continue
		}
		p, err := substitute(patch, params)
		if err != nil {
			return []string{fmt.Sprintf("podSpecPatch: %v", err)}
		}
		j, err := yaml.YAMLToJSON([]byte(p))
		if err != nil {
			return []string{fmt.Sprintf("podSpecPatch: %v", err)}
		}
		if spec, err = strategicpatch.StrategicMergePatch(spec, j, corev1.PodSpec{}); err != nil {
			return []string{fmt.Sprintf("podSpecPatch: %v", err)}
		}
	}
	var pod corev1.PodSpec
	if err := json.Unmarshal(spec, &pod); err != nil {
		return []string{fmt.Sprintf("patched pod spec: %v", err)}
	}
	var ps []string
	r := pod.Containers[0].Resources
	if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() {
		ps = append(ps, "no cpu and memory requests")
	}
	if lim := r.Limits.Memory(); lim.IsZero() || lim.Cmp(*r.Requests.Memory()) < 0 {
		ps = append(ps, fmt.Sprintf("no memory limit at or above the request (limit %v)", lim))
	}
	return ps
}

// retryProblems checks t's retryStrategy against what should and should not be retried, by running
// the local executor's Argo decision (retry.next) on made-up failed attempts.
func retryProblems(t *wfv1.Template) []string {
	r, err := retryOf(t)
	if err != nil {
		return []string{err.Error()}
	}
	if r.limit < 1 {
		return []string{"no retryStrategy with a limit of 1 or more: a deleted or evicted pod fails the run"}
	}
	var ps []string
	now := time.Now()
	for _, tc := range []struct {
		phase, exitCode, what string
		retry                 bool
	}{
		{phaseFailed, "2", "a usage error (exit 2)", false},
		{phaseFailed, "1", "a failed step (exit 1)", true},
		{phaseFailed, "137", "a step killed by the kubelet (exit 137: OOM, or an eviction after its grace period)", true},
		{phaseFailed, "143", "a step stopped by SIGTERM (exit 143: an eviction)", true},
		{phaseError, "-1", "a deleted pod (Error, no exit code)", true},
		{phaseError, "2", "a pod whose wait container failed (Error)", true},
	} {
		a := attempt{phase: tc.phase, exitCode: tc.exitCode, message: tc.what, started: now, finished: now}
		_, ok, why, err := r.next([]attempt{a}, now)
		if err != nil {
			ps = append(ps, err.Error())
		} else if ok != tc.retry {
			ps = append(ps, fmt.Sprintf("retries %s: %v, want %v (%s)", tc.what, ok, tc.retry, why))
		}
	}
	return ps
}

// TestPipelineRetries runs abs-nb201.yaml with its own retryStrategy and a stand-in for every step
// that fails the way FAIL_WITH says: a usage error (exit 2) fails the run at once, after one
// attempt; a failing step (exit 1) and a killed one (SIGKILL) are tried three times. (The retry
// cases wait 10 ms instead of the pipeline's 30 s and 60 s.)
func TestPipelineRetries(t *testing.T) {
	step := filepath.Join(t.TempDir(), "step")
	script := "#!/bin/sh\necho \"$0 $*: failing on purpose\" > \"$ABS_OUTPUT_ROOT/dev/termination-log\"\n" +
		"case $FAIL_WITH in kill) kill -9 $$ ;; *) exit $FAIL_WITH ;; esac\n"
	if err := os.WriteFile(step, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	good := readFile(t, "../../pipelines/abs-nb201.yaml")
	fast := strings.Replace(good, `duration: "30s"`, `duration: "10ms"`, 1)
	if fast == good {
		t.Fatal("the pipeline's backoff is not 30s any more; update this test")
	}
	for _, tc := range []struct {
		failWith, yaml string
		attempts       int
		exitCode       string
	}{{"2", good, 1, "2"}, {"1", fast, 3, "1"}, {"kill", fast, 3, "137"}} {
		t.Run(tc.failWith, func(t *testing.T) {
			wf, err := Parse([]byte(tc.yaml), "abs-nb201.yaml")
			if err != nil {
				t.Fatal(err)
			}
			e := newExec(t)
			e.Resolve = func(string) (string, error) { return step, nil }
			e.Env = append(os.Environ(), "FAIL_WITH="+tc.failWith)
			rec, err := e.Run(context.Background(), wf, map[string]string{"store": t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), "failing on purpose") {
				t.Fatalf("got %v, want the step's failure", err)
			}
			if len(rec.Nodes) != 1 {
				t.Fatalf("%d nodes ran, want train-supernet only", len(rec.Nodes))
			}
			if n := rec.Nodes[0]; n.Name != "shrink/train" || n.Attempts != tc.attempts || n.ExitCode != tc.exitCode || n.Phase != phaseFailed {
				t.Errorf("node %s: %d attempts, exit code %s, phase %s; want shrink/train, %d, %s, Failed", n.Name, n.Attempts, n.ExitCode, n.Phase, tc.attempts, tc.exitCode)
			}
		})
	}
}
