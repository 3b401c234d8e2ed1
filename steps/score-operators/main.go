// Command score-operators is the score-operators step of the ABS pipeline; see stage.ScoreOperators and `score-operators -h`.
package main

import (
	"github.com/abs-nas/abs/internal/stage"
	"github.com/abs-nas/abs/internal/step"
)

func main() { step.Main("score-operators", stage.ScoreOperators) }
