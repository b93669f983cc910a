#!/usr/bin/env node
// Offline dependency audit (npm's advisory endpoint is not reachable from here): every direct
// dependency is pinned to an exact version, and every lock entry comes from the registry with an
// integrity hash, so `npm ci` installs exactly the reviewed bytes. Exit code 1 on any finding.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const EXACT = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/
const NON_REGISTRY = /^(?:git\+|git:|github:|gitlab:|bitbucket:|file:|link:|https?:|[^/@\s]+\/[^/\s]+$)/

export function auditDependencies (pkg, lock) {
  const problems = []
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
    for (const [name, spec] of Object.entries(pkg[field] ?? {})) {
      if (NON_REGISTRY.test(spec)) problems.push(`package.json ${field}.${name}: not from the registry (${spec})`)
      else if (!EXACT.test(spec)) problems.push(`package.json ${field}.${name}: not an exact version (${spec})`)
    }
  }
  if (lock === undefined || lock === null) return [...problems, 'package-lock.json is missing']
  if (lock.lockfileVersion < 2) problems.push(`package-lock.json: lockfileVersion ${lock.lockfileVersion} has no "packages" map`)
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '') continue
    if (entry.link === true) problems.push(`${path}: a link to a local folder`)
    if ('resolved' in entry) problems.push(`${path}: has a resolved URL (${entry.resolved})`)
    if (typeof entry.version !== 'string' || !EXACT.test(entry.version)) problems.push(`${path}: version ${entry.version} is not a registry version`)
    if (typeof entry.integrity !== 'string' || !/^sha(256|384|512)-/.test(entry.integrity)) problems.push(`${path}: no integrity hash`)
    for (const field of ['dependencies', 'optionalDependencies']) {
      for (const [name, spec] of Object.entries(entry[field] ?? {})) {
        if (NON_REGISTRY.test(spec)) problems.push(`${path} ${field}.${name}: not from the registry (${spec})`)
      }
    }
  }
  return problems
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // An optional folder argument audits another project (used by the tests).
  const root = process.argv[2] === undefined ? new URL('../', import.meta.url) : new URL(`file://${process.argv[2].replace(/\/?$/, '/')}`)
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
  let lock
  try {
    lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8'))
  } catch {
    lock = undefined
  }
  const problems = auditDependencies(pkg, lock)
  for (const p of problems) console.error(p)
  console.log(problems.length === 0 ? `dependency audit: ${Object.keys(lock?.packages ?? {}).length - 1} lock entries, no findings` : `dependency audit: ${problems.length} finding(s)`)
  process.exit(problems.length === 0 ? 0 : 1)
}
