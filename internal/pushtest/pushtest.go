// Package pushtest is a Web Push service for tests: an HTTPS server on
// loopback that accepts RFC 8030 message POSTs, checks their VAPID
// authorization (RFC 8292: an ES256 JWT over the key in "k", aud the
// endpoint's origin, exp in the future, sub set) and decrypts their
// payload (RFC 8291 with the aes128gcm content coding of RFC 8188) with
// the private key of the subscription, as a browser would.
package pushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Subscription is one browser's subscription: the endpoint and the keys a
// device registers, and the private key that decrypts its messages.
type Subscription struct {
	Endpoint string
	P256dh   []byte // uncompressed P-256 public key
	Auth     []byte // 16-byte authentication secret
	priv     *ecdh.PrivateKey
	token    string
}

// Message is one push that reached the service and passed its checks.
type Message struct {
	Token     string // the endpoint's last path element
	Plaintext []byte // the decrypted payload, padding removed
	Subject   string // the JWT's sub claim
	VAPIDKey  []byte // the k parameter, decoded
	TTL       string
}

// Service is the push service. Status, if set, answers every POST with
// that status (after the checks) instead of 201.
type Service struct {
	*httptest.Server
	mu       sync.Mutex
	subs     map[string]*Subscription
	status   map[string]int
	messages []Message
	failures []error
}

// New starts a service; Close it when done. Its Client trusts its
// certificate.
func New() *Service {
	s := &Service{subs: map[string]*Subscription{}, status: map[string]int{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// Subscribe makes a new subscription on this service.
func (s *Service) Subscribe() *Subscription {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	token := rand.Text()
	sub := &Subscription{Endpoint: s.URL + "/push/" + token, P256dh: priv.PublicKey().Bytes(), Auth: auth, priv: priv, token: token}
	s.mu.Lock()
	s.subs[token] = sub
	s.mu.Unlock()
	return sub
}

// SetStatus makes the service answer the subscription's POSTs with status.
func (s *Service) SetStatus(sub *Subscription, status int) {
	s.mu.Lock()
	s.status[sub.token] = status
	s.mu.Unlock()
}

// Messages returns the messages received so far.
func (s *Service) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Failures returns the POSTs refused so far, with why.
func (s *Service) Failures() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.failures...)
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	msg, status, err := s.check(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failures = append(s.failures, err)
		http.Error(w, err.Error(), status)
		return
	}
	s.messages = append(s.messages, *msg)
	if st := s.status[msg.Token]; st != 0 {
		w.WriteHeader(st)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Service) check(r *http.Request) (*Message, int, error) {
	token, ok := strings.CutPrefix(r.URL.Path, "/push/")
	s.mu.Lock()
	sub := s.subs[token]
	s.mu.Unlock()
	if r.Method != http.MethodPost || !ok || sub == nil {
		return nil, http.StatusNotFound, errors.New("no such subscription")
	}
	if r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
		return nil, http.StatusBadRequest, errors.New("want Content-Encoding aes128gcm and a TTL")
	}
	subject, key, err := checkVAPID(r.Header.Get("Authorization"), s.URL)
	if err != nil {
		return nil, http.StatusUnauthorized, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil || len(body) > 4096 {
		return nil, http.StatusRequestEntityTooLarge, errors.New("body over 4096 bytes")
	}
	plain, err := Decrypt(body, sub.priv, sub.Auth)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	return &Message{Token: token, Plaintext: plain, Subject: subject, VAPIDKey: key, TTL: r.Header.Get("TTL")}, 0, nil
}

// checkVAPID checks "vapid t=<jwt>, k=<key>" (RFC 8292 section 3).
func checkVAPID(header, origin string) (subject string, key []byte, err error) {
	rest, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return "", nil, errors.New("authorization is not vapid")
	}
	var t, k string
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "t="); ok {
			t = v
		} else if v, ok := strings.CutPrefix(part, "k="); ok {
			k = v
		}
	}
	key, err = base64.RawURLEncoding.DecodeString(k)
	if err != nil {
		return "", nil, fmt.Errorf("vapid k: %w", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
	if err != nil {
		return "", nil, fmt.Errorf("vapid k: %w", err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(t, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(origin), jwt.WithExpirationRequired(), jwt.WithLeeway(time.Second))
	if err != nil {
		return "", nil, fmt.Errorf("vapid jwt: %w", err)
	}
	exp, _ := claims.GetExpirationTime()
	if exp.After(time.Now().Add(24 * time.Hour)) {
		return "", nil, errors.New("vapid jwt: exp more than 24 hours ahead (RFC 8292 section 2)")
	}
	subject, _ = claims["sub"].(string)
	if !strings.HasPrefix(subject, "mailto:") && !strings.HasPrefix(subject, "https:") {
		return "", nil, errors.New("vapid jwt: sub is not a mailto: or https: URL")
	}
	return subject, key, nil
}

// Decrypt opens an aes128gcm body (RFC 8188) sent to the subscription of
// priv and auth, deriving the key as RFC 8291 section 3.4 says, and returns
// the plaintext without its padding. It accepts one record only, as Web
// Push sends.
func Decrypt(body []byte, priv *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	// Header: salt(16) || rs(4) || idlen(1) || keyid(idlen), the keyid
	// being the sender's ephemeral public key.
	if len(body) < 21 {
		return nil, errors.New("aes128gcm: short header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, errors.New("aes128gcm: keyid is not a P-256 point")
	}
	senderPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, fmt.Errorf("aes128gcm: keyid: %w", err)
	}
	record := body[21+idlen:]
	if rs < 18 || uint32(len(record)) > rs || len(record) < 17 {
		return nil, errors.New("aes128gcm: record size")
	}
	shared, err := priv.ECDH(senderPub)
	if err != nil {
		return nil, err
	}
	// RFC 8291 section 3.4: IKM from the ECDH secret, keyed by auth.
	info := append(append([]byte("WebPush: info\x00"), priv.PublicKey().Bytes()...), senderPub.Bytes()...)
	ikm, err := hkdf.Key(sha256.New, shared, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, record, nil)
	if err != nil {
		return nil, fmt.Errorf("aes128gcm: %w", err)
	}
	// The last record ends with the delimiter 0x02, then zero padding.
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("aes128gcm: no last-record delimiter")
	}
	return plain[:end], nil
}
