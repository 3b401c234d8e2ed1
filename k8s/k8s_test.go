// Package k8s_test checks the Kubernetes manifests of this directory offline, without a cluster:
// every document decodes strictly into its typed object (unknown or duplicate fields, wrong
// types and unknown kinds are errors), kustomization.yaml lists exactly the manifests here, and
// the objects agree with each other (Secret keys, Service ports, volume claims, RBAC). It also
// checks the few properties of the Dockerfile that the cluster relies on.
package k8s_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// The names the pipelines (pipelines/*.yaml) and docs/kubernetes.md rely on.
const (
	namespace      = "abs"
	secretName     = "abs-s3"
	rootSecret     = "abs-minio-root" // MinIO's root user, for MinIO and the bucket Job only
	serviceAccount = "abs-workflow"
	bucket         = "abs"
	imageUID       = "65532" // the final stage's USER in the Dockerfile, uid and gid
)

// strict decodes YAML or JSON into the typed object its apiVersion and kind name, rejecting
// unknown and duplicate fields.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// kustomization holds the fields of kustomization.yaml this directory uses; any other field is
// rejected by the strict decoding in readKustomization.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

func readKustomization(t *testing.T) kustomization {
	t.Helper()
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

// decodeFile decodes every YAML document of path into its typed Kubernetes object.
func decodeFile(path string) ([]runtime.Object, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var objs []runtime.Object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if j, err := yaml.YAMLToJSON(doc); err == nil && string(j) == "null" {
			continue // only comments or blank lines
		}
		obj, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		objs = append(objs, obj)
	}
}

// load decodes every manifest kustomization.yaml lists.
func load(t *testing.T) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	for _, f := range readKustomization(t).Resources {
		o, err := decodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	return objs
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	k := readKustomization(t)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s, want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}
	if k.Namespace != namespace {
		t.Errorf("kustomization.yaml namespace = %q, want %q", k.Namespace, namespace)
	}
	for _, f := range k.Resources {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", f, err)
		}
	}
	files, err := filepath.Glob("*.y*ml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f != "kustomization.yaml" && !slices.Contains(k.Resources, f) {
			t.Errorf("%s is not listed in kustomization.yaml resources", f)
		}
	}
	listed := map[string]bool{}
	for _, f := range k.Resources {
		if listed[f] {
			t.Errorf("kustomization.yaml lists %s twice", f)
		}
		listed[f] = true
	}
}

func TestManifestsAreConsistent(t *testing.T) {
	objs := load(t)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[fmt.Sprintf("%T", o)]++
	}
	// One of each object docs/kubernetes.md describes, and nothing else.
	want := map[string]int{
		"*v1.Namespace": 1, "*v1.Secret": 2, "*v1.ConfigMap": 1, "*v1.PersistentVolumeClaim": 1, "*v1.Deployment": 1,
		"*v1.Service": 1, "*v1.Job": 1, "*v1.ServiceAccount": 1, "*v1.Role": 1, "*v1.RoleBinding": 1,
	}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("objects by type = %v, want %v", kinds, want)
	}
	for _, p := range problems(objs) {
		t.Error(p)
	}
}

// TestPipelinesUseTheseObjects checks that the Argo pipelines in ../pipelines refer only to
// keys of the Secret here and run as the ServiceAccount here.
func TestPipelinesUseTheseObjects(t *testing.T) {
	files, err := filepath.Glob("../pipelines/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no pipelines/*.yaml in this tree")
	}
	keys := find[*corev1.Secret](load(t), secretName).StringData
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		refs := 0
		walk(doc, func(m map[string]any) {
			if ref, ok := m["secretKeyRef"].(map[string]any); ok {
				refs++
				name, key := ref["name"], ref["key"]
				if _, ok := keys[fmt.Sprint(key)]; name != secretName || !ok {
					t.Errorf("%s: secretKeyRef %v/%v, want a key of Secret %s", f, name, key, secretName)
				}
			}
			if sa, ok := m["serviceAccountName"]; ok && sa != serviceAccount {
				t.Errorf("%s: serviceAccountName %v, want %s", f, sa, serviceAccount)
			}
			for _, k := range []string{"runAsUser", "runAsGroup"} {
				if id, ok := m[k]; ok && fmt.Sprint(id) != imageUID {
					t.Errorf("%s: %s %v, want the image's user %s (k8s/Dockerfile)", f, k, id, imageUID)
				}
			}
		})
		if refs == 0 {
			t.Errorf("%s reads nothing from Secret %s; its steps cannot reach the store", f, secretName)
		}
	}
}

// walk calls fn on every map in v, depth first.
func walk(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, e := range v {
			walk(e, fn)
		}
	case []any:
		for _, e := range v {
			walk(e, fn)
		}
	}
}

// TestProblemsAreCaught breaks one relation at a time and checks that problems reports it.
func TestProblemsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(objs []runtime.Object)
		want string
	}{
		{"secret key missing", func(o []runtime.Object) {
			delete(find[*corev1.Secret](o, secretName).StringData, "AWS_SECRET_ACCESS_KEY")
		}, `Secret abs-s3 has no key "AWS_SECRET_ACCESS_KEY"`},
		{"endpoint port", func(o []runtime.Object) {
			find[*corev1.Secret](o, secretName).StringData["ABS_S3_ENDPOINT"] = "minio.abs.svc:9001"
		}, "ABS_S3_ENDPOINT"},
		{"credentials not URL-safe", func(o []runtime.Object) {
			find[*corev1.Secret](o, secretName).StringData["AWS_SECRET_ACCESS_KEY"] = "pass/word@1"
		}, "URL-safe"},
		{"secret renamed", func(o []runtime.Object) {
			find[*corev1.Secret](o, secretName).Name = "s3"
		}, `no Secret "abs-s3"`},
		{"claim renamed", func(o []runtime.Object) {
			find[*corev1.PersistentVolumeClaim](o, "minio-data").Name = "data"
		}, `no PersistentVolumeClaim "minio-data"`},
		{"root", func(o []runtime.Object) {
			find[*appsv1.Deployment](o, "minio").Spec.Template.Spec.SecurityContext.RunAsUser = new(int64)
		}, "runs as root"},
		{"no requests", func(o []runtime.Object) {
			find[*batchv1.Job](o, "abs-bucket").Spec.Template.Spec.Containers[0].Resources.Requests = nil
		}, "requests"},
		{"probe path", func(o []runtime.Object) {
			find[*appsv1.Deployment](o, "minio").Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Path = "/"
		}, "readiness"},
		{"service port name", func(o []runtime.Object) {
			find[*corev1.Service](o, "minio").Spec.Ports[0].TargetPort = intstr.FromString("http")
		}, "targetPort"},
		{"bucket", func(o []runtime.Object) {
			find[*batchv1.Job](o, "abs-bucket").Spec.Template.Spec.InitContainers[0].Args = []string{"mb", "store/other"}
		}, "create bucket abs"},
		{"steps hold the root user", func(o []runtime.Object) {
			find[*corev1.Secret](o, secretName).StringData["AWS_ACCESS_KEY_ID"] = find[*corev1.Secret](o, rootSecret).StringData["MINIO_ROOT_USER"]
		}, "MinIO's root user"},
		{"minio root from the steps' secret", func(o []runtime.Object) {
			find[*appsv1.Deployment](o, "minio").Spec.Template.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name = secretName
		}, "MINIO_ROOT_USER does not come from Secret abs-minio-root"},
		{"policy beyond the bucket", func(o []runtime.Object) {
			cm := find[*corev1.ConfigMap](o, "abs-steps-policy")
			cm.Data["abs-steps.json"] = strings.Replace(cm.Data["abs-steps.json"], "arn:aws:s3:::abs/*", "arn:aws:s3:::*", 1)
		}, "allows arn:aws:s3:::*"},
		{"policy not attached", func(o []runtime.Object) {
			find[*batchv1.Job](o, "abs-bucket").Spec.Template.Spec.Containers[0].Args = []string{"ls", "store/abs"}
		}, "attach the policy"},
		{"mc as the steps' user", func(o []runtime.Object) {
			c := &find[*batchv1.Job](o, "abs-bucket").Spec.Template.Spec.InitContainers[1]
			for i, e := range c.Env {
				if e.Name == "MC_HOST_store" {
					c.Env[i].Value = "http://$(AWS_ACCESS_KEY_ID):$(AWS_SECRET_ACCESS_KEY)@minio.abs.svc:9000"
				}
			}
		}, "container policy: MC_HOST_store"},
		{"namespace", func(o []runtime.Object) {
			find[*rbacv1.Role](o, serviceAccount).Namespace = "default"
		}, "namespace"},
		{"role without patch", func(o []runtime.Object) {
			find[*rbacv1.Role](o, serviceAccount).Rules[0].Verbs = []string{"create"}
		}, "patch argoproj.io/workflowtaskresults"},
		{"binding to another account", func(o []runtime.Object) {
			find[*rbacv1.RoleBinding](o, serviceAccount).Subjects[0].Name = "default"
		}, "ServiceAccount abs-workflow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := load(t)
			tc.edit(objs)
			got := strings.Join(problems(objs), "\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems = %q, want one containing %q", got, tc.want)
			}
		})
	}
}

// TestStrictDecodingRejectsMistakes edits a copy of a manifest and checks that decodeFile
// rejects it, naming the file and the mistake.
func TestStrictDecodingRejectsMistakes(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"unknown field", "minio-deployment.yaml", "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		{"duplicate field", "minio-service.yaml", "  name: minio\n", "  name: minio\n  name: s3\n", `key "name" already set in map`},
		{"wrong type", "minio-deployment.yaml", "replicas: 1", "replicas: one", "replicas"},
		{"unknown kind", "bucket-job.yaml", "kind: Job", "kind: Jobb", `no kind "Jobb"`},
		{"unknown field in a later document", "workflow-rbac.yaml", "roleRef:", "roleReference:", `document 3: strict decoding error: unknown field "roleReference"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(tc.old)) {
				t.Fatalf("%s has no %q to edit", tc.file, tc.old)
			}
			path := filepath.Join(t.TempDir(), tc.file)
			if err := os.WriteFile(path, bytes.Replace(b, []byte(tc.old), []byte(tc.new), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := decodeFile(tc.file); err != nil {
				t.Fatalf("original %s: %v", tc.file, err)
			}
			_, err = decodeFile(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("decodeFile(edited %s) = %v, want an error naming %s and containing %q", tc.file, err, path, tc.want)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"get"}},
	}
	for _, tc := range []struct {
		group, resource, verb string
		want                  bool
	}{
		{"argoproj.io", "workflowtaskresults", "patch", true},
		{"argoproj.io", "workflowtaskresults", "delete", false},
		{"argoproj.io", "workflows", "create", false},
		{"", "workflowtaskresults", "create", false},
		{"", "pods", "get", true},
		{"", "pods", "patch", false},
	} {
		if got := allows(rules, tc.group, tc.resource, tc.verb); got != tc.want {
			t.Errorf("allows(%s %s/%s) = %v, want %v", tc.verb, tc.group, tc.resource, got, tc.want)
		}
	}
}

// TestDockerfile checks what the pipelines rely on: static step binaries, a final stage with the
// numeric non-root user the pipelines run as, and a build context without the repository's
// history, binaries and runs.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	var build string
	user := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 1 && f[0] == "FROM":
			from = append(from, f[1])
			user = ""
		case len(f) > 1 && f[0] == "USER":
			user = f[1]
		case strings.Contains(line, "go build"):
			build = line
		}
	}
	if len(from) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build", len(from))
	}
	// runAsNonRoot needs a numeric user: the kubelet cannot check a name. The pipelines run their
	// steps as this uid and gid.
	if final := from[len(from)-1]; user != imageUID+":"+imageUID {
		t.Errorf("final stage %s has USER %q, want %s:%s", final, user, imageUID, imageUID)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/...", "./steps/..."} {
		if !strings.Contains(build, want) {
			t.Errorf("go build line %q lacks %s", build, want)
		}
	}
	if !regexp.MustCompile(`(?m)^COPY --from=\S+ /usr/share/datasets/fashion-mnist/? /usr/share/datasets/fashion-mnist/?$`).Match(b) {
		t.Error("Dockerfile does not copy Fashion-MNIST to /usr/share/datasets/fashion-mnist")
	}
	if !regexp.MustCompile(`(?m)^COPY --from=\S+ /out/ /usr/local/bin/$`).Match(b) {
		t.Error("Dockerfile does not put the binaries in /usr/local/bin")
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatalf("the build context is the repository root and needs a .dockerignore: %v", err)
	}
	ignored := map[string]bool{}
	for _, line := range strings.Split(string(ignore), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			ignored[strings.Trim(line, "/")] = true
		}
	}
	for _, p := range []string{".git", "bin", "runs"} {
		if !ignored[p] {
			t.Errorf(".dockerignore does not leave out %s", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd", "steps", "internal", "artifacts", "*.go", "**/*.go"} {
		if ignored[p] {
			t.Errorf(".dockerignore leaves out %s, which the build needs", p)
		}
	}
}

// find returns the object of type T named name; it panics when there is none, a broken test.
func find[T runtime.Object](objs []runtime.Object, name string) T {
	for _, o := range objs {
		if v, ok := o.(T); ok && mustMeta(o).GetName() == name {
			return v
		}
	}
	var zero T
	panic(fmt.Sprintf("no %T %q", zero, name))
}

func mustMeta(o runtime.Object) metav1.Object {
	m, err := meta.Accessor(o)
	if err != nil {
		panic(err)
	}
	return m
}

// allows reports whether rules grant verb on group/resource ("*" matches anything).
func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	has := func(list []string, s string) bool { return slices.Contains(list, s) || slices.Contains(list, "*") }
	for _, r := range rules {
		if has(r.APIGroups, group) && has(r.Resources, resource) && has(r.Verbs, verb) {
			return true
		}
	}
	return false
}

// urlSafe matches the characters RFC 3986 leaves unreserved: a credential made of them can stand
// in the mc host URL of the bucket Job without escaping.
var urlSafe = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

// problems lists every inconsistency among objs, each naming the objects involved.
func problems(objs []runtime.Object) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }

	secrets := map[string]map[string]string{}
	configMaps := map[string]map[string]string{}
	claims := map[string]bool{}
	accounts := map[string]bool{}
	roles := map[string]*rbacv1.Role{}
	services := map[string]*corev1.Service{}
	var deployments []*appsv1.Deployment
	var jobs []*batchv1.Job
	var bindings []*rbacv1.RoleBinding
	haveNamespace := false
	for _, o := range objs {
		m := mustMeta(o)
		switch v := o.(type) {
		case *corev1.Namespace:
			haveNamespace = haveNamespace || v.Name == namespace
			continue
		case *corev1.Secret:
			keys := map[string]string{}
			for k, b := range v.Data {
				keys[k] = string(b)
			}
			for k, s := range v.StringData {
				keys[k] = s
			}
			secrets[v.Name] = keys
		case *corev1.ConfigMap:
			configMaps[v.Name] = v.Data
		case *corev1.PersistentVolumeClaim:
			claims[v.Name] = true
		case *corev1.ServiceAccount:
			accounts[v.Name] = true
		case *rbacv1.Role:
			roles[v.Name] = v
		case *rbacv1.RoleBinding:
			bindings = append(bindings, v)
		case *corev1.Service:
			services[v.Name] = v
		case *appsv1.Deployment:
			deployments = append(deployments, v)
		case *batchv1.Job:
			jobs = append(jobs, v)
		}
		if m.GetNamespace() != namespace {
			bad("%T %s is in namespace %q, want %q", o, m.GetName(), m.GetNamespace(), namespace)
		}
	}
	if !haveNamespace {
		bad("no Namespace %q", namespace)
	}

	// The Secret the steps read (pipelines/*.yaml): a MinIO user of their own, not the root user.
	s3, ok := secrets[secretName]
	if !ok {
		bad("no Secret %q", secretName)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ABS_S3_ENDPOINT", "ABS_S3_INSECURE"} {
		if _, has := s3[k]; ok && !has {
			bad("Secret %s has no key %q", secretName, k)
		}
	}
	if ok {
		if v := s3["ABS_S3_INSECURE"]; v != "1" {
			bad("Secret %s: ABS_S3_INSECURE = %q, want 1 (the in-cluster MinIO speaks plain HTTP)", secretName, v)
		}
		endpoint := s3["ABS_S3_ENDPOINT"]
		if !servesEndpoint(services, endpoint) {
			bad("Secret %s: ABS_S3_ENDPOINT %q is not NAME.%s.svc:PORT of a Service here", secretName, endpoint, namespace)
		}
		for k, min := range map[string]int{"AWS_ACCESS_KEY_ID": 3, "AWS_SECRET_ACCESS_KEY": 8} {
			if v := s3[k]; len(v) < min || !urlSafe.MatchString(v) {
				bad("Secret %s: %s must be URL-safe and at least %d characters (MinIO's minimum)", secretName, k, min)
			}
		}
	}
	root, ok := secrets[rootSecret]
	if !ok {
		bad("no Secret %q", rootSecret)
	}
	for k, min := range map[string]int{"MINIO_ROOT_USER": 3, "MINIO_ROOT_PASSWORD": 8} {
		if v := root[k]; ok && (len(v) < min || !urlSafe.MatchString(v)) {
			bad("Secret %s: %s must be URL-safe and at least %d characters (MinIO's minimum)", rootSecret, k, min)
		}
	}
	if ok && s3["AWS_ACCESS_KEY_ID"] == root["MINIO_ROOT_USER"] {
		bad("Secret %s holds MinIO's root user (Secret %s): the steps need a user of their own", secretName, rootSecret)
	}

	checkPod := func(owner string, spec *corev1.PodSpec) {
		if spec.ServiceAccountName != "" && !accounts[spec.ServiceAccountName] {
			bad("%s uses ServiceAccount %q, which is not here", owner, spec.ServiceAccountName)
		}
		volumes := map[string]bool{}
		for _, v := range spec.Volumes {
			volumes[v.Name] = true
			if c := v.PersistentVolumeClaim; c != nil && !claims[c.ClaimName] {
				bad("%s: volume %s: no PersistentVolumeClaim %q", owner, v.Name, c.ClaimName)
			}
		}
		pod := spec.SecurityContext
		if pod == nil {
			pod = &corev1.PodSecurityContext{}
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			where := owner + " container " + c.Name
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			nonRoot := sc.RunAsNonRoot != nil && *sc.RunAsNonRoot || sc.RunAsNonRoot == nil && pod.RunAsNonRoot != nil && *pod.RunAsNonRoot
			uid := sc.RunAsUser
			if uid == nil {
				uid = pod.RunAsUser
			}
			if !nonRoot || uid == nil || *uid == 0 {
				bad("%s runs as root or may (want runAsNonRoot and a non-zero runAsUser)", where)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				bad("%s allows privilege escalation", where)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
				bad("%s has no cpu and memory requests", where)
			}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					bad("%s mounts volume %q, which the pod does not define", where, m.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				if keys, ok := secrets[ref.Name]; !ok {
					bad("%s env %s: no Secret %q", where, e.Name, ref.Name)
				} else if _, ok := keys[ref.Key]; !ok {
					bad("%s env %s: Secret %s has no key %q", where, e.Name, ref.Name, ref.Key)
				}
			}
		}
	}

	for _, d := range deployments {
		owner := "Deployment " + d.Name
		spec := &d.Spec.Template.Spec
		checkPod(owner, spec)
		if d.Spec.Selector == nil || !matches(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			bad("%s: selector does not match the pod template labels", owner)
		}
		for _, c := range spec.Containers {
			if !strings.HasPrefix(c.Image, "quay.io/minio/minio:") {
				continue
			}
			for _, env := range []string{"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} {
				if !envFromSecret(c.Env, env, rootSecret, env) {
					bad("%s: %s does not come from Secret %s key %s", owner, env, rootSecret, env)
				}
			}
			if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/minio/health/ready" {
				bad("%s: readiness probe is not GET /minio/health/ready", owner)
			}
			if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/minio/health/live" {
				bad("%s: liveness probe is not GET /minio/health/live", owner)
			}
		}
	}

	for _, s := range services {
		var pods *corev1.PodSpec
		for _, d := range deployments {
			if len(s.Spec.Selector) > 0 && matches(s.Spec.Selector, d.Spec.Template.Labels) {
				pods = &d.Spec.Template.Spec
			}
		}
		if pods == nil {
			bad("Service %s selects no Deployment's pods", s.Name)
			continue
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type == intstr.String && !hasPortNamed(pods, p.TargetPort.StrVal) {
				bad("Service %s: targetPort %q names no container port of its pods", s.Name, p.TargetPort.StrVal)
			}
		}
	}

	for _, j := range jobs {
		owner := "Job " + j.Name
		spec := &j.Spec.Template.Spec
		checkPod(owner, spec)
		checkBucketJob(owner, spec, secrets, configMaps, bad)
	}

	// The executor in every workflow pod (Argo v3.7, emissary) reports outputs and progress
	// through a WorkflowTaskResult that it creates and then patches.
	if !accounts[serviceAccount] {
		bad("no ServiceAccount %q", serviceAccount)
	}
	var granted []rbacv1.PolicyRule
	for _, b := range bindings {
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == serviceAccount && s.Namespace == namespace {
				if r, ok := roles[b.RoleRef.Name]; b.RoleRef.Kind == "Role" && ok {
					granted = append(granted, r.Rules...)
				} else {
					bad("RoleBinding %s refers to %s %q, which is not here", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
				}
			}
		}
	}
	for _, verb := range []string{"create", "patch"} {
		if !allows(granted, "argoproj.io", "workflowtaskresults", verb) {
			bad("ServiceAccount %s may not %s argoproj.io/workflowtaskresults", serviceAccount, verb)
		}
	}
	return ps
}

// checkBucketJob checks that the mc containers of the Job, in order (init containers first), create
// the bucket, load a policy that allows only that bucket, add the steps' user of Secret abs-s3 and
// attach the policy to it, on the server and with the root user of Secret abs-minio-root: each
// container's MC_HOST_<alias> URL and args, with $(VAR) expanded as Kubernetes does.
func checkBucketJob(owner string, spec *corev1.PodSpec, secrets, configMaps map[string]map[string]string, bad func(string, ...any)) {
	s3, root := secrets[secretName], secrets[rootSecret]
	mounts := map[string]string{} // mount path -> ConfigMap name
	volumes := map[string]string{}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			volumes[v.Name] = v.ConfigMap.Name
		}
	}
	var cmds []string
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		if !strings.HasPrefix(c.Image, "quay.io/minio/mc:") {
			continue
		}
		for _, m := range c.VolumeMounts {
			if cm, ok := volumes[m.Name]; ok {
				mounts[m.MountPath] = cm
			}
		}
		vars := map[string]string{}
		hosts := map[string]string{}
		for _, e := range c.Env {
			if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
				vars[e.Name] = secrets[ref.SecretKeyRef.Name][ref.SecretKeyRef.Key]
			}
			if alias, ok := strings.CutPrefix(e.Name, "MC_HOST_"); ok {
				hosts[alias] = e.Value
			}
		}
		expand := func(v string) string {
			for name, val := range vars {
				v = strings.ReplaceAll(v, "$("+name+")", val)
			}
			return v
		}
		args := slices.Clone(c.Args)
		if len(args) >= 2 && args[0] == "--config-dir" {
			args = args[2:]
		}
		for i := range args {
			args[i] = expand(args[i])
		}
		cmd := strings.Join(args, " ")
		cmds = append(cmds, cmd)
		// The alias is the first word with a slash (mb) or the word after the subcommand (admin).
		alias := ""
		for _, a := range args {
			if al, _, ok := strings.Cut(a, "/"); ok && !strings.HasPrefix(a, "/") {
				alias = al
				break
			}
		}
		if alias == "" && len(args) > 3 && args[0] == "admin" {
			alias = args[3]
		}
		u, err := url.Parse(expand(hosts[alias]))
		if err != nil || u.User == nil || u.User.Username() != root["MINIO_ROOT_USER"] || u.Host != s3["ABS_S3_ENDPOINT"] {
			bad("%s container %s: MC_HOST_%s does not expand to http://ROOT_USER:ROOT_PASSWORD@%s (got error %v)", owner, c.Name, alias, s3["ABS_S3_ENDPOINT"], err)
		}
	}
	// The four commands, in this order.
	want := []*regexp.Regexp{
		regexp.MustCompile(`^mb --ignore-existing \w+/` + bucket + `$`),
		regexp.MustCompile(`^admin policy create \w+ (\S+) (\S+)$`),
		regexp.MustCompile(`^admin user add \w+ ` + regexp.QuoteMeta(s3["AWS_ACCESS_KEY_ID"]+" "+s3["AWS_SECRET_ACCESS_KEY"]) + `$`),
		regexp.MustCompile(`^admin policy attach \w+ (\S+) --user ` + regexp.QuoteMeta(s3["AWS_ACCESS_KEY_ID"]) + `$`),
	}
	what := []string{"create bucket " + bucket + " with mb --ignore-existing", "load a policy", "add the steps' user of Secret " + secretName, "attach the policy to that user"}
	next, policy, file := 0, "", ""
	for _, cmd := range cmds {
		if next < len(want) {
			if m := want[next].FindStringSubmatch(cmd); m != nil {
				switch next {
				case 1:
					policy, file = m[1], m[2]
				case 3:
					if m[1] != policy {
						bad("%s attaches policy %s, want the one it loads, %s", owner, m[1], policy)
					}
				}
				next++
			}
		}
	}
	if next < len(want) {
		bad("%s: commands %q do not %s (in this order: %s)", owner, cmds, what[next], strings.Join(what, ", "))
	}
	if file == "" {
		return
	}
	// The policy: every statement about the bucket or its objects only.
	doc, ok := configMaps[mounts[path.Dir(file)]][path.Base(file)]
	if !ok {
		bad("%s: policy file %s is no key of a ConfigMap mounted there", owner, file)
		return
	}
	var pol struct {
		Statement []struct {
			Effect   string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(doc), &pol); err != nil || len(pol.Statement) == 0 {
		bad("%s: policy %s: %v, want an IAM policy document", owner, file, err)
	}
	for _, st := range pol.Statement {
		for _, r := range st.Resource {
			if r != "arn:aws:s3:::"+bucket && r != "arn:aws:s3:::"+bucket+"/*" {
				bad("%s: policy %s allows %s, want only bucket %s and its objects", owner, file, r, bucket)
			}
		}
	}
}

// servesEndpoint reports whether endpoint is NAME.<namespace>.svc:PORT of one of services.
func servesEndpoint(services map[string]*corev1.Service, endpoint string) bool {
	for _, s := range services {
		for _, p := range s.Spec.Ports {
			if endpoint == fmt.Sprintf("%s.%s.svc:%d", s.Name, namespace, p.Port) {
				return true
			}
		}
	}
	return false
}

func envFromSecret(env []corev1.EnvVar, name, secret, key string) bool {
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name == secret && e.ValueFrom.SecretKeyRef.Key == key
		}
	}
	return false
}

// matches reports whether every selector label is among labels.
func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func hasPortNamed(spec *corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}
