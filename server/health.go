package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"
)

type statusJSON struct {
	Status string `json:"status"`
}

// healthz answers 200 while the process serves requests.
func (s *Server) healthz(c *echo.Context) error {
	return c.JSON(http.StatusOK, statusJSON{"ok"})
}

// readyz answers 200 when the store answers within a few seconds, 503
// otherwise.
func (s *Server) readyz(c *echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return failCause(errUnavailable, "the store is not reachable", err)
	}
	return c.JSON(http.StatusOK, statusJSON{"ready"})
}
