package server

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
)

// openAPI: GET /v1/openapi.json, the OpenAPI 3.1 document of this API.
func (s *Server) openAPI(c *echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "application/json", api.OpenAPIJSON)
}
