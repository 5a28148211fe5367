package main

import (
	"bytes"
	"database/sql"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/assent-dev/assent/audit"
	"github.com/assent-dev/assent/store/sqlite"
)

// TestDeviceAuditExitCodes runs `assent device audit` as main does (run's
// exit code) against a real server: 0 for a verified chain, 4 for alerts
// (a recovery enrollment of the user's key that this device did not make),
// 0 again once they were reported, 3 once the server removed an entry and
// hashed the rest again (the head stays pinned where it was, so it stays
// 3), 2 for a usage error.
func TestDeviceAuditExitCodes(t *testing.T) {
	e := newCLIEnv(t)
	ctx := t.Context()
	ks := filepath.Join(e.dir, "phone", "device.key")
	common := []string{"--keystore", ks, "--passphrase-file", e.pass}
	user := e.newUser()
	if out, _, err := e.device(ctx, "", append([]string{"enroll", "--server", e.url, "--code", user.EnrollmentCode}, common...)...); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	audit := func(want int, wantOut ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(append([]string{"device", "audit"}, common...), &out, &errOut)
		text := out.String() + errOut.String()
		if code != want {
			t.Fatalf("device audit exit %d, want %d:\n%s", code, want, text)
		}
		for _, w := range wantOut {
			if !strings.Contains(text, w) {
				t.Errorf("device audit output lacks %q:\n%s", w, text)
			}
		}
		return text
	}
	audit(0, "the chain verifies", "no head was pinned before", "device_enrolled")
	head := regexp.MustCompile(`pinned entry (\d+)`).FindStringSubmatch(audit(0, "it extends the head pinned before"))
	if head == nil {
		t.Fatal("no pinned entry reported")
	}

	// A recovery enrollment with the user's key (a kit holder), while the
	// phone is active: pending, and an alert on the phone.
	out, _, err := e.device(ctx, "", append([]string{"recovery-kit", "--threshold", "2", "--shares", "2"}, common...)...)
	shares := regexp.MustCompile(`share \d of 2: (\S+)`).FindAllStringSubmatch(out, -1)
	if err != nil || len(shares) != 2 {
		t.Fatalf("recovery-kit: %v\n%s", err, out)
	}
	var again cliIDs
	e.api(http.MethodPost, "/v1/users/"+user.UserID+"/enrollment", nil, http.StatusCreated, &again)
	otherKS := filepath.Join(e.dir, "kit-holder", "device.key")
	if out, _, err := e.device(ctx, shares[0][1]+"\n"+shares[1][1]+"\n",
		"recover", "--server", e.url, "--code", again.EnrollmentCode, "--keystore", otherKS, "--passphrase-file", e.pass); err != nil ||
		!strings.Contains(out, "becomes active in 24 hours") {
		t.Fatalf("recover: %v\n%s", err, out)
	}
	audit(exitAuditAlerts, "ALERT", "device_enrolled", "recovery_pending", "did not expect")
	audit(0) // reported once; the head moved past it

	// The server drops the phone's enrollment (entry 2) and hashes the
	// rest again: a chain that verifies on its own, but not the one pinned.
	rewriteUserChain(t, filepath.Join(e.dir, "data", sqlite.FileName), user.UserID, 2)
	text := audit(exitAuditBroken, "REWRITTEN", "does not match what this device verified")
	if strings.Contains(text, "pinned entry") {
		t.Errorf("a rewritten chain was pinned:\n%s", text)
	}
	audit(exitAuditBroken) // and it stays refused

	var out2, errOut bytes.Buffer
	if code := run([]string{"device", "audit", "extra"}, &out2, &errOut); code != 2 {
		t.Errorf("device audit with an argument: exit %d", code)
	}
	if code := run([]string{"device", "audit", "-h"}, &out2, &errOut); code != 0 || !strings.Contains(errOut.String(), "4  verified and pinned, with ALERTS") {
		t.Errorf("device audit -h: exit %d, help lacks the exit codes:\n%s", code, errOut.String())
	}
}

// rewriteUserChain removes entry seq of uid's chain in the SQLite file at
// path and numbers and hashes the rest again, as a server hiding an entry
// would.
func rewriteUserChain(t *testing.T, path, uid string, seq int64) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT event, actor, subject, details, at FROM audit WHERE user_id = ? AND seq <> ? ORDER BY seq`, uid, seq)
	if err != nil {
		t.Fatal(err)
	}
	var chain []*audit.Entry
	for rows.Next() {
		en := &audit.Entry{UserID: uid}
		var at int64
		if err := rows.Scan(&en.Event, &en.Actor, &en.Subject, &en.Details, &at); err != nil {
			t.Fatal(err)
		}
		en.At = time.Unix(at, 0).UTC()
		chain = append(chain, en)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	prev := make([]byte, 32)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`DELETE FROM audit WHERE user_id = ?`, uid); err != nil {
		t.Fatal(err)
	}
	for i, en := range chain {
		en.Seq, en.PrevHash = int64(i+1), prev
		if en.Hash, err = audit.Hash(en); err != nil {
			t.Fatal(err)
		}
		prev = en.Hash
		if _, err := tx.Exec(`INSERT INTO audit (user_id, seq, event, actor, subject, details, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			uid, en.Seq, en.Event, en.Actor, en.Subject, en.Details, at(en), en.PrevHash, en.Hash); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := audit.VerifyChain(chain); err != nil {
		t.Fatalf("the rewritten chain does not verify: %v", err)
	}
}

func at(en *audit.Entry) int64 { return en.At.Unix() }
