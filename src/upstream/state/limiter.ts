import { GatewayError } from '../../domain/errors.js'
import type { CallBudget } from './interfaces.js'

export interface LimiterOptions {
  maxConcurrent: number
  // Calls allowed per rolling window (Marketo: 100 per 20 s); null turns the window off.
  rate: { calls: number, windowMs: number } | null
  maxQueue: number
  now?: () => number
}

interface Waiter {
  resolve: (release: () => void) => void
  reject: (err: Error) => void
  deadline: number
  timer?: NodeJS.Timeout
}

// Keeps this process inside Marketo's limits: a concurrency cap, a rolling call window and a
// bounded FIFO queue. A caller that would wait past its deadline is told at once (Retry-After).
export class Limiter implements CallBudget {
  private active = 0
  private readonly starts: number[] = []
  private lastStart = -Infinity
  // Start times of the calls in flight, and a moving average of how long a call holds its slot.
  private readonly activeStarts: number[] = []
  private avgHoldMs = 0
  private readonly queue: Waiter[] = []
  private wakeTimer?: NodeJS.Timeout
  private readonly now: () => number
  rejected = 0

  constructor (private readonly opts: LimiterOptions) {
    this.now = opts.now ?? Date.now
  }

  get queueDepth (): number { return this.queue.length }
  get inFlight (): number { return this.active }
  get maxConcurrent (): number { return this.opts.maxConcurrent }
  /** The rolling window (null when it is off). */
  get window (): { calls: number, windowMs: number } | null { return this.opts.rate === null ? null : { ...this.opts.rate } }
  /** Calls that may still start in the current rolling window (null when it is off). */
  get windowRemaining (): number | null {
    if (this.opts.rate === null) return null
    this.prune()
    return Math.max(0, this.opts.rate.calls - this.starts.length)
  }

  acquire (deadline: number): Promise<() => void> {
    if (this.queue.length === 0 && this.canStart()) return Promise.resolve(this.start())
    if (this.queue.length >= this.opts.maxQueue) {
      this.rejected++
      return Promise.reject(new GatewayError('QUEUE_FULL', 'too many Marketo calls are waiting; retry later', { retryAfterMs: this.estimatedWaitMs() }))
    }
    const wait = this.estimatedWaitMs()
    if (this.now() + wait > deadline) {
      this.rejected++
      return Promise.reject(new GatewayError('RATE_LIMITED', 'the Marketo call budget is used up until after this request\'s deadline', { retryAfterMs: wait }))
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, deadline }
      waiter.timer = setTimeout(() => {
        const i = this.queue.indexOf(waiter)
        if (i !== -1) this.queue.splice(i, 1)
        this.rejected++
        reject(new GatewayError('RATE_LIMITED', 'waited too long for a Marketo call slot', { retryAfterMs: this.estimatedWaitMs() }))
      }, Math.max(0, deadline - this.now()))
      this.queue.push(waiter)
      this.schedule()
    })
  }

  private prune (): void {
    if (this.opts.rate === null) return
    const horizon = this.now() - this.opts.rate.windowMs
    while (this.starts.length > 0 && this.starts[0] <= horizon) this.starts.shift()
  }

  private canStart (): boolean {
    if (this.active >= this.opts.maxConcurrent) return false
    if (this.opts.rate === null) return true
    this.prune()
    return this.starts.length < this.opts.rate.calls && this.paceWaitMs() === 0
  }

  // Beyond a burst of maxConcurrent calls (or half the window, if smaller), call starts are spread
  // evenly (one per window ÷ calls, 200 ms for Marketo) instead of leaving in one burst when the
  // window frees up: callers then wait in the coalescer's open batches, and calls go out full
  // (npm run bench, budget use). A single request of up to 1,000 objects still goes out at once.
  private paceWaitMs (): number {
    const rate = this.opts.rate
    if (rate === null || this.starts.length < Math.min(this.opts.maxConcurrent, rate.calls / 2)) return 0
    return Math.max(0, this.lastStart + rate.windowMs / rate.calls - this.now())
  }

  private start (): () => void {
    this.active++
    const stamp = this.now()
    this.lastStart = stamp
    if (this.opts.rate !== null) this.starts.push(stamp)
    this.activeStarts.push(stamp)
    let released = false
    return () => {
      if (released) return
      released = true
      this.active--
      const k = this.activeStarts.indexOf(stamp)
      if (k !== -1) this.activeStarts.splice(k, 1)
      const held = this.now() - stamp
      this.avgHoldMs = this.avgHoldMs === 0 ? held : this.avgHoldMs * 0.8 + held * 0.2
      // Marketo stamps a call when it arrives, which may be well after the slot was taken (a busy
      // event loop, envelope building). Re-stamping the call with its answer time, which is never
      // earlier than Marketo's, keeps our window behind Marketo's: no 20023 (npm run bench).
      if (this.opts.rate !== null) {
        const i = this.starts.indexOf(stamp)
        if (i !== -1) this.starts.splice(i, 1)
        const t = this.now()
        let j = this.starts.length
        while (j > 0 && this.starts[j - 1] > t) j--
        this.starts.splice(j, 0, t)
      }
      this.drain()
    }
  }

  private drain (): void {
    while (this.queue.length > 0 && this.canStart()) {
      const waiter = this.queue.shift() as Waiter
      clearTimeout(waiter.timer)
      waiter.resolve(this.start())
    }
    this.schedule()
  }

  // When only the rolling window blocks, wake up when its oldest call leaves the window.
  private schedule (): void {
    if (this.wakeTimer !== undefined || this.queue.length === 0 || this.opts.rate === null) return
    if (this.active >= this.opts.maxConcurrent) return
    this.prune()
    let delay: number
    if (this.starts.length >= this.opts.rate.calls) delay = Math.max(1, this.starts[0] + this.opts.rate.windowMs - this.now() + 1)
    else if (this.paceWaitMs() > 0) delay = Math.max(1, Math.ceil(this.paceWaitMs()))
    else return
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined
      this.drain()
    }, delay)
  }

  // A new caller's wait: the later of the rolling window's next free slot and a concurrency slot.
  estimatedWaitMs (): number {
    let wait = 0
    if (this.opts.rate !== null) {
      this.prune()
      const ahead = this.queue.length + this.starts.length - this.opts.rate.calls + 1
      if (ahead > 0) {
        const windows = Math.ceil(ahead / this.opts.rate.calls)
        const oldest = this.starts[Math.min(this.starts.length - 1, (ahead - 1) % this.opts.rate.calls)] ?? this.now()
        wait = Math.max(0, oldest + this.opts.rate.windowMs * windows - this.now())
      }
    }
    wait = Math.max(wait, this.concurrencyWaitMs())
    return Math.max(wait, this.queue.length > 0 ? 50 : 0)
  }

  // Slots free up when the calls in flight end (each expected to take the recent average), and
  // each of the waiters ahead then holds one for the average again.
  private concurrencyWaitMs (): number {
    const c = this.opts.maxConcurrent
    const p = this.queue.length
    if (this.active + p < c) return 0
    const now = this.now()
    const free = this.activeStarts.map((t) => Math.max(0, this.avgHoldMs - (now - t)))
    while (free.length < c) free.push(0)
    free.sort((a, b) => a - b)
    return Math.round(free[p % c] + Math.floor(p / c) * this.avgHoldMs)
  }

  close (): void {
    clearTimeout(this.wakeTimer)
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer)
      w.reject(new GatewayError('SHUTTING_DOWN', 'the gateway is shutting down'))
    }
  }
}
