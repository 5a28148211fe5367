package store

import "time"

// MaxKeyIDLen bounds the master key id of PinMasterKeyID.
const MaxKeyIDLen = 64

// MergeRecordsToExpire merges the two lists RecordsToExpire reads, each in
// its own deadline order (pending by ExpiresAt, awaiting upload by
// CreatedAt), into at most limit records, earliest deadline first. An
// awaiting record's deadline is CreatedAt + (now - uploadDeadline).
func MergeRecordsToExpire(pending, awaiting []*Record, now, uploadDeadline time.Time, limit int) []*Record {
	window := now.Sub(uploadDeadline)
	out := make([]*Record, 0, min(limit, len(pending)+len(awaiting)))
	for len(out) < limit && (len(pending) > 0 || len(awaiting) > 0) {
		if len(awaiting) == 0 || len(pending) > 0 && !awaiting[0].CreatedAt.Add(window).Before(pending[0].ExpiresAt) {
			out, pending = append(out, pending[0]), pending[1:]
		} else {
			out, awaiting = append(out, awaiting[0]), awaiting[1:]
		}
	}
	return out
}
