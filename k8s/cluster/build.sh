#!/usr/bin/env bash
# Builds the pinned binaries the local cluster runs into the cache, once per version, and prints
# the folder that holds them: build.sh kubernetes | argo | coredns | mc.
# Each build goes into "$ABS_CACHE/<name>/<version>" (as scripts/minio.sh does for MinIO), under a
# lock, so that two callers wait for one build. Builds run under nice: the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/versions.sh"
what="${1:?usage: build.sh kubernetes|argo|coredns|mc}"

build_flags=(-trimpath -ldflags=-s)
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# locked DIR STAMP CMD...: runs CMD once, under DIR/.lock, unless DIR/STAMP exists.
locked() {
	local dir="$1" stamp="$2"
	shift 2
	if [ ! -e "$dir/$stamp" ]; then
		mkdir -p "$dir"
		exec 9>"$dir/.lock"
		flock 9
		if [ ! -e "$dir/$stamp" ]; then
			"$@"
			touch "$dir/$stamp"
		fi
		exec 9>&-
	fi
}

# wrapper DIR MODULE VERSION: a module in DIR/src that requires MODULE@VERSION, for go build.
wrapper() {
	mkdir -p "$1/src"
	cat >"$1/src/go.mod" <<MOD
module abs.local/build

go 1.24

require $2 $3
MOD
}

kubernetes() {
	local dir="$ABS_CACHE/kubernetes/$KUBERNETES_VERSION" m
	wrapper "$dir" k8s.io/kubernetes "$KUBERNETES_VERSION"
	# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with folders of
	# its own repository; a module that requires it has to name their releases itself.
	{
		echo "replace ("
		for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go \
			cloud-provider cluster-bootstrap code-generator component-base component-helpers \
			controller-manager cri-api cri-client csi-translation-lib dynamic-resource-allocation \
			endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy \
			kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission \
			sample-apiserver sample-cli-plugin sample-controller; do
			echo "	k8s.io/$m => k8s.io/$m $KUBE_STAGING_VERSION"
		done
		echo ")"
	} >>"$dir/src/go.mod"
	local v="$KUBERNETES_VERSION" minor="${KUBERNETES_VERSION#v1.}"
	minor="${minor%%.*}"
	local x="" p
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		x+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
	done
	(cd "$dir/src" && nice -n 19 go build -trimpath -ldflags="-s$x" -o "$dir/" \
			k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
			k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
}

# gobuild MODULE VERSION DIR PKG...: builds PKGs (relative to MODULE) of MODULE@VERSION in a
# writable copy of its source in DIR/src, with its own go.mod (replace lines included), into DIR.
gobuild() {
	local mod="$1" ver="$2" dir="$3" src
	shift 3
	src="$(cd /tmp && GOFLAGS= go mod download -json "$mod@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
	[ -n "$src" ] || { echo "build.sh: cannot download $mod@$ver" >&2; return 1; }
	rm -rf "$dir/src"
	mkdir -p "$dir"
	cp -r "$src" "$dir/src"
	chmod -R u+w "$dir/src"
	if [ -n "${prepare:-}" ]; then (cd "$dir/src" && eval "$prepare"); fi
	(cd "$dir/src" && nice -n 19 go build "${build_flags[@]}" ${ldflags:+-ldflags="$ldflags"} -o "$dir/" "$@")
	rm -rf "$dir/src"
}

argo() {
	local m=github.com/argoproj/argo-workflows/v3
	# cmd/argo embeds the UI's build output, which the module does not ship: an empty page will
	# do, since the CLI here never serves the UI. The repository's signal_linux.go is a symlink to
	# signal_darwin.go, which module zips leave out: copy it. Argo's own manifests are kept beside
	# the binaries.
	prepare='mkdir -p ui/dist/app && echo "<!doctype html><title>argo</title>" > ui/dist/app/index.html &&
		cp workflow/executor/osspecific/signal_darwin.go workflow/executor/osspecific/signal_linux.go' \
		ldflags="-s -X $m.version=$ARGO_VERSION -X $m.gitTag=$ARGO_VERSION -X $m.gitTreeState=clean" \
		gobuild "$m" "$ARGO_VERSION" "$1" ./cmd/workflow-controller ./cmd/argoexec ./cmd/argo
	local src
	src="$(cd /tmp && GOFLAGS= go mod download -json "$m@$ARGO_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
	rm -rf "$1/manifests"
	cp -r "$src/manifests" "$1/manifests"
	chmod -R u+w "$1/manifests"
}

coredns() {
	gobuild github.com/coredns/coredns "$COREDNS_VERSION" "$1" .
}

mc() {
	GOBIN="$1" nice -n 19 go install "${build_flags[@]}" "github.com/minio/mc@$MC_MODULE_VERSION"
}

case "$what" in
kubernetes) locked "$ABS_CACHE/kubernetes/$KUBERNETES_VERSION" .built kubernetes
	echo "$ABS_CACHE/kubernetes/$KUBERNETES_VERSION" ;;
argo) d="$ABS_CACHE/argo/$ARGO_VERSION"; locked "$d" .built argo "$d"; echo "$d" ;;
coredns) d="$ABS_CACHE/coredns/$COREDNS_VERSION"; locked "$d" .built coredns "$d"; echo "$d" ;;
mc) d="$ABS_CACHE/mc/$MC_MODULE_VERSION"; locked "$d" .built mc "$d"; echo "$d" ;;
*) echo "build.sh: unknown build $what" >&2; exit 2 ;;
esac
