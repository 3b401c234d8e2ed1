// Command train-supernet is the train-supernet step of the ABS pipeline; see stage.TrainSupernet and `train-supernet -h`.
package main

import (
	"github.com/abs-nas/abs/internal/stage"
	"github.com/abs-nas/abs/internal/step"
)

func main() { step.Main("train-supernet", stage.TrainSupernet) }
