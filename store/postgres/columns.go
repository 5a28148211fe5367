package postgres

import (
	"time"
)

// Conversions between Go values and columns. Times are bigint Unix
// nanoseconds (exact within store.MinTime..MaxTime), a zero time is NULL;
// an empty byte string or list is NULL. pgx maps [][]byte to bytea[] and
// []string to text[] itself.

func timeArg(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func timeCol(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

func bytesArg(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func bytesCol(b []byte) []byte { return bytesArg(b) }

func listArg[T any](l []T) []T {
	if len(l) == 0 {
		return nil
	}
	return l
}

func textCol(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
