// The admin API's OpenAPI document, as the real binary serves it, lints
// clean with Redocly's recommended ruleset: no error and no warning.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Floorgate, jsDir } from './harness.js'

let fg, dir
before(async () => { fg = await Floorgate.start(); dir = mkdtempSync(join(tmpdir(), 'floorgate-openapi-')) })
after(async () => { await fg?.close(); if (dir) rmSync(dir, { recursive: true, force: true }) })

test('openapi.json lints clean with redocly (recommended)', async () => {
  const res = await fetch(fg.adminUrl + '/admin/v1/openapi.json')
  assert.equal(res.status, 200)
  const file = join(dir, 'openapi.json')
  writeFileSync(file, await res.text())
  const redocly = join(jsDir, 'node_modules', '.bin', 'redocly')
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }
  let out
  try {
    out = (await promisify(execFile)(redocly, ['lint', '--extends=recommended', '--format=json', file], { env, cwd: dir, maxBuffer: 16 << 20 })).stdout
  } catch (e) {
    out = e.stdout // exit 1 when there are errors: report them below
  }
  const report = JSON.parse(out)
  const problems = report.problems.map(p => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`)
  assert.deepEqual(report.totals, { errors: 0, warnings: 0, ignored: 0 }, problems.join('\n'))
})
