package mongo

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// The benchmarks measure against the engine the tests use (FerretDB unless
// ASSENT_TEST_MONGODB_URI is set); read them as ratios to the baseline in the
// same run, not as MongoDB's speed.

func benchRecord(b *testing.B, s *Store, u *store.User) *store.Record {
	now := time.Now().UTC().Truncate(time.Second)
	id, err := ids.NewRecord(rand.Reader, now)
	if err != nil {
		b.Fatal(err)
	}
	r := &store.Record{ID: id, UserID: u.ID, ClientID: u.ClientID, Title: "bench", CreatedAt: now}
	if err := s.CreateRecord(b.Context(), r); err != nil {
		b.Fatal(err)
	}
	req, _ := ids.New(ids.Request, rand.Reader)
	if err := s.StageRecord(b.Context(), id, store.Staging{
		Size: 1, ContentSHA256: randomBytes(32), BlobName: id, Input: randomBytes(32),
		DeviceKeyID: "00112233445566778899aabbccddeeff", RequestID: req, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkGetRecord is the baseline: one read by id.
func BenchmarkGetRecord(b *testing.B) {
	s := openStore(b)
	u := newTestUser(b)
	r := benchRecord(b, s, u)
	for b.Loop() {
		if _, err := s.GetRecord(b.Context(), r.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealRecord is one conditional transition (findOneAndUpdate).
func BenchmarkSealRecord(b *testing.B) {
	s := openStore(b)
	u := newTestUser(b)
	dev, _ := ids.New(ids.Device, rand.Reader)
	seal := store.Seal{WrappedDEK: randomBytes(60), SealedAt: time.Now(),
		Approval: store.Approval{DeviceID: dev, Statement: randomBytes(300), Signature: randomBytes(64)}}
	records := make([]*store.Record, 0, 1000)
	i := 0
	for b.Loop() {
		if i == len(records) {
			b.StopTimer()
			records, i = records[:0], 0
			for range cap(records) {
				records = append(records, benchRecord(b, s, u))
			}
			b.StartTimer()
		}
		if err := s.SealRecord(b.Context(), records[i].ID, seal, time.Now()); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAppendAudit is a read of the last entry and an insert.
func BenchmarkAppendAudit(b *testing.B) {
	s := openStore(b)
	u := newTestUser(b)
	e := &store.AuditEntry{UserID: u.ID, Event: store.EventRecordCreated, Actor: u.ClientID, At: time.Now()}
	for b.Loop() {
		if _, err := s.AppendAudit(b.Context(), e); err != nil {
			b.Fatal(err)
		}
	}
}

const benchBlobSize = 4 << 20

// BenchmarkBlobRead/driver is the baseline: the driver's GridFSBucket
// reading the blob this package wrote, against this package's reader.
func BenchmarkBlobRead(b *testing.B) {
	s := openStore(b)
	data := randomBytes(benchBlobSize)
	writeBlob(b, s.Blobs(), "bench", data)
	b.Run("driver", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		bucket := s.db.GridFSBucket(optionsBucket())
		for b.Loop() {
			if n, err := bucket.DownloadToStreamByName(b.Context(), "bench", io.Discard); err != nil || n != benchBlobSize {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		for b.Loop() {
			r, err := s.Blobs().Open(b.Context(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != benchBlobSize {
				b.Fatal(n, err)
			}
			r.Close()
		}
	})
}

// BenchmarkBlobWrite/driver is the baseline: the driver's GridFSBucket
// upload, against this package's staged write, close and commit.
func BenchmarkBlobWrite(b *testing.B) {
	s := openStore(b)
	data := randomBytes(benchBlobSize)
	b.Run("driver", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		bucket := s.db.GridFSBucket(optionsBucket().SetName("driver"))
		for b.Loop() {
			if _, err := bucket.UploadFromStream(b.Context(), "bench", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		n := 0
		for b.Loop() {
			n++
			w, err := s.Blobs().Stage(b.Context(), fmt.Sprintf("bench-%d", n))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			if err := s.Blobs().Commit(b.Context(), fmt.Sprintf("bench-%d", n)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
