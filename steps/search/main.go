// Command search is the search step of the ABS pipeline; see stage.Search and `search -h`.
package main

import (
	"github.com/abs-nas/abs/internal/stage"
	"github.com/abs-nas/abs/internal/step"
)

func main() { step.Main("search", stage.Search) }
