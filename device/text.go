package device

import (
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/assent-dev/assent/threshold"
)

// Quote returns s as a double-quoted Go string literal in which every
// control, format or otherwise non-graphic character is escaped, so that
// text from the server (titles, purposes, names) can neither move the
// cursor, recolour the terminal nor pass itself off as the device's own
// words.
func Quote(s string) string { return strconv.QuoteToGraphic(s) }

// WritePrompt writes the human text of a prompt: what is asked, by whom,
// why, and the record, for an access as the ledger describes it, with a
// plain warning when the ledger does not know the record or the server
// describes it differently. Every server string is quoted.
func WritePrompt(w io.Writer, p *Prompt, now time.Time) error {
	var b strings.Builder
	switch p.Kind {
	case threshold.KindCreate:
		fmt.Fprintf(&b, "SEAL a new record? (request %s)\n", p.RequestID)
	default:
		fmt.Fprintf(&b, "OPEN a record? (access request %s)\n", p.RequestID)
	}
	fmt.Fprintf(&b, "  requester: %s (%s)\n", Quote(p.Requester.Name), Quote(p.Requester.ID))
	fmt.Fprintf(&b, "  purpose:   %s\n", Quote(p.Purpose))
	fmt.Fprintf(&b, "  record id: %s\n", p.RecordID)
	switch {
	case p.Kind == threshold.KindCreate:
		writeRecord(&b, "  ", p.Record)
	case p.UnknownToLedger && p.KnownFromChain != nil:
		fmt.Fprintf(&b, "  NOT IN LEDGER, but the audit chain shows its creation approved by your device %s\n", p.KnownFromChain.DeviceID)
		fmt.Fprintf(&b, "  (entry %d, content sha-256 %s). The server describes it as:\n", p.KnownFromChain.Seq, hex.EncodeToString(p.KnownFromChain.ContentSHA256))
		writeRecord(&b, "    ", p.ServerRecord)
		if p.Mismatch {
			fmt.Fprintf(&b, "  WARNING: the server's digest is not the one approved in the chain.\n")
		}
	case p.UnknownToLedger:
		fmt.Fprintf(&b, "  NOT IN LEDGER: this device never approved creating this record, so nothing\n")
		fmt.Fprintf(&b, "  but the server vouches for what it is. The server describes it as:\n")
		writeRecord(&b, "    ", p.ServerRecord)
	default:
		fmt.Fprintf(&b, "  as your ledger knows it:\n")
		writeRecord(&b, "    ", p.Record)
		if p.Mismatch {
			fmt.Fprintf(&b, "  WARNING: the server describes this record differently:\n")
			writeRecord(&b, "    ", p.ServerRecord)
		}
	}
	fmt.Fprintf(&b, "  expires:   %s (in %s)\n", p.ExpiresAt.UTC().Format(time.RFC3339), p.ExpiresAt.Sub(now).Round(time.Second))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeRecord(b *strings.Builder, indent string, r RecordView) {
	fmt.Fprintf(b, "%stitle:     %s\n", indent, Quote(r.Title))
	fmt.Fprintf(b, "%ssize:      %d bytes, %s\n", indent, r.Size, Quote(r.ContentType))
	fmt.Fprintf(b, "%ssha-256:   %s\n", indent, hex.EncodeToString(r.ContentSHA256))
}

// WriteLedger writes the ledger's entries for people: each answer with its
// record, requester, purpose, who decided and what the server said.
func WriteLedger(w io.Writer, entries []*Entry) error {
	outcomes := map[string]*Entry{}
	for _, e := range entries {
		if e.Type == EntryOutcome {
			outcomes[e.RequestID] = e
		}
	}
	var b strings.Builder
	answers := 0
	for _, e := range entries {
		if e.Type == EntryDevice {
			fmt.Fprintf(&b, "%s  DEVICE  %s, signing key %s, verified by this device\n",
				e.At.UTC().Format(time.RFC3339), e.DeviceID, hex.EncodeToString(e.SigningPublicKey))
		}
		if e.Type != EntryAnswer {
			continue
		}
		answers++
		fmt.Fprintf(&b, "%s  %-7s %-6s  %s\n", e.At.UTC().Format(time.RFC3339), strings.ToUpper(e.Decision), e.Kind, e.RequestID)
		fmt.Fprintf(&b, "  record id: %s\n", e.RecordID)
		if e.Record != nil {
			writeRecord(&b, "  ", *e.Record)
		} else {
			fmt.Fprintf(&b, "  (record not in the ledger when asked)\n")
		}
		if e.Requester != nil {
			fmt.Fprintf(&b, "  requester: %s (%s)\n", Quote(e.Requester.Name), Quote(e.Requester.ID))
		}
		fmt.Fprintf(&b, "  purpose:   %s\n", Quote(e.Purpose))
		fmt.Fprintf(&b, "  decided:   %s; statement sha-256 %s\n", decidedBy(e.DecidedBy), hex.EncodeToString(e.StatementSHA256))
		switch o := outcomes[e.RequestID]; {
		case o == nil:
			fmt.Fprintf(&b, "  server:    no reply recorded\n")
		case o.Outcome == OutcomeAccepted:
			fmt.Fprintf(&b, "  server:    accepted (%s)\n", Quote(o.State))
		case o.Error == "conflict":
			fmt.Fprintf(&b, "  server:    refused: answered already (perhaps by this very answer, posted again after a restart)\n")
		default:
			fmt.Fprintf(&b, "  server:    refused (%s)\n", Quote(o.Error))
		}
	}
	fmt.Fprintf(&b, "%d answers, %d lines, hash chain intact.\n", answers, len(entries))
	_, err := io.WriteString(w, b.String())
	return err
}

func decidedBy(s string) string {
	switch s {
	case DecidedByRateLimit:
		return "denied automatically (too many requests in a minute)"
	case DecidedByPolicy:
		return "by you (or --auto-approve)"
	}
	return Quote(s)
}
