// Type declarations of floorgate.js (hand-written; keep them in step).

/** Why a session ended (the `reason` of a logout frame), or `invalid_token`
 * when a call found the session gone before any frame said why. */
export type SignOutReason =
  | 'logout' | 'replaced' | 'evicted' | 'admin' | 'user_suspended' | 'user_deleted'
  | 'pin_reset' | 'device_revoked' | 'expired' | 'idle' | 'invalid_token'

/** For `evicted` and `replaced`: the newer login that ended the session. */
export interface By {
  device_id: string
  warehouse_id: string
  /** RFC 3339, UTC */
  at: string
}

export interface User {
  id: string
  username: string
  first_name: string
  last_name: string
  warehouse_id: string
  /** BCP 47 tag, such as "es" or "pt-BR": switch the app's language to it. */
  language: string
}

export interface Device {
  device_id: string
  device_token: string
  warehouse_id: string
}

/** The session the client holds (kept in its storage). */
export interface Session {
  session_token: string
  session_id: string
  expires_at: string
  pin_change_required: boolean
  user: User
}

export interface LoginResult {
  session_id: string
  expires_at: string
  /** When true the session may only change its PIN (changePin) or log out. */
  pin_change_required: boolean
  user: User
  /** Sessions of this user that the login ended on other devices (cap). */
  evicted: Array<{ session_id: string, device_id: string }>
}

/** GET /v1/session */
export interface SessionView {
  session_id: string
  user: User
  device_id: string
  created_at: string
  expires_at: string
  idle_expires_at: string
  pin_change_required: boolean
}

export interface DeviceInfo {
  serial: string
  model?: string
  os_version?: string
  app_version?: string
  label?: string
}

/** The subset of the Web Storage API the client uses (localStorage fits). */
export interface TokenStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/**
 * - `connecting`: a socket is opening or authenticating
 * - `online`: welcome received
 * - `waiting`: the socket closed; `info.delay` ms until the next attempt
 * - `offline`: not connected and not trying (before connect, after disconnect)
 * - `replaced`: another socket of this device took over (4409); not retried
 * - `unenrolled`: the device must be enrolled again (4403, 4401, invalid
 *   device token, or never enrolled); not retried
 */
export type Status = 'connecting' | 'online' | 'waiting' | 'offline' | 'replaced' | 'unenrolled'

export interface StatusInfo {
  /** the close code that led here, when one did */
  code?: number
  /** ms until the next attempt (status `waiting`) */
  delay?: number
  /** status `unenrolled`: `revoked`, `invalid_token` or `not_enrolled` */
  reason?: string
}

export interface Options {
  /** The device listener, such as "https://floorgate.example". */
  baseUrl: string
  /** Default: baseUrl with ws(s): and /v1/ws. */
  wsUrl?: string
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch
  /** Default: globalThis.WebSocket (in Node 20, pass the `ws` package's). */
  WebSocket?: new (url: string) => WebSocket
  /** Where the device and session tokens live. Default: memory only. */
  storage?: TokenStorage
  /**
   * The user of the held session is signed out: return to the sign-in
   * screen, drop the user's data. The logout is acknowledged to
   * Floorgate only when the returned promise resolves; if it rejects,
   * no ack is sent and the next delivery calls this again.
   */
  onSignedOut?: (reason: SignOutReason, by: By | null) => void | Promise<void>
  /** The held session ends at `at` (about 5 minutes from now). */
  onExpiresSoon?: (at: string) => void
  /** The device must be enrolled again; its token has been dropped. */
  onUnenrolled?: (reason: 'revoked' | 'invalid_token') => void
  onStatus?: (status: Status, info: StatusInfo) => void
  /** onSignedOut rejected. */
  onError?: (err: unknown) => void
  /** Full-jitter backoff: attempt n waits random() * min(max, base * 2^n) ms. */
  reconnectBaseMs?: number
  reconnectMaxMs?: number
  /** Default Math.random. */
  random?: () => number
  /** Per HTTP call. Default 15000. */
  timeoutMs?: number
}

/** An error answer (`status`, `code` as in the protocol), or `status` 0
 * and `code` "network" when no answer came. */
export class FloorgateError extends Error {
  readonly status: number
  readonly code: string
  /** seconds, for 429 too_many_attempts */
  readonly retryAfter?: number
  readonly problem: Record<string, unknown>
}

export function memoryStorage(): TokenStorage

export class FloorgateClient {
  constructor(options: Options)
  readonly baseUrl: string
  readonly wsUrl: string
  readonly status: Status
  readonly device: Device | null
  readonly session: Session | null
  readonly user: User | null
  readonly pinChangeRequired: boolean

  /** POST /v1/enroll as a mobile manager; keeps the device token. */
  enroll(req: { email: string, password: string, warehouseId: string, device: DeviceInfo }): Promise<{ device_id: string, warehouse_id: string }>
  /** POST /v1/login with the device token; keeps the session token. */
  login(username: string, pin: string, opts?: { appVersion?: string }): Promise<LoginResult>
  /** POST /v1/login with a badge's value in place of the username. */
  loginWithBadge(badge: string, pin: string, opts?: { appVersion?: string }): Promise<LoginResult>
  /** POST /v1/pin; clears pinChangeRequired. */
  changePin(currentPin: string, newPin: string): Promise<void>
  /** POST /v1/logout; drops the session (an ended session resolves too). */
  logout(): Promise<void>
  /** GET /v1/session; counts as activity. */
  refresh(): Promise<SessionView>
  /** Opens the device socket and keeps it open (reconnecting) until disconnect(). */
  connect(): void
  disconnect(): void
}
