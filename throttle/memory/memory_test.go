package memory_test

import (
	"testing"
	"time"

	"github.com/floorgate/floorgate/throttle"
	"github.com/floorgate/floorgate/throttle/memory"
	"github.com/floorgate/floorgate/throttle/throttletest"
)

func TestConformance(t *testing.T) {
	throttletest.Run(t, throttletest.Harness{
		New: func(t *testing.T, clock func() time.Time) throttle.Throttle {
			return memory.New(memory.Options{Now: clock})
		},
	})
}
