package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// A contest is one race test: setup prepares a trial's fresh objects and
// returns the racers' attempt and a check of the outcome (check may be nil).
type contest struct {
	name  string
	wins  int // how many attempts must succeed; the others fail with ErrConflict
	setup setupFunc
}

// setupFunc prepares a trial for n racers.
type setupFunc = func(t *testing.T, s store.Store, n int) (attempt, check)

// attempt is racer i's try; check verifies the outcome given the winners.
type (
	attempt = func(i int) error
	check   = func(t *testing.T, winners []int)
)

func testRaces(t *testing.T, s store.Store, o Options) {
	for _, c := range append(contests(), sealContest(), openContest()) {
		t.Run(c.name, func(t *testing.T) {
			for trial := range o.trials() {
				runTrial(t, s, o.racers(), c, trial)
			}
		})
	}
	t.Run("AppendAudit", func(t *testing.T) { raceAudit(t, s, o) })
}

// runTrial starts all racers at once and checks that exactly c.wins of them
// succeeded and every other failed with ErrConflict.
func runTrial(t *testing.T, s store.Store, racers int, c contest, trial int) {
	try, verify := c.setup(t, s, racers)
	winners := checkWinners(t, c.name, trial, raceAll(racers, try), c.wins)
	if verify != nil {
		verify(t, winners)
	}
}

func contests() []contest {
	return []contest{
		{"CreateUser same id", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			id := newID(t, ids.User)
			users := make([]*store.User, n)
			for i := range users {
				users[i] = newUser(t, newID(t, ids.Client))
				users[i].ID = id
			}
			return func(i int) error { return s.CreateUser(ctxOf(t), users[i]) },
				func(t *testing.T, w []int) {
					got, err := s.GetUser(ctxOf(t), id)
					want(t, err, nil, "GetUser")
					same(t, got, users[w[0]], "the winner's user")
				}
		}},
		{"CreateUser same external id", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			client, ext := newID(t, ids.Client), newID(t, "ext")
			return func(int) error {
				u := newUser(t, client)
				u.ExternalID = ext
				return s.CreateUser(ctxOf(t), u)
			}, nil
		}},
		{"UseEnrollment", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			e := &store.Enrollment{CodeHash: random(32), UserID: newID(t, ids.User), ExpiresAt: t0.Add(time.Minute)}
			want(t, s.CreateEnrollment(ctxOf(t), e), nil, "CreateEnrollment")
			return func(i int) error {
				_, err := s.UseEnrollment(ctxOf(t), e.CodeHash, t0.Add(time.Duration(i)*time.Second))
				return err
			}, nil
		}},
		{"ConfirmDevice", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			d := newDevice(t, newID(t, ids.User), t0)
			want(t, s.CreateDevice(ctxOf(t), d), nil, "CreateDevice")
			return func(i int) error {
					return s.ConfirmDevice(ctxOf(t), d.ID, store.DeviceActive, newEvidence(), t0.Add(time.Duration(i)*time.Second))
				},
				func(t *testing.T, w []int) {
					got, err := s.GetDevice(ctxOf(t), d.ID)
					want(t, err, nil, "GetDevice")
					same(t, got.ActivatedAt, t0.Add(time.Duration(w[0])*time.Second), "the winner's activation time")
				}
		}},
		{"StageRecord", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			r := newRecord(t, newID(t, ids.User), newID(t, ids.Client), t0)
			want(t, s.CreateRecord(ctxOf(t), r), nil, "CreateRecord")
			stagings := make([]store.Staging, n)
			for i := range stagings {
				stagings[i] = newStaging(t, r.ID, t0.Add(time.Hour))
			}
			return func(i int) error { return s.StageRecord(ctxOf(t), r.ID, stagings[i]) },
				func(t *testing.T, w []int) {
					same(t, getRecord(t, s, r.ID).ContentSHA256, stagings[w[0]].ContentSHA256, "the winner's staging")
				}
		}},
		{"SealRecord or EndRecord", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			r, _ := stagedRecord(t, s, newID(t, ids.User), t0.Add(time.Hour))
			seal := newSeal(t)
			ends := []string{store.RecordSealed, store.RecordRejected, store.RecordExpired}
			return func(i int) error {
					if i%3 == 0 {
						return s.SealRecord(ctxOf(t), r.ID, seal, t0)
					}
					return s.EndRecord(ctxOf(t), r.ID, ends[i%3], t0)
				}, func(t *testing.T, w []int) {
					got := getRecord(t, s, r.ID)
					if got.State != ends[w[0]%3] || (got.WrappedDEK != nil) != (w[0]%3 == 0) {
						t.Fatalf("racer %d won but the record is %s with wrapped DEK %x", w[0], got.State, got.WrappedDEK)
					}
				}
		}},
		{"AnswerRequest or ExpireRequest", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			q := createRequest(t, s, newRequest(t, store.KindCreate, newID(t, ids.User), t0, t0.Add(time.Hour)))
			answers := []store.Answer{newAnswer(t, store.DecisionApprove, t0), newAnswer(t, store.DecisionDeny, t0)}
			states := []string{store.RequestApproved, store.RequestDenied, store.RequestExpired}
			return func(i int) error {
					if i%3 == 2 {
						return s.ExpireRequest(ctxOf(t), q.ID, t0)
					}
					return s.AnswerRequest(ctxOf(t), q.ID, answers[i%3], t0)
				}, func(t *testing.T, w []int) {
					got := getRequest(t, s, q.ID)
					if got.State != states[w[0]%3] || (got.Answer != nil) != (w[0]%3 != 2) {
						t.Fatalf("racer %d won but the request is %s with answer %v", w[0], got.State, got.Answer != nil)
					}
				}
		}},
		{"MarkProcessed", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			q := createRequest(t, s, newRequest(t, store.KindCreate, newID(t, ids.User), t0, t0.Add(time.Hour)))
			want(t, s.AnswerRequest(ctxOf(t), q.ID, newAnswer(t, store.DecisionDeny, t0), t0), nil, "AnswerRequest")
			return func(int) error { return s.MarkProcessed(ctxOf(t), q.ID) }, nil
		}},
		{"OpenSession", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			x := createSession(t, s, newSession(t, newID(t, ids.User), t0, t0.Add(time.Hour)))
			openings := make([]store.SessionOpening, n)
			for i := range openings {
				openings[i] = newOpening(t, t0.Add(2*time.Hour), 1+i)
			}
			return func(i int) error { return s.OpenSession(ctxOf(t), x.ID, openings[i], t0) },
				func(t *testing.T, w []int) {
					got := getSession(t, s, x.ID)
					if got.State != store.SessionOpen || got.DownloadsLeft != 1+w[0] {
						t.Fatalf("racer %d won but the session is %s with %d downloads", w[0], got.State, got.DownloadsLeft)
					}
				}
		}},
		{"EndSession", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			x := openSession(t, s, newID(t, ids.User), t0.Add(time.Hour), 3)
			ends := []string{store.SessionDenied, store.SessionExpired, store.SessionConsumed}
			return func(i int) error { return s.EndSession(ctxOf(t), x.ID, ends[i%3], t0) },
				func(t *testing.T, w []int) {
					if got := getSession(t, s, x.ID).State; got != ends[w[0]%3] {
						t.Fatalf("racer %d won but the session is %s", w[0], got)
					}
				}
		}},
		{"UseDownload last one", 1, useDownloads(1)},
		{"UseDownload five left", 5, useDownloads(5)},
		{"RememberNonce", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
			dev, nonce := newID(t, ids.Device), newID(t, "n")
			return func(int) error { return s.RememberNonce(ctxOf(t), dev, nonce, t0.Add(time.Minute), t0) }, nil
		}},
	}
}

// useDownloads races on a session with n downloads left: exactly n racers
// get one, each a different count of what is left, and the session ends
// consumed.
func useDownloads(downloads int) setupFunc {
	return func(t *testing.T, s store.Store, _ int) (attempt, check) {
		x := openSession(t, s, newID(t, ids.User), t0.Add(time.Hour), downloads)
		var mu sync.Mutex
		var lefts []int
		return func(int) error {
				left, err := s.UseDownload(ctxOf(t), x.ID, t0)
				if err == nil {
					mu.Lock()
					lefts = append(lefts, left)
					mu.Unlock()
				}
				return err
			}, func(t *testing.T, _ []int) {
				slices.Sort(lefts)
				for i, l := range lefts {
					if l != i {
						t.Fatalf("downloads left reported by the winners: %v", lefts)
					}
				}
				if got := getSession(t, s, x.ID); got.State != store.SessionConsumed || got.DownloadsLeft != 0 {
					t.Fatalf("session after all downloads: %s with %d left", got.State, got.DownloadsLeft)
				}
			}
	}
}

// raceAudit appends from all racers at once to one user's chain: every
// append succeeds, and the chain has one entry per append with no fork.
func raceAudit(t *testing.T, s store.Store, o Options) {
	// Each append is a durable write; a few trials show the absence of forks.
	trials := max(1, o.trials()/10)
	for trial := range trials {
		user := newID(t, ids.User)
		errs := raceAll(o.racers(), func(i int) error {
			_, err := s.AppendAudit(ctxOf(t), &store.AuditEntry{
				UserID: user, Event: store.EventContentDelivered, Actor: "server", Subject: fmt.Sprint(i), At: t0,
			})
			return err
		})
		for i, err := range errs {
			want(t, err, nil, "trial %d: AppendAudit %d", trial, i)
		}
		chain := auditChain(t, s, user)
		if len(chain) != len(errs) {
			t.Fatalf("trial %d: chain has %d entries after %d appends", trial, len(chain), len(errs))
		}
		if err := store.VerifyChain(chain); err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		subjects := map[string]bool{}
		for _, e := range chain {
			subjects[e.Subject] = true
		}
		if len(subjects) != len(errs) {
			t.Fatalf("trial %d: chain holds %d distinct appends of %d", trial, len(subjects), len(errs))
		}
	}
}

// raceAll runs f on n goroutines released at once and returns their errors.
func raceAll(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// checkWinners checks that exactly wins racers succeeded and every other
// failed with ErrConflict, and returns the winners' indices.
func checkWinners(t *testing.T, what string, trial int, errs []error, wins int) []int {
	t.Helper()
	var winners []int
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, i)
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("%s trial %d: racer %d: err = %v, want nil or ErrConflict", what, trial, i, err)
		}
	}
	if len(winners) != wins {
		t.Fatalf("%s trial %d: %d of %d racers won (%v), want exactly %d", what, trial, len(winners), len(errs), winners, wins)
	}
	return winners
}
