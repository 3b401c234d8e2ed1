#!/bin/sh
# Supernet training throughput: our gorgonia trainer (BenchmarkSupernetStep, GOMAXPROCS left at
# Go's default) against the PyTorch reference of the same network and step (one thread). Prints the
# images/s of each and their ratio. Needs Fashion-MNIST (Debian dataset-fashion-mnist) and Debian
# python3-torch. Usage: scripts/bench-train.sh [steps]
set -eu
cd "$(dirname "$0")/.."
steps=${1:-30}
go_out=$(go test -run '^$' -bench '^BenchmarkSupernetStep$' -benchtime "${steps}x" ./internal/abs/train/)
go_ips=$(printf '%s\n' "$go_out" | awk '/^BenchmarkSupernetStep/ { for (i = 1; i < NF; i++) if ($(i+1) == "img/s") print $i }')
# The benchmark name ends in -GOMAXPROCS (no suffix when it is 1).
procs=$(printf '%s\n' "$go_out" | awk '/^BenchmarkSupernetStep/ { n = split($1, a, "-"); print (n > 1 ? a[n] : 1) }')
py_out=$(/usr/bin/python3 scripts/bench-train.py --steps "$steps")
py_ips=$(printf '%s\n' "$py_out" | awk '{ print $NF }')
if [ -z "$go_ips" ] || [ -z "$py_ips" ]; then
	printf 'bench-train: could not read a result\n%s\n%s\n' "$go_out" "$py_out" >&2
	exit 1
fi
echo "go (gorgonia, default GOMAXPROCS=$procs): $go_ips img/s"
echo "pytorch $(printf "%s" "$py_out" | awk "{ print \$2 }") (1 thread): $py_ips img/s"
awk -v g="$go_ips" -v p="$py_ips" 'BEGIN { printf "ratio go/pytorch: %.3f\n", g / p }'
