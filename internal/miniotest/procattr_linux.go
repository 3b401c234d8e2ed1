package miniotest

import "syscall"

// procAttr makes the kernel kill the server when the test process dies, so a crashed test leaves
// no server behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
