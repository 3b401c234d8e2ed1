//go:build amd64 && !purego

#include "textflag.h"

// func pause(n int)
// n PAUSE instructions: a spin-wait hint that leaves the core's other hardware thread its share.
TEXT ·pause(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
again:
	PAUSE
	DECQ CX
	JNZ again
	RET
