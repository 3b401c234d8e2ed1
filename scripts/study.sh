#!/usr/bin/env bash
# The reproduction study's computations (docs/reproduction.md): the supernets, scores and
# stand-alone models whose figures `abs-study analyse` turns into the tables and plots. Every part
# runs the pipeline's own step binaries (train-supernet, sample-children, score-operators, prune)
# or abs-study in its own folder under OUT and leaves OUT/.../done (its wall seconds) when it
# finished; a part with a done file is skipped, so the study resumes where it stopped.
#
# usage: scripts/study.sh OUT
# Five lanes run side by side (see lane1 … lane5 below); a lane waits for the parts of another that
# it needs. Environment (defaults in brackets):
#   GROUND_TRUTH [../shared/data/nb201/nats_bench_tss_test_acc.csv]  BIN [bin]
#   SCALE  ['{"width":8,"cells":1,"train":5000,"valid":100,"rebn_batches":2}'] the supernets' settings
#   EPOCHS [3]  SEEDS ["1 2 3 4 5 6"]  INITS ["kaiming xavier orthogonal"]
#   CONV_EPOCHS ["2 3 4"] the convergence curve's checkpoints: one supernet trained on a cosine
#     schedule of the largest of them, stopped after each (train-supernet -stop-after)
#   PER_OP [34] children per operator of the accuracy sample (30 ops × 34 = 1 020 children)
#   SA_N [30] SA_EPOCHS [8] SA_TRAIN [500] SA_TEST [2000]  the stand-alone models
set -euo pipefail
# (The lanes run in a `||` list, where bash ignores set -e: every call below checks its status.)
out=$1
mkdir -p "$out"
gt=$(realpath "${GROUND_TRUTH:-../shared/data/nb201/nats_bench_tss_test_acc.csv}")
bin=${BIN:-bin}
scale=${SCALE:-'{"width":8,"cells":1,"train":5000,"valid":100,"rebn_batches":2}'}
epochs=${EPOCHS:-3}
seeds=${SEEDS:-1 2 3 4 5 6}
inits=${INITS-kaiming xavier orthogonal}
conv=${CONV_EPOCHS-2 3 4}
convrun=$(printf '%s\n' $conv | sort -n | tail -n 1)
perop=${PER_OP:-34}
base=$(jq -cn --argjson a "$scale" --arg gt "$gt" '$a + {ground_truth: $gt}')
jq -n --argjson scale "$base" --arg epochs "$epochs" --arg seeds "$seeds" --arg inits "$inits" --arg conv "$conv" \
	--arg convrun "$convrun" --arg perop "$perop" --arg san "${SA_N:-30}" --arg saep "${SA_EPOCHS:-8}" --arg satr "${SA_TRAIN:-500}" \
	--arg sate "${SA_TEST:-2000}" '{scale: $scale, epochs: ($epochs|tonumber), seeds: $seeds, inits: $inits,
	conv_epochs: $conv, conv_schedule: (if $convrun == "" then 0 else ($convrun|tonumber) end), per_op: ($perop|tonumber), sa_n: ($san|tonumber), sa_epochs: ($saep|tonumber),
	sa_train: ($satr|tonumber), sa_test: ($sate|tonumber)}' >"$out/settings.json.new"
if [ -f "$out/settings.json" ] && ! cmp -s "$out/settings.json" "$out/settings.json.new"; then
	echo "study.sh: $out/settings.json holds other settings than these; use another OUT or remove it" >&2
	exit 2
fi
mv "$out/settings.json.new" "$out/settings.json"

# timed DIR CMD...: runs CMD (its stderr to DIR/log) unless DIR/done exists, then writes DIR/done.
timed() {
	local dir=$1
	shift
	[ -f "$dir/done" ] && return 0
	mkdir -p "$dir"
	local start
	start=$(date +%s.%N)
	"$@" 2>>"$dir/log" || { echo "study.sh: $1 failed in $dir (see $dir/log)" >&2; return 1; }
	awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%.1f\n", a - b }' >"$dir/done"
}

# supernet DIR SEED CONF EPOCHS [STOP]: trains one supernet (stage 0) in DIR, on a schedule of EPOCHS
# epochs, stopped after STOP of them when given.
supernet() { timed "$1/train" "$bin/train-supernet" -run "$1" -seed "$2" -config "$3" -epochs "$4" ${5:+-stop-after "$5"}; }

# scores SNDIR DIR SEED CONF: copies SNDIR's supernet into DIR and scores and prunes there with CONF.
scores() {
	local sn=$1 dir=$2 seed=$3 conf=$4
	[ -f "$dir/done" ] && return 0
	mkdir -p "$dir"
	[ -f "$dir/stage-0/supernet.parquet" ] || { rm -rf "$dir/stage-0"; mkdir -p "$dir/stage-0"; cp "$sn"/stage-0/{base,supernet,metrics}.parquet "$dir/stage-0/"; if [ -f "$sn/stage-0/space.parquet" ]; then cp "$sn/stage-0/space.parquet" "$dir/stage-0/"; fi; } || return 1
	timed "$dir/sample" "$bin/sample-children" -run "$dir" -seed "$seed" -config "$conf" || return 1
	timed "$dir/score" "$bin/score-operators" -run "$dir" -seed "$seed" -config "$conf" || return 1
	timed "$dir/prune" "$bin/prune" -run "$dir" -seed "$seed" -config "$conf" -outputs "$dir/outputs" || return 1
	touch "$dir/done"
}

with() { jq -cn --argjson a "$1" --argjson b "$2" '$a + $b'; }
angle=$(with "$base" '{"metric":"angle"}')
random=$(with "$base" '{"metric":"random"}')
acc=$(with "$base" "{\"metric\":\"accuracy\",\"exact_limit\":0,\"children_per_op\":$perop}")
draws=$(with "$base" "{\"metric\":\"angle\",\"exact_limit\":0,\"children_per_op\":$perop}")

# waitfor FILE: waits until FILE exists (another lane's part), or fails when a lane failed.
waitfor() {
	while [ ! -f "$1" ]; do
		[ -f "$out/lane.failed" ] && return 1
		sleep 10
	done
}

# Lane 1: the supernets of every seed and their angle and random scores, then the other
# initialisations, then the supernets of the convergence curve with their angle.
lane1() {
	local s i e conf first=${seeds%% *}
	for s in $seeds; do
		supernet "$out/supernet/seed-$s" "$s" "$base" "$epochs" || return 1
		scores "$out/supernet/seed-$s" "$out/angle/seed-$s" "$s" "$angle" || return 1
		scores "$out/supernet/seed-$s" "$out/random/seed-$s" "$s" "$random" || return 1
		if [ "$s" = "$first" ]; then
			# the accuracy sample's children (the draw does not depend on the metric), for lane 4
			scores "$out/supernet/seed-$s" "$out/draws/seed-$s" "$s" "$draws" || return 1
		fi
	done
	for s in $seeds; do
		for i in $inits; do
			conf=$(with "$base" "{\"init\":\"$i\"}")
			supernet "$out/init-$i/seed-$s" "$s" "$conf" "$epochs" || return 1
			scores "$out/init-$i/seed-$s" "$out/init-$i/angle-seed-$s" "$s" "$(with "$conf" '{"metric":"angle"}')" || return 1
		done
		for e in $conv; do
			[ "$s" = "$first" ] || continue
			supernet "$out/epochs-$e/seed-$s" "$s" "$base" "$convrun" "$e" || return 1
			scores "$out/epochs-$e/seed-$s" "$out/epochs-$e/angle-seed-$s" "$s" "$angle" || return 1
		done
	done
}

# accuracy SEED: the accuracy sample of one seed's supernet, once lane 1 trained it.
accuracy() {
	waitfor "$out/supernet/seed-$1/train/done" || return 1
	scores "$out/supernet/seed-$1" "$out/accuracy/seed-$1" "$1" "$acc" || return 1
}

# Lane 2: the first seed's accuracy sample, then those of the convergence curve's supernets.
lane2() {
	local e first=${seeds%% *}
	accuracy "$first" || return 1
	for e in $conv; do
		waitfor "$out/epochs-$e/seed-$first/train/done" || return 1
		scores "$out/epochs-$e/seed-$first" "$out/epochs-$e/accuracy-seed-$first" "$first" "$acc" || return 1
	done
}

# Lanes 3 and 5: the other seeds' accuracy samples, the 2nd, 4th, … seed in lane 3 and the 3rd,
# 5th, … in lane 5.
others() {
	local s i=0
	for s in $seeds; do
		if [ $i -gt 0 ] && [ $((i % 2)) = "$1" ]; then
			accuracy "$s" || return 1
		fi
		i=$((i + 1))
	done
}
lane3() { others 1; }
lane5() { others 0; }

# Lane 4: the stand-alone models.
lane4() {
	local first=${seeds%% *} d="$out/standalone"
	mkdir -p "$d"
	waitfor "$out/draws/seed-$first/done" || return 1
	# the distinct connected children (abs-study skips disconnected ones) of the accuracy sample of
	# the first seed; abs-study -shuffle trains SA_N of them in a seeded random order (the sample
	# lists its children by operator: its first lines all have none on edge 0)
	"$bin/abs" show -json "$out/draws/seed-$first/stage-0/children.parquet" |
		jq -r '.rows[] | .ops | join(",")' | awk '!seen[$0]++' >"$d/candidates.txt" || return 1
	[ -f "$d/done" ] && return 0
	local start
	start=$(date +%s.%N)
	"$bin/abs-study" -n "${SA_N:-30}" -epochs "${SA_EPOCHS:-8}" -train "${SA_TRAIN:-500}" -test "${SA_TEST:-2000}" \
		-width "$(jq -r .width <<<"$base")" -cells "$(jq -r .cells <<<"$base")" -seed "$first" \
		-archs "$d/candidates.txt" -shuffle -out "$d/models.jsonl" >"$d/table.txt" 2>>"$d/log" || return 1
	awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%.1f\n", a - b }' >"$d/done"
}

rm -f "$out/lane.failed"
pids=()
for l in lane1 lane2 lane3 lane4 lane5; do
	($l || { touch "$out/lane.failed"; echo "study.sh: $l failed (see the log files under $out)" >&2; exit 1; }) &
	pids+=($!)
done
status=0
for p in "${pids[@]}"; do
	wait "$p" || status=1
done
exit $status
