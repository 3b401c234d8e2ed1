// Command sample-children is the sample-children step of the ABS pipeline; see stage.SampleChildren and `sample-children -h`.
package main

import (
	"github.com/abs-nas/abs/internal/stage"
	"github.com/abs-nas/abs/internal/step"
)

func main() { step.Main("sample-children", stage.SampleChildren) }
