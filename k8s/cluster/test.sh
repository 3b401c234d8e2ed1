#!/usr/bin/env bash
# The cluster test (`go tool task cluster:test`, after cluster:up): runs pipelines/abs-nb201.yaml
# with tiny parameters through `argo submit --wait` on the local cluster and checks that it
# Succeeded with at least two shrinking stages, that its step pods ran our image, and that
# `abs verify` passes on its s3:// run; then runs the same YAML and seed with the local executor
# (the same static binaries as the image) and compares every artifact's bytes with MinIO's copy.
# With ABS_CLUSTER_TEST_DARTS=1 it then runs pipelines/abs-darts.yaml with a tiny config too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$here/lib.sh"
KUBECTL="$ABS_CACHE/kubernetes/$KUBERNETES_VERSION/kubectl"
ARGO="$ABS_CACHE/argo/$ARGO_VERSION/argo"
MC="$ABS_CACHE/mc/$MC_MODULE_VERSION/mc"
ABS="$STATE/bin/abs/abs" # built by up.sh with CGO_ENABLED=0: the image's binaries
"$KUBECTL" get node "$NODE" >/dev/null || { echo "cluster:test: no cluster; run go tool task cluster:up" >&2; exit 1; }

# The steps' S3 user, and MinIO's Service address, which the node reaches through kube-proxy.
secret() { "$KUBECTL" -n abs get secret abs-s3 -o "jsonpath={.data.$1}" | base64 -d; }
export AWS_ACCESS_KEY_ID="$(secret AWS_ACCESS_KEY_ID)" AWS_SECRET_ACCESS_KEY="$(secret AWS_SECRET_ACCESS_KEY)"
export ABS_S3_ENDPOINT="$("$KUBECTL" -n abs get svc minio -o jsonpath='{.spec.clusterIP}'):9000" ABS_S3_INSECURE=1
export MC_HOST_abs="http://$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY@$ABS_S3_ENDPOINT"
fails=0

# pipeline NAME YAML MIN_STAGES PARAMS...: one run on the cluster and one with the local executor.
pipeline() {
	local name="$1" yaml="$2" min="$3" run wf phase stages work
	shift 3
	run="runs/$name-$(date -u +%Y%m%dT%H%M%S)"
	echo "== $yaml on the cluster: s3://abs/$run"
	local t0=$(date +%s)
	wf="$("$ARGO" submit -n abs --serviceaccount abs-workflow -o name "$repo/$yaml" -p store="s3://abs/$run" "$@" \
		-p cpu=500m -p memory=512Mi -p memory-limit=2Gi)"
	"$ARGO" wait -n abs "$wf" >/dev/null || true
	phase="$("$KUBECTL" -n abs get workflow "$wf" -o jsonpath='{.status.phase}')"
	stages="$("$KUBECTL" -n abs get workflow "$wf" -o jsonpath='{range .status.nodes.*}{.templateName}{" "}{.type}{"\n"}{end}' | grep -c '^prune Pod$' || true)"
	echo "workflow $wf: phase $phase after $(($(date +%s) - t0)) s; shrinking stages (prune pods): $stages"
	"$ARGO" get -n abs "$wf" --no-color | sed -n '/^STEP/,$p'
	echo "images of its pods:"
	"$KUBECTL" -n abs get events --field-selector reason=Pulled -o jsonpath='{range .items[*]}{.involvedObject.name}{" "}{.message}{"\n"}{end}' |
		grep "^$wf-" | sed -n 's/.*Container image "\([^"]*\)".*/  \1/p' | sort | uniq -c
	if [ "$phase" != Succeeded ] || [ "$stages" -lt "$min" ]; then
		echo "FAIL: $yaml: phase $phase with $stages stages, want Succeeded with at least $min"
		fails=$((fails + 1))
		return
	fi
	echo "== abs verify s3://abs/$run"
	"$ABS" verify "s3://abs/$run" || { echo "FAIL: abs verify s3://abs/$run"; fails=$((fails + 1)); }

	echo "== the same YAML and seed with the local executor, and each artifact's bytes against MinIO's"
	work="$(mktemp -d)"
	"$ABS" run "$repo/$yaml" -p store="$work/local" "$@" >"$work/local.log" 2>&1 ||
		{ echo "FAIL: local run (log: $work/local.log)"; fails=$((fails + 1)); return; }
	"$MC" --config-dir "$work/mc" mirror --quiet "abs/abs/$run" "$work/s3" >/dev/null
	local differ=0 f
	while IFS= read -r f; do
		if [ ! -f "$work/s3/$f" ]; then
			echo "  only in the local run: $f"
			differ=$((differ + 1))
		elif ! cmp -s "$work/local/$f" "$work/s3/$f"; then
			echo "  differs: $f"
			differ=$((differ + 1))
		fi
	done < <(cd "$work/local" && find . -type f ! -name record.json | sed 's|^\./||' | sort)
	echo "  $(cd "$work/s3" && find . -type f | wc -l) objects in MinIO, $(cd "$work/local" && find . -type f ! -name record.json | wc -l) local artifacts, $differ differ"
	if [ "$differ" != 0 ]; then fails=$((fails + 1)); fi
	rm -rf "$work"
}

cfg='{"width":4,"cells":1,"train":256,"valid":64,"test":64,"rebn_batches":1,"retrain_epochs":1}'
pipeline nb201 pipelines/abs-nb201.yaml 2 -p seed=1 -p epochs-first=2 -p epochs-later=1 \
	-p drop-policy=global-tail -p drop-count=10 -p threshold=64 -p config="$cfg"
if [ "${ABS_CLUSTER_TEST_DARTS:-0}" = 1 ]; then
	cfg='{"space":"darts","width":4,"cells":3,"train":128,"valid":32,"test":32,"batch":32,"rebn_batches":1,"retrain_epochs":1,"search":"evolution","search_budget":8}'
	pipeline darts pipelines/abs-darts.yaml 2 -p seed=1 -p epochs-first=2 -p epochs-later=1 -p threshold=2e6 -p config="$cfg"
fi
[ "$fails" = 0 ] && echo "cluster:test: PASS" || { echo "cluster:test: $fails FAILED"; exit 1; }
