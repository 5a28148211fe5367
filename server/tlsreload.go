package server

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certReloader serves the certificate last loaded from Config.TLSCert and
// TLSKey, so that a renewed certificate is taken without a restart
// (ReloadTLS, on SIGHUP in `assent serve`): connections in progress keep
// theirs, and no pending request or secret is touched.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// reload loads the files again; on failure the certificate in use stays.
func (r *certReloader) reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("server: loading the TLS certificate: %w", err)
	}
	r.cert.Store(&c)
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// ReloadTLS loads the TLS certificate and key files again; new connections
// get the new certificate, connections in progress and pending work are
// untouched. On failure (the error says why) the certificate in use
// stays. Without TLS it does nothing.
func (s *Server) ReloadTLS() error {
	certs := s.certs.Load()
	if certs == nil {
		s.log.Info("no TLS certificate to reload: the server speaks plain HTTP")
		return nil
	}
	if err := certs.reload(); err != nil {
		s.log.Error("TLS certificate not reloaded; the one in use stays", "error", err)
		return err
	}
	s.log.Info("TLS certificate reloaded", "cert", certs.certFile)
	return nil
}
