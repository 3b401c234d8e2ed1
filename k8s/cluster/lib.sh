# Shared by up.sh and down.sh: where the local cluster keeps its state, and how it starts, finds
# and stops its processes. Sourced, not run.
. "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

STATE="${ABS_CLUSTER_DIR:-/var/lib/abs-cluster}" # everything up.sh writes, removed by down.sh
RUN="$STATE/run"     # sockets
PIDS="$STATE/pids"   # one NAME.pid for each process up.sh started
LOGS="$STATE/logs"   # one NAME.log for each
PKI="$STATE/pki"
NODE="${ABS_CLUSTER_NODE:-abs-node}"
BRIDGE=abs0
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
ETCD_PORT=23790      # not etcd's default 2379, so that another etcd on the machine is left alone
ETCD_PEER_PORT=23800
APISERVER_PORT=6443
CONTAINERD_SOCK="$RUN/containerd.sock"
export KUBECONFIG="$STATE/admin.kubeconfig"

# The address of this machine that the node and the API server advertise.
node_ip() {
	if [ -n "${ABS_CLUSTER_NODE_IP:-}" ]; then echo "$ABS_CLUSTER_NODE_IP"; return; fi
	ip -4 route get 192.0.2.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1
}

# running NAME: whether the process up.sh started as NAME is alive (its pid file names a live
# process running the binary it was started from).
running() {
	local f="$PIDS/$1.pid" pid exe
	[ -s "$f" ] || return 1
	read -r pid exe <"$f"
	[ -d "/proc/$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]
}

# stop NAME [TIMEOUT]: SIGTERM to the process up.sh started as NAME, SIGKILL after TIMEOUT
# seconds (default 20); removes its pid file.
stop() {
	local name="$1" timeout="${2:-20}" pid exe i
	if running "$name"; then
		read -r pid exe <"$PIDS/$name.pid"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < timeout * 5; i++)); do
			running "$name" || break
			sleep 0.2
		done
		if running "$name"; then
			echo "cluster: $name (pid $pid) ignored SIGTERM for ${timeout}s; SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
		fi
	fi
	rm -f "$PIDS/$name.pid"
}
