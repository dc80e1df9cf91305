// Floorgate device protocol client for browser-based handheld apps.
// One ES module, no dependencies. The protocol it speaks is described in
// docs/PROTOCOL.md; what it does for the app is in README.md beside it.

const DEVICE = 'floorgate.device'
const SESSION = 'floorgate.session'
// How long after a welcome that does not show the held session the
// client waits for queued logouts before it asks GET /v1/session.
const SETTLE_MS = 300
// How many handled logout command ids are remembered.
const REMEMBER = 256

/** An answer of Floorgate that is not a success, or no answer at all. */
export class FloorgateError extends Error {
  constructor (status, problem) {
    super(problem.detail || problem.title || 'HTTP ' + status)
    this.name = 'FloorgateError'
    this.status = status // 0: no answer (network, timeout)
    this.code = problem.code || 'unknown'
    this.retryAfter = problem.retry_after
    this.problem = problem
  }
}

/** A Storage (getItem, setItem, removeItem) that lives in memory only. */
export function memoryStorage () {
  const m = new Map()
  return {
    getItem: k => m.has(k) ? m.get(k) : null,
    setItem: (k, v) => { m.set(k, String(v)) },
    removeItem: k => { m.delete(k) }
  }
}

export class FloorgateClient {
  constructor (o) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, '')
    this.wsUrl = o.wsUrl || this.baseUrl.replace(/^http/, 'ws') + '/v1/ws'
    this._fetch = o.fetch || ((...a) => globalThis.fetch(...a))
    this._WS = o.WebSocket || globalThis.WebSocket
    this._store = o.storage || memoryStorage()
    this._o = o
    this._random = o.random || Math.random
    this._base = o.reconnectBaseMs ?? 500
    this._max = o.reconnectMaxMs ?? 30000
    this._timeout = o.timeoutMs ?? 15000
    this._acks = new Map() // command_id -> promise of the app's sign-out
    this._ending = null // {id, p, failed}: the last session signed out
    this._ws = null
    this._timer = null
    this._want = false
    this._attempt = 0
    this.status = 'offline'
  }

  /** The enrolled device ({device_id, device_token, warehouse_id}), or null. */
  get device () { return this._get(DEVICE) }
  /** The held session (login answer without evicted), or null. */
  get session () { return this._get(SESSION) }
  /** The signed-in user, or null. */
  get user () { return this.session?.user || null }
  /** True while the session may only change its PIN or log out. */
  get pinChangeRequired () { return !!this.session?.pin_change_required }

  async enroll ({ email, password, warehouseId, device }) {
    const r = await this._call('POST', '/v1/enroll', '', { email, password, warehouse_id: warehouseId, device })
    const s = this.session
    this._put(DEVICE, r)
    // A new registration ends the sessions of the old one.
    if (s) await this._signOut(s.session_id, 'device_revoked', null)
    if (this._ws) { this._drop(); this._open() }
    return { device_id: r.device_id, warehouse_id: r.warehouse_id }
  }

  login (username, pin, opts) { return this._login({ username, pin }, opts) }

  /** Signs in with the value of the user's badge in place of the username. */
  loginWithBadge (badge, pin, opts) { return this._login({ badge, pin }, opts) }

  async _login (body, { appVersion } = {}) {
    if (appVersion) body.app_version = appVersion
    const r = await this._deviceCall('POST', '/v1/login', body)
    const { evicted, ...s } = r
    this._put(SESSION, s)
    const { session_token: _, ...pub } = r
    return pub
  }

  async changePin (currentPin, newPin) {
    await this._sessionCall('POST', '/v1/pin', { current_pin: currentPin, new_pin: newPin })
    this._patch({ pin_change_required: false })
  }

  /** Ends the session. An already ended session resolves too. */
  async logout () {
    try {
      await this._sessionCall('POST', '/v1/logout')
    } catch (e) {
      if (e.code !== 'invalid_token') throw e
    }
    this._put(SESSION, null)
  }

  /** GET /v1/session: the held session as Floorgate sees it (counts as activity). */
  async refresh () {
    const v = await this._sessionCall('GET', '/v1/session')
    this._patch({ user: v.user, expires_at: v.expires_at, pin_change_required: !!v.pin_change_required })
    return v
  }

  /** Opens the device socket and keeps it open until disconnect(). */
  connect () {
    this._want = true
    if (!this._ws && !this._timer) this._open()
  }

  disconnect () {
    this._want = false
    this._drop()
    this._setStatus('offline')
  }

  // --- HTTP

  async _call (method, path, token, body) {
    const headers = {}
    if (body) headers['Content-Type'] = 'application/json'
    if (token) headers.Authorization = 'Bearer ' + token
    const ctl = new AbortController()
    const t = setTimeout(() => ctl.abort(), this._timeout)
    let res, data
    try {
      res = await this._fetch(this.baseUrl + path, { method, headers, body: body && JSON.stringify(body), signal: ctl.signal })
      data = res.status === 204 ? null : await res.json().catch(() => ({}))
    } catch (e) {
      throw new FloorgateError(0, { code: 'network', detail: String(e && e.message) })
    } finally {
      clearTimeout(t)
    }
    if (!res.ok) throw new FloorgateError(res.status, data || {})
    return data
  }

  async _deviceCall (method, path, body) {
    const d = this.device
    if (!d) throw new FloorgateError(401, { code: 'invalid_token', detail: 'device not enrolled' })
    try {
      return await this._call(method, path, d.device_token, body)
    } catch (e) {
      if (e.code === 'invalid_token' && this.device?.device_token === d.device_token) await this._lostDevice('invalid_token')
      throw e
    }
  }

  async _sessionCall (method, path, body) {
    const s = this.session
    if (!s) throw new FloorgateError(401, { code: 'invalid_token', detail: 'not signed in' })
    try {
      return await this._call(method, path, s.session_token, body)
    } catch (e) {
      if (e.code === 'invalid_token') await this._signOut(s.session_id, 'invalid_token', null)
      throw e
    }
  }

  // --- sign-out: one path for logout frames, invalid_token and lost devices

  _signOut (id, reason, by) {
    const e = this._ending
    const again = e && e.id === id
    if (again && !e.failed) return e.p
    if (!again && this.session?.session_id !== id) return Promise.resolve() // not held here
    if (this.session?.session_id === id) this._put(SESSION, null)
    const cur = { id }
    cur.p = (async () => this._o.onSignedOut?.(reason, by))()
    cur.p.catch(() => { cur.failed = true })
    this._ending = cur
    return cur.p
  }

  async _lostDevice (reason) {
    this._want = false
    this._drop()
    this._put(DEVICE, null)
    const s = this.session
    if (s) await this._signOut(s.session_id, 'device_revoked', null).catch(() => {})
    this._setStatus('unenrolled', { reason })
    this._o.onUnenrolled?.(reason)
  }

  // --- socket

  _open () {
    this._timer = null
    const d = this.device
    if (!d) return this._setStatus('unenrolled', { reason: 'not_enrolled' })
    this._setStatus('connecting')
    let ws
    try {
      ws = new this._WS(this.wsUrl)
    } catch (e) {
      return this._retry(0)
    }
    this._ws = ws
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', device_token: d.device_token }))
    ws.onmessage = ev => { if (ws === this._ws) this._frame(String(ev.data)) }
    ws.onclose = ev => {
      if (ws !== this._ws) return
      this._ws = null
      const c = ev.code
      if (c === 4403 || c === 4401) this._lostDevice(c === 4403 ? 'revoked' : 'invalid_token')
      else if (c === 4409) { this._want = false; this._setStatus('replaced', { code: c }) } else if (this._want) this._retry(c)
      else this._setStatus('offline', { code: c })
    }
    ws.onerror = () => {} // a close event follows
  }

  _drop () {
    clearTimeout(this._timer)
    this._timer = null
    const ws = this._ws
    this._ws = null
    if (ws) try { ws.close(1000) } catch (e) {}
  }

  // _retry waits a full-jitter backoff: random in [0, min(max, base*2^n)).
  _retry (code) {
    const cap = Math.min(this._max, this._base * 2 ** this._attempt++)
    const delay = Math.floor(this._random() * cap)
    this._setStatus('waiting', { code, delay })
    this._timer = setTimeout(() => this._open(), delay)
  }

  _frame (data) {
    let m
    try { m = JSON.parse(data) } catch (e) { return }
    const held = this.session
    if (m.type === 'welcome') {
      this._attempt = 0
      this._setStatus('online')
      const s = m.session
      if (held && s && s.session_id === held.session_id) {
        this._patch({ user: s.user, pin_change_required: !!s.pin_change_required })
      } else if (held) {
        // The held session is not the device's live one: it has ended.
        // Queued logouts come right after welcome; if none names it,
        // GET /v1/session answers invalid_token and signs it out.
        setTimeout(() => { if (this.session?.session_id === held.session_id) this.refresh().catch(() => {}) }, SETTLE_MS)
      }
    } else if (m.type === 'logout' && m.command_id) {
      const id = m.command_id
      let p = this._acks.get(id)
      if (!p) {
        p = this._signOut(m.session_id, m.reason, m.by || null)
        this._acks.set(id, p)
        p.catch(() => this._acks.delete(id)) // not acked: the next delivery tries again
        if (this._acks.size > REMEMBER) this._acks.delete(this._acks.keys().next().value)
      }
      p.then(() => this._send({ type: 'ack', command_id: id }), e => this._o.onError?.(e))
    } else if (m.type === 'warning' && held && m.session_id === held.session_id) {
      this._o.onExpiresSoon?.(m.at)
    }
  }

  _send (m) {
    const ws = this._ws
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(m))
  }

  _setStatus (status, info = {}) {
    this.status = status
    this._o.onStatus?.(status, info)
  }

  // --- storage

  _get (k) {
    try { return JSON.parse(this._store.getItem(k)) } catch (e) { return null }
  }

  _put (k, v) {
    if (v == null) this._store.removeItem(k)
    else this._store.setItem(k, JSON.stringify(v))
  }

  _patch (fields) {
    const s = this.session
    if (s) this._put(SESSION, { ...s, ...fields })
  }
}
