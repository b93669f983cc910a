import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { loadConfig } from '../../src/config.js'

// No Docker engine in CI: the compose file and the nginx config are checked as text.
const root = new URL('../../', import.meta.url)
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'))
const nginx = readFileSync(new URL('deploy/nginx/nginx.conf', root), 'utf8')

interface Directive { name: string, args: string[], block?: Directive[] }

/** A small parser for nginx's syntax: directives end with ; or open a block; # starts a comment. */
function parseNginx (text: string): Directive[] {
  const tokens = text.replace(/#[^\n]*/g, '').match(/"[^"]*"|[{};]|[^\s{};"]+/g) ?? []
  let i = 0
  const block = (inner: boolean): Directive[] => {
    const out: Directive[] = []
    let words: string[] = []
    while (i < tokens.length) {
      const t = tokens[i++]
      if (t === ';') {
        assert.ok(words.length > 0, 'empty directive')
        out.push({ name: words[0], args: words.slice(1) })
        words = []
      } else if (t === '{') {
        assert.ok(words.length > 0, 'block without a name')
        out.push({ name: words[0], args: words.slice(1), block: block(true) })
        words = []
      } else if (t === '}') {
        assert.ok(inner, 'unbalanced }')
        assert.deepEqual(words, [], `directive without ; before }: ${words.join(' ')}`)
        return out
      } else {
        words.push(t)
      }
    }
    assert.ok(!inner, 'unclosed {')
    assert.deepEqual(words, [], `directive without ; at the end: ${words.join(' ')}`)
    return out
  }
  return block(false)
}

const find = (ds: Directive[] | undefined, name: string): Directive[] => (ds ?? []).filter((d) => d.name === name)

describe('docker compose: two replicas behind nginx on one Redis', () => {
  const { redis, gateway, proxy } = compose.services

  it('runs Redis with AOF and noeviction, with a volume for its data', () => {
    assert.match(redis.image, /^redis:\d/)
    const cmd: string[] = redis.command
    const arg = (name: string): string | undefined => cmd[cmd.indexOf(name) + 1]
    assert.equal(arg('--appendonly'), 'yes')
    assert.equal(arg('--maxmemory-policy'), 'noeviction')
    assert.ok(redis.volumes.some((v: string) => v.endsWith(':/data')))
    assert.ok('redis-data' in compose.volumes, 'a named volume')
  })

  it('runs two gateway replicas on that Redis, with a valid configuration', () => {
    assert.equal(gateway.deploy.replicas, 2)
    assert.equal(gateway.ports, undefined, 'only the proxy publishes a port')
    assert.equal(gateway.environment.REDIS_URL, 'redis://redis:6379')
    assert.equal(Number(gateway.environment.MARKETO_REPLICAS), gateway.deploy.replicas)
    const config = loadConfig({ ...gateway.environment, AUTH_DISABLED: 'i-understand-the-risk' })
    assert.deepEqual(config.redis, { url: 'redis://redis:6379', password: undefined, prefix: 'mkto' })
    assert.equal(config.marketo.replicas, 2)
  })

  it('puts the official nginx image in front, with the config file mounted', () => {
    assert.match(proxy.image, /^nginx:\d/)
    assert.ok(proxy.volumes.includes('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro'))
    assert.deepEqual(proxy.ports, ['127.0.0.1:3000:3000'])
    assert.deepEqual(proxy.depends_on, { gateway: { condition: 'service_healthy' } })
  })

  it('nginx.conf parses, proxies to the gateway service and never re-sends a POST', () => {
    const top = parseNginx(nginx)
    const http = find(top, 'http')[0]?.block
    const upstream = find(http, 'upstream')[0]
    assert.deepEqual(upstream.args, ['gateway'])
    assert.deepEqual(find(upstream.block, 'server')[0].args, ['gateway:3000', 'resolve'])
    assert.ok(find(upstream.block, 'zone').length === 1, 'resolve needs a shared zone')
    const server = find(http, 'server')[0].block
    assert.deepEqual(find(server, 'listen')[0].args, ['3000'])
    const location = find(server, 'location')[0].block
    assert.deepEqual(find(location, 'proxy_pass')[0].args, ['http://gateway'])
    const next = find(location, 'proxy_next_upstream')[0].args
    assert.ok(!next.includes('non_idempotent'), 'a POST that reached a replica is never re-sent')
    const readTimeout = Number(/^(\d+)s$/.exec(find(location, 'proxy_read_timeout')[0].args[0])?.[1])
    assert.ok(readTimeout * 1000 > loadConfig({}).requestTimeoutMs, 'nginx waits longer than the gateway\'s own deadline')
  })

  it('the nginx parser refuses broken syntax (so the test above can fail)', () => {
    assert.throws(() => parseNginx('http { server { listen 3000 } }'))
    assert.throws(() => parseNginx('http { listen 3000;'))
    assert.throws(() => parseNginx('listen 3000; }'))
  })
})
