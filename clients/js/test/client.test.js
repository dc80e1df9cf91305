// The client in Node, against the real floorgate binary. Node 20 has no
// global WebSocket: the `ws` package stands in for the browser's.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { FloorgateClient, FloorgateError, memoryStorage } from '../floorgate.js'
import { Floorgate, waitFor, sleep } from './harness.js'

let fg
before(async () => { fg = await (await Floorgate.start()).setUp() })
after(async () => { await fg?.close() })

let serial = 0

/**
 * client makes a client of fg that records its callbacks in `events`
 * and counts the sockets it opens in `sockets`. o overrides options;
 * o.hold keeps each onSignedOut pending until rec.release().
 */
function client (f, { hold, ...o } = {}) {
  const rec = { events: [], sockets: 0, delays: [], release: null }
  class CountingWS extends WebSocket {
    constructor (url) { super(url); rec.sockets++ }
  }
  rec.c = new FloorgateClient({
    baseUrl: f.gatewayUrl,
    WebSocket: CountingWS,
    reconnectBaseMs: 50,
    reconnectMaxMs: 400,
    onSignedOut: (reason, by) => {
      rec.events.push(['signedOut', reason, by])
      // hold: the app is still signing out until the test calls rec.release()
      if (hold) return new Promise(resolve => { rec.release = resolve })
    },
    onUnenrolled: reason => { rec.events.push(['unenrolled', reason]) },
    onExpiresSoon: at => { rec.events.push(['expiresSoon', at]) },
    onStatus: (s, info) => { if (s === 'waiting') rec.delays.push(info); rec.events.push(['status', s, info.code]) },
    ...o
  })
  return rec
}

const signedOut = rec => rec.events.filter(e => e[0] === 'signedOut')

async function enroll (rec, f = fg) {
  await rec.c.enroll({
    email: f.manager.email,
    password: f.manager.password,
    warehouseId: f.warehouseId,
    device: { serial: 'S21-' + String(++serial).padStart(4, '0'), model: 'TC52', os_version: '13', app_version: '4.2.0', label: 'Dock scanner' }
  })
}

const online = rec => waitFor('online', () => rec.c.status === 'online')

test('enroll, login with language, session, logout', async () => {
  const u = await fg.addUser('ana', { language: 'es' })
  const storage = memoryStorage()
  const rec = client(fg, { storage })
  await enroll(rec)
  assert.match(rec.c.device.device_token, /^fgd_/)
  assert.equal(rec.c.device.warehouse_id, fg.warehouseId)
  assert.match(storage.getItem('floorgate.device'), /fgd_/, 'the device token is kept in the given storage')

  await assert.rejects(rec.c.login('ana', '0000'), e => e instanceof FloorgateError && e.status === 401 && e.code === 'invalid_credentials')
  assert.equal(rec.c.session, null)

  const l = await rec.c.login('ana', u.pin)
  assert.equal(l.user.language, 'es')
  assert.equal(l.user.username, 'ana')
  assert.equal(l.pin_change_required, false)
  assert.equal(l.session_token, undefined, 'login does not hand the token out: the client keeps it')
  assert.match(rec.c.session.session_token, /^fgs_/)
  assert.equal(rec.c.user.id, u.id)

  const v = await rec.c.refresh()
  assert.equal(v.session_id, l.session_id)
  assert.equal(v.device_id, rec.c.device.device_id)

  await rec.c.logout()
  assert.equal(rec.c.session, null)
  assert.equal(storage.getItem('floorgate.session'), null)
  assert.deepEqual(signedOut(rec), [], 'an app-initiated logout does not call onSignedOut')
})

test('login with a badge; an unknown badge is refused like an unknown username', async () => {
  const u = await fg.addUser('bea')
  await fg.admin('PUT', `/users/${u.id}/badge`, { badge: 'BADGE-BEA-1' })
  const rec = client(fg)
  await enroll(rec)
  await assert.rejects(rec.c.loginWithBadge('BADGE-NOBODY', u.pin), e => e instanceof FloorgateError && e.status === 401 && e.code === 'invalid_credentials')
  assert.equal(rec.c.session, null)
  const l = await rec.c.loginWithBadge('BADGE-BEA-1', u.pin)
  assert.equal(l.user.id, u.id)
  assert.match(rec.c.session.session_token, /^fgs_/)
  await rec.c.logout()
})

test('a forced logout is pushed, handed to onSignedOut, and acked only after its promise resolves', async () => {
  const u = await fg.addUser('ben')
  const rec = client(fg, { hold: true })
  await enroll(rec)
  rec.c.connect()
  await online(rec)
  const l = await rec.c.login(u.username, u.pin)
  const { command_ids: [cmd] } = await fg.admin('DELETE', '/sessions/' + l.session_id)

  await waitFor('onSignedOut', () => signedOut(rec).length === 1)
  assert.deepEqual(signedOut(rec)[0], ['signedOut', 'admin', null])
  assert.equal(rec.c.session, null, 'the dead session is dropped before the callback')
  await fg.waitCommand(cmd, 'delivered')
  await sleep(200)
  assert.equal((await fg.command(cmd)).status, 'delivered', 'no ack while the app is still signing out')

  rec.release()
  const c = await fg.waitCommand(cmd, 'acked')
  assert.ok(c.acked_at)
  assert.equal(signedOut(rec).length, 1)
  rec.c.disconnect()
})

test('a logout queued while the socket was closed is handled once after reconnect, acked once', async () => {
  const u = await fg.addUser('cleo')
  const rec = client(fg, { hold: true })
  await enroll(rec)
  const l = await rec.c.login(u.username, u.pin)
  const { command_ids: [cmd] } = await fg.admin('POST', `/users/${u.id}/logout`)
  assert.equal((await fg.command(cmd)).status, 'pending')

  rec.c.connect()
  await waitFor('onSignedOut', () => signedOut(rec).length === 1)
  assert.deepEqual(signedOut(rec)[0], ['signedOut', 'admin', null])
  assert.equal(rec.c.session, null)

  // The socket drops while the app is still signing out: the command is
  // not acked, so the next welcome brings it again. It must not reach
  // onSignedOut a second time, and it is acked once the first call ends.
  rec.c.disconnect()
  rec.c.connect()
  await online(rec)
  await fg.waitCommand(cmd, 'delivered')
  await sleep(200)
  rec.release()
  await fg.waitCommand(cmd, 'acked')
  assert.equal(signedOut(rec).length, 1, 'handled exactly once across reconnects')

  rec.c.disconnect()
  rec.c.connect()
  await online(rec)
  await sleep(200)
  assert.equal(signedOut(rec).length, 1, 'an acked command is not sent again')
  assert.equal(l.session_id.length > 0, true)
  rec.c.disconnect()
})

test('a second socket of the device closes the first with 4409: no reconnect', async () => {
  const a = client(fg)
  await enroll(a)
  a.c.connect()
  await online(a)

  const storage = memoryStorage()
  storage.setItem('floorgate.device', JSON.stringify(a.c.device))
  const b = client(fg, { storage })
  b.c.connect()
  await online(b)
  await waitFor('replaced', () => a.c.status === 'replaced')
  assert.deepEqual(a.events.find(e => e[1] === 'replaced'), ['status', 'replaced', 4409])
  const opened = a.sockets
  await sleep(600) // longer than the largest backoff (400 ms)
  assert.equal(a.sockets, opened, 'no reconnect after 4409')
  assert.equal(b.c.status, 'online')
  b.c.disconnect()
})

test('a revoked device: 4403, onUnenrolled, signed out, no reconnect', async () => {
  const u = await fg.addUser('dan')
  const rec = client(fg)
  await enroll(rec)
  rec.c.connect()
  await online(rec)
  await rec.c.login(u.username, u.pin)
  const deviceId = rec.c.device.device_id
  await fg.admin('POST', `/devices/${deviceId}/revoke`)

  await waitFor('unenrolled', () => rec.c.status === 'unenrolled')
  assert.deepEqual(rec.events.filter(e => e[0] === 'unenrolled'), [['unenrolled', 'revoked']])
  assert.deepEqual(signedOut(rec).map(e => e[1]), ['device_revoked'])
  assert.equal(rec.c.device, null)
  assert.equal(rec.c.session, null)
  const opened = rec.sockets
  await sleep(600)
  assert.equal(rec.sockets, opened, 'no reconnect after 4403')
  assert.deepEqual(rec.delays, [], 'no backoff was even scheduled')
})

test('a session that must change its PIN can only change it', async () => {
  const u = await fg.addUser('eve', { pinChangeRequired: true })
  const rec = client(fg)
  await enroll(rec)
  const l = await rec.c.login(u.username, u.pin)
  assert.equal(l.pin_change_required, true)
  assert.equal(rec.c.pinChangeRequired, true)

  await assert.rejects(rec.c.refresh(), e => e.status === 403 && e.code === 'forbidden')
  assert.ok(rec.c.session, 'forbidden is not a sign-out')
  await assert.rejects(rec.c.changePin(u.pin, '1111'), e => e.status === 422 && e.code === 'weak_pin')
  await assert.rejects(rec.c.changePin('9999', '5930'), e => e.status === 401 && e.code === 'invalid_credentials')
  assert.ok(rec.c.session, 'a wrong current PIN is not a sign-out')

  await rec.c.changePin(u.pin, '5930')
  assert.equal(rec.c.pinChangeRequired, false)
  const v = await rec.c.refresh()
  assert.equal(v.pin_change_required, false)
  assert.deepEqual(signedOut(rec), [])
})

test('invalid_token on a call signs the user out through onSignedOut', async () => {
  const u = await fg.addUser('finn')
  const rec = client(fg)
  await enroll(rec)
  const l = await rec.c.login(u.username, u.pin)
  await fg.admin('DELETE', '/sessions/' + l.session_id) // no socket: nothing is pushed

  await assert.rejects(rec.c.refresh(), e => e.status === 401 && e.code === 'invalid_token')
  assert.deepEqual(signedOut(rec), [['signedOut', 'invalid_token', null]])
  assert.equal(rec.c.session, null)
  await assert.rejects(rec.c.changePin('4821', '5930'), e => e.code === 'invalid_token')
  assert.equal(signedOut(rec).length, 1, 'once')
})

test('an invalid device token on login: unenrolled, signed out', async () => {
  const u = await fg.addUser('gus')
  const rec = client(fg)
  await enroll(rec)
  await rec.c.login(u.username, u.pin)
  await fg.admin('POST', `/devices/${rec.c.device.device_id}/revoke`)
  await assert.rejects(rec.c.login(u.username, u.pin), e => e.code === 'invalid_token')
  assert.equal(rec.c.device, null)
  assert.deepEqual(rec.events.filter(e => e[0] !== 'status'), [['signedOut', 'device_revoked', null], ['unenrolled', 'invalid_token']])
})

test('server restart: 1001, full-jitter backoff, reconnect; the lost session is signed out', async () => {
  const own = await (await Floorgate.start()).setUp()
  try {
    const u = await own.addUser('hal')
    const draws = [0.5, 0.25, 0.75, 0.1, 0.9, 0.3, 0.6, 0.2, 0.8, 0.4]
    let i = 0
    const rec = client(own, { random: () => draws[i++ % draws.length], reconnectBaseMs: 100, reconnectMaxMs: 1000 })
    await enroll(rec, own)
    rec.c.connect()
    await online(rec)
    await rec.c.login(u.username, u.pin)

    await own.restart()
    await online(rec)
    assert.equal(rec.delays[0].code, 1001, 'the first close is 1001 going away')
    rec.delays.forEach((d, n) => {
      const cap = Math.min(1000, 100 * 2 ** n)
      assert.equal(d.delay, Math.floor(draws[n % draws.length] * cap), `attempt ${n}: delay = random * min(max, base * 2^n)`)
    })
    // In-process sessions end with the process: welcome says none, and
    // the client finds out that the held one is gone.
    await waitFor('signed out', () => signedOut(rec).length === 1)
    assert.deepEqual(signedOut(rec)[0], ['signedOut', 'invalid_token', null])

    // Once online again the attempt counter starts over.
    await own.restart()
    await online(rec)
    const second = rec.delays.slice(rec.delays.findLastIndex(d => d.code === 1001))
    assert.equal(second[0].delay, Math.floor(draws[rec.delays.length - second.length] * 100))
    rec.c.disconnect()
  } finally {
    await own.close()
  }
})

test('full jitter: delays spread over [0, cap) with Math.random', async () => {
  const rec = client({ gatewayUrl: 'http://127.0.0.1:9' }, { reconnectBaseMs: 1000, reconnectMaxMs: 1000 })
  rec.c._put('floorgate.device', { device_id: 'd', device_token: 'fgd_x', warehouse_id: 'w' })
  for (let n = 0; n < 200; n++) rec.c._retry(1001)
  rec.c.disconnect()
  const ds = rec.delays.map(d => d.delay)
  assert.ok(ds.every(d => d >= 0 && d < 1000), 'within [0, cap)')
  assert.ok(new Set(ds).size > 100, 'spread, not one fixed delay')
})

test('an HTTP call that gets no answer is aborted after timeoutMs', async () => {
  const http = await import('node:http')
  const held = []
  const srv = http.createServer((req, res) => { held.push(res) }) // never answers
  await new Promise(resolve => srv.listen(0, '127.0.0.1', resolve))
  try {
    const rec = client({ gatewayUrl: 'http://127.0.0.1:' + srv.address().port }, { timeoutMs: 100 })
    rec.c._put('floorgate.device', { device_id: 'd', device_token: 'fgd_x', warehouse_id: 'w' })
    await assert.rejects(rec.c.login('ana', '4821'), e => e instanceof FloorgateError && e.status === 0 && e.code === 'network')
    assert.ok(rec.c.device, 'no answer is not an invalid token: the device stays enrolled')
  } finally {
    held.forEach(res => res.destroy())
    srv.close()
  }
})
