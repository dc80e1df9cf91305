package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/throttle"
)

type enrollResponse struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
	WarehouseID string `json:"warehouse_id"`
}

// mayEnroll reports whether m holds admin, or mobile_manager on the
// warehouse.
func mayEnroll(m devices.Manager, warehouseID string) bool {
	for _, r := range m.Roles {
		if r.Role == devices.RoleAdmin || r.Role == devices.RoleMobileManager && r.WarehouseID == warehouseID {
			return true
		}
	}
	return false
}

// enroll is POST /v1/enroll: a mobile manager's email and password,
// throttled like PINs (subject "mgr:"+email key, source the client
// address), then the warehouse, then the role, then the registration.
// A replaced registration has its sessions ended (device_revoked) and
// its socket closed with 4403 wherever it is.
func (s *Server) enroll(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req enrollRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	emailKey, err := devices.EmailKey(req.Email)
	if err != nil {
		return err // a *ValidationError naming "email": 400
	}
	set, err := s.reg.Settings(ctx)
	if err != nil {
		return unavailable(fmt.Errorf("settings: %w", err))
	}
	limits := limitsOf(set.Throttle)
	// The source here is a client address, not a device: an address is
	// never quarantined (colleagues behind one NAT would lock each other
	// out), and there is no warehouse for the spray alarm. The delays per
	// (email, address) and the locks per email still hold. The "ip:"
	// source is the one the admin API's sign-in uses, so both share them.
	limits.DeviceFailures, limits.DeviceWindow = 0, 0
	limits.SprayUsers, limits.SprayWindow = 0, 0
	ip := s.cfg.ClientIP(r)
	attempt := throttle.Attempt{Subject: "mgr:" + emailKey, Source: "ip:" + ip}
	// Per subject only: managers behind one NAT address enroll at once.
	done, err := s.claimAttempt(attempt, false)
	if err != nil {
		return err
	}
	defer done()
	if err := s.checkThrottle(ctx, attempt, limits); err != nil {
		return err
	}

	release, err := s.acquireHash(ctx)
	if err != nil {
		return err
	}
	m, err := s.reg.AuthenticateManager(ctx, req.Email, req.Password)
	release()
	// The hash has decided: the failure count or the throttle reset, the
	// enrollment and the audit finish even if the client disconnects.
	ctx, cancel := s.decided(ctx)
	defer cancel()
	failure := func(reason, subject string) devices.Event {
		return devices.Event{Actor: devices.ActorSystem, Action: "enroll.failure", Subject: subject,
			WarehouseID: req.WarehouseID, Details: map[string]string{"reason": reason, "remote_addr": ip}}
	}
	switch {
	case errors.Is(err, devices.ErrInvalidCredentials):
		if ferr := s.countFailure(ctx, attempt, limits, "address:"+ip); ferr != nil {
			return ferr
		}
		s.audit(ctx, failure(CodeInvalidCredentials, "email:"+emailKey))
		return devices.ErrInvalidCredentials
	case errors.Is(err, devices.ErrDisabled):
		s.succeed(ctx, attempt)
		s.audit(ctx, failure(CodeAccountDisabled, devices.ManagerActor(m.ID)))
		return devices.ErrDisabled
	case err != nil:
		return unavailable(fmt.Errorf("authenticate manager: %w", err))
	}
	s.succeed(ctx, attempt)

	// An unknown warehouse is 400 invalid_request (API.md) for every
	// authenticated manager, whatever their roles: the check comes before
	// the role check, so a mobile manager who mistypes the warehouse is
	// told so rather than refused. Only a manager whose password is right
	// gets this far.
	if _, err := s.reg.Warehouse(ctx, req.WarehouseID); errors.Is(err, devices.ErrNotFound) {
		return invalidFields(problem.FieldError{Field: "warehouse_id", Code: "unknown", Message: "no such warehouse"})
	} else if err != nil {
		return unavailable(fmt.Errorf("warehouse %s: %w", req.WarehouseID, err))
	}
	if !mayEnroll(m, req.WarehouseID) {
		s.audit(ctx, failure(CodeForbidden, devices.ManagerActor(m.ID)))
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "mobile_manager on this warehouse is required"}
	}

	d, tok, replaced, err := s.reg.Enroll(ctx, m.ID, devices.EnrollInput{
		WarehouseID: req.WarehouseID,
		Serial:      req.Device.Serial,
		Model:       req.Device.Model,
		OSVersion:   req.Device.OSVersion,
		AppVersion:  req.Device.AppVersion,
		Label:       req.Device.Label,
	})
	var ve *devices.ValidationError
	switch {
	case errors.As(err, &ve):
		for i, f := range ve.Fields {
			switch f.Field {
			case "serial", "model", "os_version", "app_version", "label":
				ve.Fields[i].Field = "device." + f.Field
			}
		}
		return err
	case errors.Is(err, devices.ErrNotFound):
		return invalidFields(problem.FieldError{Field: "warehouse_id", Code: "unknown", Message: "no such warehouse"})
	case err != nil:
		return unavailable(fmt.Errorf("enroll: %w", err))
	}
	s.activity.note(d.WarehouseID)
	if replaced != nil {
		s.endReplaced(ctx, replaced.ID)
	}
	writeJSON(w, http.StatusCreated, enrollResponse{DeviceID: d.ID, DeviceToken: tok.Reveal(), WarehouseID: d.WarehouseID})
	return nil
}

// endReplaced ends the sessions of a registration that a re-enrollment
// replaced and tells every instance to close its socket (4403). The new
// registration is already committed and the old device token no longer
// authenticates, so a failure here is logged rather than answered: the
// sessions left behind end at their idle timeout, and an admin can end
// them from the device's page.
func (s *Server) endReplaced(ctx context.Context, deviceID string) {
	if _, err := s.store.EndDevice(ctx, deviceID, sessions.ReasonDeviceRevoked); err != nil {
		s.log.Error("end sessions of a replaced device", slog.String("device_id", deviceID), slog.Any("err", err))
	}
	s.hub.revoked(deviceID)
	if err := s.store.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: deviceID, Origin: s.cfg.InstanceID}); err != nil {
		s.log.Error("publish device revocation", slog.String("device_id", deviceID), slog.Any("err", err))
	}
}
