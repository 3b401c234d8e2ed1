#!/usr/bin/env bash
# Takes down what k8s/cluster/up.sh brought up (`go tool task cluster:down`): the pods first, then
# each process up.sh started (by the PID it recorded), the container shims of its containerd, the
# iptables chains, bridge, network namespaces, mounts and cgroups the node made, the sysctls it
# changed (back to the values saved at the first up) and the state folder. Processes it did not
# start are left alone. Safe to run when nothing is up, and more than once.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
[ "$(id -u)" = 0 ] || { echo "cluster:down: needs root" >&2; exit 2; }
say() { echo "cluster:down: $*" >&2; }
[ -d "$STATE" ] || { say "nothing to take down ($STATE does not exist)"; exit 0; }
KUBECTL="$ABS_CACHE/kubernetes/$KUBERNETES_VERSION/kubectl"
CTR=(/usr/bin/ctr -a "$CONTAINERD_SOCK" -n k8s.io)

# 1. The pods, through the kubelet, so that their networks are torn down by CNI: with the
# controllers stopped nothing recreates them.
stop kube-controller-manager
stop kube-scheduler
if running kube-apiserver && running kubelet && [ -x "$KUBECTL" ]; then
	say "deleting every pod"
	"$KUBECTL" delete pods --all --all-namespaces --grace-period=2 --wait=false --request-timeout=20s >/dev/null 2>&1 || true
	for ((i = 0; i < 90; i++)); do
		n="$("${CTR[@]}" tasks ls -q 2>/dev/null | wc -l)"
		[ "$n" = 0 ] && break
		sleep 1
	done
fi
for c in kubelet kube-proxy kube-apiserver etcd; do stop "$c" 30; done

# 2. Containers left over, then containerd and the shims it started (they outlive it).
if running containerd; then
	for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
		"${CTR[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
	done
	sleep 1
	for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks rm -f "$t" >/dev/null 2>&1 || true; done
	for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers rm "$c" >/dev/null 2>&1 || true; done
fi
stop containerd 30
for p in /proc/[0-9]*; do
	exe="$(readlink "$p/exe" 2>/dev/null)" || continue
	case "$exe" in
	*/containerd-shim*)
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-address $CONTAINERD_SOCK "; then
			say "stopping shim ${p#/proc/}"
			kill -KILL "${p#/proc/}" 2>/dev/null || true
		fi
		;;
	esac
done

# 3. Network: the chains kube-proxy, the kubelet and CNI added (those not there before the first
# up), the bridge and the pods' network namespaces.
for ipt in iptables ip6tables; do
	command -v "$ipt" >/dev/null || continue
	for table in filter nat mangle raw; do
		rules="$("$ipt" -t "$table" -S 2>/dev/null)" || continue
		ours="$(printf '%s\n' "$rules" | sed -n 's/^-N \(\(KUBE\|CNI\)-[^ ]*\)$/\1/p' |
			grep -vxF -f <(grep "^$ipt $table " "$STATE/chains.before" 2>/dev/null | cut -d' ' -f3) || true)"
		[ -n "$ours" ] || continue
		# first the jumps from the built-in chains into ours, then our chains
		printf '%s\n' "$rules" | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) ' |
			while read -r rule; do
				target="$(printf '%s\n' "$rule" | sed -n 's/.* -j \([^ ]*\).*/\1/p')"
				if printf '%s\n' "$ours" | grep -qxF "$target"; then
					eval "$ipt -t $table -D ${rule#-A }" 2>/dev/null || true
				fi
			done
		for c in $ours; do "$ipt" -t "$table" -F "$c" 2>/dev/null || true; done
		for c in $ours; do "$ipt" -t "$table" -X "$c" 2>/dev/null || true; done
	done
done
if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE" && say "deleted bridge $BRIDGE"; fi
for ns in /var/run/netns/cni-*; do
	[ -e "$ns" ] || continue
	umount "$ns" 2>/dev/null || umount -l "$ns" 2>/dev/null || true
	rm -f "$ns"
done

# 4. Mounts under the state folder (pod volumes, containerd's snapshots), deepest first.
findmnt -rn -o TARGET | awk -v s="$STATE/" 'index($0, s) == 1' | sort -r | while read -r m; do
	umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "cannot unmount $m"
done

# 5. The kubelet's cgroups (cgroupfs driver: kubepods under each v1 hierarchy).
for h in /sys/fs/cgroup/*/; do
	[ -d "$h/kubepods" ] || continue
	find "$h/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || say "cannot remove ${h}kubepods"
done

# 6. Host settings back as they were, and the folders up made outside the state folder.
if [ -s "$STATE/sysctl.saved" ]; then
	while IFS= read -r kv; do sysctl -qw "$kv" 2>/dev/null || say "cannot restore $kv"; done <"$STATE/sysctl.saved"
fi
if [ -s "$STATE/created-dirs" ]; then
	while IFS= read -r d; do
		case "$d" in /var/lib/cni | /var/run/netns | /var/log/containers | /var/log/pods) rm -rf "$d" ;; esac
	done <"$STATE/created-dirs"
fi
rm -rf "$STATE" || say "cannot remove $STATE"
say "down"
