import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig, ConfigError } from '../../src/config.js'
import { restError, readEnvelope } from '../../src/backends/rest/errors.js'
import { planRestCalls, recordStatuses } from '../../src/backends/rest/mapping.js'
import { REDACT_PATHS } from '../../src/app.js'
import { restTime } from '../../src/backends/rest/reads.js'
import { restRequestProblems } from '../helpers/rest-schema.js'
import type { LedgerEntry } from '../../simulator/index.js'

describe('REST backend configuration', () => {
  it('defaults to soap; rest needs client credentials with a real endpoint, and API keys', () => {
    assert.equal(loadConfig({}).marketo.backend, 'soap')
    assert.equal(loadConfig({ MARKETO_BACKEND: 'rest' }).marketo.rest.externalKeyField, 'opportunityId')
    assert.throws(() => loadConfig({ MARKETO_BACKEND: 'rest', MARKETO_REST_ENDPOINT: 'https://1-2-3.mktorest.com' }), ConfigError)
    assert.throws(() => loadConfig({ MARKETO_BACKEND: 'rest', MARKETO_REST_ENDPOINT: 'https://1-2-3.mktorest.com', MARKETO_CLIENT_ID: 'a', MARKETO_CLIENT_SECRET: 'b' }), /API_KEYS/)
    // REST describes opportunities, so custom-field validation works on both backends; on REST it is on by default.
    assert.equal(loadConfig({ MARKETO_BACKEND: 'rest', VALIDATE_CUSTOM_FIELDS: 'true' }).describe.validateCustomFields, true)
    assert.equal(loadConfig({ MARKETO_BACKEND: 'rest' }).describe.validateCustomFields, true)
    assert.equal(loadConfig({ MARKETO_BACKEND: 'rest', VALIDATE_CUSTOM_FIELDS: 'false' }).describe.validateCustomFields, false)
    assert.equal(loadConfig({}).describe.validateCustomFields, false)
    assert.throws(() => loadConfig({ MARKETO_BACKEND: 'graphql' }), ConfigError)
  })

  it('the client secret and access tokens are redacted from logs', () => {
    assert.ok(REDACT_PATHS.includes('config.marketo.rest.clientSecret'))
    assert.ok(REDACT_PATHS.includes('*.clientSecret'))
  })
})

describe('REST error mapping', () => {
  it('maps request-level codes to the problem codes of their SOAP twins, never sent', () => {
    const table: Array<[number, string]> = [[601, 'UPSTREAM_AUTH'], [602, 'UPSTREAM_AUTH'], [603, 'UPSTREAM_AUTH'], [606, 'UPSTREAM_RATE_LIMITED'], [607, 'UPSTREAM_QUOTA_EXCEEDED'], [615, 'UPSTREAM_CONCURRENCY_LIMITED'], [611, 'UPSTREAM_INTERNAL'], [713, 'UPSTREAM_INTERNAL'], [609, 'UPSTREAM_REJECTED'], [1003, 'UPSTREAM_REJECTED'], [1004, 'UPSTREAM_REJECTED'], [1005, 'UPSTREAM_REJECTED'], [718, 'UPSTREAM_REJECTED']]
    for (const [code, expected] of table) {
      const e = restError(code, 'm')
      assert.equal(e.code, expected, String(code))
      assert.equal(e.upstreamCode, code)
      assert.equal(e.sent, false)
    }
    // The backend's classification is what the retry policy reads: transient, or a fresh token once.
    for (const code of [604, 606, 608, 611, 615, 713]) assert.equal(restError(code, 'm').retry, 'transient', String(code))
    for (const code of [601, 602]) assert.equal(restError(code, 'm').retry, 'reauth', String(code))
    for (const code of [603, 607, 609, 1003]) assert.equal(restError(code, 'm').retry, undefined, String(code))
  })

  it('HTTP 413/414 are rejections before anything applied; non-JSON is untrustworthy', () => {
    for (const status of [413, 414]) {
      assert.throws(() => readEnvelope({ status, contentType: 'text/html', text: '' }), (e: { code: string, sent: boolean, upstreamCode: number }) => e.code === 'UPSTREAM_REJECTED' && !e.sent && e.upstreamCode === status)
    }
    assert.throws(() => readEnvelope({ status: 200, contentType: 'text/html', text: '<html>' }), /unexpected HTTP 200/)
    assert.throws(() => readEnvelope({ status: 200, contentType: 'application/json', text: '{"x":1}' }), /envelope/)
  })
})

describe('REST mapping', () => {
  it('consecutive objects of one kind share a call; programs get one each', () => {
    const plan = planRestCalls('UPSERT', [
      { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'a' }, attribs: [{ name: 'Amount', value: '1.5' }, { name: 'IsWon', value: '1' }, { name: 'ProductLine', value: 'Tea' }] },
      { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'b' } },
      { type: 'OpportunityPersonRole', attribs: [{ name: 'PersonId', value: '19' }, { name: 'Role', value: 'R' }], associations: [{ mObjType: 'Opportunity', externalKey: { name: 'opportunityId', value: 'a' } }] },
      { type: 'Program', id: 1970, typeAttribs: [{ attrType: 'Tag', attribs: [{ name: 'Type', value: 'Channel' }, { name: 'Value', value: 'Blog' }] }] }
    ])
    // A Program outside UPDATE fails locally, as Marketo's SOAP API fails it.
    assert.deepEqual(plan.calls.map((c) => [c.kind, c.indexes]), [['opportunities', [0, 1]], ['roles', [2]]])
    assert.deepEqual(plan.calls[0].payload.input, [{ externalOpportunityId: 'a', amount: 1.5, isWon: true, ProductLine: 'Tea' }, { externalOpportunityId: 'b' }])
    assert.equal(plan.local.get(3)?.status, 'FAILED')
    const programs = planRestCalls('UPDATE', [{ type: 'Program', id: 1970, typeAttribs: [{ attrType: 'Cost', attribs: [{ name: 'Month', value: '2013-06' }, { name: 'Amount', value: '20' }] }] }, { type: 'Program', id: 1001 }])
    assert.deepEqual(programs.calls.map((c) => [c.path, c.body]), [
      ['/rest/asset/v1/program/1970.json', 'costs=%5B%7B%22startDate%22%3A%222013-06-01%22%2C%22cost%22%3A20%7D%5D'],
      ['/rest/asset/v1/program/1001.json', '']
    ])
  })

  it('results are matched by seq; a missing or unknown one is untrustworthy', () => {
    const objects = [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'a' } }, { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'b' } }]
    const [call] = planRestCalls('UPSERT', objects).calls
    const ok = recordStatuses(call, objects, [{ seq: 1, status: 'skipped', reasons: [{ code: '1003', message: 'Invalid data' }] }, { seq: 0, status: 'created', marketoGUID: 'g' }])
    assert.deepEqual(ok, [
      { id: null, externalKey: { name: 'opportunityId', value: 'a' }, marketoGUID: 'g', status: 'CREATED' },
      { id: null, externalKey: { name: 'opportunityId', value: 'b' }, status: 'FAILED', error: 'Invalid data (1003)' }
    ])
    assert.equal(typeof recordStatuses(call, objects, [{ seq: 0, status: 'created' }]), 'string')
    assert.equal(typeof recordStatuses(call, objects, [{ seq: 0, status: 'created' }, { seq: 0, status: 'created' }]), 'string')
    assert.equal(typeof recordStatuses(call, objects, [{ seq: 0, status: 'created' }, { seq: 1, status: 'weird' }]), 'string')
  })
})

describe('REST reads: helpers', () => {
  it('reads the Asset API\'s "Z+0000" timestamps and plain ISO ones; refuses garbage', () => {
    assert.equal(restTime('2015-05-21T22:45:13Z+0000'), '2015-05-21T22:45:13.000Z')
    assert.equal(restTime('2015-05-21T22:45:13+0200'), '2015-05-21T20:45:13.000Z')
    assert.equal(restTime('2024-01-02T03:04:05Z'), '2024-01-02T03:04:05.000Z')
    assert.equal(restTime('yesterday'), undefined)
    assert.equal(restTime(42), undefined)
  })

  it('the OpenAPI subset check catches unknown, missing and mistyped GET parameters', () => {
    const get = (path: string, query: string): string[] => restRequestProblems({ rest: { method: 'GET', path, query, contentType: '', tokenIn: 'header' } } as unknown as LedgerEntry)
    assert.deepEqual(get('/rest/v1/opportunities.json', 'filterType=marketoGUID&filterValues=a&batchSize=100&fields=name'), [])
    assert.deepEqual(get('/rest/asset/v1/program/1970.json', ''), [])
    assert.deepEqual(get('/rest/v1/opportunities.json', 'filterType=x&bogus=1&batchSize=ten'), [
      'GET /rest/v1/opportunities.json: unknown query parameter bogus',
      'GET /rest/v1/opportunities.json: batchSize is not an integer',
      'GET /rest/v1/opportunities.json: required query parameter filterValues missing'
    ])
    assert.deepEqual(get('/rest/v1/leads.json', ''), ['GET /rest/v1/leads.json: not an operation of the OpenAPI subset'])
  })
})
