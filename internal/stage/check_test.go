package stage

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store/file"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/step"
)

// seedRun writes one artifact with the provenance a step of a default-config run with seed 1
// writes, and records it, so the folder holds a run.
func seedRun(t *testing.T, dir string) {
	t.Helper()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := json.Marshal(struct {
		Config Config            `json:"config"`
		Flags  map[string]string `json:"flags"`
	}{DefaultConfig(), map[string]string{}})
	obj, err := schema.Space.Put(context.Background(), st, spaceKey(0), schema.Meta{Producer: "prune", Seed: 1, Config: string(conf)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Record(context.Background(), st, obj); err != nil {
		t.Fatal(err)
	}
}

// TestStepsRefuseBeforeWork checks that every step refuses bad flags, configurations and stores
// as usage errors (exit status 2, never retried) when it starts, before it reads any data: the
// run's folder stays without any artifact. Check runs the same checks the step runs.
func TestStepsRefuseBeforeWork(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, manifest.Key), []byte(`{"version":1,"artifacts":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	seedRun(t, other)
	for _, tc := range []struct {
		name, step string
		args       []string
		env        string // KUBERNETES_SERVICE_HOST, when set
		want       string // "" for no error
	}{
		{"unknown config field", "train-supernet", []string{"-config", `{"widht":4}`}, "", `unknown field "widht"`},
		{"config not JSON", "sample-children", []string{"-config", `{width:4}`}, "", "config -config"},
		{"config after JSON", "sample-children", []string{"-config", `{} {}`}, "", "text after the JSON object"},
		{"space", "score-operators", []string{"-config", `{"space":"nb301"}`}, "", `space "nb301": want one of nb201, darts, proxyless-gpu, fairnas`},
		{"epochs", "train-supernet", []string{"-epochs", "-1"}, "", "-epochs -1"},
		{"stop-after", "train-supernet", []string{"-epochs", "2", "-stop-after", "3"}, "", "-stop-after 3: want 0 (all epochs) up to -epochs 2"},
		{"stop-after at the base epoch", "train-supernet", []string{"-epochs", "3", "-stop-after", "1"}, "", "config base_epoch = 1 with 1 epochs trained"},
		{"negative stage", "prune", []string{"-stage", "-1"}, "", "-stage -1: want 0 or more"},
		{"negative stage score", "score-operators", []string{"-stage", "-2"}, "", "-stage -2"},
		{"dataset", "search", []string{"-config", `{"dataset":"mnist"}`}, "", `dataset "mnist": want one of fashion-mnist, cifar10`},
		{"sampling", "train-supernet", []string{"-config", `{"sampling":"unifrom"}`}, "", `sampling "unifrom": want one of authors, per-cell, whole-net, uniform, fair`},
		{"per-cell outside nb201", "train-supernet", []string{"-config", `{"space":"fairnas","sampling":"per-cell"}`}, "", "sampling per-cell: not for space fairnas"},
		{"policy", "prune", []string{"-policy", "worst"}, "", `invalid value "worst" for flag -policy: drop policy "worst": want one of fixed-count, global-tail, one-per-edge, one-per-layer`},
		{"threshold", "prune", []string{"-threshold", "abc"}, "", "-threshold"},
		{"drop", "prune", []string{"-drop", "100"}, "", "-drop 100: want 1 to 24"},
		{"arch", "retrain", []string{"-arch", "|conv~0|"}, "", "-arch"},
		{"store below a file", "train-supernet", []string{"-run", filepath.Join(file, "run")}, "", "not writable"},
		{"corrupt manifest", "prune", []string{"-run", corrupt, "-force"}, "", "corrupt manifest"},
		{"other seed", "train-supernet", []string{"-run", other, "-seed", "2"}, "", "holds a run with seed 1"},
		{"other config", "score-operators", []string{"-run", other, "-config", `{"width":4}`}, "", "holds a run with seed 1"},
		{"same run", "score-operators", []string{"-run", other}, "", ""},
		{"other seed forced", "train-supernet", []string{"-run", other, "-seed", "2", "-force"}, "", ""},
		{"file store in a pod", "train-supernet", nil, "10.0.0.1", "in a Kubernetes pod the run must be an s3:// URL"},
		{"good", "prune", []string{"-drop", "24", "-threshold", "1e6"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", tc.env)
			run := filepath.Join(t.TempDir(), "run")
			args := append([]string{"-run", run}, tc.args...)
			err := Check(context.Background(), tc.step, args)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check: %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !step.IsUsage(err) {
				t.Fatalf("Check: %v (usage error: %v), want a usage error containing %q", err, step.IsUsage(err), tc.want)
			}
			// The step itself refuses the same way, before it reads anything.
			err = Steps[tc.step](context.Background(), args)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !step.IsUsage(err) {
				t.Fatalf("%s: %v, want a usage error containing %q", tc.step, err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(run, manifest.Key)); err == nil {
				t.Errorf("%s wrote a manifest", tc.step)
			}
		})
	}
}

// TestTrainDivergesWritesNothing trains with a learning rate that makes the loss overflow: the
// step must fail naming the step and epoch, and write nothing (no NaN weights or metrics).
func TestTrainDivergesWritesNothing(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist"); err != nil {
		t.Skip("Fashion-MNIST not installed (Debian dataset-fashion-mnist)")
	}
	run := filepath.Join(t.TempDir(), "run")
	err := TrainSupernet(context.Background(), []string{"-run", run, "-epochs", "1",
		"-config", `{"train":128,"valid":32,"width":4,"batch":32,"lr":1e30,"lr_min":0,"base_epoch":0}`})
	if err == nil || !strings.Contains(err.Error(), "train-supernet: stage 0 epoch 0") {
		t.Fatalf("train-supernet with lr 1e30: %v, want an error naming the step and epoch", err)
	}
	if entries, _ := os.ReadDir(run); len(entries) > 0 {
		t.Errorf("a diverged training wrote %d entries in the run", len(entries))
	}
}

// TestRunLock checks that a step refuses a run that another live step holds, naming the holder,
// and takes over the lock of a step that is gone (killed), then releases it.
func TestRunLock(t *testing.T) {
	host, _ := os.Hostname()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pid  int
		want string // "" when the step gets past the lock
	}{
		{"held", os.Getpid(), "is locked by prune (pid "},
		{"holder gone", gone.Process.Pid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := t.TempDir()
			lock, _ := json.Marshal(holder{Step: "prune", Host: host, PID: tc.pid})
			if err := os.WriteFile(filepath.Join(run, lockKey), lock, 0o644); err != nil {
				t.Fatal(err)
			}
			err := ScoreOperators(context.Background(), []string{"-run", run})
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("score-operators on a locked run: %v, want an error containing %q", err, tc.want)
				}
				return
			}
			// Past the lock, the step fails for want of children, and releases the lock.
			if err == nil || strings.Contains(err.Error(), "locked") {
				t.Fatalf("score-operators: %v, want it past the lock", err)
			}
			if _, err := os.Stat(filepath.Join(run, lockKey)); err == nil {
				t.Errorf("the lock is left after the step ended")
			}
		})
	}
}

// TestPruneRecordsReset checks that prune decides the base-weight reset once and stores it in the
// shrink record: on DARTS (112 ops) a first stage that removes 60 ops crosses the limit of 50,
// one that removes 40 does not.
func TestPruneRecordsReset(t *testing.T) {
	ctx := context.Background()
	const conf = `{"space":"darts","width":4,"cells":3}`
	for _, tc := range []struct {
		drop string
		want bool
	}{{"60", true}, {"40", false}} {
		run := t.TempDir()
		st, err := file.New(run)
		if err != nil {
			t.Fatal(err)
		}
		var rows []schema.OpScore
		sp := space.DARTS{}
		for e := range sp.Points() {
			for o, op := range sp.Ops() {
				rows = append(rows, schema.OpScore{Edge: int32(e), Op: op.Name, Score: float64(e*10 + o), Samples: 1})
			}
		}
		cfg := DefaultConfig()
		if err := json.Unmarshal([]byte(conf), &cfg); err != nil {
			t.Fatal(err)
		}
		meta, _ := json.Marshal(struct {
			Config Config            `json:"config"`
			Flags  map[string]string `json:"flags"`
		}{cfg, map[string]string{}})
		obj, err := schema.Scores.Put(ctx, st, scoresKey(0), schema.Meta{Producer: "score-operators", Seed: 1, Config: string(meta)}, rows)
		if err != nil {
			t.Fatal(err)
		}
		if err := manifest.Record(ctx, st, obj); err != nil {
			t.Fatal(err)
		}
		if err := Prune(ctx, []string{"-run", run, "-config", conf, "-policy", "global-tail", "-drop", tc.drop, "-threshold", "1"}); err != nil {
			t.Fatal(err)
		}
		recs, _, err := schema.Shrink.Get(ctx, st, shrinkKey(0))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].ResetBase != tc.want {
			t.Errorf("-drop %s: shrink record %+v, want reset_base %v", tc.drop, recs, tc.want)
		}
	}
}

// TestReadOnlyStoreRefused checks that a run folder the step cannot write is a usage error when
// the step starts, before any work. Root writes into read-only folders, so it is skipped as root
// (TestStepsRefuseBeforeWork's store below a regular file covers an unwritable store there).
func TestReadOnlyStoreRefused(t *testing.T) {
	if os.Geteuid() == 0 {
		asNobody(t, "TestReadOnlyStoreRefused")
		return
	}
	run := t.TempDir()
	if err := os.Chmod(run, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(run, 0o755)
	err := TrainSupernet(context.Background(), []string{"-run", run})
	if err == nil || !strings.Contains(err.Error(), "is not writable") || !step.IsUsage(err) {
		t.Fatalf("train-supernet on a read-only folder: %v, want a usage error saying it is not writable", err)
	}
}

// asNobody runs the named test of this binary again as uid and gid 65534 (setpriv, util-linux), for
// checks that root would pass by its privileges, and fails unless it passes there.
func asNobody(t *testing.T, name string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The binary's own folder is root's alone: a copy nobody can run.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "stage.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR=/tmp", "HOME=/tmp")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s as uid 65534: %v\n%s", name, err, out)
	}
}
