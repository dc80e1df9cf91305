// The client in headless Chromium (Debian's chromium, driven by
// playwright-core), with the browser's own fetch and WebSocket, against
// the real floorgate binary. The page is served by the harness, which
// forwards /v1 to Floorgate on the same origin.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { Floorgate, serve, waitFor, sleep } from './harness.js'

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const missing = !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`
if (missing && process.env.CI) throw new Error(missing + ': CI is set, so this fails instead of skipping')

let fg, web, browser, profile
before(async () => {
  if (missing) return
  web = await serve(() => fg.gatewayAddr)
  fg = await (await Floorgate.start({ FLOORGATE_ALLOWED_ORIGINS: web.url })).setUp()
  profile = mkdtempSync(join(tmpdir(), 'floorgate-chromium-'))
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-quic',
      '--disable-component-update', '--disable-sync']
  })
})
after(async () => {
  await browser?.close()
  await fg?.close()
  web?.close()
  if (profile) rmSync(profile, { recursive: true, force: true })
})

const opts = { skip: missing }
let serial = 0

/** page opens the test page and makes a client there with options o. */
async function page (o = {}) {
  const p = await browser.newPage()
  p.on('pageerror', e => console.error('page error:', e))
  await p.goto(web.url + '/test/')
  await p.waitForFunction(() => window.ready)
  await p.evaluate(o => window.make(o), o)
  return p
}

const events = (p, kind) => p.evaluate(k => window.rec.events.filter(e => e[0] === k), kind)
const status = p => p.evaluate(() => window.rec.c.status)
const online = p => waitFor('online', async () => (await status(p)) === 'online')

async function enroll (p) {
  const s = 'B21-' + String(++serial).padStart(4, '0')
  return p.evaluate(([m, wh, s]) => window.rec.c.enroll({ email: m.email, password: m.password, warehouseId: wh, device: { serial: s, model: 'TC52' } }),
    [fg.manager, fg.warehouseId, s])
}

const login = (p, u) => p.evaluate(([n, pin]) => window.rec.c.login(n, pin), [u.username, u.pin])

test('browser: enroll, login with language, forced logout pushed and acked', opts, async () => {
  const u = await fg.addUser('bia', { language: 'pt-BR' })
  const p = await page({ hold: true })
  await enroll(p)
  await p.evaluate(() => window.rec.c.connect())
  await online(p)
  const l = await login(p, u)
  assert.equal(l.user.language, 'pt-BR')
  assert.equal(l.session_token, undefined)

  const { command_ids: [cmd] } = await fg.admin('DELETE', '/sessions/' + l.session_id)
  await waitFor('onSignedOut', async () => (await events(p, 'signedOut')).length === 1)
  assert.deepEqual(await events(p, 'signedOut'), [['signedOut', 'admin', null]])
  await fg.waitCommand(cmd, 'delivered')
  await sleep(200)
  assert.equal((await fg.command(cmd)).status, 'delivered', 'no ack before the callback resolves')
  await p.evaluate(() => window.rec.release())
  await fg.waitCommand(cmd, 'acked')
  await p.close()
})

test('browser: a queued logout is handled once after reconnect', opts, async () => {
  const u = await fg.addUser('caio')
  const p = await page({ hold: true })
  await enroll(p)
  await login(p, u)
  const { command_ids: [cmd] } = await fg.admin('POST', `/users/${u.id}/logout`)
  await p.evaluate(() => window.rec.c.connect())
  await waitFor('onSignedOut', async () => (await events(p, 'signedOut')).length === 1)
  await p.evaluate(() => { window.rec.c.disconnect(); window.rec.c.connect() })
  await online(p)
  await fg.waitCommand(cmd, 'delivered')
  await p.evaluate(() => window.rec.release())
  await fg.waitCommand(cmd, 'acked')
  assert.equal((await events(p, 'signedOut')).length, 1)
  await p.close()
})

test('browser: 4409 when a second socket opens, no reconnect', opts, async () => {
  const a = await page()
  await enroll(a)
  await a.evaluate(() => window.rec.c.connect())
  await online(a)
  const device = await a.evaluate(() => window.rec.c.device)
  const b = await page({ device })
  await b.evaluate(() => window.rec.c.connect())
  await online(b)
  await waitFor('replaced', async () => (await status(a)) === 'replaced')
  const opened = await a.evaluate(() => window.rec.sockets)
  await sleep(600)
  assert.equal(await a.evaluate(() => window.rec.sockets), opened)
  assert.deepEqual(await a.evaluate(() => window.rec.events.find(e => e[1] === 'replaced')), ['status', 'replaced', 4409])
  await a.close()
  await b.close()
})

test('browser: 4403 after a revoke, no reconnect', opts, async () => {
  const p = await page()
  await enroll(p)
  await p.evaluate(() => window.rec.c.connect())
  await online(p)
  const id = await p.evaluate(() => window.rec.c.device.device_id)
  await fg.admin('POST', `/devices/${id}/revoke`)
  await waitFor('unenrolled', async () => (await status(p)) === 'unenrolled')
  assert.deepEqual(await events(p, 'unenrolled'), [['unenrolled', 'revoked']])
  const opened = await p.evaluate(() => window.rec.sockets)
  await sleep(600)
  assert.equal(await p.evaluate(() => window.rec.sockets), opened)
  assert.equal(await p.evaluate(() => window.rec.c.device), null)
  await p.close()
})

test('browser: PIN-change-only session, invalid_token signs out', opts, async () => {
  const u = await fg.addUser('duda', { pinChangeRequired: true })
  const p = await page()
  await enroll(p)
  const l = await login(p, u)
  assert.equal(l.pin_change_required, true)
  const refused = await p.evaluate(() => window.rec.c.refresh().then(() => null, e => [e.status, e.code]))
  assert.deepEqual(refused, [403, 'forbidden'])
  await p.evaluate(([cur]) => window.rec.c.changePin(cur, '5930'), [u.pin])
  assert.equal(await p.evaluate(() => window.rec.c.pinChangeRequired), false)

  await fg.admin('DELETE', '/sessions/' + l.session_id)
  const gone = await p.evaluate(() => window.rec.c.refresh().then(() => null, e => [e.status, e.code]))
  assert.deepEqual(gone, [401, 'invalid_token'])
  assert.deepEqual(await events(p, 'signedOut'), [['signedOut', 'invalid_token', null]])
  await p.close()
})

test('browser: the example sign-in page, driven as a user would', opts, async () => {
  const u = await fg.addUser('elisa', { language: 'es' })
  const p = await browser.newPage()
  await p.goto(web.url + '/example/')
  await p.fill('#enroll [name=email]', fg.manager.email)
  await p.fill('#enroll [name=password]', fg.manager.password)
  await p.fill('#enroll [name=warehouse]', fg.warehouseId)
  await p.fill('#enroll [name=serial]', 'EX-0001')
  await p.click('#enroll button')
  await p.waitForSelector('#login:not([hidden])')
  await waitFor('online', () => p.evaluate(() => window.floorgate.status === 'online'))

  await p.fill('#login [name=username]', u.username)
  await p.fill('#login [name=pin]', '0000')
  await p.click('#login button')
  await p.waitForSelector('#notice:not([hidden])')
  assert.match(await p.textContent('#notice'), /username|PIN|credential/i)

  await p.fill('#login [name=pin]', u.pin)
  await p.click('#login button')
  await p.waitForSelector('#home:not([hidden])')
  assert.equal(await p.textContent('#hello'), 'Hola, Jo')
  assert.equal(await p.getAttribute('html', 'lang'), 'es')

  const sid = await p.evaluate(() => window.floorgate.session.session_id)
  const { command_ids: [cmd] } = await fg.admin('DELETE', '/sessions/' + sid)
  await p.waitForSelector('#login:not([hidden])')
  assert.equal(await p.textContent('#notice'), 'Se cerró su sesión: by a manager')
  await fg.waitCommand(cmd, 'acked')
  await p.screenshot({ path: join(profile, 'example.png') })
  await p.close()
})

test('browser: a page on another origin calls Floorgate itself (CORS for -allowed-origins only)', opts, async () => {
  const u = await fg.addUser('cora')
  const direct = 'http://' + fg.gatewayAddr
  // The page's origin (the harness) is on -allowed-origins: enroll,
  // socket and login go straight to Floorgate, another origin.
  const p = await page({ baseUrl: direct })
  await enroll(p)
  await p.evaluate(() => window.rec.c.connect())
  await online(p)
  const l = await login(p, u)
  assert.ok(l.session_id)
  await p.close()

  // A page of an origin not on the list: the browser gets no CORS
  // header, so the call fails in the page and nothing is enrolled.
  const other = await serve(() => fg.gatewayAddr)
  try {
    const q = await browser.newPage()
    await q.goto(other.url + '/test/')
    await q.waitForFunction(() => window.ready)
    await q.evaluate(o => window.make(o), { baseUrl: direct })
    const refused = await q.evaluate(([m, wh]) => window.rec.c.enroll({ email: m.email, password: m.password, warehouseId: wh, device: { serial: 'X-CORS-1', model: 'TC52' } })
      .then(() => null, e => String(e.code || e.name)), [fg.manager, fg.warehouseId])
    assert.notEqual(refused, null, 'a call from an origin not on the list must fail in the browser')
    await q.close()
  } finally {
    other.close()
  }
})

test('browser: server restart (1001), jittered reconnect', opts, async () => {
  const p = await page({ base: 100, max: 1000 })
  await enroll(p)
  await p.evaluate(() => window.rec.c.connect())
  await online(p)
  await fg.restart()
  await online(p)
  const delays = await p.evaluate(() => window.rec.delays)
  assert.equal(delays[0].code, 1001)
  delays.forEach((d, n) => assert.ok(d.delay >= 0 && d.delay < Math.min(1000, 100 * 2 ** n), `attempt ${n}: ${d.delay} ms within [0, cap)`))
  await p.close()
})
