#!/usr/bin/env bash
# The README's first command (go tool task demo): runs pipelines/abs-nb201.yaml with the local
# executor on Fashion-MNIST and prints what the shrinking kept. When an NB201 benchmark table is
# at hand (GROUND_TRUTH, or ../shared/data/nb201/ beside the checkout) the run is in benchmark mode
# and the demo prints Kendall τ of the angle against the table over all 15 625 children and how
# many kept operators are among the ground-truth best; otherwise it says how to get a table.
#
# usage: scripts/demo.sh   (environment: SEED, default 1; STORE, default runs/demo-seed$SEED;
#                           GROUND_TRUTH, a table path)
set -euo pipefail
seed=${SEED:-1}
store=${STORE:-runs/demo-seed$seed}
gt=${GROUND_TRUTH:-../shared/data/nb201/nats_bench_tss_test_acc.csv}
# The demo's scale (README "The demo"). At this scale whole-net sampling without idle updates ranks
# the operators best (docs/fidelity.md); the defaults, the authors' per-cell sampling and idle
# updates, rank them backwards here and pay off only on larger supernets.
config='"train":10000,"valid":1000,"test":2000,"width":8,"cells":1,"retrain_epochs":3,"sampling":"whole-net","idle_updates":"off"'
if [ -f "$gt" ]; then
	config="$config,\"ground_truth\":\"$(realpath "$gt")\""
	echo "benchmark mode: ranking against the NB201 table $gt"
else
	echo "no NB201 table at $gt: running without benchmark mode."
	echo "  To judge the ranking, make the table as docs/fidelity.md says and run GROUND_TRUTH=table.csv go tool task demo"
	gt=""
fi
if [ -f "$store/manifest.json" ]; then
	echo "$store holds an earlier demo run: its steps skip when up to date (delete the folder to start afresh)"
fi
bin/abs run pipelines/abs-nb201.yaml -p store="$store" -p seed="$seed" -p epochs-first=3 -p config="{$config}"
bin/abs show "$store/stage-0/shrink.parquet"
bin/abs show -n 5 "$store/retrain/metrics.parquet"
if [ -n "$gt" ]; then
	bin/abs show "$store/stage-0/correlations.parquet"
	bin/abs show -n 0 "$store/stage-0/op-truth.parquet" | tail -n 1
fi
echo "report (written by the pipeline's last step): $store/report/index.html"
