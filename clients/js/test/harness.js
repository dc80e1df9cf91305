// Test harness: starts the real floorgate binary on free 127.0.0.1 ports
// with a temp data dir and the embedded backends, sets a floor up through
// the admin API, and serves the browser test page and the example app
// with /v1 proxied to Floorgate (same origin, as a deployment would).

import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname, extname, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import http from 'node:http'
import net from 'node:net'
import { createInterface } from 'node:readline'

export const jsDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const repoRoot = join(jsDir, '..', '..')
export const ADMIN_EMAIL = 'ops@example.com'
export const ADMIN_PASSWORD = 'Warehouse-Floor-42'
const WAIT_MS = 60000 // a limit, not a speed claim

let built = null
/** The floorgate binary: FLOORGATE_BIN, or built once with go build. */
export function binary () {
  if (process.env.FLOORGATE_BIN) return process.env.FLOORGATE_BIN
  if (!built) {
    const dir = mkdtempSync(join(tmpdir(), 'floorgate-bin-'))
    built = join(dir, 'floorgate')
    execFileSync('go', ['build', '-o', built, './cmd/floorgate'], { cwd: repoRoot, stdio: 'inherit' })
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  }
  return built
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** waitFor polls fn (sync or async) until it returns a truthy value. */
export async function waitFor (what, fn, ms = 10000) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out waiting for ' + what)
    await sleep(20)
  }
}

export class Floorgate {
  /** Starts floorgate; env adds FLOORGATE_* variables. */
  static async start (env = {}) {
    const f = new Floorgate()
    f.dataDir = mkdtempSync(join(tmpdir(), 'floorgate-data-'))
    f.env = env
    f.logs = []
    await f._start('127.0.0.1:0', '127.0.0.1:0')
    return f
  }

  async _start (addr, adminAddr) {
    const proc = spawn(binary(), [], {
      env: {
        ...process.env,
        FLOORGATE_ADDR: addr,
        FLOORGATE_ADMIN_ADDR: adminAddr,
        FLOORGATE_DATA_DIR: this.dataDir,
        FLOORGATE_POSTGRES_URL: '',
        FLOORGATE_REDIS_URL: '',
        FLOORGATE_ADMIN_EMAIL: ADMIN_EMAIL,
        FLOORGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
        FLOORGATE_HASH_MEMORY_KIB: '64',
        FLOORGATE_HASH_TIME: '1',
        FLOORGATE_SHUTDOWN_TIMEOUT: '5s',
        ...this.env
      },
      stdio: ['ignore', 'ignore', 'pipe']
    })
    this.proc = proc
    this.exited = new Promise(resolve => proc.on('exit', resolve))
    const addrs = {}
    const listening = new Promise((resolve, reject) => {
      createInterface({ input: proc.stderr }).on('line', line => {
        this.logs.push(line)
        if (this.logs.length > 2000) this.logs.shift()
        let l
        try { l = JSON.parse(line) } catch (e) { return }
        if (l.msg === 'listening') addrs[l.listener] = l.addr
        if (addrs.gateway && addrs.admin) resolve()
      })
      this.exited.then(code => reject(new Error('floorgate exited ' + code + ':\n' + this.logs.slice(-20).join('\n'))))
      setTimeout(() => reject(new Error('floorgate did not listen in time')), WAIT_MS).unref()
    })
    await listening
    this.gatewayAddr = addrs.gateway
    this.adminAddr = addrs.admin
    this.gatewayUrl = 'http://' + addrs.gateway
    this.adminUrl = 'http://' + addrs.admin
    await waitFor('readyz', async () => (await fetch(this.gatewayUrl + '/readyz').catch(() => ({}))).status === 200, WAIT_MS)
  }

  /** SIGTERM: a graceful stop, sockets close 1001. */
  async stop () {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.kill('SIGTERM')
    await this.exited
  }

  /** Stops and starts again on the same ports and data dir. */
  async restart () {
    await this.stop()
    await this._start(this.gatewayAddr, this.adminAddr)
  }

  async close () {
    await this.stop()
    rmSync(this.dataDir, { recursive: true, force: true })
  }

  /** Signs the admin in and creates a warehouse and a mobile manager. */
  async setUp () {
    const { token } = await call('POST', this.adminUrl + '/admin/v1/login', '', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD })
    this.adminToken = token
    const wh = await this.admin('POST', '/warehouses', { name: 'Dock North', code: 'DN1' }, 201)
    this.warehouseId = wh.id
    this.manager = { email: 'mia@example.com', password: 'Dock-Scanner-Mia-7' }
    await this.admin('POST', '/managers', {
      ...this.manager,
      first_name: 'Mia',
      last_name: 'Berg',
      roles: [{ role: 'mobile_manager', warehouse_id: wh.id }]
    }, 201)
    return this
  }

  admin (method, path, body, want = 200) {
    return call(method, this.adminUrl + '/admin/v1' + path, this.adminToken, body, want)
  }

  /** Creates a mobile user of the warehouse. */
  async addUser (username, { pin = '4821', language = 'en', pinChangeRequired = false } = {}) {
    const u = await this.admin('POST', '/users', {
      username, first_name: 'Jo', last_name: 'Smith', pin, language, warehouse_id: this.warehouseId, pin_change_required: pinChangeRequired
    }, 201)
    return { id: u.id, username, pin }
  }

  command (id) { return this.admin('GET', '/commands/' + id) }

  async waitCommand (id, status) {
    return waitFor(`command ${id} ${status}`, async () => {
      const c = await this.command(id)
      return c.status === status && c
    })
  }
}

/** call sends a JSON request and returns the JSON answer; another status than want throws. */
export async function call (method, url, bearer, body, want = 200) {
  const headers = {}
  if (body) headers['Content-Type'] = 'application/json'
  if (bearer) headers.Authorization = 'Bearer ' + bearer
  const res = await fetch(url, { method, headers, body: body && JSON.stringify(body) })
  const text = await res.text()
  if (res.status !== want) throw new Error(`${method} ${url} = ${res.status} ${text.slice(0, 300)}; want ${want}`)
  return text ? JSON.parse(text) : null
}

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' }

/**
 * serve starts a web server on a free 127.0.0.1 port: /floorgate.js, the
 * files of test/page/ at /test/ and of example/ at /example/, and /v1/*
 * (HTTP and websocket) proxied to the gateway at target() ("host:port").
 */
export async function serve (target, port = 0) {
  const dest = () => { const t = target(); const i = t.lastIndexOf(':'); return [t.slice(0, i), Number(t.slice(i + 1))] }
  const files = { '/floorgate.js': join(jsDir, 'floorgate.js') }
  const roots = { '/test/': join(jsDir, 'test', 'page'), '/example/': join(jsDir, 'example') }
  const srv = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname
    if (path.startsWith('/v1/')) {
      const [host, port] = dest()
      const up = http.request({ host, port, method: req.method, path: req.url, headers: req.headers }, r => {
        res.writeHead(r.statusCode, r.headers)
        r.pipe(res)
      })
      up.on('error', () => { res.writeHead(502); res.end() })
      req.pipe(up)
      return
    }
    let file = files[path]
    for (const [prefix, dir] of Object.entries(roots)) {
      if (!file && path.startsWith(prefix)) {
        const rel = normalize(path.slice(prefix.length) || 'index.html')
        if (!rel.startsWith('..')) file = join(dir, rel)
      }
    }
    if (!file || !existsSync(file)) { res.writeHead(404); res.end(); return }
    res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' })
    res.end(readFileSync(file))
  })
  srv.on('upgrade', (req, sock, head) => {
    const [host, port] = dest()
    const up = net.connect(port, host, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      up.write(lines.join('\r\n') + '\r\n\r\n')
      if (head.length) up.write(head)
      up.pipe(sock)
      sock.pipe(up)
    })
    const end = () => { up.destroy(); sock.destroy() }
    up.on('error', end)
    sock.on('error', end)
    up.on('close', end)
    sock.on('close', end)
  })
  await new Promise(resolve => srv.listen(port, '127.0.0.1', resolve))
  srv.url = 'http://127.0.0.1:' + srv.address().port
  return srv
}
