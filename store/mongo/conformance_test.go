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

// TestConformanceTwoNodes runs the suite on two Stores (two API nodes) on
// one database, each call going to the next: what one writes, the other
// reads, and racers on different nodes still have one winner.
func TestConformanceTwoNodes(t *testing.T) {
	needEngine(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		a := openStore(t)
		return storetest.Alternate(a, openDatabase(t, a.db.Name()))
	}, storetest.Options{SkipRaces: raceSkip()})
}
