package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/version"
)

// healthz answers 200 while the process serves requests, with the build's
// version.
func (s *Server) healthz(c *echo.Context) error {
	return c.JSON(http.StatusOK, api.Health{Status: "ok", Version: version.String()})
}

// readyz answers 200 when the store answers within a few seconds, 503
// otherwise.
func (s *Server) readyz(c *echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return failCause(errUnavailable, "the store is not reachable", err)
	}
	return c.JSON(http.StatusOK, api.Health{Status: "ready"})
}
