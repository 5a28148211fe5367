package postgres

import (
	"testing"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

// TestConformance runs the whole suite, races included (32 racers, 50
// trials each), against the real server.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTest(t, Options{})
		return s
	}, storetest.Options{})
}

// TestConformanceTwoNodes runs the suite with every call alternating
// between two Stores (two pools) on the same schema, as two API nodes would.
func TestConformanceTwoNodes(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		a, url := openTest(t, Options{})
		return storetest.Alternate(a, openURL(t, url, Options{}))
	}, storetest.Options{})
}
