// Command pause is the sandbox container of every pod in the local cluster (k8s/cluster): it holds
// the pod's namespaces open and does nothing else, as Kubernetes' own pause does. As PID 1 of a
// pod that shares its process namespace it also reaps the orphans that are re-parented to it. It
// exits 0 on SIGINT or SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
