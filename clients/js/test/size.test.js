// The client's size, minified (esbuild) and gzipped: under 10 KB.
// `npm run size` prints the figure that README.md and docs/BENCHMARKS.md record.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { size } from './size.js'

test('floorgate.js is under 10 KB minified and gzipped', async () => {
  const s = await size()
  assert.ok(s.gzip < 10 * 1024, `${s.gzip} bytes min+gz`)
  assert.ok(s.min < s.raw && s.gzip < s.min, 'the measure measured something')
})
