package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

type enrollResponse struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
	WarehouseID string `json:"warehouse_id"`
}

// enroll is POST /v1/enroll: the body here, then signin's order for a
// mobile manager's email and password (throttled like PINs, with the
// client address as the source), then the warehouse, the role and the
// registration; or, with an enrollment token, signin's order for the
// token (throttled per client address) and the registration in the
// token's warehouse. A replaced registration has its sessions ended
// (device_revoked) and its socket closed with 4403 wherever it is.
func (s *Server) enroll(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req enrollRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	dev := devices.EnrollInput{
		WarehouseID: req.WarehouseID,
		Serial:      req.Device.Serial,
		Model:       req.Device.Model,
		OSVersion:   req.Device.OSVersion,
		AppVersion:  req.Device.AppVersion,
		Label:       req.Device.Label,
	}
	var (
		res signin.Enrolled
		err error
	)
	if req.EnrollmentToken != "" {
		// A malformed token goes through the throttle like a wrong one.
		tok, _ := devices.ParseEnrollmentToken(req.EnrollmentToken)
		res, err = s.signin.EnrollWithToken(ctx, signin.TokenEnrollment{
			Token: tok, WarehouseID: req.WarehouseID, ClientIP: s.cfg.ClientIP(r), Device: dev, Replaced: s.endReplaced,
		})
	} else {
		res, err = s.signin.Enroll(ctx, signin.Enrollment{
			Email:    req.Email,
			Password: req.Password,
			ClientIP: s.cfg.ClientIP(r),
			Device:   dev,
			Replaced: s.endReplaced,
		})
	}
	var ve *devices.ValidationError
	if errors.As(err, &ve) {
		// The registry names the device's fields bare; the body nests them.
		for i, f := range ve.Fields {
			switch f.Field {
			case "serial", "model", "os_version", "app_version", "label":
				ve.Fields[i].Field = "device." + f.Field
			}
		}
	}
	if err != nil {
		return err
	}
	s.activity.note(res.Device.WarehouseID)
	writeJSON(w, http.StatusCreated, enrollResponse{DeviceID: res.Device.ID, DeviceToken: res.Token.Reveal(), WarehouseID: res.Device.WarehouseID})
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
	s.tokens.Drop(deviceID)
	s.hub.revoked(deviceID)
	if err := s.store.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: deviceID, Origin: s.cfg.InstanceID}); err != nil {
		s.log.Error("publish device revocation", slog.String("device_id", deviceID), slog.Any("err", err))
	}
}
