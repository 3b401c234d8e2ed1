// Command prune is the prune step of the ABS pipeline; see stage.Prune and `prune -h`.
package main

import (
	"github.com/abs-nas/abs/internal/stage"
	"github.com/abs-nas/abs/internal/step"
)

func main() { step.Main("prune", stage.Prune) }
