// Command retrain is the retrain step of the ABS pipeline; see stage.Retrain and `retrain -h`.
package main

import (
	"github.com/abs-nas/abs/internal/stage"
	"github.com/abs-nas/abs/internal/step"
)

func main() { step.Main("retrain", stage.Retrain) }
