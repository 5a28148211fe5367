package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
)

// percentiles reported for every latency.
var percentiles = []float64{50, 95, 99}

// runEndToEnd measures part 4 on a server child with one simulated device
// per user: sealing and opening rates and latencies at each concurrency
// (one user and device per concurrent third-party worker), then upload and
// download rates of large records and the server's peak RSS. With
// Config.OutDir, the server's CPU profile of the sealing and opening runs
// goes to cpu.pprof there.
func (b *runner) runEndToEnd(ctx context.Context) (err error) {
	stores := b.cfg.Stores
	if len(stores) == 0 {
		stores = []string{StoreSQLite}
	}
	if err := b.endToEnd(ctx, stores[0]); err != nil {
		return err
	}
	for _, st := range stores[1:] {
		if err := b.sealRates(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", storeNames[st], err)
		}
	}
	return nil
}

// serverNote says how the end-to-end server of store st runs.
var serverNote = map[string]string{
	StoreSQLite:   "SQLite (synchronous=FULL) and a blob directory",
	StorePostgres: "PostgreSQL (a schema of its own on the given server, synchronous_commit on) with its chunk-row blobs",
}

// sealRates runs the sealing phases alone at every concurrency on store st,
// beside the first store's: their rows carry the store's name.
func (b *runner) sealRates(ctx context.Context, st string) (err error) {
	cfg := benchServerConfig(0, 16)
	drop, err := b.storeConfig(ctx, &cfg, st)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, drop()) }()
	srv, api, err := b.startWithClient(ctx, "e2e-"+st, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.stop()) }()
	b.res.Meta.Server += "; rows naming " + storeNames[st] + ": the same on " + serverNote[st]
	devs, err := b.newUserDevices(ctx, api, "part 4/6 end to end on "+storeNames[st], slices.Max(b.cfg.Concurrency), srv.dataDir, true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeAll(devs)) }()
	for _, c := range b.cfg.Concurrency {
		if _, err := b.sealPhase(ctx, srv, api, devs[:c], st); err != nil {
			return err
		}
	}
	return nil
}

// endToEnd is the whole of part 4 on store st.
func (b *runner) endToEnd(ctx context.Context, st string) (err error) {
	maxC := slices.Max(b.cfg.Concurrency)
	var maxT int64
	if len(b.cfg.Transfers) > 0 {
		maxT = slices.Max(b.cfg.Transfers)
	}
	cfg := benchServerConfig(maxT, 16)
	drop, err := b.storeConfig(ctx, &cfg, st)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, drop()) }()
	srv, api, err := b.startWithClient(ctx, "e2e", cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.stop()) }()
	b.res.Meta.Server = "a child process running server.New on " + serverNote[st] + " on loopback HTTP; " +
		"its CPU time and peak RSS (VmHWM) are its own; simulated devices (device.Agent, approving at once) and third parties run in the parent"
	devs, err := b.newUserDevices(ctx, api, "part 4/6 end to end", maxC, srv.dataDir, true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeAll(devs)) }()

	var peak uint64
	notePeak := func() error {
		_, p, err := srv.rss()
		peak = max(peak, p)
		return err
	}
	rssErr := notePeak() // not on Linux: the RSS rows say so

	profile := ""
	if b.cfg.OutDir != "" {
		profile = filepath.Join(b.cfg.OutDir, FileProfile)
		if _, err := srv.ask("profile-start " + profile); err != nil {
			return err
		}
	}
	for _, c := range b.cfg.Concurrency {
		sealed, err := b.sealPhase(ctx, srv, api, devs[:c], "")
		if err != nil {
			return err
		}
		if err := b.baselinePhase(ctx, srv, api, devs[:c]); err != nil {
			return err
		}
		if err := b.openPhase(ctx, api, devs[:c], sealed); err != nil {
			return err
		}
	}
	if profile != "" {
		if _, err := srv.ask("profile-stop"); err != nil {
			return err
		}
		b.prog.set("part 4/6 end to end: reading the CPU profile")
		b.res.Profile, err = summarizeProfile(ctx, profile)
		if err != nil {
			b.res.fail(PartEndToEnd, "CPU profile summary", err)
		}
	}
	b.storeBound()

	for _, size := range b.cfg.Transfers {
		if err := b.transfer(ctx, srv, api, devs[0], size, notePeak, rssErr); err != nil {
			return err
		}
	}
	if rssErr == nil {
		rssErr = notePeak()
	}
	if rssErr != nil {
		b.res.skip(PartEndToEnd, "e2e/server-peak-rss", "server peak RSS over the whole end-to-end run", UnitMiB, rssErr.Error())
	} else {
		b.res.add(Row{ID: "e2e/server-peak-rss", Part: PartEndToEnd, Name: "server peak RSS over the whole end-to-end run",
			Value: mib(peak), Unit: UnitMiB, Note: "VmHWM of the server process"})
	}
	return nil
}

// sealCPU is what the last sealing phase used of the CPU and the store.
type sealCPU struct {
	c               int
	server, harness float64 // cores
	storeBusy       float64 // percent of the wall time
	// perRecord is the CPU time, server and harness together, per sealed
	// record.
	perRecord time.Duration
}

// storeBound adds the row that says whether sealing at the highest
// concurrency is limited by the store: its single writer is busy nearly all
// the time. The note gives the server's and the harness's CPU use, and the
// share of the server's CPU under the store from the profile when there is
// one.
func (b *runner) storeBound() {
	s := b.sealCPU
	note := fmt.Sprintf("at concurrency %d the server used %.2f and the harness %.2f of %d cores", s.c, s.server, s.harness, runtime.NumCPU())
	for _, p := range b.res.Profile {
		if p.Kind == ProfileStack && p.Name == stackSQLite {
			note += fmt.Sprintf("; %.0f%% of the server's CPU was under the store", p.Percent)
		}
	}
	row := b.res.add(Row{ID: "e2e/store-bound", Part: PartEndToEnd,
		Name:  fmt.Sprintf("sealing limited by the store: its write path busy at concurrency %d", s.c),
		Value: s.storeBusy, Unit: UnitPercent, Note: note})
	met := s.storeBusy >= 80
	row.Goal, row.Met = "store-bound (write path busy >= 80%)", &met
}

// sealPhase runs len(devs) third-party workers for PhaseDuration, each
// sealing records of its own user one after the other, and returns the
// records each sealed. st is empty for the first store of the run, else the
// store whose name the rows carry (and which leaves the store-bound figure
// to the first).
func (b *runner) sealPhase(ctx context.Context, srv *serverProc, api *apiClient, devs []*simDevice, st string) ([][]string, error) {
	c := len(devs)
	sealed := make([][]string, c)
	cpu0, err := srv.cpu()
	if err != nil {
		return nil, err
	}
	self0, err := processCPU()
	if err != nil {
		return nil, err
	}
	m0, err := srv.storeStats()
	if err != nil {
		return nil, err
	}
	lat, elapsed, err := b.phase(ctx, c, "sealed", func(ctx context.Context, w, i int) (time.Duration, error) {
		rid, err := api.createRecord(ctx, devs[w].userID)
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		if _, err := api.upload(ctx, rid, newContent(b.cfg.RecordSize, uint64(i)), b.cfg.RecordSize); err != nil {
			return 0, err
		}
		if err := api.awaitRecord(ctx, rid); err != nil {
			return 0, err
		}
		sealed[w] = append(sealed[w], rid)
		return time.Since(t0), nil
	})
	if err != nil {
		return nil, err
	}
	cpu1, err := srv.cpu()
	if err != nil {
		return nil, err
	}
	self1, err := processCPU()
	if err != nil {
		return nil, err
	}
	m1, err := srv.storeStats()
	if err != nil {
		return nil, err
	}
	use := sealCPU{c: c, server: (cpu1 - cpu0).Seconds() / elapsed.Seconds(), harness: (self1 - self0).Seconds() / elapsed.Seconds(),
		storeBusy: 100 * (m1.busy - m0.busy).Seconds() / elapsed.Seconds(),
		perRecord: (cpu1 - cpu0 + self1 - self0) / time.Duration(max(1, len(lat)))}
	op, on, busyNote := "seal", "", "share of the wall time with a store write in progress; SQLite has one writer"
	sqliteStore := st == "" && (len(b.cfg.Stores) == 0 || b.cfg.Stores[0] == StoreSQLite)
	if st != "" {
		op, on = "seal-"+st, " on "+storeNames[st]
		busyNote = "share of the wall time with at least one store write in progress; " + storeNames[st] + " has many writers"
	} else {
		b.sealCPU = use
	}
	b.addRates(op, "records sealed"+on, fmt.Sprintf("%s records, upload start to sealed", sizeName(b.cfg.RecordSize)), c, lat, elapsed)
	b.res.add(Row{ID: fmt.Sprintf("e2e/%s-server-cpu/c%d", op, c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("server CPU in use while sealing%s, concurrency %d", on, c),
		Value: use.server, Unit: UnitCores,
		Note: "server CPU time / wall time; the rest of the wall time the server waits (fsync, device, clients)"})
	b.res.add(Row{ID: fmt.Sprintf("e2e/%s-harness-cpu/c%d", op, c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("harness CPU in use while sealing%s, concurrency %d", on, c),
		Value: use.harness, Unit: UnitCores, Note: "simulated devices and third parties, this process"})
	b.cpuCeiling(op, "sealed record"+on, "records sealed"+on, c, cpu1-cpu0, self1-self0, len(lat))
	b.res.add(Row{ID: fmt.Sprintf("e2e/%s-store-writes/c%d", op, c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("store writes per sealed record%s, concurrency %d", on, c),
		Value: float64(m1.writes-m0.writes) / float64(len(lat)), Unit: UnitWrites,
		Note: "Store calls that write (a single node: device nonces in memory)"})
	if sqliteStore {
		// The commit counter is SQLite's; PostgreSQL's commits are its own.
		fsyncs := b.res.add(Row{ID: fmt.Sprintf("e2e/seal-fsyncs/c%d", c), Part: PartEndToEnd,
			Name:  fmt.Sprintf("fsyncs per sealed record, concurrency %d", c),
			Value: float64(m1.commits-m0.commits) / float64(len(lat)), Unit: UnitFsyncs,
			Note: "SQLite commits with changes (synchronous=FULL: one WAL fsync each) per sealed record; group commit shares them"})
		if c == goalConcurrency {
			fsyncs.goal("<= 0.5", fsyncs.Value, 0.5, true)
		}
	}
	b.res.add(Row{ID: fmt.Sprintf("e2e/%s-store-busy/c%d", op, c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("store write path busy while sealing%s, concurrency %d", on, c),
		Value: use.storeBusy, Unit: UnitPercent, Note: busyNote})
	return sealed, nil
}

// cpuCeiling adds the CPU that one record of a phase cost, the server's
// and this process's (the harness: simulated devices and third parties,
// on the same cores), and the rate that the machine's cores would allow at
// that cost if nothing but CPU limited it: a rate goal above the ceiling
// cannot be met on this machine by tuning the waits (fsync, the store's
// writer, scheduling), only by spending less CPU per record.
func (b *runner) cpuCeiling(op, what, whats string, c int, server, harness time.Duration, n int) {
	if n == 0 {
		return
	}
	per := (server + harness) / time.Duration(n)
	b.res.add(Row{ID: fmt.Sprintf("e2e/%s-cpu-per-record/c%d", op, c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("CPU per %s, server and harness, concurrency %d", what, c),
		Value: micros(per), Unit: UnitMicros,
		Note: fmt.Sprintf("server %.0f µs + harness %.0f µs", micros(server/time.Duration(n)), micros(harness/time.Duration(n)))})
	b.res.add(Row{ID: fmt.Sprintf("e2e/%s-cpu-ceiling/c%d", op, c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("CPU-bound ceiling: %s per second that %d cores allow at that CPU per record, concurrency %d", whats, runtime.NumCPU(), c),
		Value: float64(runtime.NumCPU()) / per.Seconds(), Unit: UnitPerSecond,
		Note: "cores / CPU per record; the harness shares the cores"})
	b.res.add(Row{ID: fmt.Sprintf("e2e/%s-server-ceiling/c%d", op, c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("server-only ceiling: %s per second that %d cores would allow at the server's CPU per record alone, concurrency %d", whats, runtime.NumCPU(), c),
		Value: float64(runtime.NumCPU()) * float64(n) / server.Seconds(), Unit: UnitPerSecond,
		Note: "cores / server CPU per record: an upper bound for devices and third parties on machines of their own, not a measured rate"})
}

// cpuTimes returns the CPU time the server child and this process have
// used so far.
func cpuTimes(srv *serverProc) (server, self time.Duration, err error) {
	if server, err = srv.cpu(); err != nil {
		return 0, 0, err
	}
	self, err = processCPU()
	return server, self, err
}

// goalConcurrency is the concurrency the sealing goals are set at.
const goalConcurrency = 64

// baselinePhase measures the no-consent baseline right after sealPhase at
// the same concurrency, on the same server, HTTP path, envelope and store:
// records created and uploaded alike, but sealed by the server alone under
// a key it holds (server.BaselineUploadPath, on in the bench child only).
// It adds the baseline's rates and, next to them, Assent's as ratios.
func (b *runner) baselinePhase(ctx context.Context, srv *serverProc, api *apiClient, devs []*simDevice) error {
	c := len(devs)
	cpu0, self0, err := cpuTimes(srv)
	if err != nil {
		return err
	}
	lat, elapsed, err := b.phase(ctx, c, "sealed without consent", func(ctx context.Context, w, i int) (time.Duration, error) {
		rid, err := api.createRecord(ctx, devs[w].userID)
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		err = api.uploadBaseline(ctx, rid, newContent(b.cfg.RecordSize, uint64(i)), b.cfg.RecordSize)
		return time.Since(t0), err
	})
	if err != nil {
		return err
	}
	cpu1, self1, err := cpuTimes(srv)
	if err != nil {
		return err
	}
	b.addRates("baseline", "records sealed without consent (no device; key wrapped under a server key)",
		fmt.Sprintf("%s records, upload start to sealed", sizeName(b.cfg.RecordSize)), c, lat, elapsed)
	b.cpuCeiling("baseline", "record sealed without consent", "records sealed without consent", c, cpu1-cpu0, self1-self0, len(lat))
	if sc := b.sealCPU; sc.c == c && sc.perRecord > 0 && len(lat) > 0 {
		// Both phases CPU-bound, the ratio of their rates is at most the
		// inverse ratio of their CPU per record.
		basePer := (cpu1 - cpu0 + self1 - self0) / time.Duration(len(lat))
		b.res.add(Row{ID: fmt.Sprintf("e2e/seal-vs-baseline-cpu/c%d", c), Part: PartEndToEnd,
			Name:  fmt.Sprintf("CPU per sealed record with consent, concurrency %d", c),
			Value: micros(sc.perRecord), Unit: UnitMicros, Baseline: micros(basePer),
			BaselineName: "no-consent baseline, same run (server and harness)",
			Note:         fmt.Sprintf("on a CPU-bound machine the rate ratio can be at most %.2fx", basePer.Seconds()/sc.perRecord.Seconds())})
		b.cryptoBound(c, basePer, (cpu1-cpu0)/time.Duration(len(lat)))
	}
	rate := b.res.Row(fmt.Sprintf("e2e/seal-rate/c%d", c))
	base := b.res.Row(fmt.Sprintf("e2e/baseline-rate/c%d", c))
	if rate == nil || base == nil {
		return nil
	}
	// Goals go on the rows found before any row is added (add may move them).
	if c == goalConcurrency && b.cfg.RecordSize == 4<<10 {
		rate.goal(">= 600/s", rate.Value, 600, false)
	}
	ratios := []Row{{ID: fmt.Sprintf("e2e/seal-vs-baseline/c%d", c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("records sealed per second with consent, concurrency %d", c),
		Value: rate.Value, Unit: UnitPerSecond, Baseline: base.Value, BaselineName: "no-consent baseline, same run"}}
	for _, p := range percentiles {
		id := fmt.Sprintf("latency/c%d/p%.0f", c, p)
		lr, lb := b.res.Row("e2e/seal-"+id), b.res.Row("e2e/baseline-"+id)
		if lr == nil || lb == nil {
			continue
		}
		if c == goalConcurrency && p == 99 {
			lr.goal("< 100 ms", lr.Value, 100, true)
		}
		ratios = append(ratios, Row{ID: "e2e/seal-vs-baseline-" + id, Part: PartEndToEnd,
			Name:  fmt.Sprintf("seal latency p%.0f with consent, concurrency %d", p, c),
			Value: lr.Value, Unit: UnitMillis, Baseline: lb.Value, BaselineName: "no-consent baseline, same run"})
	}
	for i, r := range ratios {
		row := b.res.add(r)
		if i == 0 && c == goalConcurrency {
			row.goal(">= 0.5x", row.Ratio, 0.5, false)
		}
	}
	return nil
}

// cryptoBound adds what the ratio of sealing rates could be at most if
// consent cost the no-consent baseline's record (basePer, server and
// harness; baseServer, the server's share) plus its threshold
// cryptography alone, measured in part 2 (none: the row is left out): no
// HTTP exchange, JSON or store write of its own. Below 0.5x, no
// implementation of the protocol can reach the goal on records
// this small; on large records the bulk encryption both share dominates.
func (b *runner) cryptoBound(c int, basePer, baseServer time.Duration) {
	if b.sums.create <= 0 || b.sums.device <= 0 {
		return
	}
	all := basePer + b.sums.create + b.sums.device
	b.res.add(Row{ID: fmt.Sprintf("e2e/seal-vs-baseline-crypto-bound/c%d", c), Part: PartEndToEnd,
		Name:  fmt.Sprintf("least CPU a sealed record with consent could cost, concurrency %d: the baseline's record plus the threshold cryptography alone (server verify + finalize + OPRF + wrap, device POPRF evaluate + sign)", c),
		Value: micros(all), Unit: UnitMicros, Baseline: micros(basePer),
		BaselineName: "no-consent baseline, same run (server and harness)",
		Note: fmt.Sprintf("the rate ratio can be at most %.2fx; with the devices on phones, the server's share alone (%.0f + %.0f µs) allows at most %.2fx",
			basePer.Seconds()/all.Seconds(), micros(baseServer), micros(b.sums.create), baseServer.Seconds()/(baseServer+b.sums.create).Seconds())})
}

// openPhase runs len(devs) workers for PhaseDuration, each asking to open
// the records its user sealed, in turn, and downloading each once opened.
func (b *runner) openPhase(ctx context.Context, api *apiClient, devs []*simDevice, sealed [][]string) error {
	c := len(devs)
	for w := range sealed {
		if len(sealed[w]) == 0 {
			return fmt.Errorf("worker %d sealed no record in %s", w, b.cfg.PhaseDuration)
		}
	}
	lat, elapsed, err := b.phase(ctx, c, "opened", func(ctx context.Context, w, i int) (time.Duration, error) {
		rid := sealed[w][i%len(sealed[w])]
		t0 := time.Now()
		sid, _, err := api.requestAccess(ctx, rid)
		if err != nil {
			return 0, err
		}
		if err := api.awaitSession(ctx, sid); err != nil {
			return 0, err
		}
		lat := time.Since(t0)
		n, err := api.download(ctx, sid, b.cfg.RecordSize, nil)
		if err == nil && n != b.cfg.RecordSize {
			err = fmt.Errorf("downloaded %d bytes, want %d", n, b.cfg.RecordSize)
		}
		return lat, err
	})
	if err != nil {
		return err
	}
	b.addRates("open", "access sessions opened", "access request to session open; each session then downloaded", c, lat, elapsed)
	return nil
}

// phase runs c workers for PhaseDuration; op(ctx, worker, i) is one
// operation, returning its latency. It returns the latencies in
// milliseconds and the time until the last worker finished.
func (b *runner) phase(ctx context.Context, c int, verb string, op func(ctx context.Context, w, i int) (time.Duration, error)) ([]float64, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		lat   []float64
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(b.cfg.PhaseDuration)
	for w := range c {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				d, err := op(ctx, w, i)
				mu.Lock()
				if err != nil {
					if first == nil {
						first = fmt.Errorf("concurrency %d, worker %d: %w", c, w, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				lat = append(lat, float64(d)/float64(time.Millisecond))
				n := len(lat)
				mu.Unlock()
				b.prog.tick("part 4/6 end to end: concurrency %d: %d %s", c, n, verb)
			}
		})
	}
	wg.Wait()
	return lat, time.Since(start), first
}

// addRates adds the rate and latency rows of one phase.
func (b *runner) addRates(op, what, how string, c int, lat []float64, elapsed time.Duration) {
	rate := float64(len(lat)) / elapsed.Seconds()
	b.res.Throughput = append(b.res.Throughput, ThroughputPoint{Op: op, Concurrency: c, PerSecond: rate})
	b.res.Latencies = append(b.res.Latencies, LatencySeries{Op: op, Concurrency: c, Millis: lat})
	b.res.add(Row{ID: fmt.Sprintf("e2e/%s-rate/c%d", op, c), Part: PartEndToEnd,
		Name: fmt.Sprintf("%s per second, concurrency %d", what, c), Value: rate, Unit: UnitPerSecond,
		Note: fmt.Sprintf("%d in %.1f s", len(lat), elapsed.Seconds())})
	for _, p := range percentiles {
		b.res.add(Row{ID: fmt.Sprintf("e2e/%s-latency/c%d/p%.0f", op, c, p), Part: PartEndToEnd,
			Name: fmt.Sprintf("%s latency p%.0f, concurrency %d (%s)", op, p, c, how), Value: percentile(lat, p), Unit: UnitMillis})
	}
}

// transferRounds is how many records of a size are transferred: a few of
// the small ones, whose times are short and noisy, one of the largest.
func transferRounds(size int64) int { return int(min(max((256<<20)/size, 1), 5)) }

// transfer uploads, seals, opens and downloads records of size bytes,
// timing each upload and download and taking the server's peak RSS during
// each; the rows give the median rates and the highest peaks.
func (b *runner) transfer(ctx context.Context, srv *serverProc, api *apiClient, dev *simDevice, size int64, notePeak func() error, rssErr error) error {
	name := sizeName(size)
	rounds := transferRounds(size)
	var ups, downs []float64
	var upPeak, downPeak rssSpan
	for i := range rounds {
		up, down, upP, downP, err := b.transferOne(ctx, srv, api, dev, size, notePeak, rssErr, fmt.Sprintf("%s record %d/%d", name, i+1, rounds))
		if err != nil {
			return err
		}
		mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
		ups, downs = append(ups, mbps(up)), append(downs, mbps(down))
		upPeak, downPeak = upPeak.max(upP), downPeak.max(downP)
	}
	note := ""
	if rounds > 1 {
		note = fmt.Sprintf("median of %d", rounds)
	}
	b.res.add(Row{ID: "e2e/upload/" + name, Part: PartEndToEnd, Name: "upload of a " + name + " record (PUT to 202)",
		Value: percentile(ups, 50), Unit: UnitMBps, Note: note})
	b.res.add(Row{ID: "e2e/download/" + name, Part: PartEndToEnd, Name: "download of a " + name + " record (open session, digest checked)",
		Value: percentile(downs, 50), Unit: UnitMBps, Note: note})
	for _, r := range []struct {
		what string
		rss  rssSpan
	}{{"upload", upPeak}, {"download", downPeak}} {
		id := fmt.Sprintf("e2e/%s-rss/%s", r.what, name)
		rowName := fmt.Sprintf("server peak RSS during the %s %s", name, r.what)
		if rssErr != nil {
			b.res.skip(PartEndToEnd, id, rowName, UnitMiB, rssErr.Error())
			continue
		}
		row := b.res.add(Row{ID: id, Part: PartEndToEnd, Name: rowName, Value: mib(r.rss.peak), Unit: UnitMiB,
			Baseline: mib(r.rss.before), BaselineName: "RSS when it started"})
		if r.what == "upload" && size >= 1<<30 {
			row.goal("< 128 MiB", row.Value, 128, true)
		}
	}
	return nil
}

// rssSpan is the server's RSS when a transfer started and its peak during
// the transfer.
type rssSpan struct{ before, peak uint64 }

// max returns the span with the higher peak.
func (r rssSpan) max(o rssSpan) rssSpan {
	if o.peak > r.peak {
		return o
	}
	return r
}

// transferOne uploads, seals, opens and downloads one record, and returns
// the upload and download times and the server's RSS during each.
func (b *runner) transferOne(ctx context.Context, srv *serverProc, api *apiClient, dev *simDevice, size int64,
	notePeak func() error, rssErr error, what string) (up, down time.Duration, upPeak, downPeak rssSpan, err error) {
	b.prog.set("part 4/6 end to end: uploading %s", what)
	rid, err := api.createRecord(ctx, dev.userID)
	if err != nil {
		return 0, 0, rssSpan{}, rssSpan{}, err
	}
	peakDuring := func(run func() error) (rssSpan, error) {
		if rssErr != nil {
			return rssSpan{}, run()
		}
		if err := notePeak(); err != nil {
			return rssSpan{}, err
		}
		if err := srv.resetPeak(); err != nil {
			return rssSpan{}, err
		}
		before, _, err := srv.rss()
		if err != nil {
			return rssSpan{}, err
		}
		if err := run(); err != nil {
			return rssSpan{}, err
		}
		_, p, err := srv.rss()
		return rssSpan{before: before, peak: p}, errors.Join(err, notePeak())
	}
	content := newHashingReader(newContent(size, uint64(size)))
	upPeak, err = peakDuring(func() error {
		t0 := time.Now()
		_, err := api.upload(ctx, rid, content, size)
		up = time.Since(t0)
		return err
	})
	if err != nil {
		return 0, 0, rssSpan{}, rssSpan{}, err
	}
	b.prog.set("part 4/6 end to end: sealing and opening %s", what)
	if err := api.awaitRecord(ctx, rid); err != nil {
		return 0, 0, rssSpan{}, rssSpan{}, err
	}
	sid, _, err := api.requestAccess(ctx, rid)
	if err != nil {
		return 0, 0, rssSpan{}, rssSpan{}, err
	}
	if err := api.awaitSession(ctx, sid); err != nil {
		return 0, 0, rssSpan{}, rssSpan{}, err
	}
	b.prog.set("part 4/6 end to end: downloading %s", what)
	downPeak, err = peakDuring(func() error {
		t0 := time.Now()
		n, err := api.download(ctx, sid, size, content.sum())
		down = time.Since(t0)
		if err == nil && n != size {
			err = fmt.Errorf("downloaded %d bytes, want %d", n, size)
		}
		return err
	})
	if err != nil {
		return 0, 0, rssSpan{}, rssSpan{}, err
	}
	return up, down, upPeak, downPeak, nil
}

// percentile returns the p-th percentile of samples (nearest rank).
func percentile(samples []float64, p float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// mib converts bytes to MiB.
func mib(n uint64) float64 { return float64(n) / (1 << 20) }
