#!/usr/bin/env bash
# Brings up a single-node Kubernetes on this machine (`go tool task cluster:up`): etcd, containerd
# (Debian's, with runc and the CNI plugins), kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy and CoreDNS, with certificates made here, images packed
# here and imported into containerd (no registry), then Argo Workflows and the objects of k8s/.
# Idempotent: a component already running is left as it is. Each step waits for readiness with a
# timeout; a failure names the component and prints the end of its log. Needs root.
# The state lives in $ABS_CLUSTER_DIR (default /var/lib/abs-cluster); k8s/cluster/down.sh removes it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$here/lib.sh"
[ "$(id -u)" = 0 ] || { echo "cluster:up: needs root" >&2; exit 2; }
t0=$(date +%s)
say() { echo "cluster:up [$(( $(date +%s) - t0 ))s] $*" >&2; }

# fail NAME MESSAGE: names the component, prints its log's tail and stops.
fail() {
	echo "cluster:up: $1: $2" >&2
	if [ -s "$LOGS/$1.log" ]; then
		echo "---- last 40 lines of $LOGS/$1.log" >&2
		tail -n 40 "$LOGS/$1.log" >&2
		echo "----" >&2
	fi
	exit 1
}

# start NAME BINARY ARGS...: starts BINARY in its own session, logging to LOGS/NAME.log, unless
# the process started as NAME is still running. Under nice: the machine is shared.
start() {
	local name="$1" bin="$2"
	shift 2
	if running "$name"; then
		say "$name already running (pid $(cut -d' ' -f1 "$PIDS/$name.pid"))"
		return
	fi
	[ -x "$bin" ] || fail "$name" "no binary $bin"
	setsid nice -n "${ABS_CLUSTER_NICE:-19}" "$bin" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
	local pid=$!
	# nice execs the binary: wait until the process runs it, then record pid and binary.
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ] && break
		sleep 0.1
	done
	echo "$pid $(readlink -f "$bin")" >"$PIDS/$name.pid"
	say "$name started (pid $pid)"
}

# wait_for NAME TIMEOUT COMMAND...: until COMMAND succeeds; fails naming NAME when its process
# exits or TIMEOUT seconds pass.
wait_for() {
	local name="$1" timeout="$2" deadline
	shift 2
	deadline=$(($(date +%s) + timeout))
	until "$@" >/dev/null 2>&1; do
		if [ -e "$PIDS/$name.pid" ] && ! running "$name"; then fail "$name" "exited"; fi
		[ "$(date +%s)" -lt "$deadline" ] || fail "$name" "not ready after ${timeout}s ($*)"
		sleep 1
	done
	say "$name ready"
}

# put FILE: writes stdin to FILE only when it differs, so that a second up leaves running
# components alone (kube-proxy exits when its configuration file is written).
put() {
	local tmp="$1.new"
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

mkdir -p "$STATE" "$RUN" "$PIDS" "$LOGS" "$PKI"
chmod 700 "$STATE"
NODE_IP="$(node_ip)"
[ -n "$NODE_IP" ] || { echo "cluster:up: no IPv4 address found; set ABS_CLUSTER_NODE_IP" >&2; exit 1; }

# ---- binaries (built once per version into the cache)
say "building or finding the pinned binaries (cold: tens of minutes)"
K8S="$("$here/build.sh" kubernetes)"
COREDNS="$("$here/build.sh" coredns)"
MC="$("$here/build.sh" mc)"
MINIO="$("$repo/scripts/minio.sh")"
KUBECTL="$K8S/kubectl"
BIN="$STATE/bin"
mkdir -p "$BIN/abs"
(cd "$repo" && CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags=-s -o "$BIN/abs/" ./cmd/... ./steps/... &&
	CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags=-s -o "$BIN/" ./k8s/cluster/pause ./k8s/cluster/mkimage)
# Debian's packages, installed when missing (as the tests install theirs; down.sh leaves them).
"$repo/scripts/apt-install.sh" --no-install-recommends containerd runc containernetworking-plugins etcd-server \
	iptables conntrack openssl
for b in /usr/bin/etcd /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/bin/runc /usr/lib/cni/bridge \
	/usr/sbin/iptables /usr/sbin/conntrack /usr/bin/openssl; do
	[ -x "$b" ] || { echo "cluster:up: $b missing after installing Debian's packages" >&2; exit 1; }
done

# ---- host settings the node needs; their old values go back at down.sh
if [ ! -e "$STATE/sysctl.saved" ]; then
	# kubelet sets the vm.* and kernel.* ones (setupKernelTunables), kube-proxy relies on the others.
	for k in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables vm.overcommit_memory vm.panic_on_oom \
		kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
		v="$(sysctl -n "$k" 2>/dev/null)" && echo "$k=$v"
	done >"$STATE/sysctl.saved.tmp"
	for d in /var/lib/cni /var/run/netns /var/log/containers /var/log/pods; do
		[ -e "$d" ] || echo "$d"
	done >"$STATE/created-dirs"
	for ipt in iptables ip6tables; do # chains that were there before: down.sh keeps them
		for table in filter nat mangle raw; do
			"$ipt" -t "$table" -S 2>/dev/null | sed -n "s/^-N \(.*\)/$ipt $table \1/p"
		done
	done >"$STATE/chains.before"
	mv "$STATE/sysctl.saved.tmp" "$STATE/sysctl.saved"
fi
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1

# ---- certificates (openssl; a CA of this cluster's own)
cert() { # cert NAME SUBJECT [SANS]: a key and a certificate signed by the cluster CA
	[ -s "$PKI/$1.crt" ] && return
	openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -subj "$2" -out "$PKI/$1.csr" 2>/dev/null
	local ext="$PKI/$1.ext"
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=serverAuth,clientAuth"
		[ -z "${3:-}" ] || echo "subjectAltName=$3"
	} >"$ext"
	openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 365 -sha256 -extfile "$ext" -out "$PKI/$1.crt" 2>/dev/null
	rm -f "$PKI/$1.csr" "$ext"
}
if [ ! -s "$PKI/ca.crt" ]; then
	say "generating certificates"
	openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -subj "/CN=abs-cluster-ca" \
		-days 365 -sha256 -out "$PKI/ca.crt" 2>/dev/null
	openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
	openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi
cert apiserver "/CN=kube-apiserver" \
	"DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert admin "/O=system:masters/CN=abs-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kube-proxy "/CN=system:kube-proxy"
cert kubelet "/O=system:nodes/CN=system:node:$NODE" "DNS:$NODE,IP:$NODE_IP,IP:127.0.0.1"
chmod 600 "$PKI"/*.key

kubeconfig() { # kubeconfig NAME: STATE/NAME.kubeconfig with the certificate PKI/NAME
	put "$STATE/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: abs
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://$NODE_IP:$APISERVER_PORT
users:
- name: $1
  user:
    client-certificate: $PKI/$1.crt
    client-key: $PKI/$1.key
contexts:
- name: abs
  context: {cluster: abs, user: $1}
current-context: abs
KC
}
for n in admin controller-manager scheduler kube-proxy kubelet; do kubeconfig "$n"; done

# ---- etcd (Debian's), on loopback only
start etcd /usr/bin/etcd --name abs --data-dir "$STATE/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster "abs=http://127.0.0.1:$ETCD_PEER_PORT" \
	--quota-backend-bytes 2147483648
wait_for etcd 60 sh -c "curl -sf http://127.0.0.1:$ETCD_PORT/health | grep -q true"

# ---- containerd (Debian's 1.6) with runc and the CNI plugins
mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
put "$STATE/containerd.toml" <<TOML
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd"
oom_score = 0
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "abs.local/pause:3.10"
  # this machine's root lacks CAP_SYS_RESOURCE: no container may get a lower oom_score_adj
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/bin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
    max_conf_num = 1
TOML
put "$STATE/cni/net.d/10-abs.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "abs",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "mtu": 1400,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$STATE/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
start containerd /usr/bin/containerd --config "$STATE/containerd.toml"
CTR=(/usr/bin/ctr -a "$CONTAINERD_SOCK" -n k8s.io)
wait_for containerd 60 "${CTR[@]}" version

# ---- images: packed here (k8s/images), imported into containerd's k8s.io namespace
IMG="$STATE/images"
mkdir -p "$IMG"
import() { # import NAME ARCHIVE: unless containerd holds NAME with this archive's manifest
	local digest
	digest="$(tar -xOf "$2" index.json | sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p')"
	if "${CTR[@]}" images ls "name==$1" 2>/dev/null | grep -q "$digest"; then return; fi
	nice -n 19 "${CTR[@]}" images import "$2" >/dev/null || fail containerd "import of $1 failed"
	say "imported $1"
}
mkimg() { # mkimg NAME FILE ARGS...: pack (mkimage ARGS) and import
	local name="$1" file="$IMG/$2"
	shift 2
	nice -n 19 "$BIN/mkimage" -o "$file" "$@"
	import "$name" "$file"
	rm -f "$file"
}
ldd_files() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u; }
say "packing and importing images"
mkimg abs.local/pause:3.10 pause.tar program abs.local/pause:3.10 "$BIN/pause" /pause 65535:65535
mkimg "abs.local/coredns:$COREDNS_VERSION" coredns.tar program "abs.local/coredns:$COREDNS_VERSION" "$COREDNS/coredns" /coredns 65532:65532
# MinIO as scripts/minio.sh builds it (with cgo): its C libraries go with it.
mapfile -t minio_libs < <(ldd_files "$MINIO")
MINIO_TAG="$(sed -n 's/^version="\(.*\)"$/\1/p' "$repo/scripts/minio.sh")"
mkimg "abs.local/minio:$MINIO_TAG" minio.tar -env HOME=/tmp program "abs.local/minio:$MINIO_TAG" "$MINIO" /usr/bin/minio 1000:1000 "${minio_libs[@]}"
mkimg "abs.local/mc:$MC_MODULE_VERSION" mc.tar -env HOME=/tmp program "abs.local/mc:$MC_MODULE_VERSION" "$MC/mc" /usr/bin/mc 1000:1000
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || "$repo/scripts/install-data.sh"
mkimg docker.io/library/abs:0.1.0 abs.tar abs docker.io/library/abs:0.1.0 "$BIN/abs" \
	/usr/share/datasets/fashion-mnist /usr/share/doc/dataset-fashion-mnist/copyright

# ---- control plane
# WatchList=false: with it, the API server turns a watch from resource version "" or "0" into a
# watch-list stream, which needs etcd to report watch progress, and Debian's etcd 3.4 cannot. Such
# watches (Argo's informers make them) then end at once with "the required storage feature
# RequestWatchProgress is disabled", and the controller saw a finished pod only at its next
# re-list: about 40 s per step.
start kube-apiserver "$K8S/kube-apiserver" \
	--advertise-address="$NODE_IP" --bind-address="$NODE_IP" --secure-port="$APISERVER_PORT" \
	--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
	--service-cluster-ip-range="$SERVICE_CIDR" \
	--client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
	--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
	--kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
	--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
	--allow-privileged=true --profiling=false --feature-gates=WatchList=false
CURL=(curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")
wait_for kube-apiserver 180 sh -c "$(printf '%q ' "${CURL[@]}") https://$NODE_IP:$APISERVER_PORT/readyz | grep -qx ok"

start kube-controller-manager "$K8S/kube-controller-manager" \
	--kubeconfig="$STATE/controller-manager.kubeconfig" \
	--authentication-kubeconfig="$STATE/controller-manager.kubeconfig" --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
	--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
	--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
	--service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
wait_for kube-controller-manager 120 curl -skf https://127.0.0.1:10257/healthz

start kube-scheduler "$K8S/kube-scheduler" \
	--kubeconfig="$STATE/scheduler.kubeconfig" \
	--authentication-kubeconfig="$STATE/scheduler.kubeconfig" --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false --profiling=false
wait_for kube-scheduler 120 curl -skf https://127.0.0.1:10259/healthz

# ---- node: kubelet and kube-proxy
put "$STATE/kubelet.yaml" <<KUBELET
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
# what this machine needs: no systemd, cgroup v1, swap allowed, and root without
# CAP_SYS_RESOURCE (a hard limit of 20000 open files, no lower oom_score_adj)
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
maxOpenFiles: 20000
oomScoreAdj: 0
podLogsDir: $STATE/pod-logs
# a development machine's disk is shared: evict only when it is nearly full
evictionHard: {memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 98
imageGCLowThresholdPercent: 95
serializeImagePulls: false
KUBELET
start kubelet "$K8S/kubelet" --config="$STATE/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
	--root-dir="$STATE/kubelet" --hostname-override="$NODE" --node-ip="$NODE_IP"
wait_for kubelet 180 "$KUBECTL" get node "$NODE"
wait_for kubelet 180 sh -c "'$KUBECTL' get node '$NODE' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"

put "$STATE/kube-proxy.yaml" <<PROXY
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
hostnameOverride: $NODE
mode: iptables
clusterCIDR: $POD_CIDR
oomScoreAdj: 0
# leave the host's conntrack table and timeouts as they are (root cannot raise them here, and
# down.sh would have to put them back), and net.ipv4.conf.all.route_localnet too
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
PROXY
start kube-proxy "$K8S/kube-proxy" --config="$STATE/kube-proxy.yaml"
wait_for kube-proxy 120 curl -sf http://127.0.0.1:10256/healthz

# ---- cluster DNS
sed -e "s/@DNS_SERVICE_IP@/$DNS_SERVICE_IP/" -e "s|@COREDNS_IMAGE@|abs.local/coredns:$COREDNS_VERSION|" \
	"$here/coredns.yaml" | "$KUBECTL" apply -f - >/dev/null
wait_for coredns 180 "$KUBECTL" -n kube-system wait deployment/coredns --for=condition=Available --timeout=5s

say "Kubernetes $KUBERNETES_VERSION is up: KUBECONFIG=$KUBECONFIG"

# ---- Argo Workflows, from its module's own manifests
ARGO="$("$here/build.sh" argo)"
for c in workflow-controller argoexec; do
	mkimg "abs.local/$c:$ARGO_VERSION" "$c.tar" program "abs.local/$c:$ARGO_VERSION" "$ARGO/$c" "/bin/$c" 8737:8737
done
rm -rf "$STATE/argo"
mkdir -p "$STATE/argo"
cp -r "$ARGO/manifests" "$STATE/argo/manifests"
cp "$here/argo/namespace.yaml" "$STATE/argo/"
sed "s/@ARGO_VERSION@/$ARGO_VERSION/g" "$here/argo/kustomization.yaml" >"$STATE/argo/kustomization.yaml"
"$KUBECTL" apply --server-side --force-conflicts -k "$STATE/argo" >/dev/null || fail kube-apiserver "applying Argo's manifests failed"
wait_for workflow-controller 300 "$KUBECTL" -n argo wait deployment/workflow-controller --for=condition=Available --timeout=5s

# ---- k8s/ (MinIO, the Secrets, the bucket Job, the workflow RBAC) with credentials made here, the
# images packed here, and a volume on this machine that the claim binds without a StorageClass
if [ ! -s "$STATE/credentials" ]; then
	{
		echo "MINIO_ROOT_USER=root-$(openssl rand -hex 6)"
		echo "MINIO_ROOT_PASSWORD=$(openssl rand -hex 20)"
		echo "AWS_ACCESS_KEY_ID=steps-$(openssl rand -hex 6)"
		echo "AWS_SECRET_ACCESS_KEY=$(openssl rand -hex 20)"
	} >"$STATE/credentials"
	chmod 600 "$STATE/credentials"
fi
. "$STATE/credentials"
mkdir -p "$STATE/minio-data"
chown 1000:1000 "$STATE/minio-data"
rm -rf "$STATE/abs"
mkdir -p "$STATE/abs/base"
cp "$repo"/k8s/*.yaml "$STATE/abs/base/"
cat >"$STATE/abs/kustomization.yaml" <<KUST
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- base
- minio-pv.yaml
images:
- {name: quay.io/minio/minio, newName: abs.local/minio, newTag: "$MINIO_TAG"}
- {name: quay.io/minio/mc, newName: abs.local/mc, newTag: "$MC_MODULE_VERSION"}
patches:
- patch: |
    apiVersion: v1
    kind: Secret
    metadata: {name: abs-minio-root, namespace: abs}
    stringData: {MINIO_ROOT_USER: "$MINIO_ROOT_USER", MINIO_ROOT_PASSWORD: "$MINIO_ROOT_PASSWORD"}
- patch: |
    apiVersion: v1
    kind: Secret
    metadata: {name: abs-s3, namespace: abs}
    stringData: {AWS_ACCESS_KEY_ID: "$AWS_ACCESS_KEY_ID", AWS_SECRET_ACCESS_KEY: "$AWS_SECRET_ACCESS_KEY"}
KUST
cat >"$STATE/abs/minio-pv.yaml" <<PV
# MinIO's volume: a folder of this machine, bound to the claim minio-data by claimRef and an
# empty storageClassName, so no StorageClass or provisioner is needed.
apiVersion: v1
kind: PersistentVolume
metadata:
  name: abs-minio-data
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: abs, name: minio-data}
  hostPath: {path: "$STATE/minio-data", type: Directory}
PV
"$KUBECTL" apply -k "$STATE/abs" >/dev/null || fail kube-apiserver "applying k8s/ failed"
wait_for minio 300 "$KUBECTL" -n abs wait deployment/minio --for=condition=Available --timeout=5s
wait_for abs-bucket 300 "$KUBECTL" -n abs wait job/abs-bucket --for=condition=Complete --timeout=5s

say "up: KUBECONFIG=$KUBECONFIG; argo CLI: $ARGO/argo"
"$KUBECTL" get nodes -o wide >&2
