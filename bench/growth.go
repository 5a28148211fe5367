package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/sqlite"
	"github.com/assent-dev/assent/threshold"
)

// recordsPerFillerUser spreads the filler records over users, as a store
// of many users would hold them.
const recordsPerFillerUser = 1000

// runGrowth measures part 5's time per record as the store fills: at each
// of GrowthSizes, GrowthSamples records go through the store alone
// (CreateRecord, StageRecord, SealRecord on the production setting,
// synchronous=FULL) and through the whole server (create, upload, device
// approval, sealed), one at a time. The store is filled in between straight
// through the Store interface with sealed records, each with its request
// and its four audit entries, as the server leaves them.
//
// Each sample on the growing store alternates with one on a reference
// store that stays at the first size, with its own server: the baseline of
// each row is measured in the same minutes as the row, so that a change in
// the machine's other load is not mistaken for growth.
func (b *runner) runGrowth(ctx context.Context) (err error) {
	grow, err := b.newGrowthStore(ctx, "growth")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, grow.close()) }()
	ref, err := b.newGrowthStore(ctx, "growth-reference")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ref.close()) }()
	first := b.cfg.GrowthSizes[0]
	if err := b.fill(ctx, ref, first, "the reference store"); err != nil {
		return err
	}
	for _, size := range b.cfg.GrowthSizes {
		if err := b.fill(ctx, grow, size, "the store"); err != nil {
			return err
		}
		var storeMs, storeRef, sealMs, sealRef []float64
		for i := range b.cfg.GrowthSamples {
			b.prog.tick("part 5/6 growth: timing at %d records, %d/%d", size, i+1, b.cfg.GrowthSamples)
			for _, g := range []struct {
				s           *growthStore
				store, seal *[]float64
			}{{grow, &storeMs, &sealMs}, {ref, &storeRef, &sealRef}} {
				ms, err := g.s.timeStoreOps(ctx)
				if err != nil {
					return err
				}
				*g.store = append(*g.store, ms)
				if ms, err = g.s.timeSeal(ctx, i); err != nil {
					return err
				}
				*g.seal = append(*g.seal, ms)
			}
		}
		baseline := fmt.Sprintf("a store of about %d records, interleaved", first)
		note := fmt.Sprintf("median of %d", b.cfg.GrowthSamples)
		b.res.add(Row{ID: fmt.Sprintf("growth/store/%d", size), Part: PartGrowth,
			Name:  fmt.Sprintf("store CreateRecord + StageRecord + SealRecord, store holding %d records", size),
			Value: percentile(storeMs, 50), Unit: UnitMillisEach, Baseline: percentile(storeRef, 50), BaselineName: baseline,
			Note: note + ", SQLite synchronous=FULL"})
		b.res.add(Row{ID: fmt.Sprintf("growth/seal/%d", size), Part: PartGrowth,
			Name:  fmt.Sprintf("seal through the server (create, upload, approve, sealed), store holding %d records", size),
			Value: percentile(sealMs, 50), Unit: UnitMillisEach, Baseline: percentile(sealRef, 50), BaselineName: baseline,
			Note: note + ", one at a time"})
	}
	return nil
}

// growthStore is a server child with one simulated device, and two handles
// on its store: one to fill it fast (synchronous=NORMAL), one on the
// production setting to time store operations.
type growthStore struct {
	srv        *serverProc
	api        *apiClient
	devs       []*simDevice
	fill, prod *sqlite.Store
	filler     *filler
	held       int // records in the store
}

func (b *runner) newGrowthStore(ctx context.Context, name string) (g *growthStore, err error) {
	g = &growthStore{}
	defer func() {
		if err != nil {
			err = errors.Join(err, g.close())
		}
	}()
	if g.srv, g.api, err = b.startWithClient(ctx, name, benchServerConfig(0, 16)); err != nil {
		return g, err
	}
	if g.devs, err = b.newUserDevices(ctx, g.api, "part 5/6 "+name, 1, g.srv.dataDir, true); err != nil {
		return g, err
	}
	if g.fill, err = sqlite.OpenOptions(ctx, g.srv.dataDir, sqlite.Options{SyncNormal: true}); err != nil {
		return g, err
	}
	if g.prod, err = sqlite.Open(ctx, g.srv.dataDir); err != nil {
		return g, err
	}
	g.filler, err = newFiller(ctx, g.fill)
	return g, err
}

func (g *growthStore) close() error {
	var errs []error
	errs = append(errs, closeAll(g.devs))
	for _, st := range []*sqlite.Store{g.fill, g.prod} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if g.srv != nil {
		errs = append(errs, g.srv.stop())
	}
	return errors.Join(errs...)
}

// fill adds filler records to g until it holds size.
func (b *runner) fill(ctx context.Context, g *growthStore, size int, what string) error {
	for ; g.held < size; g.held++ {
		if err := g.filler.add(ctx); err != nil {
			return fmt.Errorf("filling %s: %w", what, err)
		}
		b.prog.tick("part 5/6 growth: filling %s %d/%d records", what, g.held+1, size)
	}
	return nil
}

// timeStoreOps times create, stage and seal of one record straight on the
// store, in milliseconds.
func (g *growthStore) timeStoreOps(ctx context.Context) (float64, error) {
	r, stg, seal, err := g.filler.record(ctx, time.Now())
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := g.prod.CreateRecord(ctx, r); err != nil {
		return 0, err
	}
	if err := g.prod.StageRecord(ctx, r.ID, stg); err != nil {
		return 0, err
	}
	if err := g.prod.SealRecord(ctx, r.ID, seal, time.Now()); err != nil {
		return 0, err
	}
	g.held++
	return millis(time.Since(t0)), nil
}

// timeSeal times one record sealed through the server, in milliseconds.
func (g *growthStore) timeSeal(ctx context.Context, i int) (float64, error) {
	t0 := time.Now()
	rid, err := g.api.createRecord(ctx, g.devs[0].userID)
	if err != nil {
		return 0, err
	}
	if _, err := g.api.upload(ctx, rid, newContent(approvalContent, uint64(i)), approvalContent); err != nil {
		return 0, err
	}
	if err := g.api.awaitRecord(ctx, rid); err != nil {
		return 0, err
	}
	g.held++
	return millis(time.Since(t0)), nil
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// filler writes sealed records as the server would have left them.
type filler struct {
	st       store.Store
	clientID string
	deviceID string
	keyID    string
	user     string
	ofUser   int // records of user so far
}

func newFiller(ctx context.Context, st store.Store) (*filler, error) {
	cid, err := ids.New(ids.Client, rand.Reader)
	if err != nil {
		return nil, err
	}
	did, err := ids.New(ids.Device, rand.Reader)
	if err != nil {
		return nil, err
	}
	// The filler's third party owns its records; it has no API key anyone
	// knows (a random hash).
	prefix, err := ids.New("f", rand.Reader)
	if err != nil {
		return nil, err
	}
	c := &store.Client{ID: cid, Name: "Bench Filler", KeyPrefix: prefix, KeyHash: random(32),
		Scopes: []string{"records:write"}, CreatedAt: time.Now()}
	if err := st.CreateClient(ctx, c); err != nil {
		return nil, err
	}
	return &filler{st: st, clientID: cid, deviceID: did, keyID: threshold.DeviceKeyID(random(32))}, nil
}

// record returns a new record of the current filler user and what staging
// and sealing it writes, with realistic sizes.
func (f *filler) record(ctx context.Context, now time.Time) (*store.Record, store.Staging, store.Seal, error) {
	if f.user == "" || f.ofUser >= recordsPerFillerUser {
		if err := f.newUser(ctx, now); err != nil {
			return nil, store.Staging{}, store.Seal{}, err
		}
	}
	f.ofUser++
	rid, err := ids.NewRecord(rand.Reader, now)
	if err != nil {
		return nil, store.Staging{}, store.Seal{}, err
	}
	req, err := ids.New(ids.Request, rand.Reader)
	if err != nil {
		return nil, store.Staging{}, store.Seal{}, err
	}
	r := &store.Record{ID: rid, UserID: f.user, ClientID: f.clientID, Title: "filler record",
		ContentType: "application/pdf", Purpose: "benchmark", State: store.RecordAwaitingUpload, CreatedAt: now}
	stg := store.Staging{Size: 1 << 20, ContentSHA256: random(32), BlobName: rid, Input: random(32),
		DeviceKeyID: f.keyID, RequestID: req, ExpiresAt: now.Add(time.Hour)}
	seal := store.Seal{WrappedDEK: random(60), SealedAt: now,
		Approval: store.Approval{DeviceID: f.deviceID, Statement: random(300), Signature: random(64)}}
	return r, stg, seal, nil
}

func (f *filler) newUser(ctx context.Context, now time.Time) error {
	uid, err := ids.New(ids.User, rand.Reader)
	if err != nil {
		return err
	}
	f.user, f.ofUser = uid, 0
	return f.st.CreateUser(ctx, &store.User{ID: uid, ClientID: f.clientID,
		ExternalID: uid, DisplayName: "Filler", ShareWrapped: random(60), ShareVersion: 1, CreatedAt: now})
}

// add writes one sealed record with its answered, processed request and
// its audit entries.
func (f *filler) add(ctx context.Context) error {
	now := time.Now()
	r, stg, seal, err := f.record(ctx, now)
	if err != nil {
		return err
	}
	if err := f.st.CreateRecord(ctx, r); err != nil {
		return err
	}
	if err := f.st.StageRecord(ctx, r.ID, stg); err != nil {
		return err
	}
	q := &store.Request{ID: stg.RequestID, Kind: threshold.KindCreate, UserID: r.UserID, RecordID: r.ID,
		DeviceKeyID: f.keyID, Requester: store.Requester{ID: f.clientID, Name: "Bench Filler"}, Purpose: r.Purpose,
		Record:          store.RequestRecord{Title: r.Title, ContentType: r.ContentType, Size: stg.Size, ContentSHA256: stg.ContentSHA256},
		BlindedElements: [][]byte{random(32)}, State: store.RequestPending, CreatedAt: now, ExpiresAt: stg.ExpiresAt,
		OwnerNode: "filler"}
	if err := f.st.CreateRequest(ctx, q); err != nil {
		return err
	}
	if err := f.st.AnswerRequest(ctx, q.ID, store.Answer{Decision: threshold.DecisionApprove,
		EvaluatedElements: [][]byte{random(32)}, Proof: random(64), Approval: seal.Approval, AnsweredAt: now}, now); err != nil {
		return err
	}
	if err := f.st.MarkProcessed(ctx, q.ID); err != nil {
		return err
	}
	if err := f.st.SealRecord(ctx, r.ID, seal, now); err != nil {
		return err
	}
	details, err := json.Marshal(map[string]any{"device_id": f.deviceID, "statement": seal.Approval.Statement,
		"signature": seal.Approval.Signature})
	if err != nil {
		return err
	}
	for _, e := range []struct {
		event, actor string
		details      []byte
	}{
		{store.EventRecordCreated, f.clientID, nil},
		{store.EventApprovalRequested, "server", nil},
		{store.EventApproved, f.deviceID, details},
		{store.EventRecordSealed, "server", nil},
	} {
		if _, err := f.st.AppendAudit(ctx, &store.AuditEntry{UserID: r.UserID, Event: e.event, Actor: e.actor,
			Subject: r.ID, Details: e.details, At: now}); err != nil {
			return err
		}
	}
	return nil
}

// random returns n random bytes (crypto/rand.Read never fails).
func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// runPending measures part 5's memory per pending request: Pending records
// are uploaded through the server while no device answers, so each holds
// a data key and blinding in the server's memory; the growth of the
// server's live heap (after a collection) and of its RSS is divided by
// their number. One user per 1000 requests, each with an enrolled device.
func (b *runner) runPending(ctx context.Context) (err error) {
	n := b.cfg.Pending
	perUser := min(n, 1000)
	users := (n + perUser - 1) / perUser
	srv, api, err := b.startWithClient(ctx, "pending", benchServerConfig(0, perUser+16))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.stop()) }()
	// The devices never run: the requests stay pending.
	devs, err := b.newUserDevices(ctx, api, "part 5/6 pending", users, srv.dataDir, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeAll(devs)) }()
	// One record through first, so that the heap holds every lazily made
	// structure before the baseline is taken.
	if _, _, err := b.pendingRecords(ctx, api, devs[0].userID, 1, "part 5/6 pending: warm-up"); err != nil {
		return err
	}
	heap0, err := srv.heap()
	if err != nil {
		return err
	}
	rss0, _, rssErr := srv.rss()

	const workers = 8
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n-1; i += workers {
				uid := devs[i%users].userID
				rid, err := api.createRecord(ctx, uid)
				if err == nil {
					_, err = api.upload(ctx, rid, newContent(approvalContent, uint64(i)), approvalContent)
				}
				if err != nil {
					errs[w] = err
					return
				}
				b.prog.tick("part 5/6 pending: %d/%d requests pending", done.Add(1)+1, n)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	pending, err := countPending(ctx, srv.dataDir, devs)
	if err != nil {
		return err
	}
	if pending != n {
		return fmt.Errorf("%d requests pending, want %d", pending, n)
	}
	heap1, err := srv.heap()
	if err != nil {
		return err
	}
	per := (float64(heap1) - float64(heap0)) / float64(n-1)
	b.res.add(Row{ID: "pending/heap-per-request", Part: PartGrowth, Name: "server heap per pending request",
		Value: per / 1024, Unit: UnitKiB, Note: fmt.Sprintf("live heap growth after GC over %d pending", n)})
	row := b.res.add(Row{ID: "pending/heap-10k", Part: PartGrowth, Name: "server heap for 10^4 pending requests",
		Value: per * 10000 / (1 << 20), Unit: UnitMiB})
	if n != 10000 {
		row.Note = fmt.Sprintf("projected from %d", n)
	}
	row.goal("< 64 MiB", row.Value, 64, true)
	if rssErr == nil {
		var rss1 uint64
		rss1, _, rssErr = srv.rss()
		if rssErr == nil {
			b.res.add(Row{ID: "pending/rss-growth", Part: PartGrowth,
				Name:  fmt.Sprintf("server RSS growth with %d pending requests", n),
				Value: (float64(rss1) - float64(rss0)) / (1 << 20), Unit: UnitMiB,
				Note: "includes SQLite's page cache and the Go heap's slack"})
		}
	}
	if rssErr != nil {
		b.res.skip(PartGrowth, "pending/rss-growth", "server RSS growth with pending requests", UnitMiB, rssErr.Error())
	}
	return nil
}

// countPending counts the pending requests of the devices' users in the
// store.
func countPending(ctx context.Context, dir string, devs []*simDevice) (int, error) {
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	total := 0
	for _, d := range devs {
		n, err := st.CountPendingRequests(ctx, d.userID, time.Now())
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
