package schema

import (
	"fmt"

	"github.com/abs-nas/abs/internal/abs/param"
)

// Weight is one named parameter tensor of a supernet or model, row-major (docs/weights.md).
type Weight struct {
	Name   string    `parquet:"name" json:"name"`
	Shape  []int32   `parquet:"shape" json:"shape"`
	Values []float32 `parquet:"values" json:"values"`
}

// SpaceOp is one candidate operator of one edge (cell spaces) or layer (block spaces) of a search
// space. A space is the list of all (edge, op) pairs; Alive is false once shrinking dropped the op.
type SpaceOp struct {
	Edge  int32  `parquet:"edge" json:"edge"` // edge or layer index, as the space numbers them
	Op    string `parquet:"op" json:"op"`     // operator name as the space spells it
	Alive bool   `parquet:"alive" json:"alive"`
}

// Child is one child model (a path through the supernet): its operator per edge, FLOPs, angle and
// accuracies. A nil pointer means not measured.
type Child struct {
	ID    int64    `parquet:"id" json:"id"`
	Ops   []string `parquet:"ops" json:"ops"`     // operator name per edge or layer, in edge order
	FLOPs int64    `parquet:"flops" json:"flops"` // multiply-accumulates of one forward pass, 0 if unknown
	// ForEdge and ForOp name the operator score the child counts for (Eq. 3): in sampled scoring each
	// child is drawn for one (edge, op) and counts only there; ForEdge = -1 (and ForOp empty) means
	// it counts for every op it contains, as in exact scoring.
	ForEdge int32  `parquet:"for_edge" json:"for_edge"`
	ForOp   string `parquet:"for_op" json:"for_op"`
	// Angle is Eq. (2) between the child's base and trained weight vectors, in radians.
	Angle *float64 `parquet:"angle" json:"angle"`
	// ValidAcc, ReBNAcc and TestAcc are top-1 accuracies in percent: on the validation split with
	// the supernet's weights as trained, the same after recomputing BN statistics (Re-BN), and the
	// ground truth (e.g. NAS-Bench-201's test accuracy or a retrained model).
	ValidAcc *float64 `parquet:"valid_acc" json:"valid_acc"`
	ReBNAcc  *float64 `parquet:"rebn_acc" json:"rebn_acc"`
	TestAcc  *float64 `parquet:"test_acc" json:"test_acc"`
}

// OpScore is the score of one candidate operator (Eq. 3): the mean angle of the Samples child models
// that contain it. Rank 1 is the best op of the ranking the drop rule used; Dropped marks the ops the
// shrink stage removed.
type OpScore struct {
	Edge    int32   `parquet:"edge" json:"edge"`
	Op      string  `parquet:"op" json:"op"`
	Score   float64 `parquet:"score" json:"score"`
	Samples int64   `parquet:"samples" json:"samples"`
	Rank    int32   `parquet:"rank" json:"rank"`
	Dropped bool    `parquet:"dropped" json:"dropped"`
}

// Stage is one shrink stage of Algorithm 2: the space size before and after, and the ops dropped
// with their scores. Sizes are float64 because spaces may exceed int64.
type Stage struct {
	Stage      int32       `parquet:"stage" json:"stage"`
	SizeBefore float64     `parquet:"size_before" json:"size_before"`
	SizeAfter  float64     `parquet:"size_after" json:"size_after"`
	Dropped    []DroppedOp `parquet:"dropped" json:"dropped"`
	// ResetBase (v2) is true for the stage after which the base weights are reset to the current
	// weights (Algorithm 2: the first stage that takes the ops removed over the limit). Prune
	// decides it once; the next stage's train-supernet reads it.
	ResetBase bool `parquet:"reset_base" json:"reset_base"`
}

// DroppedOp is one operator removed in a shrink stage.
type DroppedOp struct {
	Edge  int32   `parquet:"edge" json:"edge"`
	Op    string  `parquet:"op" json:"op"`
	Score float64 `parquet:"score" json:"score"`
}

// Candidate is one architecture a search algorithm evaluated. Round is the search iteration
// (generation, sample batch) it was proposed in; Fitness is the objective the search maximized;
// Accuracy is the ground truth in percent when known.
type Candidate struct {
	Round    int32    `parquet:"round" json:"round"`
	ID       int64    `parquet:"id" json:"id"`
	Ops      []string `parquet:"ops" json:"ops"`
	FLOPs    int64    `parquet:"flops" json:"flops"`
	Fitness  float64  `parquet:"fitness" json:"fitness"`
	Accuracy *float64 `parquet:"accuracy" json:"accuracy"`
}

// Epoch holds the training metrics of one epoch. Accuracies are top-1 in percent; an accuracy or
// validation loss is nil where it was not measured (a supernet has no single training accuracy).
type Epoch struct {
	Epoch     int32    `parquet:"epoch" json:"epoch"`
	Steps     int64    `parquet:"steps" json:"steps"` // optimizer steps so far
	LR        float64  `parquet:"lr" json:"lr"`
	TrainLoss float64  `parquet:"train_loss" json:"train_loss"`
	TrainAcc  *float64 `parquet:"train_acc" json:"train_acc"`
	ValidLoss *float64 `parquet:"valid_loss" json:"valid_loss"`
	ValidAcc  *float64 `parquet:"valid_acc" json:"valid_acc"`
	TestAcc   *float64 `parquet:"test_acc" json:"test_acc"`
	// Wall-clock times are not recorded: they would make two runs of the same inputs differ in
	// bytes. The steps log them.
}

// Correlation is, in benchmark mode, how one metric of a stage's children ranks them against one
// column of the ground-truth table, over the children the stage scored: Kendall's τ-b and
// Spearman's ρ (1 = the same order, 0 = unrelated, −1 = reversed).
type Correlation struct {
	Metric      string  `parquet:"metric" json:"metric"`   // angle, valid_acc, rebn_acc or random
	Dataset     string  `parquet:"dataset" json:"dataset"` // the table's column: cifar10, cifar100 or imagenet16-120
	Children    int64   `parquet:"children" json:"children"`
	KendallTau  float64 `parquet:"kendall_tau" json:"kendall_tau"`
	SpearmanRho float64 `parquet:"spearman_rho" json:"spearman_rho"`
}

// OpTruth is, in benchmark mode, the ground truth of one operator that was alive at the start of a
// stage, on one data set of the table: its ground-truth score (the mean test accuracy of the
// children of the stage's space that hold it, as in Fig. 7 of the ABS paper), its rank among the
// stage's operators by that score (1 = best), and whether prune kept it. TopK is the number of
// operators kept and KeptInTopK how many of them rank in the ground-truth top TopK (the same on
// every row of a data set).
type OpTruth struct {
	Edge       int32   `parquet:"edge" json:"edge"`
	Op         string  `parquet:"op" json:"op"`
	Dataset    string  `parquet:"dataset" json:"dataset"`
	Score      float64 `parquet:"score" json:"score"`
	Rank       int32   `parquet:"rank" json:"rank"`
	Kept       bool    `parquet:"kept" json:"kept"`
	TopK       int32   `parquet:"top_k" json:"top_k"`
	KeptInTopK int32   `parquet:"kept_in_top_k" json:"kept_in_top_k"`
}

// StudyResult is one figure of the reproduction study (docs/reproduction.md, internal/study): Part
// names the paper's analysis (a … i), Setting the variant (e.g. "all" children or the accuracy
// "sample", "init-kaiming", "epochs-2"), Metric what was measured, Dataset the ground truth's
// column, Seed the supernet seed (0 where the figure pools seeds), N the children, models or
// searches it covers, and Value the figure (a Kendall τ unless Metric says otherwise).
type StudyResult struct {
	Part    string  `parquet:"part" json:"part"`
	Setting string  `parquet:"setting" json:"setting"`
	Metric  string  `parquet:"metric" json:"metric"`
	Dataset string  `parquet:"dataset" json:"dataset"`
	Seed    int32   `parquet:"seed" json:"seed"`
	N       int64   `parquet:"n" json:"n"`
	Value   float64 `parquet:"value" json:"value"`
}

// The artifact schemas. The kinds that number DARTS edges or list a DARTS child's ops (space,
// children, scores, shrink, candidates) took a new version when the DARTS encoding became one
// 14-edge cell shared by every cell (14 op lists, a child of 14 ops with none on the edges that
// are not inputs) instead of a normal and a reduce cell apart (28 edges, "" for an edge not kept);
// a file of the earlier version is refused, whatever its space.
var (
	Weights    = define[Weight]("weights", 1)
	Space      = define[SpaceOp]("space", 2)
	Children   = define[Child]("children", 2)
	Scores     = define[OpScore]("scores", 2, "score")       // NaN: no samples
	Shrink     = define[Stage]("shrink", 3, "dropped.score") // NaN: no samples
	Candidates = define[Candidate]("candidates", 2)
	Metrics    = define[Epoch]("metrics", 2)
	// Benchmark mode (config ground_truth): score-operators' and prune's comparisons with the table.
	// NaN: undefined (a constant metric, e.g. every angle 0 when the base is the trained supernet).
	Correlations = define[Correlation]("correlations", 1, "kendall_tau", "spearman_rho")
	OpTruths     = define[OpTruth]("op-truth", 1)
	// The reproduction study's figures. NaN: undefined (e.g. τ of a constant metric).
	StudyResults = define[StudyResult]("study-results", 1, "value")
)

// WeightsOf returns the tensors of s as Weight rows sorted by name. The rows share their value
// slices with s.
func WeightsOf(s param.Set) []Weight {
	ws := make([]Weight, 0, len(s))
	for _, name := range s.Names() {
		t := s[name]
		shape := make([]int32, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = int32(d)
		}
		ws = append(ws, Weight{Name: name, Shape: shape, Values: t.Data})
	}
	return ws
}

// SetOf returns ws as a param.Set sharing the value slices. A duplicate name, a negative dimension
// or a value count that is not the product of the shape is an error naming the parameter.
func SetOf(ws []Weight) (param.Set, error) {
	s := make(param.Set, len(ws))
	for _, w := range ws {
		if _, dup := s[w.Name]; dup {
			return nil, fmt.Errorf("weights: parameter %q appears twice", w.Name)
		}
		n := 1
		shape := make([]int, len(w.Shape))
		for i, d := range w.Shape {
			if d < 0 {
				return nil, fmt.Errorf("weights: parameter %q has shape %v, want non-negative dimensions", w.Name, w.Shape)
			}
			shape[i] = int(d)
			n *= int(d)
		}
		if n != len(w.Values) {
			return nil, fmt.Errorf("weights: parameter %q has shape %v (%d values) but %d values", w.Name, w.Shape, n, len(w.Values))
		}
		s[w.Name] = param.Tensor{Shape: shape, Data: w.Values}
	}
	return s, nil
}
