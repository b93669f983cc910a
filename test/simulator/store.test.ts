import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createSimulatorStore, loadSeed } from '../../simulator/index.js'

describe('createSimulatorStore (no network)', () => {
  it('loads the seed the doc examples rely on', () => {
    const store = createSimulatorStore()
    assert.deepEqual(store.programs.get(1970)?.costs.find((c) => c.id === 153), { id: 153, month: '2013-06', amount: '1500' })
    assert.ok(store.opportunities.has(64))
    assert.ok(store.leads.has(19))
    assert.ok(store.companies.size > 0)
    assert.ok(store.isTagValue('Channel', 'Webinar'))
    assert.equal(store.isTagValue('Channel', 'Podcast'), false)
    assert.ok(store.describe('Opportunity').fields.some((f) => f.isCustom))
  })

  it('assigns sequential ids and resets to the seed', () => {
    const store = createSimulatorStore(loadSeed(), () => new Date('2020-01-01T00:00:00Z'))
    const statuses = store.sync('INSERT', [{ type: 'Opportunity', attribs: [{ name: 'Name', value: 'x' }] }, { type: 'Opportunity' }])
    assert.deepEqual(statuses, [{ id: 65, status: 'CREATED' }, { id: 66, status: 'CREATED' }])
    assert.equal(store.opportunities.get(65)?.createdAt, '2020-01-01T00:00:00+00:00')
    store.reset()
    assert.deepEqual(store.snapshot().opportunities.map((o) => o.id), [4, 7, 64])
    assert.deepEqual(store.sync('INSERT', [{ type: 'Opportunity' }]), [{ id: 65, status: 'CREATED' }])
  })

  it('skips failObjects without applying them', () => {
    const store = createSimulatorStore()
    assert.deepEqual(store.sync('INSERT', [{ type: 'Opportunity' }, { type: 'Opportunity' }], { failObjects: new Set([0]) }), [
      { id: null, status: 'FAILED', error: 'Simulated failure (injected)' }, { id: 65, status: 'CREATED' }
    ])
  })
})
