package mongo

import (
	"testing"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

func TestConformance(t *testing.T) {
	needEngine(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) }, storetest.Options{SkipRaces: raceSkip()})
}
