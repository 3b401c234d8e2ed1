# Pinned versions of everything the local cluster builds from the Go module proxy (sourced by the
# scripts beside this file). A change here is a new cache key: the old build stays where it is.
KUBERNETES_VERSION=v1.34.4   # 1.35+ refuses cgroup v1 without failCgroupV1: false in every config
KUBE_STAGING_VERSION=v0.34.4 # the staging modules (k8s.io/api, client-go, ...) of that release
ARGO_VERSION=v3.7.18         # the same Argo the pipelines are validated against (go.mod)
COREDNS_VERSION=v1.14.7
MC_MODULE_VERSION=v0.0.0-20250313080218-cf909e1063a9 # the newest mc the module proxy serves
ABS_CACHE="${ABS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/abs}"
