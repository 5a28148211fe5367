package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/server/push"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// Deps are what a Server runs on. Store, Blobs and MasterKey are required;
// the rest have defaults. The Server does not close any of them.
type Deps struct {
	Store     store.Store
	Blobs     store.BlobStore
	MasterKey *threshold.MasterKey
	// Hub serves GET /v1/device/events and is notified of every request
	// (nil: New makes one with push.HubOptions{}). Server.Close closes it.
	Hub *push.Hub
	// Notifiers are told of every request besides Hub, each in its own
	// goroutine with a timeout (a webhook, a push relay).
	Notifiers []push.Notifier
	// WebPush, if set, notifies the Web Push subscriptions of the user's
	// devices besides Notifiers, and its VAPID public key is served on
	// GET /v1/device/push-subscription; without it the push-subscription
	// routes answer 404.
	WebPush *push.WebPush
	// Clock returns the current time (time.Now if nil). Tests pass one they
	// control to drive expiry.
	Clock func() time.Time
	// Rand is the source of every key, id and nonce (crypto/rand.Reader if
	// nil). Tests may pass a deterministic one.
	Rand io.Reader
	// Logger receives the server's logs (slog.Default() if nil).
	Logger *slog.Logger
	// NoConsentBaseline, for benchmarks only, adds the route
	// BaselineUploadPath: an upload sealed at once under a key the server
	// holds, with no device, to measure what consent costs. The benchmark's
	// server child sets it; `assent serve` never does, and no Config field
	// or flag reaches it.
	NoConsentBaseline bool
}

// Server is one Assent API node. Its methods are safe for concurrent use.
type Server struct {
	cfg       Config
	store     store.Store
	blobs     store.BlobStore
	master    *threshold.MasterKey
	hub       *push.Hub
	notifiers []push.Notifier
	webPush   *push.WebPush
	clock     func() time.Time
	rand      io.Reader
	log       *slog.Logger
	echo      *echo.Echo
	metrics   *metrics

	pending    *pendingTable   // secrets of pending requests, by request id
	keys       *sessionKeys    // data keys of open sessions, by session id
	changes    *changeNotifier // wakes long polls, by record or session id
	limits     *limiter
	enrolls    *keyedLimiter   // enrollment calls, by client address
	creates    *keyedLimiter   // record creations, by client id
	polls      *pollCounter    // long polls open, by client id
	uploads    *keyLock        // records being uploaded on this node
	nonces     *nonceCache     // device nonces, with Config.SingleNode; else in the store
	baseline   *baselineKeys   // with Deps.NoConsentBaseline
	pushCtx    context.Context // ends at Close, cutting pushes in flight short
	pushCancel context.CancelFunc
	notifyMu   sync.Mutex // orders notifyWG.Add (startPush) before closing is closed
	notifyWG   sync.WaitGroup
	notifySem  chan struct{}
	panics     atomic.Int64                 // recovered panics of background work
	certs      atomic.Pointer[certReloader] // nil without TLS; set by Serve, read by ReloadTLS from another goroutine

	startOnce   sync.Once
	startErr    error
	bgCancel    context.CancelFunc
	bgDone      sync.WaitGroup
	closing     chan struct{} // closed by endStreams: long polls return at once
	streamsOnce sync.Once
	closeOnce   sync.Once
}

// maxNotifyInFlight bounds the notifier goroutines; past it a push is
// dropped (the device still finds the request by listing).
const maxNotifyInFlight = 256

// New returns a Server for cfg (zero fields take their defaults) and deps.
// It fails with ErrConfig for a bad setting or a missing dependency. It
// starts nothing: Serve or Run do, or Start for a server driven through
// Handler alone.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Blobs == nil || deps.MasterKey == nil {
		return nil, fmt.Errorf("%w: a store, a blob store and a master key are required", ErrConfig)
	}
	s := &Server{
		cfg:       cfg,
		store:     deps.Store,
		blobs:     deps.Blobs,
		master:    deps.MasterKey,
		hub:       deps.Hub,
		notifiers: deps.Notifiers,
		webPush:   deps.WebPush,
		clock:     deps.Clock,
		rand:      deps.Rand,
		log:       deps.Logger,
		pending:   newPendingTable(),
		keys:      newSessionKeys(),
		changes:   newChangeNotifier(),
		uploads:   newKeyLock(),
		notifySem: make(chan struct{}, maxNotifyInFlight),
		closing:   make(chan struct{}),
	}
	if cfg.SingleNode {
		s.nonces = newNonceCache()
	}
	s.pushCtx, s.pushCancel = context.WithCancel(context.Background())
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if deps.NoConsentBaseline {
		var err error
		if s.baseline, err = newBaselineKeys(s.rand); err != nil {
			return nil, err
		}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.hub == nil {
		hub, err := push.NewHub(push.HubOptions{})
		if err != nil {
			return nil, err
		}
		s.hub = hub
	}
	s.metrics = newMetrics(s)
	s.store = &meteredStore{Store: s.store, m: s.metrics}
	if s.webPush != nil {
		s.notifiers = append(slices.Clip(s.notifiers), s.webPush)
	}
	s.notifiers = s.metrics.meterNotifiers(s.notifiers)
	s.limits = newLimiter(
		rateSpec{cfg.UserRate, cfg.UserBurst},
		rateSpec{cfg.RequesterRate, cfg.RequesterBurst},
		rateSpec{cfg.UserRequesterRate, cfg.UserRequesterBurst},
	)
	s.enrolls = newKeyedLimiter(rateSpec{cfg.EnrollRate, cfg.EnrollBurst})
	s.creates = newKeyedLimiter(rateSpec{cfg.CreateRate, cfg.CreateBurst})
	s.polls = newPollCounter(cfg.MaxLongPollsPerClient)
	s.echo = echo.NewWithConfig(echo.Config{
		Logger:           s.log,
		HTTPErrorHandler: s.handleError,
	})
	s.echo.Pre(s.cors)
	s.echo.Use(s.requestLog, s.metrics.middleware)
	for _, rt := range s.routes() {
		s.echo.Add(rt.method, rt.path, rt.handler, s.routeAuth(rt)...)
	}
	return s, nil
}

// Handler returns the HTTP handler of the whole API. Background work
// (expiry, answers reaching other nodes) runs only after Start. Each
// request body must arrive within Config.ReadTimeout.
func (s *Server) Handler() http.Handler { return s.bodyDeadline(s.echo) }

// bodyDeadline sets the connection's read deadline for a request with a
// body to ReadTimeout from now, so that a client sending it slowly is cut
// off instead of holding a handler (the enrollment routes read their body
// before any credential is checked; signed calls, before the signature
// can be). A request without a body gets none: net/http reads on in the
// background to notice the client leaving, and a deadline there would end
// long polls and event streams. Once a body is read to its end, net/http
// lifts the deadline for that background read; an upload renews its own
// deadline before each read (bodyReader).
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// A writer without deadlines (a test recorder) goes without.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// now is the clock's time on the wire's whole-second UTC grid.
func (s *Server) now() time.Time { return wire(s.clock()) }

// Start checks the master key against the store's (ErrMasterKeyMismatch;
// the first start of a store pins it), expires what an earlier run of this
// node left pending (its secrets died with it; staged blobs are deleted),
// and starts the sweeper, the answer poller and the push relay. It runs
// once; later calls return the first result. It fails for another master
// key, or if the store fails.
func (s *Server) Start(ctx context.Context) error {
	s.startOnce.Do(func() {
		if err := s.checkMasterKey(ctx); err != nil {
			s.startErr = err
			return
		}
		if err := s.reclaim(ctx); err != nil {
			s.startErr = err
			return
		}
		bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.bgCancel = cancel
		s.loop(bg, s.cfg.SweepInterval, "sweeper", s.sweep)
		s.loop(bg, s.cfg.AnswerPollInterval, "answer poller", s.pollAnswers)
		s.loop(bg, s.cfg.PushPollInterval, "push relay", newRelay(s).tick)
	})
	return s.startErr
}

// ErrMasterKeyMismatch is returned by Start when the store's shares are
// wrapped under another master key than this node's.
var ErrMasterKeyMismatch = errors.New("server: the master key is not the one this store's shares are wrapped with")

// checkMasterKey pins this node's master key id in the store on the first
// start of a store, and otherwise checks that it is the pinned one.
func (s *Server) checkMasterKey(ctx context.Context) error {
	id := s.master.ID()
	pinned, err := s.store.PinMasterKeyID(ctx, id)
	if err != nil {
		return fmt.Errorf("server: recording the master key id: %w", err)
	}
	if pinned != id {
		return fmt.Errorf("%w: this node's key has id %s, the store's %s; start with the key the other nodes use (-master-key)", ErrMasterKeyMismatch, id, pinned)
	}
	return nil
}

// loop runs fn every interval until ctx ends.
func (s *Server) loop(ctx context.Context, interval time.Duration, name string, fn func(context.Context) error) {
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.guard(name, func() error { return fn(ctx) }); err != nil && ctx.Err() == nil {
					s.log.Warn(name+" failed; retrying", "error", err)
				}
			}
		}
	}()
}

// errPanicked is what guard returns for a function that panicked.
var errPanicked = errors.New("server: background work panicked")

// guard runs fn, turning a panic into an error: it is logged with its
// stack (which holds no values) and counted (BackgroundPanics), so that one
// bad object cannot end the process that holds every pending secret.
func (s *Server) guard(name string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.panics.Add(1)
			s.log.Error(name+" panicked; continuing", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = errPanicked
		}
	}()
	return fn()
}

// BackgroundPanics is how many times background work (sweeper, answer
// poller, push relay, pushes) panicked and was recovered since New.
func (s *Server) BackgroundPanics() int64 { return s.panics.Load() }

// Close stops the background work, ends event streams and long polls, waits
// for pushes in flight, and clears every secret held in memory (pending
// requests will expire; open sessions can no longer be downloaded). It does
// not close the Deps. Close is idempotent.
func (s *Server) Close() error {
	s.endStreams()
	s.closeOnce.Do(func() {
		if s.bgCancel != nil {
			s.bgCancel()
		}
		s.bgDone.Wait()
		// endStreams closed closing under notifyMu: no push can start
		// any more, so notifyWG only goes down from here.
		s.pushCancel()
		s.notifyWG.Wait()
		if ended := s.endPending(); len(ended) > 0 {
			s.log.Warn("shutdown ended pending requests: their secrets live in this process only", "ended", len(ended))
		} else {
			s.log.Info("shutdown: no pending request ended")
		}
		s.keys.clearAll()
	})
	return nil
}

// endPendingTimeout bounds how long Close spends expiring in the store
// the requests whose secrets it clears; what it leaves, the next start of
// this node (or the sweeper of another) expires.
const endPendingTimeout = 5 * time.Second

// endPending clears every pending secret and expires the requests they
// belonged to, so that their clients learn at once (a record expires and
// its staged blob goes; a session expires). It returns their ids.
func (s *Server) endPending() []string {
	ids := s.pending.clearAll()
	ctx, cancel := context.WithTimeout(context.Background(), endPendingTimeout)
	defer cancel()
	for _, id := range ids {
		q, err := s.store.GetRequest(ctx, id)
		if err != nil || q.State != store.RequestPending {
			continue
		}
		if err := s.expireRequest(ctx, q); err != nil {
			s.log.Debug("expiring a pending request at shutdown failed; the next start expires it", "request_id", id, "error", err)
		}
	}
	return ids
}

// endStreams ends event streams and long polls, which never end by
// themselves, so that a graceful shutdown waits only for real work.
func (s *Server) endStreams() {
	s.streamsOnce.Do(func() {
		// Under notifyMu, so that a startPush that saw closing open has
		// also done its notifyWG.Add before Close waits.
		s.notifyMu.Lock()
		close(s.closing)
		s.notifyMu.Unlock()
		_ = s.hub.Close()
	})
}

// Run listens on Config.Listen and serves until ctx ends (see Serve).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve starts the server (Start), serves the API on ln (TLS when the
// Config has a certificate and key) until ctx ends, then shuts down
// gracefully: event streams and long polls end at once, other requests get
// ShutdownTimeout to finish, and Close runs. It returns nil after a
// shutdown caused by ctx, or the error that stopped serving.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	if err := s.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.TLSCert != "" {
		certs, err := newCertReloader(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return err
		}
		s.certs.Store(certs)
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
	} else if !loopback(ln.Addr()) {
		s.log.Warn("serving plain HTTP on a non-loopback address: API keys, enrollment codes and record content cross the network in clear; use --tls-cert and --tls-key, or a TLS proxy in front", "listen", ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if s.certs.Load() != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	s.endStreams()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown timed out; closing open connections")
		err = srv.Close()
	}
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	s.drain(context.WithoutCancel(ctx))
	return err
}

// loopback reports whether addr is a loopback TCP address (or not TCP: a
// Unix socket or a test listener).
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return true
	}
	return tcp.IP.IsLoopback()
}

// drainPoll is how often drain looks for answers left to process.
const drainPoll = 50 * time.Millisecond

// drain waits, at most DrainTimeout, for the answers already received to
// be processed: those being processed here, and those that reached other
// nodes and wait in the store for this one. New requests no longer arrive
// (the listener is closed), so this ends. What is left when it returns
// loses its secrets in Close.
func (s *Server) drain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	start := time.Now()
	for {
		answered, err := s.store.AnsweredRequests(ctx, s.cfg.NodeID, maxAnswerBatch)
		if err == nil && len(answered) == 0 && !s.pending.anyBusy() {
			if n := time.Since(start); n > drainPoll {
				s.log.Info("answers in flight processed", "took_ms", n.Milliseconds())
			}
			return
		}
		if err == nil {
			_ = s.guard("drain", func() error { return s.pollAnswers(ctx) })
		}
		select {
		case <-ctx.Done():
			s.log.Warn("drain timed out; answers still in flight are lost", "drain_timeout", s.cfg.DrainTimeout.String())
			return
		case <-time.After(drainPoll):
		}
	}
}
