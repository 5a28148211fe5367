package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Conversions between Go values and columns. Times are INTEGER Unix
// nanoseconds (exact within store.MinTime..MaxTime), a zero time is NULL;
// lists are JSON arrays (of base64 strings for [][]byte), an empty list NULL.

func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func timeCol(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

func bytesCol(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func bytesArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func listArg[T any](l []T) any {
	if len(l) == 0 {
		return nil
	}
	// Only [][]byte and []string are stored, which Marshal cannot fail on.
	b, _ := json.Marshal(l)
	return string(b)
}

func listCol[T any](s sql.NullString) ([]T, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var l []T
	if err := json.Unmarshal([]byte(s.String), &l); err != nil {
		return nil, fmt.Errorf("corrupt list column: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}
