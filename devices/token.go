package devices

import "github.com/floorgate/floorgate/internal/token"

// Token prefixes of the device protocol.
const (
	DeviceTokenPrefix  = "fgd_"
	ServiceKeyPrefix   = "fgk_"
	ManagerTokenPrefix = "fgm_"
)

// Token is a bearer secret: a device token, a manager token or a service
// key (internal/token: it prints as REDACTED in logs, with %v and in
// JSON; Reveal gives the secret for the one time it is handed out). Make
// one with token.New(prefix), read one with token.Parse(prefix, s).
type Token = token.Token
