#!/bin/sh
# Supernet training throughput: our gorgonia trainer (internal/abs/train benchmarks, GOMAXPROCS left
# at Go's default) against the PyTorch reference of the same network and step (scripts/bench-train.py,
# one thread), run side by side: for each case the two alternate (Go first in odd runs, PyTorch first
# in even runs) and the script prints every run and the medians of img/s and of the ratio Go/PyTorch.
# Cases: sampled children at C=8 (the headline), one fixed child at C=8, sampled children at C=16.
# Needs Fashion-MNIST (Debian dataset-fashion-mnist) and Debian python3-torch.
#
# Usage: scripts/bench-train.sh [steps [runs [case...]]]   (defaults: 30 steps, 3 runs, all cases)
# Cases: sampled, fixed, c16. BENCH_TAGS=openblas builds Go with OpenBLAS (cgo, libopenblas-dev).
set -eu
cd "$(dirname "$0")/.."
steps=${1:-30}
runs=${2:-3}
[ $# -gt 2 ] && shift 2 || set -- sampled fixed c16
tags=${BENCH_TAGS:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -tags "$tags" -o "$tmp/train.test" ./internal/abs/train/

gorun() { # benchmark name → img/s
	out=$(cd internal/abs/train && "$tmp/train.test" -test.run '^$' -test.bench "^$1\$" -test.benchtime "${steps}x")
	printf '%s\n' "$out" | awk '/^Benchmark/ { for (i = 1; i < NF; i++) if ($(i+1) == "img/s") print $i }'
}
pyrun() { # bench-train.py arguments → img/s
	/usr/bin/python3 scripts/bench-train.py --steps "$steps" "$@" | awk '{ print $NF }'
}
median() { # one number per line on stdin
	sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }'
}

procs=$(cd internal/abs/train && "$tmp/train.test" -test.run '^$' -test.bench '^BenchmarkSupernetStep$' -test.benchtime 1x |
	awk '/^BenchmarkSupernetStep/ { n = split($1, a, "-"); print (n > 1 ? a[n] : 1) }')
echo "go: gorgonia, GOMAXPROCS=$procs, build tags '${tags}'; pytorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), 1 thread; $steps steps per run, $runs runs"
for c in "$@"; do
	case $c in
	sampled) bench=BenchmarkSupernetStep; set -- ;;
	fixed) bench=BenchmarkFixedStep; set -- --arch 3,2,4,1,3,2 ;;
	c16) bench=BenchmarkSupernetStepC16; set -- --c 16 ;;
	*) echo "bench-train: unknown case $c (want sampled, fixed or c16)" >&2; exit 2 ;;
	esac
	: >"$tmp/runs"
	i=1
	while [ "$i" -le "$runs" ]; do
		if [ $((i % 2)) -eq 1 ]; then
			g=$(gorun "$bench")
			p=$(pyrun "$@")
		else
			p=$(pyrun "$@")
			g=$(gorun "$bench")
		fi
		if [ -z "$g" ] || [ -z "$p" ]; then
			echo "bench-train: $c run $i: could not read a result" >&2
			exit 1
		fi
		r=$(awk -v g="$g" -v p="$p" 'BEGIN { printf "%.3f", g / p }')
		echo "$c run $i: go $g img/s, pytorch $p img/s, ratio $r"
		echo "$g $p $r" >>"$tmp/runs"
		i=$((i + 1))
	done
	echo "$c median: go $(cut -d' ' -f1 "$tmp/runs" | median) img/s, pytorch $(cut -d' ' -f2 "$tmp/runs" | median) img/s, ratio go/pytorch $(cut -d' ' -f3 "$tmp/runs" | median)"
done
