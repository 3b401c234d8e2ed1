package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/miniotest"
	"github.com/abs-nas/abs/internal/pipeline"
)

// tinyConfig keeps the end-to-end runs to seconds: a C=4, N=1 supernet on 256 Fashion-MNIST images.
const tinyConfig = `{"base_epoch":0,"train":256,"valid":64,"test":256,"width":4,"retrain_epochs":1,"search_budget":50}`

var steps struct {
	once sync.Once
	dir  string
	err  error
}

// buildSteps builds the step binaries once for the end-to-end tests.
func buildSteps(t *testing.T) string {
	t.Helper()
	steps.once.Do(func() {
		steps.dir, steps.err = os.MkdirTemp("", "abs-steps-")
		if steps.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", steps.dir+"/", "../../steps/...").CombinedOutput()
		if err != nil {
			steps.err = fmt.Errorf("build steps: %v\n%s", err, out)
		}
	})
	if steps.err != nil {
		t.Fatal(steps.err)
	}
	return steps.dir
}

// TestStepKilledMidRun kills train-supernet in the middle of its training: no artifact (and no
// temporary file) may be left but the step's lock, and running the same command again takes the
// lock over and completes the stage.
func TestStepKilledMidRun(t *testing.T) {
	bin := buildSteps(t)
	run := filepath.Join(t.TempDir(), "run")
	progress := filepath.Join(t.TempDir(), "progress")
	args := []string{"-run", run, "-stage", "0", "-epochs", "1", "-config", `{"train":1280,"valid":64,"width":4,"base_epoch":0}`}
	cmd := exec.Command(filepath.Join(bin, "train-supernet"), args...)
	cmd.Env = append(os.Environ(), "ARGO_PROGRESS_FILE="+progress)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := os.ReadFile(progress)
		if n, _, ok := strings.Cut(strings.TrimSpace(string(b)), "/"); ok && n != "0" {
			break // training has made steps, and the step has written nothing yet
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("train-supernet made no progress in 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	var left []string
	filepath.WalkDir(run, func(p string, d os.DirEntry, err error) error {
		// The killed step's lock stays (nothing runs after SIGKILL); the rerun takes it over.
		if err == nil && !d.IsDir() && d.Name() != "lock.json" {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("a killed step left files: %v", left)
	}
	if out, err := exec.Command(filepath.Join(bin, "train-supernet"), args...).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if code, out, errOut := abs("verify", run); code != 0 || !strings.Contains(out, "3 artifacts") {
		t.Errorf("abs verify after the rerun: exit %d\n%s%s", code, out, errOut)
	}
}

// TestPipelineEndToEnd runs pipelines/abs-nb201.yaml with the local executor and the real step
// binaries on real data, once on the file store and once on a real S3 server (MinIO): two
// shrinking stages (the recursion), search and retraining. It then verifies the run, reruns a step
// (which skips, its outputs being up to date) and forces a step to redo its work, which must give
// the same bytes. The two runs, in two stores, must hold byte-identical artifacts (same inputs,
// config and seed), and a copy of the file run, moved elsewhere, must verify. abs report writes
// the run's report into the run, where verify checks it too (and where it is the same bytes in both
// stores).
func TestPipelineEndToEnd(t *testing.T) {
	bin := buildSteps(t)
	sums := map[string]map[string]string{} // backend → key → sha256, from the manifests
	for _, backend := range []string{"file", "s3"} {
		t.Run(backend, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "run")
			if backend == "s3" {
				srv := miniotest.Start(t)
				srv.Setenv(t)
				store = "s3://" + srv.Bucket + "/runs/e2e"
			}
			ctx := context.Background()
			dir := t.TempDir()
			var out bytes.Buffer
			params := map[string]string{"store": store, "config": tinyConfig, "epochs-first": "1",
				"drop-policy": "global-tail", "drop-count": "10", "threshold": "64"}
			wf, err := pipeline.Load("../../pipelines/abs-nb201.yaml")
			if err != nil {
				t.Fatal(err)
			}
			e, err := executor(bin, dir)
			if err != nil {
				t.Fatal(err)
			}
			e.Stdout, e.Stderr, e.Log = io.Discard, io.Discard, quietLog()
			rec, err := e.Run(ctx, wf, params)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			var names []string
			outputs := map[string]map[string]string{}
			for _, n := range rec.Nodes {
				names = append(names, n.Name)
				outputs[n.Name] = n.Outputs
			}
			want := "shrink/train shrink/sample shrink/score shrink/prune shrink/next/train shrink/next/sample shrink/next/score shrink/next/prune search retrain report"
			if got := strings.Join(names, " "); got != want {
				t.Fatalf("steps run:\n%s\nwant\n%s", got, want)
			}
			if got := outputs["shrink/prune"]["continue"]; got != "true" {
				t.Errorf("first prune: continue=%s, want true", got)
			}
			size, _ := strconv.Atoi(outputs["shrink/next/prune"]["size"])
			if outputs["shrink/next/prune"]["continue"] != "false" || size < 1 || size > 64 {
				t.Errorf("second prune: outputs %v, want continue=false and 1 <= size <= 64", outputs["shrink/next/prune"])
			}
			acc, err := strconv.ParseFloat(outputs["retrain"]["test-accuracy"], 64)
			if err != nil || acc <= 0 || acc > 100 {
				t.Errorf("retrain test-accuracy %q", outputs["retrain"]["test-accuracy"])
			}
			// The last stage comes out of the recursion; the search step does not look for it.
			if search := strings.Join(rec.Nodes[8].Command, " "); !strings.Contains(search, " -stage 1 ") {
				t.Errorf("search ran as %q, want -stage 1 (the last shrinking stage)", search)
			}
			best := outputs["search"]["best"]
			if !strings.HasPrefix(best, "|") {
				t.Errorf("search best %q is not an NB201 arch string", best)
			}

			// 19 artifacts of the steps and the report step's page with its 5 plots.
			code, stdout, stderr := abs("verify", store)
			if code != 0 || !strings.Contains(stdout, "24 artifacts") {
				t.Errorf("abs verify: exit %d\n%s%s", code, stdout, stderr)
			}

			st, err := artifacts.Open(ctx, store)
			if err != nil {
				t.Fatal(err)
			}
			// The pipeline's last step wrote the report into the run, in either store, and into its
			// manifest (verify checked its files); abs report writes the same page again.
			if got, want := outputs["report"]["page"], st.URL("report/index.html"); got != want {
				t.Errorf("report step: page %q, want %q", got, want)
			}
			stepPage := fetch(t, st, "report/index.html")
			if !bytes.Contains(stepPage, []byte(`<img src="search.png"`)) || !bytes.Contains(stepPage, []byte("stage-1/shrink.parquet")) {
				t.Errorf("report step's page lacks the search plot or stage 1:\n%s", stepPage)
			}
			if m, err := manifest.Load(ctx, st); err != nil || !slices.ContainsFunc(m.Artifacts, func(a manifest.Entry) bool { return a.Key == "report/index.html" }) {
				t.Errorf("the run's manifest does not record report/index.html (%v)", err)
			}
			code, stdout, stderr = abs("report", store)
			if code != 0 || strings.TrimSpace(stdout) != st.URL("report/index.html") {
				t.Errorf("abs report: exit %d\n%s%s", code, stdout, stderr)
			}
			if page := fetch(t, st, "report/index.html"); !bytes.Contains(page, []byte(`<img src="search.png"`)) || !bytes.Contains(page, []byte("stage-1/shrink.parquet")) {
				t.Errorf("report page of the run lacks the search plot or stage 1:\n%s", page)
			}
			before := fetch(t, st, "stage-1/space.parquet")
			// Rerunning a step with up-to-date outputs skips its work.
			n, err := (&pipeline.Executor{Resolve: e.Resolve, Dir: dir, Log: quietLog(), Stderr: &out}).Rerun(ctx, "next/prune")
			if err != nil || n.Phase != "Succeeded" || !strings.Contains(out.String(), "outputs up to date; skipping") {
				t.Errorf("rerun next/prune: %v, phase %v, log %s", err, n, out.String())
			}
			// Forcing it redoes the work and writes the same bytes.
			args := append(rec.Nodes[7].Command[1:], "-force")
			cmd := exec.Command(rec.Nodes[7].Command[0], args...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("prune -force: %v\n%s", err, b)
			}
			if after := fetch(t, st, "stage-1/space.parquet"); !bytes.Equal(before, after) {
				t.Errorf("prune -force wrote different bytes")
			}
			code, stdout, stderr = abs("verify", store)
			if code != 0 {
				t.Errorf("abs verify after the rerun: exit %d\n%s%s", code, stdout, stderr)
			}
			m, err := manifest.Load(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			sums[backend] = map[string]string{}
			for _, a := range m.Artifacts {
				sums[backend][a.Key] = a.SHA256
			}
			if backend == "file" {
				moved := filepath.Join(t.TempDir(), "moved")
				if err := os.Rename(store, moved); err != nil {
					t.Fatal(err)
				}
				if code, stdout, stderr := abs("verify", moved); code != 0 {
					t.Errorf("abs verify of the moved run: exit %d\n%s%s", code, stdout, stderr)
				}
			}
		})
	}
	if len(sums["file"]) == 0 || len(sums["s3"]) == 0 {
		t.Fatal("a run failed: no two stores to compare")
	}
	for key, sum := range sums["file"] {
		if sums["s3"][key] != sum {
			t.Errorf("%s: sha256 %s in the file store, %s in the s3 store", key, sum, sums["s3"][key])
		}
	}
	if len(sums["file"]) != len(sums["s3"]) {
		t.Errorf("%d artifacts in the file store, %d in the s3 store", len(sums["file"]), len(sums["s3"]))
	}
}

func fetch(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	b, _, err := schema.Fetch(context.Background(), st, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestPipelinesOtherSpaces runs the DARTS and MobileNet-like pipelines end to end on the file store
// with tiny supernets and a threshold that one stage reaches: training, angle scoring of sampled
// children, pruning, regularized evolution and retraining, for each space.
func TestPipelinesOtherSpaces(t *testing.T) {
	bin := buildSteps(t)
	for _, tc := range []struct {
		name, file, config string
		params             map[string]string
	}{
		// DARTS: 1 037 664 180 children; once one op per edge goes, node 3 keeps at most 108 of its
		// 147 choices (and nodes 4, 5 as few), so one stage reaches 1e9.
		{"darts", "abs-darts.yaml", `{"space":"darts","width":4,"cells":3}`, map[string]string{"threshold": "1e9"}},
		{"proxyless-gpu", "abs-mobilenet.yaml", `{"space":"proxyless-gpu","width_mult":0.25}`, map[string]string{"threshold": "1e17"}},
		{"fairnas", "abs-mobilenet.yaml", `{"space":"fairnas","width_mult":0.25}`, map[string]string{"threshold": "1e14", "drop-policy": "one-per-layer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "run")
			cfg := strings.TrimSuffix(tc.config, "}") + `,"base_epoch":0,"train":128,"valid":64,"test":128,"retrain_epochs":1,"children_per_op":2,"search":"evolution","search_budget":4}`
			params := map[string]string{"store": store, "config": cfg, "epochs-first": "1"}
			for k, v := range tc.params {
				params[k] = v
			}
			wf, err := pipeline.Load("../../pipelines/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			e, err := executor(bin, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			e.Stdout, e.Stderr, e.Log = io.Discard, io.Discard, quietLog()
			rec, err := e.Run(context.Background(), wf, params)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			var names []string
			for _, n := range rec.Nodes {
				names = append(names, n.Name)
			}
			if got, want := strings.Join(names, " "), "shrink/train shrink/sample shrink/score shrink/prune search retrain report"; got != want {
				t.Fatalf("steps run:\n%s\nwant (one stage, search, retrain, report)\n%s", got, want)
			}
			best := rec.Nodes[4].Outputs["best"]
			if tc.name == "darts" && !strings.HasPrefix(best, "Genotype(normal=") || tc.name != "darts" && !strings.HasPrefix(best, "mb_") && !strings.HasPrefix(best, "identity") {
				t.Errorf("search best %q is not a %s child", best, tc.name)
			}
			if tc.name == "darts" {
				// One cell for every cell: DARTS' Genotype with reduce = normal, two inputs per node.
				sp := space.DARTS{}
				if c, err := sp.Parse(best); err != nil || sp.Check(sp.Full(), c) != nil || sp.Format(c) != best {
					t.Errorf("search best %q: parse %v, or not a valid child in canonical form", best, err)
				}
			}
			// 11 artifacts of the steps and the report step's page with its 5 plots.
			if code, out, errOut := abs("verify", store); code != 0 || !strings.Contains(out, "16 artifacts") {
				t.Errorf("abs verify: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}
