package stage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nn/sgemm"
)

var printPinned = flag.Bool("print-pinned", false, "print the pinned-run hashes instead of checking them")

// pinnedRuns are small runs through every step whose artifacts' data must not change when code
// is reorganised: for each artifact the sha256 of its data pages (the Parquet bytes before the
// footer, which holds the provenance; the provenance names the configuration and the flags, whose
// spelling a refactor may change while every computed value stays the same).
//
// The hashes depend on the float32 matrix multiply (package sgemm): gonum's path (-tags purego, and
// CPUs without AVX2) rounds differently from the AVX2 kernel (fused multiply-adds, other block
// sums; its dot products' order also depends on their operands' alignment, so the gonum pins of
// NB201 and DARTS changed when the same-size convolutions' weight gradient moved from dot products
// over shifted copies to a multiply over the channels-last input). Each run pins both.
var pinnedRuns = []struct {
	name   string
	config string
	gonum  map[string]string
	avx2   map[string]string
}{
	{"nb201", `{"train":96,"valid":32,"test":32,"width":4,"cells":1,"batch":32,"rebn_batches":1,"search":"random","search_budget":4,"retrain_epochs":1,"children_per_op":2,"exact_limit":0}`,
		map[string]string{
			"retrain/metrics.parquet":   "e7c828b39569630a94ab5b38e08fd81ccf44322b31a72bf6a59c5d51e11c39e8",
			"retrain/weights.parquet":   "45699a8fe998fa09c54e8dfae0469c85f447cb8e24df7cb1159413cfefa61dc8",
			"search/candidates.parquet": "97367b56a256ec5e02c62eb804d4ef6d3bdc20913e43e6ac7e2d91ff1c2131fb",
			"stage-0/base.parquet":      "e4bca311898118d9387be34a0e39d703d0fff808f4d7a2bf17ab0b30abd0b10d",
			"stage-0/children.parquet":  "5ea31f28f2139b0d713ff22653c7dbf0a76f5a872cd9a1fa9743d79c39548a9e",
			"stage-0/decisions.parquet": "e21371be774018d9abd46806b2e5782dc896f491ede78aeac6e52000fbe46be5",
			"stage-0/metrics.parquet":   "46e29fb8703780dd65e9482d01366f5a74fc9a7cc71de078ee5dd0f67425737f",
			"stage-0/scores.parquet":    "458e556bba5cb7d8aceeeddbffd30773f4e0a8892c79767a87173c9ab3d6ea9b",
			"stage-0/shrink.parquet":    "d58d224523e0d000e79ea35cfcdf797da105bbc966614d2bdc81001be03a3e59",
			"stage-0/space.parquet":     "9ffc0d84317759dd4e578eeb17f9113d37321bc876848c5ee7c14a92de322b1b",
			"stage-0/supernet.parquet":  "cfeb1e03273f7b8687a767ddcd3502921a4df521f8e0763ace7d0719f97c8824",
		},
		map[string]string{
			"retrain/metrics.parquet":   "e7c828b39569630a94ab5b38e08fd81ccf44322b31a72bf6a59c5d51e11c39e8",
			"retrain/weights.parquet":   "e37dfa06141fa10793757c741c2ba4d691b3f4b7ca98d4f3db4d9c59ab49cee0",
			"search/candidates.parquet": "97367b56a256ec5e02c62eb804d4ef6d3bdc20913e43e6ac7e2d91ff1c2131fb",
			"stage-0/base.parquet":      "198abd5073269cca0a9c55e174df253994d8274beb4e74132811702fbac2996f",
			"stage-0/children.parquet":  "64455891e27104e9f922fb8ab03bc9e612466b8be362323b72da3e93f5166a0e",
			"stage-0/decisions.parquet": "8b14dc5fda5afc8eb162c7d209a8144f2b01ffe6c6fb900b4c190ad934d04349",
			"stage-0/metrics.parquet":   "ce88de99c7eb9153594f223fffb0b5b93b15bb994a606a02849f2f5854e18f8b",
			"stage-0/scores.parquet":    "1a2fb72000475fa852caa7b50b8722f1c07494ff14b30f9a549584c9cca67c46",
			"stage-0/shrink.parquet":    "2949bfdacf091815c27f9d558fd2c0ba4a7b1b66f8047a0d70ec21f9ea8331b4",
			"stage-0/space.parquet":     "9ffc0d84317759dd4e578eeb17f9113d37321bc876848c5ee7c14a92de322b1b",
			"stage-0/supernet.parquet":  "8777de5624fe4f7646840e8e7a019e10ca9952743724caceb4cfb21be3dcd500",
		}},
	{"proxyless-gpu", `{"space":"proxyless-gpu","width_mult":0.1,"train":64,"valid":32,"test":32,"batch":32,"rebn_batches":1,"search":"random","search_budget":2,"retrain_epochs":1,"children_per_op":1,"exact_limit":0}`,
		map[string]string{
			"retrain/metrics.parquet":   "c9ba79bdf4122d87cfa6441d8b7cca57de771276b55383c6304e33bc6899a8da",
			"retrain/weights.parquet":   "625b9eedbfc46b0eb588c800fd83fc6d5536555ed718e4ab44c80defded871e7",
			"search/candidates.parquet": "75935becb4846073707241cdf9fd6e25d79bda0ed9e87e01af39926eb8f41f5a",
			"stage-0/base.parquet":      "631e227f7f8408e1804c06925a29d8c90fb5c3d6750ca33f74c51d1dae55eb18",
			"stage-0/children.parquet":  "772bfa01b20bbcb4584bb867c2a3eb8bf4bede826670a32cc640f85c0d5cc385",
			"stage-0/decisions.parquet": "5027877d8924cb2eaa2e9cb5f2e90c00c2e93cdad5e7f5d16f5cc8525211e50a",
			"stage-0/metrics.parquet":   "92d0e56dd8845f7c45ada4bf29ee33762c3e6ef983b0b05e73308bb17e14e260",
			"stage-0/scores.parquet":    "9e2a0c8c8f34b4ce54f1e487deca713af2451158e7a8963e376a82165127b3cd",
			"stage-0/shrink.parquet":    "1f6d251effe2612a6d23582425ac15a87fc02617b67eb9e976d869043153d9cd",
			"stage-0/space.parquet":     "73fc72d69c8d376a6eedcfce8e2dbacda9912d2fbbf9a3694477b20544fb9361",
			"stage-0/supernet.parquet":  "9a64e5c68378f315c005d9e866a19d9352d0169501a8daa4c93233ee3a99dc15",
		},
		map[string]string{
			"retrain/metrics.parquet":   "c6349df9a95ac1545f7bc92b5058ebd575ca3ead9091b2db96e6cdcc53fd14cb",
			"retrain/weights.parquet":   "c4bbcb1154a6cc1c13133287e749a6abb35e56fa7de1932ad08e067b7c4ac31f",
			"search/candidates.parquet": "418378dd661ec85c98182481d691d472e64cbeda2acbadf92961071e99a9cd1a",
			"stage-0/base.parquet":      "d91db0b02f4c37ea13c2066f4540c6f30bc2d779c0c483d4681c676ef159b97f",
			"stage-0/children.parquet":  "8e51d4dd7cc0859c8cbfe7a52925d64dac7a235db0e776a100f186ebb3b7eb9e",
			"stage-0/decisions.parquet": "515db7b12dc6f10d479866905841faa61bbfa459189544ff029e305950531e44",
			"stage-0/metrics.parquet":   "19b308acefb9cef206dee70b477175def132835d62e48993dcd1ec28e455fda1",
			"stage-0/scores.parquet":    "9e17ff538a93c0ff0088e16273f24026279ac42e2d9ae17516609c19135ce86e",
			"stage-0/shrink.parquet":    "3747925d26f3779936021178839c43edae91717c732db393d55252f743ea1bb1",
			"stage-0/space.parquet":     "ae122182d22e4d842946944386c717cb5cca5282df595ae93dd6f97849e18a0e",
			"stage-0/supernet.parquet":  "01426ca0c55ad4932e28beb80ed18d00342b307da20da71d63d477a2230dc140",
		}},
	{"fairnas", `{"space":"fairnas","width_mult":0.1,"train":64,"valid":32,"test":32,"batch":32,"rebn_batches":1,"sampling":"fair","search":"random","search_budget":2,"retrain_epochs":1,"children_per_op":1,"exact_limit":0}`,
		map[string]string{
			"retrain/metrics.parquet":   "d4abffbe14852539f744f0557d60e45319d8e594e56f388292dd90f6a28b7cec",
			"retrain/weights.parquet":   "a9cb259a423da6305608d809f24aee6a525e55753e0a724006b814907e95a127",
			"search/candidates.parquet": "9bfce167003eaec86578d50c3bb2b0b02e9b04ff9092552bb0afcf571879ccb7",
			"stage-0/base.parquet":      "0aa4ca409cec644c5bfb1ae96648e0ebef1d4658c409c988cf6187184e4d3824",
			"stage-0/children.parquet":  "ff2fc56dc13d1569d944c94c16c6007a470a2b8c547bacc1fd4a57e1308d7475",
			"stage-0/decisions.parquet": "8a4bb246746bcf7ebf6c40e9fe086d2d3cb784fcffd0aafc2704672f81663998",
			"stage-0/metrics.parquet":   "46bee89182c2348acf6579c105bb2ad8af5a4ec2113f01e48f667dddb4100970",
			"stage-0/scores.parquet":    "08e55dc14928424a00e79b94e4f6ceae2261dad59e948538783942f274d4c9aa",
			"stage-0/shrink.parquet":    "848f5a4dec83460058117c6f56233da98ee87c28a0084897a45de8bd5d0dbd04",
			"stage-0/space.parquet":     "e4e82a6b3b57057ce88f554b4311ea261af32791d28a42342c4f8d7930e1776b",
			"stage-0/supernet.parquet":  "3596cb6fd40c31c6fee9a57c9c2663127ada27a7ef12fe99b2d1a60b62afa608",
		},
		map[string]string{
			"retrain/metrics.parquet":   "12259a1d50a8a729bc9f5f7173e7f860b3c4b9d706d17985cfc322be0f3f5773",
			"retrain/weights.parquet":   "483947b1c96c44fc5fda94a3ad80215a9af2d3c0f959c4d1deaeb8b818f6c560",
			"search/candidates.parquet": "75e3f7b01676938f736802042efccb47eff852a7b69432e8e093d91b46700055",
			"stage-0/base.parquet":      "d7ee00fefb6050bce4f73cf275cc0512c52ecdb4cf7e8b7ec01a482fdf97d1a5",
			"stage-0/children.parquet":  "ab75b0bf91b8f55c83f77c0082d7f27635f58e7bffba8f2495cdb11e41b88a55",
			"stage-0/decisions.parquet": "ac6a0caed4f748b23751c9867d1bb351f2fa67556ba4c371aedbf0f98746cd7a",
			"stage-0/metrics.parquet":   "6f3312c4379017e80bf14f907faeae274ea87011828fe06c7155196ef38cca5d",
			"stage-0/scores.parquet":    "d04c751837df9ba2b48db4c5d8d2f92e5380ae83d2b908a4e7dd018e4cee8079",
			"stage-0/shrink.parquet":    "24bf7ee44da54531b0060e41108b09d705d92dc19d6284d01f89e22c0ebc4b03",
			"stage-0/space.parquet":     "688115fb4f6862d5a8172633c26afcd4d633ceb74ce5dffdbaeb4fa3b1b894d2",
			"stage-0/supernet.parquet":  "966dcce8a0e2cae0436a9586407e8e1abd4828d2763d3d4b489434632b28d882",
		}},
	// DARTS as the authors' code (one 14-edge cell shared by every cell, repaired children,
	// one op per edge per stage); pinned when that encoding was introduced.
	{"darts", `{"space":"darts","width":4,"cells":3,"train":64,"valid":32,"test":32,"batch":32,"rebn_batches":1,"search":"random","search_budget":2,"retrain_epochs":1,"children_per_op":1,"exact_limit":0}`,
		map[string]string{
			"retrain/metrics.parquet":   "39c02a4843c8826e8eca673cc7fed1f691c1ba5f76b5accd97c8439fc5e1bde9",
			"retrain/weights.parquet":   "0ceb526c660f7997048651b82279d49d647e6af64c93b7b6bf8b90bbe0216f90",
			"search/candidates.parquet": "883bfa48ae542e575669b215e129553949f13fc8b7dcb79ea1b2bbd0690d7bd1",
			"stage-0/base.parquet":      "9b2de36f583901802b741f27a8adcf31479b42084ccb073158f9aa3bc8dd4186",
			"stage-0/children.parquet":  "0b1d8a9f7635acb0dc7643f524297f179dae555945b361aea6b96f0d823d1e6c",
			"stage-0/decisions.parquet": "e31bd364db6650c1d97f1631361e3a7ccfac82c85d2aaf20abf0fc33970f6187",
			"stage-0/metrics.parquet":   "4de260e44c486467754a38271b0d71d7985b53793dc749e7d49d9ceec8b5dd79",
			"stage-0/scores.parquet":    "b6116d7188e6a09ab30c86412fe889c858e03f0455a2cab87a591034f98d1689",
			"stage-0/shrink.parquet":    "287f64ec7ba35eb73f6a7e221adb3e6c8bfed0836f3e9f2b1e4aacb216943c25",
			"stage-0/space.parquet":     "950ef494c5af54e38344207f873e4069f0fbd1f72669ad6e69e4358ed40d61f8",
			"stage-0/supernet.parquet":  "ca9dbe181962c874e692494d092227e5a648a85f11b1aa846bbcb7737383951d",
		},
		map[string]string{
			"retrain/metrics.parquet":   "39c02a4843c8826e8eca673cc7fed1f691c1ba5f76b5accd97c8439fc5e1bde9",
			"retrain/weights.parquet":   "5c64398d03b4a3d6625538b80144f6b90f89ea5991eefc515999e784c1cd9413",
			"search/candidates.parquet": "883bfa48ae542e575669b215e129553949f13fc8b7dcb79ea1b2bbd0690d7bd1",
			"stage-0/base.parquet":      "a59d8406fe9f760adfd6e08c1f6573fd492805ae11f87ebdb9f9cbaa9de32cc9",
			"stage-0/children.parquet":  "2678266c7101fcd929d44b154ae1bab0f0f63df26cd24e273dbc53fbc81c7792",
			"stage-0/decisions.parquet": "ffa55a4f6701034396a240f4d09909e11cc412cd54fbfd4cc50cc2ea00207cb6",
			"stage-0/metrics.parquet":   "4de260e44c486467754a38271b0d71d7985b53793dc749e7d49d9ceec8b5dd79",
			"stage-0/scores.parquet":    "93ba9488efc4697e0495ea96ddfbc1b19a547ce343e94eebb7b67c167848c2b4",
			"stage-0/shrink.parquet":    "2101db05358f9bef535551feb32e4b74279dff12dd079eca9b8e2ce923736855",
			"stage-0/space.parquet":     "950ef494c5af54e38344207f873e4069f0fbd1f72669ad6e69e4358ed40d61f8",
			"stage-0/supernet.parquet":  "62792b889bbd268bfdc1fc4ca14d1c38e5ba99a3091af3058f9ab01042bec208",
		}},
}

// TestPinnedRuns runs each pinned run's steps in-process against a temporary store and compares
// every artifact's data hash with the pinned one. Run with -print-pinned to print new hashes
// (only when a change of results is intended, saying why in the commit).
func TestPinnedRuns(t *testing.T) {
	if _, err := os.Stat(data.FashionMNISTDir); err != nil {
		t.Skip("Fashion-MNIST not installed (Debian dataset-fashion-mnist)")
	}
	for _, pr := range pinnedRuns {
		t.Run(pr.name, func(t *testing.T) {
			got := pinnedRun(t, pr.config)
			if *printPinned {
				var b strings.Builder
				for _, k := range slices.Sorted(maps.Keys(got)) {
					b.WriteString("\t\t\t" + `"` + k + `": "` + got[k] + `",` + "\n")
				}
				t.Logf("%s (%s):\n%s", pr.name, sgemm.Kernel(), b.String())
				return
			}
			want := pr.gonum
			if sgemm.Kernel() == "avx2" {
				want = pr.avx2
			}
			for k, h := range want {
				if got[k] != h {
					t.Errorf("%s (%s matrix multiply): data sha256 %s, want %s", k, sgemm.Kernel(), got[k], h)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s: written but not pinned", k)
				}
			}
		})
	}
}

// pinnedRun runs one stage of shrinking, the search and the retraining of its winner, and returns
// the data hash of every artifact by key.
func pinnedRun(t *testing.T, config string) map[string]string {
	t.Helper()
	ctx := context.Background()
	run := filepath.Join(t.TempDir(), "run")
	out := t.TempDir()
	common := []string{"-run", run, "-seed", "5", "-config", config}
	steps := []struct {
		step func(context.Context, []string) error
		args []string
	}{
		{TrainSupernet, []string{"-epochs", "2"}},
		{SampleChildren, nil},
		{ScoreOperators, nil},
		{Prune, []string{"-outputs", out, "-threshold", "1"}},
		{Search, []string{"-stage", "0", "-outputs", out}},
	}
	for _, s := range steps {
		if err := s.step(ctx, append(append([]string{}, common...), s.args...)); err != nil {
			t.Fatal(err)
		}
	}
	best, err := os.ReadFile(filepath.Join(out, "best"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Retrain(ctx, append(append([]string{}, common...), "-arch", string(best))); err != nil {
		t.Fatal(err)
	}
	st, err := artifacts.Open(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]string{}
	for _, e := range m.Artifacts {
		b, _, err := schema.Fetch(ctx, st, e.Key)
		if err != nil {
			t.Fatal(err)
		}
		hashes[e.Key] = dataHash(t, e.Key, b)
	}
	return hashes
}

// dataHash returns the sha256 of a Parquet file's bytes before its footer: a file ends in the
// footer, its 4-byte little-endian length and "PAR1".
func dataHash(t *testing.T, key string, b []byte) string {
	t.Helper()
	if len(b) < 12 || string(b[len(b)-4:]) != "PAR1" {
		t.Fatalf("%s: not a Parquet file", key)
	}
	n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	if n+8 > len(b) {
		t.Fatalf("%s: footer of %d bytes in a file of %d", key, n, len(b))
	}
	sum := sha256.Sum256(b[:len(b)-8-n])
	return hex.EncodeToString(sum[:])
}
