package pgtest

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback between a store and the test server, to
// make the server vanish (Cut: every connection reset, new ones refused) or
// go silent (Stall: connections stay open and nothing gets through, as
// behind a dead network path), then come back (Restore) on the same
// address, without touching the server that other tests share.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool
	stalled bool
}

// NewProxy starts a proxy to the test server, stopped when t ends.
func NewProxy(t testing.TB) *Proxy {
	t.Helper()
	u, err := url.Parse(ServerURL())
	if err != nil || u.Host == "" {
		t.Fatalf("$%s must be a postgres:// URL with a host for the proxy tests: %v", EnvURL, err)
	}
	p := &Proxy{t: t, target: u.Host, conns: map[net.Conn]bool{}}
	if err := p.listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Cut)
	return p
}

// URL returns u with its host replaced by the proxy's address.
func (p *Proxy) URL(u string) string {
	p.t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		p.t.Fatal(err)
	}
	pu.Host = p.addr
	return pu.String()
}

func (p *Proxy) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go p.serve(ln)
	return nil
}

func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) pipe(client net.Conn) {
	if !p.track(client) {
		client.Close()
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		client.Close()
		if server != nil {
			server.Close()
		}
		return
	}
	go p.copy(server, client)
	p.copy(client, server)
}

// copy forwards src to dst, dropping what arrives while stalled.
func (p *Proxy) copy(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			stalled := p.stalled
			p.mu.Unlock()
			if !stalled {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes the listener and every connection: the server is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Stall stops forwarding: open connections and new ones get no byte
// through, and nothing is closed.
func (p *Proxy) Stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

// Restore undoes Cut or Stall: the proxy forwards again on its address
// (existing connections stalled meanwhile are closed, since bytes were
// lost on them).
func (p *Proxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	stalled, down := p.stalled, p.ln == nil
	p.stalled = false
	p.mu.Unlock()
	if stalled {
		p.Cut()
		down = true
	}
	if down {
		if err := p.listen(p.addr); err != nil {
			p.t.Fatalf("proxy: listening again on %s: %v", p.addr, err)
		}
	}
}
