#!/usr/bin/env bash
# Measures how faithfully one ABS stage on NB201 ranks operators, against the NAS-Bench-201 table:
# for every setting and seed it runs train-supernet, sample-children, score-operators and prune
# (20 of 30 ops dropped, the authors' NB201 rule) with benchmark mode on, then prints a table of
# Kendall τ(angle, CIFAR-10) over all 15 625 children and of the kept operators among the
# ground-truth top 10, with mean and sd over the seeds.
#
# usage: scripts/fidelity.sh OUT SCALE SEEDS SETTING...
#   OUT      folder of the runs (each setting and seed in OUT/SETTING/seed-S; finished steps skip)
#   SCALE    JSON of the shared settings (width, cells, train, epochs as "epochs" is not a config
#            field: set EPOCHS in the environment, default 3)
#   SEEDS    e.g. "1 2 3"
#   SETTING  NAME=JSON of the settings that differ, e.g. authors-b1='{"init":"authors","base_epoch":1}'
# Environment: GROUND_TRUTH (default ../shared/data/nb201/nats_bench_tss_test_acc.csv), EPOCHS (3),
# BIN (bin). The table it prints is Markdown.
set -euo pipefail
out=$1 scale=$2 seeds=$3
shift 3
gt=$(realpath "${GROUND_TRUTH:-../shared/data/nb201/nats_bench_tss_test_acc.csv}")
epochs=${EPOCHS:-3}
bin=${BIN:-bin}
for s in "$@"; do
	name=${s%%=*} cfg=${s#*=}
	for seed in $seeds; do
		run="$out/$name/seed-$seed"
		mkdir -p "$run"
		conf=$(jq -cn --argjson a "$scale" --argjson b "$cfg" --arg gt "$gt" '$a + $b + {ground_truth: $gt}')
		if [ ! -f "$run/done" ]; then
			start=$(date +%s)
			"$bin/train-supernet" -run "$run" -seed "$seed" -config "$conf" -epochs "$epochs" 2>>"$run/log"
			"$bin/sample-children" -run "$run" -seed "$seed" -config "$conf" 2>>"$run/log"
			"$bin/score-operators" -run "$run" -seed "$seed" -config "$conf" 2>>"$run/log"
			"$bin/prune" -run "$run" -seed "$seed" -config "$conf" -outputs "$run/outputs" 2>>"$run/log"
			echo $(($(date +%s) - start)) >"$run/done"
		fi
	done
done
echo "| setting | seeds | τ(angle, CIFAR-10) per seed | mean ± sd | kept in top 10 per seed | mean ± sd | s/run |"
echo "|---|---|---|---|---|---|---|"
for s in "$@"; do
	name=${s%%=*}
	taus="" kept="" secs=0 n=0
	for seed in $seeds; do
		run="$out/$name/seed-$seed"
		tau=$("$bin/abs" show -json "$run/stage-0/correlations.parquet" | jq -r '.rows[] | select(.metric=="angle" and .dataset=="cifar10") | .kendall_tau')
		k=$("$bin/abs" show -json "$run/stage-0/op-truth.parquet" | jq -r '[.rows[] | select(.dataset=="cifar10")][0].kept_in_top_k')
		taus="$taus $tau" kept="$kept $k" secs=$((secs + $(cat "$run/done"))) n=$((n + 1))
	done
	stats() { echo "$1" | awk '{ for (i = 1; i <= NF; i++) { s += $i; q += $i * $i } m = s / NF; v = (NF > 1) ? (q - NF * m * m) / (NF - 1) : 0; if (v < 0) v = 0; printf "%.3f ± %.3f", m, sqrt(v) }'; }
	fmt() { echo "$1" | awk -v d="$2" '{ for (i = 1; i <= NF; i++) printf "%s%." d "f", (i > 1 ? " / " : ""), $i }'; }
	echo "| $name | $n | $(fmt "$taus" 3) | $(stats "$taus") | $(fmt "$kept" 0) | $(stats "$kept") | $((secs / n)) |"
done
