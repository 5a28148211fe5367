package server

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/store"
)

// Scopes of a third party's API key.
const (
	ScopeUsersAdmin    = "users:admin"    // create users, issue enrollment codes, read audit chains
	ScopeRecordsWrite  = "records:write"  // create records and upload their content
	ScopeRecordsAccess = "records:access" // read record metadata and ask to open records
)

// AllScopes lists every scope, in the order `assent admin` shows them.
var AllScopes = []string{ScopeUsersAdmin, ScopeRecordsWrite, ScopeRecordsAccess}

// API keys are "assent_<prefix>_<secret>": a 12-character lookup prefix
// (non-secret, random) and 52 characters of 32 random bytes, both lowercase
// base32. Only the prefix and the SHA-256 of the whole key are stored.
const (
	apiKeyTag       = "assent_"
	apiKeyPrefixLen = 12
	apiKeySecretLen = 52
	apiKeyLen       = len(apiKeyTag) + apiKeyPrefixLen + 1 + apiKeySecretLen
	apiKeyRandom    = 32
)

var lowerB32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ParseScopes parses a comma-separated scope list: each scope known, none
// repeated, at least one. It returns them sorted as in AllScopes.
func ParseScopes(list string) ([]string, error) {
	var scopes []string
	for s := range strings.SplitSeq(list, ",") {
		s = strings.TrimSpace(s)
		switch {
		case !slices.Contains(AllScopes, s):
			return nil, fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(AllScopes, ", "))
		case slices.Contains(scopes, s):
			return nil, fmt.Errorf("scope %q given twice", s)
		}
		scopes = append(scopes, s)
	}
	slices.SortFunc(scopes, func(a, b string) int {
		return slices.Index(AllScopes, a) - slices.Index(AllScopes, b)
	})
	return scopes, nil
}

// CreateClient registers a third party named name with scopes and returns
// its API key, which exists nowhere else: print it once, then drop it. The
// store keeps only the key's prefix and SHA-256. It fails for an empty or
// oversize name or an unknown scope, if rand fails, and with the store's
// error (wrapping store.ErrUnavailable, or store.ErrConflict in the
// unlikely case of a prefix collision).
func CreateClient(ctx context.Context, st store.Store, rand io.Reader, now time.Time, name string, scopes []string) (key string, client *store.Client, err error) {
	if name == "" || len(name) > store.MaxTextLen {
		return "", nil, fmt.Errorf("client name must be 1 to %d bytes", store.MaxTextLen)
	}
	if len(scopes) == 0 {
		return "", nil, fmt.Errorf("a client needs at least one scope")
	}
	for _, s := range scopes {
		if !slices.Contains(AllScopes, s) {
			return "", nil, fmt.Errorf("unknown scope %q", s)
		}
	}
	id, err := ids.New(ids.Client, rand)
	if err != nil {
		return "", nil, err
	}
	var prefixBytes [8]byte
	if _, err := io.ReadFull(rand, prefixBytes[:]); err != nil {
		return "", nil, fmt.Errorf("reading randomness: %w", err)
	}
	secretBytes := make([]byte, apiKeyRandom)
	defer secret.Clear(secretBytes)
	if _, err := io.ReadFull(rand, secretBytes); err != nil {
		return "", nil, fmt.Errorf("reading randomness: %w", err)
	}
	prefix := lowerB32.EncodeToString(prefixBytes[:])[:apiKeyPrefixLen]
	key = apiKeyTag + prefix + "_" + lowerB32.EncodeToString(secretBytes)
	sum := sha256.Sum256([]byte(key))
	client = &store.Client{
		ID:        id,
		Name:      name,
		KeyPrefix: prefix,
		KeyHash:   sum[:],
		Scopes:    slices.Clone(scopes),
		CreatedAt: wire(now),
	}
	if err := st.CreateClient(ctx, client); err != nil {
		return "", nil, err
	}
	return key, client, nil
}

// apiKeyPrefix returns the lookup prefix of a well-formed API key.
func apiKeyPrefix(key string) (string, bool) {
	if len(key) != apiKeyLen || !strings.HasPrefix(key, apiKeyTag) {
		return "", false
	}
	rest := key[len(apiKeyTag):]
	prefix, sec := rest[:apiKeyPrefixLen], rest[apiKeyPrefixLen+1:]
	if rest[apiKeyPrefixLen] != '_' || !isLowerB32(prefix) || !isLowerB32(sec) {
		return "", false
	}
	return prefix, true
}

func isLowerB32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
