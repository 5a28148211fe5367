package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/labstack/echo/v5"
)

// HeaderRequestID carries the id of each request, in the response and in
// every log line about it.
const HeaderRequestID = "X-Request-Id"

const (
	ctxLogger   = "assent.logger"
	ctxLogAttrs = "assent.logattrs"
)

// requestLog gives each request an id and a logger carrying it, and writes
// one line per request: method, route, path, status, size, duration and who
// called. Paths hold only ids; no header, query value or body is logged.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		start := time.Now()
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		id := hex.EncodeToString(b[:])
		c.Response().Header().Set(HeaderRequestID, id)
		log := s.log.With("request_id", id)
		c.Set(ctxLogger, log)
		c.SetLogger(log)

		err := next(c)
		if err != nil {
			// Write the error response now, so the line below has its status.
			s.handleError(c, err)
		}
		status, size := 0, int64(0)
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil {
			status, size = r.Status, r.Size
		}
		attrs := []any{
			"method", c.Request().Method,
			"route", c.Path(),
			"path", c.Request().URL.Path,
			"status", status,
			"bytes", size,
			"duration_ms", time.Since(start).Milliseconds(),
		}
		if extra, ok := c.Get(ctxLogAttrs).([]any); ok {
			attrs = append(attrs, extra...)
		}
		log.Info("request", attrs...)
		return nil
	}
}

// requestLogger returns the request's logger, or fallback outside a request.
func requestLogger(c *echo.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := c.Get(ctxLogger).(*slog.Logger); ok {
		return l
	}
	return fallback
}

// setLogAttrs adds key/value pairs to the request's log line.
func setLogAttrs(c *echo.Context, kv ...any) {
	extra, _ := c.Get(ctxLogAttrs).([]any)
	c.Set(ctxLogAttrs, append(extra, kv...))
}
