#!/bin/sh
# Supernet training throughput: our gorgonia trainer (internal/abs/train benchmarks, GOMAXPROCS left
# at Go's default, so every core) against the PyTorch reference of the same network and step
# (scripts/bench-train.py) on one thread and on as many threads as the machine has cores, run side by
# side. Go is built up to three times: the default build (package sgemm's AVX2+FMA micro-kernel where
# the CPU has it), -tags purego (gonum's pure-Go Sgemm, the path before sgemm) and, when
# libopenblas-dev is installed, -tags openblas (cgo, OpenBLAS on one thread). For each case every run
# measures each Go build and each PyTorch, one after the other, in an order that rotates from run to
# run; the script prints every run and the medians of img/s and of the ratios Go/PyTorch (each Go
# figure over the PyTorch figure of the same run).
# Cases: NB201 with sampled children at C=8 (the headline), one fixed child at C=8, sampled children
# at C=16; the DARTS search supernet of the darts-small preset (width 8, 5 cells) with children drawn
# by the authors' repair rule. Before timing darts, the script checks with each Go build that both
# nets have the same number of parameters, in total and used by one fixed child
# (TestDARTSBenchCounts against bench-train.py --space darts --count), and stops if they differ.
# Needs Fashion-MNIST (Debian dataset-fashion-mnist) and Debian python3-torch.
#
# Usage: scripts/bench-train.sh [steps [runs [case...]]]   (defaults: 30 steps, 3 runs, all cases)
# Cases: sampled, fixed, c16, darts. BENCH_BUILDS="default purego openblas" picks the Go builds
# (default: all three, openblas only where it links).
set -eu
cd "$(dirname "$0")/.."
steps=${1:-30}
runs=${2:-3}
if [ $# -gt 2 ]; then shift 2; else set -- sampled fixed c16 darts; fi
# OpenBLAS (ours, and PyTorch's if it uses it) computes on one thread; this also keeps it from
# starting idle worker threads that spin on the second core.
export OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
builds=
for b in ${BENCH_BUILDS:-default purego openblas}; do
	case $b in
	default) go test -c -o "$tmp/default.test" ./internal/abs/train/ ;;
	purego) go test -c -tags purego -o "$tmp/purego.test" ./internal/abs/train/ ;;
	openblas)
		if ! go test -c -tags openblas -o "$tmp/openblas.test" ./internal/abs/train/ 2>"$tmp/openblas.log"; then
			echo "bench-train: openblas build failed (is libopenblas-dev installed?), skipping it:" >&2
			cat "$tmp/openblas.log" >&2
			continue
		fi
		;;
	*) echo "bench-train: unknown build $b (want default, purego or openblas)" >&2; exit 2 ;;
	esac
	builds="$builds $b"
done
[ -n "$builds" ] || { echo "bench-train: no Go build" >&2; exit 1; }

gorun() { # build, benchmark name → img/s
	out=$(cd internal/abs/train && "$tmp/$1.test" -test.run '^$' -test.bench "^$2\$" -test.benchtime "${steps}x")
	printf '%s\n' "$out" | awk '/^Benchmark/ { for (i = 1; i < NF; i++) if ($(i+1) == "img/s") print $i }'
}
pyrun() { # threads, bench-train.py arguments → img/s
	t=$1
	shift
	/usr/bin/python3 scripts/bench-train.py --steps "$steps" --threads "$t" "$@" | awk '{ print $NF }'
}
dartscheck() { # the Go and PyTorch DARTS nets have the same parameter counts, or exit 1
	dpy=$(/usr/bin/python3 scripts/bench-train.py --space darts --count)
	for b in $builds; do
		out=$(cd internal/abs/train && "$tmp/$b.test" -test.run '^TestDARTSBenchCounts$' -test.v) || {
			printf '%s\n' "$out" >&2
			echo "bench-train: darts: TestDARTSBenchCounts failed with build $b" >&2
			exit 1
		}
		dgo=$(printf '%s\n' "$out" | sed -n 's/.*\(darts net: .*\)$/\1/p')
		if [ "$dgo" != "$dpy" ]; then
			echo "bench-train: darts: the nets differ: go ($b) \"$dgo\", pytorch \"$dpy\"" >&2
			exit 1
		fi
	done
	echo "darts check: go ($(echo $builds | tr ' ' ',')) and pytorch agree: $dpy"
}
median() { # one number per line on stdin
	sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }'
}

procs=$(cd internal/abs/train && "$tmp/$(echo $builds | cut -d' ' -f1).test" -test.run '^$' -test.bench '^BenchmarkSupernetStep$' -test.benchtime 1x |
	awk '/^BenchmarkSupernetStep/ { n = split($1, a, "-"); print (n > 1 ? a[n] : 1) }')
# PyTorch on one thread and on as many as the machine has cores.
pys=pytorch-1
[ "$(nproc)" -gt 1 ] && pys="$pys pytorch-$(nproc)"
echo "go: gorgonia, GOMAXPROCS=$procs, builds:$builds; pytorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), threads:$(echo " $pys" | sed 's/ pytorch-/ /g'); $steps steps per run, $runs runs"
for c in "$@"; do
	case $c in
	sampled) bench=BenchmarkSupernetStep; set -- ;;
	fixed) bench=BenchmarkFixedStep; set -- --arch 3,2,4,1,3,2 ;;
	c16) bench=BenchmarkSupernetStepC16; set -- --c 16 ;;
	darts) bench=BenchmarkDARTSStep; set -- --space darts; dartscheck ;;
	*) echo "bench-train: unknown case $c (want sampled, fixed, c16 or darts)" >&2; exit 2 ;;
	esac
	order="$builds $pys"
	i=1
	while [ "$i" -le "$runs" ]; do
		line="$c run $i:"
		for who in $order; do
			case $who in
			pytorch-*) v=$(pyrun "${who#pytorch-}" "$@") ;;
			*) v=$(gorun "$who" "$bench") ;;
			esac
			[ -n "$v" ] || { echo "bench-train: $c run $i: no result from $who" >&2; exit 1; }
			echo "$v" >"$tmp/$who.$i"
			line="$line $who $v img/s,"
		done
		for py in $pys; do
			cat "$tmp/$py.$i" >>"$tmp/$py.all"
		done
		for b in $builds; do
			cat "$tmp/$b.$i" >>"$tmp/$b.all"
			for py in $pys; do
				r=$(awk -v g="$(cat "$tmp/$b.$i")" -v p="$(cat "$tmp/$py.$i")" 'BEGIN { printf "%.3f", g / p }')
				echo "$r" >>"$tmp/$b.$py.ratio"
				line="$line ratio $b/$py $r,"
			done
		done
		echo "${line%,}"
		# Rotate the order: the first one measured goes last in the next run.
		set -f
		order="$(echo $order | cut -d' ' -f2-) $(echo $order | cut -d' ' -f1)"
		set +f
		i=$((i + 1))
	done
	line="$c median:"
	for py in $pys; do
		line="$line $py $(median <"$tmp/$py.all") img/s;"
	done
	for b in $builds; do
		line="$line $b $(median <"$tmp/$b.all") img/s"
		for py in $pys; do
			line="$line, ratio $b/$py $(median <"$tmp/$b.$py.ratio")"
		done
		line="$line;"
	done
	line="${line%;}"
	echo "$line"
	rm -f "$tmp"/*.all "$tmp"/*.ratio "$tmp"/*.[0-9]*
done
