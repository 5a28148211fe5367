package server

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/store"
)

// getUser: GET /v1/users/{uid}, the user as its creating client sees it,
// so that a third party that lost the 201 of POST /v1/users can recover.
func (s *Server) getUser(c *echo.Context) error {
	u, err := s.ownUser(c)
	if err != nil {
		return err
	}
	return s.writeUser(c, u)
}

// findUser: GET /v1/users?external_id=X, the user the calling client
// created with that external id (404 if none: another client's users are
// not found either, so nothing tells one client about another's).
func (s *Server) findUser(c *echo.Context) error {
	q := c.Request().URL.Query()
	ext := q.Get(api.QueryExternalID)
	if len(q) != 1 || len(q[api.QueryExternalID]) != 1 {
		return fail(errBadRequest, "exactly one query parameter is expected: external_id")
	}
	if err := checkText(api.QueryExternalID, ext, true); err != nil {
		return err
	}
	u, err := s.store.UserByExternalID(c.Request().Context(), authClient(c).ID, ext)
	if err != nil {
		return storeFail(err, "user")
	}
	return s.writeUser(c, u)
}

// writeUser answers with u, its state and its active devices.
func (s *Server) writeUser(c *echo.Context, u *store.User) error {
	devs, err := s.store.ActiveDevices(c.Request().Context(), u.ID)
	if err != nil {
		return storeFail(err, "devices")
	}
	out := api.User{
		UserID: u.ID, ExternalID: u.ExternalID, DisplayName: u.DisplayName,
		State: api.UserAwaitingDevice, CreatedAt: u.CreatedAt.UTC(), Devices: []api.DeviceSummary{},
	}
	for _, d := range devs {
		out.State = api.UserActive
		out.Devices = append(out.Devices, api.DeviceSummary{
			DeviceID: d.ID, Name: d.Name, State: d.State, DeviceKeyID: d.KeyID, Platform: d.Platform,
			EnrolledAt: d.ActivatedAt.UTC(),
		})
	}
	return c.JSON(http.StatusOK, out)
}
