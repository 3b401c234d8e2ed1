package stage

import (
	"errors"
	"fmt"
	"math"

	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/family"
	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/search"
	"github.com/abs-nas/abs/internal/abs/train"
)

// Config holds the settings of the network, the data and the training that every step of a run
// shares, given to each step as -config JSON. Fields left out keep DefaultConfig's values, so a run
// is described by the few settings it changes; each artifact records the full configuration.
type Config struct {
	Space     family.Name `json:"space"`      // search space: nb201, darts, proxyless-gpu or fairnas
	Width     int         `json:"width"`      // NB201, DARTS: channels C of the first cells (official 16; DARTS: even)
	Cells     int         `json:"cells"`      // NB201: cells N per stage (official 5); DARTS: cells in all (authors 8)
	WidthMult float64     `json:"width_mult"` // ProxylessNAS, FairNAS: width multiplier (1 = the published layout)

	Dataset Dataset `json:"dataset"`  // data set: fashion-mnist or cifar10
	DataDir string  `json:"data_dir"` // data set folder; empty means the data set's default
	Train   int     `json:"train"`    // training images drawn from the training split (0 = all)
	Valid   int     `json:"valid"`    // validation images, disjoint from the training ones
	Test    int     `json:"test"`     // test images for the retrained model (0 = the whole test split)

	Batch       int     `json:"batch"`
	LR          float64 `json:"lr"`     // initial learning rate of the cosine schedule
	LRMin       float64 `json:"lr_min"` // final learning rate
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	// Init is the weight initialisation: authors (the rule of the ABS authors' code for the space:
	// pytorch for nb201, darts for darts, mobile for proxyless-gpu and fairnas), kaiming (normal),
	// xavier (uniform), orthogonal, pytorch, darts or mobile (see nn.Init).
	Init family.Init `json:"init"`
	// Sampling is the single-path sampling of the supernet: authors (per-cell for nb201, whole-net
	// elsewhere), per-cell (nb201 only: every cell draws its own ops each step, as the NB201 code's
	// forward_urs), whole-net (one child for every cell; "uniform" is the same) or fair (FairNAS).
	Sampling family.Sampling `json:"sampling"`
	// IdleUpdates says whether parameters trained once keep receiving weight decay and momentum on
	// the steps whose child does not use them: authors (yes for nb201, as PyTorch 1.x's zero_grad
	// did in the authors' NB201 runs; no elsewhere, as their DARTS code), on or off.
	IdleUpdates family.IdleUpdates `json:"idle_updates"`
	// BaseEpoch selects the base weights V0 of the angle: 0 takes the supernet's initial weights
	// (the authors' shrinking script), k ≥ 1 the weights after k epochs of stage 0 (the authors'
	// published correlation data uses k = 1). The one-time reset of Algorithm 2 still applies.
	BaseEpoch int `json:"base_epoch"`
	// GroundTruth is the path of an NB201 benchmark table (the CSV format of
	// ../shared/data/nb201/nats_bench_tss_test_acc.csv; docs/fidelity.md says how to make one).
	// When set, score-operators and prune record how the run's rankings compare with it
	// (benchmark mode). Only for space nb201.
	GroundTruth string `json:"ground_truth"`
	// Fitness is what the search step maximises: supernet (a child's validation accuracy with the
	// last stage's supernet weights and Re-BN statistics) or ground-truth (its test accuracy in the
	// ground_truth table on ground_truth_dataset: a tabular search that needs no supernet).
	Fitness Fitness `json:"fitness"`
	// GroundTruthDataset is the column of the ground_truth table that fitness ground-truth uses:
	// cifar10, cifar100 or imagenet16-120.
	GroundTruthDataset nb201.Dataset `json:"ground_truth_dataset"`

	Metric        Metric           `json:"metric"`          // operator score metric: angle, accuracy or random
	PerOp         int              `json:"children_per_op"` // children per operator in sampled scoring
	ExactLimit    int64            `json:"exact_limit"`     // score every child when the space has at most this many
	MaxFLOPs      int64            `json:"max_flops"`       // children over this many multiply-adds are not scored (0 = no bound)
	ReBN          int              `json:"rebn_batches"`    // training batches over which BN statistics are recomputed
	Search        search.Algorithm `json:"search"`          // exhaustive, random or evolution
	SearchBudget  int              `json:"search_budget"`   // children the search may evaluate
	RetrainEpochs int              `json:"retrain_epochs"`
}

// DefaultConfig returns the settings of the small default run: a C=8, N=1 NB201 supernet on 2000
// Fashion-MNIST images, the authors' optimiser settings and initialisation, angle scores over the
// whole space. Sampling and idle updates follow the authors' code for the space; the base weights
// are those after epoch 1, which ranked NB201's operators better than the initial weights in
// docs/fidelity.md. At the demo's tiny scale (C=8, one cell per stage) whole-net sampling without
// idle updates ranks them better, and the demo sets those; at C=16 with two cells per stage the
// authors' settings do as well or better (docs/fidelity.md).
func DefaultConfig() Config {
	o := train.Defaults(1, 0)
	return Config{
		Space: family.NB201, Width: 8, Cells: 1, WidthMult: 0.25,
		Dataset: FashionMNIST, Train: 2000, Valid: 500, Test: 2000,
		Batch: o.Batch, LR: o.LR, LRMin: o.LRMin, Momentum: o.Momentum, WeightDecay: o.WeightDecay,
		Init: family.InitAuthors, Sampling: family.SamplingAuthors, IdleUpdates: family.IdleAuthors, BaseEpoch: 1,
		Metric: MetricAngle, PerOp: 1000, ExactLimit: 20000, ReBN: 4,
		Search: search.Exhaustive, SearchBudget: 200, RetrainEpochs: 2,
		Fitness: FitnessSupernet, GroundTruthDataset: nb201.CIFAR10,
	}
}

// Fitness names what the search step maximises: supernet or ground-truth.
type Fitness string

// The fitnesses.
const (
	FitnessSupernet    Fitness = "supernet"
	FitnessGroundTruth Fitness = "ground-truth"
)

// UnmarshalText sets f to the fitness named text.
func (f *Fitness) UnmarshalText(text []byte) error {
	return family.ParseChoice(f, "fitness", text, []Fitness{FitnessSupernet, FitnessGroundTruth})
}

// Metric names the operator score metric: angle, accuracy or random.
type Metric string

// The metrics.
const (
	MetricAngle    Metric = "angle"
	MetricAccuracy Metric = "accuracy"
	MetricRandom   Metric = "random"
)

// UnmarshalText sets m to the metric named text.
func (m *Metric) UnmarshalText(text []byte) error {
	return family.ParseChoice(m, "metric", text, []Metric{MetricAngle, MetricAccuracy, MetricRandom})
}

// Dataset names the data set of a run: fashion-mnist or cifar10.
type Dataset string

// The data sets.
const (
	FashionMNIST Dataset = "fashion-mnist"
	CIFAR10      Dataset = "cifar10"
)

// UnmarshalText sets d to the data set named text.
func (d *Dataset) UnmarshalText(text []byte) error {
	return family.ParseChoice(d, "dataset", text, []Dataset{FashionMNIST, CIFAR10})
}

// image returns the shape of the data set's images and its class count.
func (d Dataset) image() family.Image {
	if d == CIFAR10 {
		return family.Image{C: 3, H: 32, W: 32, Classes: 10}
	}
	return family.Image{C: 1, H: 28, W: 28, Classes: 10}
}

// Validate reports every setting out of range, naming it. Enumerations are checked when they are
// parsed; Validate checks them again for a Config built in code.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, field, want string, got any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s = %v: want %s", field, got, want))
		}
	}
	enum := func(v interface{ UnmarshalText([]byte) error }, text string) {
		if err := v.UnmarshalText([]byte(text)); err != nil {
			errs = append(errs, err)
		}
	}
	fam, err := family.Lookup(c.Space)
	if err != nil {
		errs = append(errs, err)
	} else if err := fam.Check(c.netSize()); err != nil {
		errs = append(errs, err)
	}
	enum(new(Dataset), string(c.Dataset))
	check(c.Train >= 0, "train", ">= 0", c.Train)
	check(c.Valid > 0, "valid", "> 0", c.Valid)
	check(c.Test >= 0, "test", ">= 0", c.Test)
	check(c.Batch > 0, "batch", "> 0", c.Batch)
	check(c.LR > 0 && c.LRMin >= 0 && c.LRMin <= c.LR, "lr, lr_min", "0 <= lr_min <= lr, lr > 0", [2]float64{c.LR, c.LRMin})
	check(c.Momentum >= 0 && c.Momentum < 1, "momentum", "in [0,1)", c.Momentum)
	check(c.WeightDecay >= 0, "weight_decay", ">= 0", c.WeightDecay)
	enum(new(family.Init), string(c.Init))
	enum(new(family.Sampling), string(c.Sampling))
	if fam != nil && c.Sampling == family.PerCell {
		if _, err := fam.SamplingOf(c.Sampling); err != nil {
			errs = append(errs, err)
		}
	}
	enum(new(family.IdleUpdates), string(c.IdleUpdates))
	check(c.BaseEpoch >= 0, "base_epoch", ">= 0 (0 = the initial weights)", c.BaseEpoch)
	check(c.GroundTruth == "" || fam == nil || fam.Tabular, "ground_truth", "a table only for space nb201 (the benchmark covers the NB201 space alone)", c.GroundTruth)
	enum(new(Fitness), string(c.Fitness))
	check(c.Fitness != FitnessGroundTruth || c.GroundTruth != "", "fitness", "ground-truth only with ground_truth set to an NB201 table", c.Fitness)
	enum(new(nb201.Dataset), string(c.GroundTruthDataset))
	enum(new(Metric), string(c.Metric))
	check(c.PerOp > 0, "children_per_op", "> 0", c.PerOp)
	check(c.ExactLimit >= 0, "exact_limit", ">= 0", c.ExactLimit)
	check(c.MaxFLOPs >= 0, "max_flops", ">= 0", c.MaxFLOPs)
	check(c.ReBN >= 0, "rebn_batches", ">= 0", c.ReBN)
	enum(new(search.Algorithm), string(c.Search))
	check(c.SearchBudget > 0, "search_budget", "> 0", c.SearchBudget)
	check(c.RetrainEpochs > 0, "retrain_epochs", "> 0", c.RetrainEpochs)
	return errors.Join(errs...)
}

// netSize returns the size of the configured supernet.
func (c Config) netSize() family.Net {
	return family.Net{Width: c.Width, Cells: c.Cells, WidthMult: c.WidthMult}
}

// options returns the SGD settings for a run of steps steps of fam's supernet.
func (c Config) options(fam *family.Family, steps int, seed uint64) train.Options {
	o := train.Defaults(steps, seed)
	o.Batch, o.LR, o.LRMin, o.Momentum, o.WeightDecay = c.Batch, c.LR, c.LRMin, c.Momentum, c.WeightDecay
	o.Init, _ = fam.InitOf(c.Init) // Validate checked it
	o.IdleUpdates = fam.IdleOf(c.IdleUpdates)
	return o
}

// steps returns the number of SGD steps of epochs passes over n images.
func (c Config) steps(epochs, n int) int {
	return epochs * int(math.Ceil(float64(n)/float64(c.Batch)))
}

// splits holds the data of a run: training and validation images drawn from the training split,
// and the test images, normalised with the training images' channel statistics.
type splits struct {
	train, valid, test *data.Set
}

// loadData reads the configured data set and draws the run's splits, deterministically by seed.
func (c Config) loadData(seed uint64, withTest bool) (*splits, error) {
	dataset := c.Dataset
	var full, test *data.Set
	var err error
	switch dataset {
	case FashionMNIST:
		dir := c.DataDir
		if dir == "" {
			dir = data.FashionMNISTDir
		}
		if full, err = data.FashionMNIST(dir, "train"); err == nil && withTest {
			test, err = data.FashionMNIST(dir, "test")
		}
	case CIFAR10:
		if c.DataDir == "" {
			return nil, fmt.Errorf("data set cifar10: set data_dir in -config to the folder of data_batch_1.bin … test_batch.bin")
		}
		var paths []string
		for i := 1; i <= 5; i++ {
			paths = append(paths, fmt.Sprintf("%s/data_batch_%d.bin", c.DataDir, i))
		}
		if full, err = data.LoadCIFAR10(paths...); err == nil && withTest {
			test, err = data.LoadCIFAR10(c.DataDir + "/test_batch.bin")
		}
	default:
		return nil, new(Dataset).UnmarshalText([]byte(dataset))
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dataset, err)
	}
	n := c.Train + c.Valid
	if c.Train == 0 || n > full.N {
		n = full.N
	}
	if c.Valid >= n {
		return nil, fmt.Errorf("valid = %d: the %s training split has only %d images", c.Valid, dataset, full.N)
	}
	drawn := full.Sample(n, int64(seed))
	tr, va := drawn.Split(float64(c.Valid)/float64(n), int64(seed))
	mean, std := tr.ChannelStats()
	tr.Normalize(mean, std)
	va.Normalize(mean, std)
	s := &splits{train: tr, valid: va}
	if withTest {
		if c.Test > 0 && c.Test < test.N {
			test = test.Sample(c.Test, int64(seed))
		}
		test.Normalize(mean, std)
		s.test = test
	}
	return s, nil
}
