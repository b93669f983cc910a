import type { Redis } from 'ioredis'

export interface RedisHealthOptions {
  /** How often Redis is probed with PING (while up and while down). Default 500 ms. */
  probeMs?: number
  /**
   * PINGs in a row without an answer before a connected Redis counts as unavailable. Default 2:
   * one slow command (a starved event loop on a busy host) must not switch every replica to its
   * local share; a hung Redis is still detected within about (1 + failures) command timeouts.
   */
  failures?: number
  /** Every change of availability (logs, metrics). */
  onChange?: (available: boolean, err?: Error) => void
}

/**
 * Whether the shared Redis answers, known without waiting for it: a dead Redis shows as a lost
 * connection at once, a hung one (SIGSTOP, a full network buffer) only as a command that times
 * out, so both the connection state and command failures count, and a PING probe brings the
 * state back once Redis answers again. Callers with a deadline ask `available` first and use
 * their fallback at once instead of spending the command timeout on every request.
 */
export class RedisHealth {
  private failed = false
  private probing = false
  private failedProbes = 0
  private lastError: Error | undefined
  private readonly timer: NodeJS.Timeout
  private reported = true

  constructor (private readonly redis: Redis, private readonly opts: RedisHealthOptions = {}) {
    this.timer = setInterval(() => { this.probe() }, opts.probeMs ?? 500)
    this.timer.unref()
    redis.on('ready', () => this.notify())
    redis.on('close', () => this.notify())
  }

  /** Connected, and no command has failed since the last successful probe. */
  get available (): boolean { return this.redis.status === 'ready' && !this.failed }

  get error (): string | undefined { return this.available ? undefined : (this.lastError?.message ?? `connection ${this.redis.status}`) }

  /**
   * A command failed (timeout, connection lost). A lost connection shows in `available` at once; a
   * connected Redis that did not answer is probed now, and counts as unavailable once `failures`
   * PINGs in a row got no answer, until one does.
   */
  reportError (err: Error): void {
    this.lastError = err
    if (!this.failed) this.probe().catch(() => {})
  }

  /** One PING now; resolves with the availability after it. */
  async probe (): Promise<boolean> {
    if (this.probing) return this.available
    this.probing = true
    try {
      if (this.redis.status === 'ready') {
        await this.redis.ping()
        this.failedProbes = 0
        this.failed = false
        this.notify()
      }
    } catch (err) {
      this.lastError = err as Error
      this.failedProbes++
      if (this.failedProbes >= (this.opts.failures ?? 2)) {
        this.failed = true
        this.notify(err as Error)
      }
    } finally {
      this.probing = false
    }
    return this.available
  }

  close (): void { clearInterval(this.timer) }

  private notify (err?: Error): void {
    const now = this.available
    if (now === this.reported) return
    this.reported = now
    this.opts.onChange?.(now, err)
  }
}
