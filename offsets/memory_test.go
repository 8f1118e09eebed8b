package offsets_test

import (
	"testing"

	"github.com/sluice-cdc/sluice/offsets"
	"github.com/sluice-cdc/sluice/offsets/offsetstest"
)

func TestMemory(t *testing.T) { offsetstest.Exercise(t, offsets.NewMemory()) }
