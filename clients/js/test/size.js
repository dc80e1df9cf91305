// size measures floorgate.js: raw, minified by esbuild, and gzipped.
import { readFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'
import { transform } from 'esbuild'
import { jsDir } from './harness.js'

export async function size () {
  const src = await readFile(join(jsDir, 'floorgate.js'), 'utf8')
  const { code } = await transform(src, { minify: true, format: 'esm', target: 'es2020' })
  return { raw: Buffer.byteLength(src), min: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const s = await size()
  console.log(`floorgate.js: ${s.raw} B source, ${s.min} B minified, ${s.gzip} B (${(s.gzip / 1024).toFixed(2)} KB) minified+gzipped`)
}
