package main

import (
	"context"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/miniotest"
)

// TestS3Run writes a run to a real S3 server (MinIO) whose scores name an input of the run, then
// lists, shows and verifies it with abs.
func TestS3Run(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	ctx := context.Background()
	runURL := "s3://" + srv.Bucket + "/runs/r1"
	st, err := artifacts.Open(ctx, runURL)
	if err != nil {
		t.Fatal(err)
	}
	weights, err := schema.Weights.Put(ctx, st, "stage0/supernet.parquet", schema.Meta{Producer: "train-supernet"},
		[]schema.Weight{{Name: "w", Shape: []int32{1}, Values: []float32{1}}})
	if err != nil {
		t.Fatal(err)
	}
	scores, err := schema.Scores.Put(ctx, st, "stage0/scores.parquet",
		schema.Meta{Producer: "score-operators", Inputs: []schema.Input{weights.Input()}}, testScores)
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Record(ctx, st, weights, scores); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := abs("verify", runURL)
	if code != 0 || !strings.Contains(out, "2 artifacts, 1 provenance inputs verified") {
		t.Errorf("abs verify %s: exit %d, stdout %q, stderr %q", runURL, code, out, errOut)
	}
	code, out, errOut = abs("show", runURL+"/stage0/scores.parquet")
	if code != 0 || !strings.Contains(out, "sha256:    "+scores.SHA256) || !strings.Contains(out, "nor_conv_3x3  1.25") {
		t.Errorf("abs show: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = abs("ls", runURL)
	if code != 0 || !strings.Contains(out, "stage0/scores.parquet") || !strings.Contains(out, "scores v2") {
		t.Errorf("abs ls: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Rewriting the input (and its manifest entry) breaks the scores' provenance.
	rewritten, err := schema.Weights.Put(ctx, st, "stage0/supernet.parquet", schema.Meta{Producer: "train-supernet"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Record(ctx, st, rewritten); err != nil {
		t.Fatal(err)
	}
	code, out, _ = abs("verify", runURL)
	if code != 1 || !strings.Contains(out, "input "+weights.URL+" has sha256 ") {
		t.Errorf("abs verify after the input changed: exit %d, stdout %q; want 1 and a FAIL naming %s", code, out, weights.URL)
	}
}
