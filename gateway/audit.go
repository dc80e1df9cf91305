package gateway

import (
	"context"
	"log/slog"

	"github.com/floorgate/floorgate/devices"
)

// audit records events; an audit write that fails is logged, not
// answered, because the decision it records has already been taken.
func (s *Server) audit(ctx context.Context, evs ...devices.Event) {
	if len(evs) == 0 {
		return
	}
	if err := s.reg.Record(ctx, evs...); err != nil {
		s.log.Error("audit record failed", slog.String("type", evs[0].Action), slog.Any("err", err))
	}
}
