// A minimal handheld sign-in page on the Floorgate client. It is served
// from the origin that also forwards /v1 to Floorgate, so the client's
// baseUrl is this page's origin.
import { FloorgateClient } from '/floorgate.js'

const $ = id => document.getElementById(id)
const messages = {
  en: { hello: 'Hello', signedOut: 'You were signed out' },
  es: { hello: 'Hola', signedOut: 'Se cerró su sesión' },
  'pt-BR': { hello: 'Olá', signedOut: 'Sua sessão foi encerrada' }
}
const reasons = {
  logout: 'you signed out', replaced: 'someone else signed in on this device', evicted: 'you signed in on another device',
  admin: 'by a manager', user_suspended: 'your account is suspended', user_deleted: 'your account was deleted',
  pin_reset: 'your PIN was reset', device_revoked: 'this device was removed', expired: 'your shift session ended',
  idle: 'you were idle too long', invalid_token: 'your session ended'
}
let lang = 'en'
const t = key => (messages[lang] || messages.en)[key]

function notice (text) {
  $('notice').textContent = text
  $('notice').hidden = !text
}

const fg = new FloorgateClient({
  baseUrl: location.origin,
  storage: window.localStorage, // survives a reload; a kiosk app may prefer memory
  async onSignedOut (reason, by) {
    // Drop the user's data here (await it), then show the sign-in form.
    // The client acknowledges the logout only after this resolves.
    notice(`${t('signedOut')}: ${reasons[reason] || reason}` + (by ? ` (device ${by.device_id})` : ''))
    lang = 'en'
    render()
  },
  onExpiresSoon (at) { notice('Your session ends at ' + new Date(at).toLocaleTimeString() + ': finish your task.') },
  onUnenrolled () { notice('This device must be enrolled again.'); render() },
  onStatus (status, info) {
    $('status').textContent = 'Connection: ' + status + (info.delay != null ? ` (retry in ${info.delay} ms)` : '')
  }
})

function render () {
  const signedIn = !!fg.session
  $('enroll').hidden = !!fg.device
  $('login').hidden = !fg.device || signedIn
  $('pin').hidden = !signedIn || !fg.pinChangeRequired
  $('home').hidden = !signedIn || fg.pinChangeRequired
  if (signedIn) {
    lang = fg.user.language
    document.documentElement.lang = lang
    $('hello').textContent = `${t('hello')}, ${fg.user.first_name}`
  }
}

// Run a form's action; show the error's detail when it fails.
function onSubmit (id, action) {
  $(id).addEventListener('submit', async ev => {
    ev.preventDefault()
    const f = new FormData(ev.target)
    try {
      await action(f)
      ev.target.reset()
      notice('')
    } catch (e) {
      notice(e.code === 'too_many_attempts' ? `Too many attempts: wait ${e.retryAfter} s` : e.message)
    }
    render()
  })
}

onSubmit('enroll', async f => {
  await fg.enroll({ email: f.get('email'), password: f.get('password'), warehouseId: f.get('warehouse'), device: { serial: f.get('serial'), model: navigator.platform, app_version: '1.0.0' } })
  fg.connect()
})
onSubmit('login', f => fg.login(f.get('username'), f.get('pin')))
onSubmit('pin', f => fg.changePin(f.get('current'), f.get('next')))
$('logout').addEventListener('click', async () => {
  try { await fg.logout() } catch (e) { notice(e.message) }
  render()
})

render()
if (fg.device) fg.connect()
window.floorgate = fg // for the tests that drive this page
