package bench

import (
	"errors"
	"testing"
)

// TestStoresConfig: part 4's store list names known stores once each, and
// the postgres store comes with its URL (and a URL with the store).
func TestStoresConfig(t *testing.T) {
	for _, tc := range []struct {
		stores []string
		url    string
		ok     bool
	}{
		{nil, "", true},
		{[]string{StoreSQLite}, "", true},
		{[]string{StoreSQLite, StorePostgres}, "postgres://h/db", true},
		{[]string{StorePostgres}, "postgres://h/db", true},
		{[]string{StorePostgres}, "", false},
		{[]string{StoreSQLite}, "postgres://h/db", false},
		{[]string{StoreSQLite, StoreSQLite}, "", false},
		{[]string{"mongodb"}, "", false},
	} {
		cfg := QuickConfig()
		cfg.Parts = []int{PartPrimitives}
		cfg.Stores, cfg.PostgresURL = tc.stores, tc.url
		err := cfg.validate()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("stores %q, URL %q: %v, want ok=%v", tc.stores, tc.url, err, tc.ok)
		}
	}
}
