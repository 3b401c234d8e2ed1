#!/usr/bin/env bash
# Installs the real data sets the demo and the tests use, when they are missing.
# Fashion-MNIST comes from Debian's dataset-fashion-mnist (gzipped IDX under /usr/share/datasets).
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then exit 0; fi
echo "installing dataset-fashion-mnist (Debian) into $dir..." >&2
"$(dirname "$0")/apt-install.sh" dataset-fashion-mnist
